'use strict';
/** Shared pieces of the Node half: loading the package, timing, results file, RNG. */
const fs = require('node:fs');
const path = require('node:path');

/** The built package: S4_BENCH_PKG (a path to its entry) or this checkout's dist/. */
function loadS4() {
  const entry = process.env.S4_BENCH_PKG || path.resolve(__dirname, '..', '..', 'dist', 'index.js');
  return require(entry);
}

function nowMs() {
  return Number(process.hrtime.bigint()) / 1e6;
}

function quantile(sorted, q) {
  if (!sorted.length) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

function summarize(samples) {
  const s = [...samples].sort((a, b) => a - b);
  return { median: quantile(s, 0.5), p10: quantile(s, 0.1), p90: quantile(s, 0.9), min: s[0], samples: samples.length };
}

/**
 * Times fn (which must leave no work or tensors behind but GPU work in flight): warm-up,
 * then reps repetitions, each a loop of `inner` calls between two s4.synchronize().
 * Returns milliseconds per call (median, p10, p90, min) and how it was measured.
 */
function timeIt(s4, fn, timing, innerOverride) {
  for (let i = 0; i < timing.warmup; i++) fn();
  s4.synchronize();
  let inner = innerOverride;
  if (!inner) {
    const a = nowMs();
    fn();
    s4.synchronize();
    const one = Math.max(nowMs() - a, 1e-3);
    inner = Math.min(timing.maxInner, Math.max(1, Math.ceil(timing.minRepMs / one)));
  }
  const samples = [];
  const start = nowMs();
  for (let r = 0; r < timing.reps; r++) {
    s4.synchronize();
    const a = nowMs();
    for (let i = 0; i < inner; i++) fn();
    s4.synchronize();
    samples.push((nowMs() - a) / inner);
    if (samples.length >= timing.minReps && nowMs() - start > timing.maxCaseS * 1e3) break;
  }
  return { ms: summarize(samples), inner, timer: 'synchronize + hrtime around a loop' };
}

/** Peak device memory of one call of fn (bytes above what was allocated before it). */
function peakMemory(s4, fn) {
  if (typeof s4.resetPeakMemory !== 'function' || typeof s4.memory !== 'function') return null;
  s4.synchronize();
  const before = s4.memory();
  s4.resetPeakMemory();
  fn();
  s4.synchronize();
  const after = s4.memory();
  const dev = s4.backend() === 'cuda' ? 'cuda' : 'cpu';
  if (dev === 'cuda') return { peakBytes: after.cuda.peakUsedBytes, baseBytes: before.cuda.bytes };
  return null;
}

/** Results of one suite, rewritten after each case so a crash keeps what was done. */
class ResultsFile {
  constructor(file, meta) {
    this.file = file;
    this.doc = { ...meta, results: [] };
    this.flush();
  }
  add(r) {
    this.doc.results.push(r);
    const what = r.status === 'ok' ? summaryLine(r) : `${r.status.toUpperCase()}: ${r.error || r.note || ''}`;
    console.log(`[${this.doc.impl}] ${r.suite} ${r.case} ${r.mode}: ${what}`);
    this.flush();
  }
  flush() {
    fs.writeFileSync(this.file, JSON.stringify(this.doc, null, 1));
  }
}

function summaryLine(r) {
  const parts = [];
  if (r.ms) parts.push(`${r.ms.median.toPrecision(4)} ms (p10 ${r.ms.p10.toPrecision(3)}, p90 ${r.ms.p90.toPrecision(3)}, n=${r.ms.samples})`);
  if (r.tokensPerSec) parts.push(`${Math.round(r.tokensPerSec)} tokens/s`);
  if (r.peakBytes) parts.push(`peak ${(r.peakBytes / 2 ** 20).toFixed(1)} MiB`);
  if (r.check) parts.push(`check ${r.check.name}: ${r.check.value.toExponential(2)} (limit ${r.check.limit})`);
  return parts.join(', ');
}

/** Runs one case; an exception marks that case failed (with its stack) and the suite goes on. */
function runCase(out, base, fn) {
  try {
    const r = fn();
    out.add({ ...base, status: 'ok', ...r });
  } catch (err) {
    if (err && err.notAvailable) {
      out.add({ ...base, status: 'n/a', error: err.message });
      return;
    }
    const msg = err && err.stack ? err.stack.split('\n').slice(0, 4).join(' | ') : String(err);
    out.add({ ...base, status: 'error', error: msg });
  }
}

/** An error that marks a benchmark whose API does not exist (yet) rather than a failure. */
function notAvailable(what) {
  const e = new Error(`not available: ${what}`);
  e.notAvailable = true;
  return e;
}

/** Deterministic uniform [0, 1) generator (mulberry32); the tests draw their data from it too. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n standard normal values (Box-Muller) scaled by `scale`. */
function randn(rand, n, scale = 1) {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = Math.max(rand(), 1e-12);
    const v = rand();
    const r = Math.sqrt(-2 * Math.log(u)) * scale;
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return out;
}

/**
 * Relative L2 error ||got - want|| / ||want|| (the absolute ||got - want|| where want is all
 * zeros); NaN or Inf anywhere counts as failure (Infinity). The tests use it too.
 */
function relL2(got, want) {
  if (got.length !== want.length) throw new Error(`relL2: lengths differ (${got.length} vs ${want.length})`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < got.length; i++) {
    const d = got[i] - want[i];
    num += d * d;
    den += want[i] * want[i];
  }
  if (!Number.isFinite(num) || !Number.isFinite(den)) return Infinity;
  return Math.sqrt(den === 0 ? num : num / den);
}

module.exports = { loadS4, timeIt, peakMemory, ResultsFile, runCase, notAvailable, rng, randn, relL2, nowMs, summarize };
