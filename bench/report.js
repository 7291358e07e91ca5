#!/usr/bin/env node
'use strict';
/**
 * Writes RESULTS.md (and the block chart) from the JSON results of a run. Re-runnable on
 * copied results:  node bench/report.js [OUT_DIR] [--md FILE] [--svg FILE]
 * (defaults: bench/out, bench/RESULTS.md, bench/block_chart.svg).
 */
const fs = require('node:fs');
const path = require('node:path');
const { devicePeaks, kernelFloor, fftconvFloor, stepFloor, blockFloor, FLOPS_PER_CAUCHY_TERM } = require('./floors');
const { blockChart } = require('./chart');
const { spec: makeSpec } = require('./specs');

const NOT_YET = 'not yet measured';
// Result files of the workers: <suite>-<impl>.json (run.js writes them, load() reads a cut-short run's).
const RESULT_FILE = /^[a-z]+-(ours|official|torch|jax)\.json$/;

function load(outDir) {
  const docs = [];
  if (!fs.existsSync(outDir)) return { docs, run: null, spec: null };
  const merged = path.join(outDir, 'results.json');
  if (fs.existsSync(merged)) return JSON.parse(fs.readFileSync(merged, 'utf8'));
  // A run that was cut short leaves its per-worker files.
  for (const f of fs.readdirSync(outDir).sort()) {
    if (!RESULT_FILE.test(f)) continue;
    try {
      const d = JSON.parse(fs.readFileSync(path.join(outDir, f), 'utf8'));
      if (Array.isArray(d.results)) docs.push(d);
    } catch (err) {
      docs.push({ suite: f, impl: '?', results: [{ suite: f, case: '(file)', mode: '-', status: 'error', error: `unreadable results file: ${err.message}` }] });
    }
  }
  const read = (f) => (fs.existsSync(path.join(outDir, f)) ? JSON.parse(fs.readFileSync(path.join(outDir, f), 'utf8')) : null);
  return { docs, run: read('run.json'), spec: read('spec.json') };
}

/** Index: results by suite|impl|case|mode (impl from the record, else the file's). */
function index(docs) {
  const all = [];
  for (const d of docs) for (const r of d.results) all.push({ ...r, impl: r.impl || d.impl });
  const by = new Map(all.map((r) => [`${r.suite}|${r.impl}|${r.case}|${r.mode}`, r]));
  // A case a failed or skipped worker never reached shows that worker's status.
  const worker = (suite, impl) => by.get(`${suite}|${impl.startsWith('torch') ? 'torch' : impl}|(worker)|-`);
  return { all, get: (suite, impl, c, mode) => by.get(`${suite}|${impl}|${c}|${mode}`) || worker(suite, impl) };
}

const fmtMs = (r) => (!r ? NOT_YET : r.status !== 'ok' ? r.status : r.ms.median < 0.1 ? r.ms.median.toFixed(4) : r.ms.median.toPrecision(3));
const fmtRate = (x) => (x >= 1e9 ? `${(x / 1e9).toPrecision(3)} G` : x >= 1e6 ? `${(x / 1e6).toPrecision(3)} M` : x >= 1e3 ? `${(x / 1e3).toPrecision(3)} k` : x.toPrecision(3));
const fmtTok = (r) => (!r ? NOT_YET : r.status !== 'ok' ? r.status : fmtRate(r.tokensPerSec));
const fmtMiB = (r) => (r && r.status === 'ok' && r.peakBytes ? (r.peakBytes / 2 ** 20).toFixed(0) : '-');
const ratio = (a, b) => (a && b && a.status === 'ok' && b.status === 'ok' ? `${(a.ms.median / b.ms.median).toFixed(2)}x` : '-');
const rateRatio = (a, b) => (a && b && a.status === 'ok' && b.status === 'ok' ? `${(a.tokensPerSec / b.tokensPerSec).toFixed(1)}x` : '-');

// The official worker records per case which Cauchy implementation s4.py dispatched to.
const CAUCHY_LABELS = {
  'CUDA extension': 'official S4 + CUDA ext',
  'pure PyTorch (cauchy_naive)': 'official S4, pure-PyTorch fallback (no CUDA ext)',
  pykeops: 'official S4 + pykeops (no CUDA ext)',
};

/**
 * The official column's title in one suite, from the Cauchy implementation its timed cases
 * ran: a run without the extension is labelled as the fallback it is, never as the extension.
 */
function officialColumn(ix, suite) {
  const used = new Set(ix.all.filter((r) => r.suite === suite && r.impl === 'official' && r.status === 'ok' && r.cauchy).map((r) => r.cauchy));
  if (used.size === 1) {
    const [only] = used;
    return CAUCHY_LABELS[only] || `official S4 (Cauchy: ${only})`;
  }
  if (used.size > 1) return `official S4 (Cauchy: ${[...used].sort().join(' / ')})`;
  return 'official S4';
}

function table(head, rows) {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

function deviceName(docs, run) {
  const d = docs.find((x) => x.impl === 'ours' && x.device) || docs.find((x) => x.device);
  if (d) return d.device;
  return run && run.nvidiaSmi ? run.nvidiaSmi.split(',')[0] : null;
}

function header(docs, run, quick) {
  const torch = docs.find((d) => d.impl === 'torch' && d.torch);
  const ours = docs.find((d) => d.impl === 'ours' && d.backend);
  const lines = [
    '# Benchmarks: s4-cuda against the official S4 and PyTorch',
    '',
    '## How to reproduce',
    '',
    'On a machine with an NVIDIA GPU, the CUDA build of this package (`npm install`, then',
    '`npm run build:ts`), PyTorch (with einops and scipy) in `python3` and the official S4 sources',
    'in S4REF (`bench/official_sources.sh <clone of state-spaces/s4>` writes them to .s4ref/):',
    '',
    '```sh',
    'S4REF=$PWD/.s4ref S4_BENCH_OUT=bench/out npm run bench   # node bench/run.js: all suites (5 to 9 minutes on an H100)',
    'node bench/run.js --only kernel,fftconv     # some suites (writes bench/out/RESULTS.md only)',
    'node bench/report.js bench/out              # re-writes this file from the JSON results',
    'node bench/run.js --quick --backend cpu --no-torch   # smoke test of the Node half, no GPU',
    '```',
    '',
    'On the project\'s GPU machine (no Node there; carry .gpu and .s4ref):',
    '`source .gpu/enter.sh && S4REF=$PWD/.s4ref S4_BENCH_OUT=$OUT node bench/run.js --budget 540`.',
    'Environment: S4REF (the official sources; without it the official column is not measured),',
    'S4_BENCH_OUT (output folder), S4_BENCH_PKG (entry of the package to load; default',
    "this checkout's dist/index.js), S4_ADDON_PATH (a specific s4.node), S4_BENCH_PYTHON (default",
    'python3), S4_BENCH_PEAK_FLOPS / S4_BENCH_PEAK_BW (override the peaks the floors use).',
    '',
    'Each suite runs as a Node process (our package, bench/node/), a Python process of the official',
    'S4 (state-spaces/s4 models/s4/s4.py, bench/official_bench.py; first, its CUDA extension is',
    'built for the GPU by bench/official_build.py where it is not already) and a Python process of',
    'our PyTorch rewrite (bench/torch_*.py, eager and torch.compile), with a time limit each; a',
    'failing suite is reported below and the others go on. Logs and JSON: `$S4_BENCH_OUT` (default bench/out/).',
    '',
    '## Run',
    '',
  ];
  if (!docs.length) {
    lines.push(`${NOT_YET}: no GPU run has been recorded yet. The tables below fill in from a real run.`);
  } else {
    lines.push(`- Device: ${deviceName(docs, run) || 'unknown'}${run && run.nvidiaSmi ? ` (nvidia-smi: ${run.nvidiaSmi})` : ''}`);
    lines.push(`- Code: ${(run && run.code) || 'unknown (set S4_BENCH_CODE)'}`);
    lines.push(`- Date: ${run ? run.startedAt : 'unknown'}${run && run.seconds ? `, ${run.seconds.toFixed(0)} s in all` : ''}`);
    if (ours) lines.push(`- Ours: s4-cuda ${ours.package} on backend '${ours.backend}', Node ${ours.node}${ours.cudaRuntime ? `, CUDA runtime ${ours.cudaRuntime}` : ''}`);
    lines.push(...officialLines(docs));
    if (torch) lines.push(`- PyTorch ${torch.torch} (CUDA ${torch.cuda}), Python ${torch.python}; TF32 off (plain FP32, as ours)`);
    if (quick) lines.push('- **Quick smoke-test run (tiny shapes): these numbers say nothing about performance.**');
  }
  return lines;
}

/** What the official column measured: its sources, whether its CUDA extension was built and loaded. */
function officialLines(docs) {
  const build = docs.find((d) => d.suite === 'build' && d.impl === 'official');
  const workers = docs.filter((d) => d.impl === 'official' && d.suite !== 'build');
  const timed = workers.filter((d) => d.official);
  if (!build && !workers.length) return ['- Official S4: not measured in this run'];
  if (!timed.length) {
    const why = [build, ...workers].filter(Boolean).flatMap((d) => d.results).find((r) => r.status !== 'ok');
    return [`- Official S4: ${why ? String(why.error || why.status) : 'no results'}`];
  }
  const first = timed[0];
  const lines = [`- Official S4: state-spaces/s4 ${first.official.commit || '(commit unknown: no COMMIT file in S4REF)'}, models/s4/s4.py, PyTorch ${first.torch}`];
  const ext = build && build.extension;
  const loaded = timed.filter((d) => d.official.cudaExtension.loaded).map((d) => d.suite);
  const notLoaded = timed.filter((d) => !d.official.cudaExtension.loaded);
  let built;
  if (!ext) {
    const why = build && build.results.find((r) => r.status !== 'ok');
    built = why ? `**not built**: the build step ${why.status === 'skipped' ? 'was skipped' : 'failed'} (${String(why.error || why.status).slice(0, 300)})` : 'build step not run';
  }
  else if (ext.status === 'ok') built = ext.action === 'built' ? `built in this run for sm_${ext.arch.replace('.', '')} (${ext.buildS.toFixed(0)} s)` : `already built for sm_${ext.arch.replace('.', '')}`;
  else if (ext.status === 'n/a') built = `not built (${ext.error})`;
  else built = `**could not be built** (${ext.error})`;
  lines.push(`- Official CUDA extension (extensions/kernels): ${built}; loaded in ${loaded.length ? loaded.join(', ') : 'no suite'}`);
  if (notLoaded.length) {
    const why = notLoaded[0].official.cudaExtension.importError;
    lines.push(`- **Without the extension** in ${notLoaded.map((d) => d.suite).join(', ')} (${why}): those official columns time s4.py's pure-PyTorch Cauchy fallback and are labelled so.`);
  }
  return lines;
}

function peaksLine(peaks) {
  return `Floors use ${peaks.label}. Ratios: "x faster" = the other implementation's time / our time ("x faster than official" is the headline); "of floor" = our time / floor (1.0 would be perfect).`;
}

function kernelSection(ix, spec, peaks) {
  const { H, N, Ls } = spec.kernel;
  const ref = { 4096: { fwd: '0.5', 'fwd+bwd': '3.2' } };
  const target = { fwd: '<= 0.1', 'fwd+bwd': '<= 0.6' };
  const rows = [];
  for (const L of Ls) {
    for (const mode of ['fwd', 'fwd+bwd']) {
      const c = `H=${H} N=${N} L=${L}`;
      const ours = ix.get('kernel', 'ours', c, mode);
      const official = ix.get('kernel', 'official', c, mode);
      const eager = ix.get('kernel', 'torch-eager', c, mode);
      const floor = kernelFloor({ H, N, L }, mode, peaks);
      rows.push([L, mode, fmtMs(ours), fmtMs(official), ratio(official, ours), fmtMs(eager), ratio(eager, ours), floor.ms.toFixed(4), ours && ours.status === 'ok' ? `${(ours.ms.median / floor.ms).toFixed(1)}x` : '-', ref[L] ? ref[L][mode] : '-', L === 4096 ? target[mode] : '-']);
    }
  }
  return [
    `## 1. dplrKernel (issue 3): H=${H}, N=${N} (N2=${N / 2}), times in ms`,
    '',
    table(['L', 'mode', 'ours', officialColumn(ix, 'kernel'), 'x faster than official', 'PyTorch rewrite, eager', 'x faster than eager', 'floor', 'ours / floor', 'official S4 + CUDA ext (issue)', 'target'], rows),
    '',
    'Official S4: `SSMKernelDPLR(d_model=H, d_state=N, l_max=L)` of models/s4/s4.py called for',
    'length L (its Cauchy: the CUDA extension where it loaded, else its pure-PyTorch fallback, as',
    'the column title says), autograd for the backward (grads of its parameters). PyTorch rewrite:',
    'the same generation written after the official code (`cauchy_naive` broadcasting over the',
    'conjugate-completed state, Woodbury, 2/(1+omega), irfft; bench/torch_s4.py), autograd for the backward.',
    `Floor: H x (L/2+1) x N2 x 4 complex Cauchy terms x ${FLOPS_PER_CAUCHY_TERM} FLOP (one complex multiply-add; reciprocals and`,
    'conjugate partners not counted) at the FP32 rate; fwd+bwd counts 3x the terms.',
  ];
}

function fftconvSection(ix, spec, peaks) {
  const rows = [];
  for (const { B, H, L } of spec.fftconv.cases) {
    for (const mode of ['fwd', 'fwd+bwd']) {
      const c = `B=${B} H=${H} L=${L}`;
      const ours = ix.get('fftconv', 'ours', c, mode);
      const eager = ix.get('fftconv', 'torch-eager', c, mode);
      const floor = fftconvFloor({ B, H, L }, mode, peaks);
      const isRef = B === 16 && H === 256 && L === 4096;
      rows.push([`${B}, ${H}, ${L}`, mode, fmtMs(ours), fmtMs(eager), ratio(eager, ours), floor.ms.toFixed(4), ours && ours.status === 'ok' ? `${(ours.ms.median / floor.ms).toFixed(1)}x` : '-', isRef ? (mode === 'fwd' ? '0.71' : '2.1') : '-', '>= 1.5x faster']);
    }
  }
  return [
    '## 2. fftConv (issue 4): y = causal conv(u, k) + D u, times in ms',
    '',
    table(['B, H, L', 'mode', 'ours', 'PyTorch eager', 'x faster', 'floor', 'ours / floor', 'PyTorch (issue)', 'target'], rows),
    '',
    'PyTorch eager: torch.fft.rfft / irfft with n = 2L, product, crop, + D u; autograd for the',
    'backward (grads of u, k, D; both sides seeded with a random dy). Floor: the tensor traffic',
    '(fwd: read u, k, D, write y; bwd: read dy, u, k, write du, dk, dD) at the DRAM bandwidth.',
  ];
}

const STEP_MODES = ['dense', 'linear', 'diagonal'];

function stepSection(ix, spec, peaks) {
  const { H, N, batches, manyT } = spec.step;
  const rows = [];
  // Official modes whose output failed the worker's check against the block's convolution.
  const inexact = new Set(STEP_MODES.filter((m) => ix.all.some((r) => r.suite === 'step' && r.impl === 'official' && r.mode === 'check' && r.case.startsWith(`recurrence ${m} `) && r.status === 'error')));
  const target = { 1: '>= 150 k', 64: '>= 5 M' };
  const official = { 1: '7.4 k', 64: '460 k' };
  for (const B of batches) {
    const c = `B=${B} H=${H} N=${N}`;
    const lin = ix.get('step', 'torch-eager', c, 'step');
    const dense = ix.get('step', 'torch-eager-dense', c, 'step');
    const officialModes = STEP_MODES.map((m) => ix.get('step', 'official', c, `step ${m}`));
    const okModes = officialModes.filter((r) => r && r.status === 'ok');
    const best = okModes.length ? okModes.reduce((a, b) => (b.tokensPerSec > a.tokensPerSec ? b : a)) : null;
    const pair = [
      ['ours: step() (1 token per call)', ix.get('step', 'ours', c, 'step'), stepFloor({ B, H, N }, 1, peaks, true)],
      [`ours: stepMany() (T=${manyT} per call)`, ix.get('step', 'ours', c, `stepMany(T=${manyT})`), stepFloor({ B, H, N }, manyT, peaks, false)],
      ...STEP_MODES.map((m, i) => [`official S4Block.step, mode ${m}${inexact.has(m) ? ' (**inexact**: fails its check, see below)' : ''}`, officialModes[i], null]),
      ['PyTorch rewrite, eager loop, official _step_state_linear', lin, null],
      ['PyTorch rewrite, eager loop, official dense _step_state', dense, null],
    ];
    for (const [name, r, floor] of pair) {
      rows.push([B, name, fmtTok(r), rateRatio(r, best), r !== lin ? rateRatio(r, lin) : '-', floor ? fmtRate(floor.tokensPerSec) : '-', target[B] || '-', official[B] || '-']);
    }
  }
  return [
    `## 3. Recurrent stepping: H=${H}, N=${N}, tokens/s = batch x steps / s`,
    '',
    table(['batch', 'method', 'tokens/s', 'vs official (its fastest mode)', 'vs PyTorch linear', 'floor', 'target', 'official S4 (issue)'], rows),
    '',
    "A token is one time step of one sequence: a step of the whole batch counts `batch` tokens",
    '(as the official figures). Official S4: `S4Block.step` of models/s4/s4.py after',
    "`setup_step(mode)`, its three modes (dense: dA matvec on the full state; linear: Woodbury, O(N);",
    'diagonal: the eigendecomposition of dA), an eager loop under no_grad; the step uses no Cauchy',
    'kernel, so the CUDA extension plays no part here. "vs official" compares with its fastest mode,',
    "inexact or not. Each official mode is first checked against the block's own convolution (64 steps,",
    'relL2 <= 1e-3): the diagonal mode diagonalizes the non-normal DPLR dA with torch.linalg.eig in',
    'FP32, and at H=256, N=64 its output is far off (relL2 0.24 on the CPU, 2026-12-05).',
    'PyTorch rewrite: a Python loop of steps in eager mode, complex64, the',
    "official `_setup_linear` / `_step_state_linear` (Woodbury form, O(N) per step) and, for",
    "comparison, the official dense `_step_state` (dA matvec on the full N-state), output 2 Re(C x) + D u.",
    'Floor: about 24 FLOP per complex state element and step at the FP32 rate, or the bytes moved',
    '(state read+write per call, coefficients once per call, u and y) at the DRAM bandwidth;',
    'step() is also bound by one kernel launch per call (a few microseconds), which the floor leaves out.',
  ];
}

function blockSection(ix, spec, peaks) {
  const { N, cases } = spec.block;
  const rows = [];
  const all = [...cases, ...(spec.block.bidirectionalCases || []).map((c) => ({ ...c, bidirectional: true }))];
  for (const { B, H, L, bidirectional } of all) {
    for (const mode of ['fwd', 'fwd+bwd']) {
      const c = `B=${B} H=${H} L=${L}${bidirectional ? ' bidirectional' : ''}`;
      const ours = ix.get('block', 'ours', c, mode);
      const official = ix.get('block', 'official', c, mode);
      const eager = ix.get('block', 'torch-eager', c, mode);
      const comp = ix.get('block', 'torch-compile', c, mode);
      const floor = blockFloor({ B, H, L, N }, mode, peaks);
      rows.push([`${B}, ${H}, ${L}${bidirectional ? ' (bidirectional)' : ''}`, mode, fmtMs(ours), fmtMs(official), ratio(official, ours), fmtMs(eager), fmtMs(comp), ratio(eager, ours), ratio(comp, ours), floor.ms.toFixed(3), `${fmtMiB(ours)} / ${fmtMiB(official)} / ${fmtMiB(eager)} / ${fmtMiB(comp)}`]);
    }
  }
  return [
    `## 4. One S4 block (issue 6): N=${N}, times in ms`,
    '',
    table(['B, H, L', 'mode', 'ours', officialColumn(ix, 'block'), 'x faster than official', 'PyTorch rewrite, eager', 'torch.compile', 'x faster than eager', 'x faster than compile', 'floor', 'peak MiB ours / official / eager / compile'], rows),
    '',
    'The block: dplr kernel + FFT convolution + D skip + GELU + output linear H -> 2H + GLU (the',
    'official S4Block defaults: one channel, not bidirectional, dropout 0); ours is s4.nn.S4Layer,',
    'official S4 is `S4Block(H, d_state=N, l_max=L, transposed=True)` of models/s4/s4.py, PyTorch',
    'rewrite the same block written after the official code (bench/torch_s4.py). fwd runs without',
    'autograd; fwd+bwd computes the grads of every parameter and of the input. Peak memory: the',
    "allocator's peak during one call (ours: s4.memory().cuda.peakUsedBytes; official and PyTorch:",
    'torch.cuda.max_memory_allocated), inputs and parameters included. torch.compile: mode',
    'default, compile time excluded. Floor: kernel floor + convolution floor + the output GEMM at the',
    'FP32 rate + the pointwise traffic (for a bidirectional block, the one-direction floor: a lower',
    'bound). Bidirectional rows: a second C, the official convention (backward kernel from lag 1);',
    'PyTorch builds the official 2L kernel pad(k0) + pad(flip(k1)) and convolves once.',
    'Chart: [block_chart.svg](block_chart.svg).',
    '',
    ...annotatedTable(ix, spec),
  ];
}

/** The Annotated S4 (JAX) at the block shapes, or why it was not measured. */
function annotatedTable(ix, spec) {
  const { N, cases } = spec.block;
  const rows = [];
  for (const { B, H, L } of cases) {
    for (const mode of ['fwd', 'fwd+bwd']) {
      const c = `B=${B} H=${H} L=${L}`;
      const ours = ix.get('block', 'ours', c, mode);
      const jax = ix.get('block', 'jax', c, mode);
      rows.push([`${B}, ${H}, ${L}`, mode, fmtMs(ours), fmtMs(jax), ratio(jax, ours)]);
    }
  }
  const measured = ix.all.some((r) => r.suite === 'block' && r.impl === 'jax' && r.status === 'ok');
  const worker = ix.all.find((r) => r.suite === 'block' && r.impl === 'jax' && r.case === '(worker)');
  if (!measured) return [`The Annotated S4 (JAX): ${worker ? String(worker.error || worker.status) : NOT_YET}.`];
  return [
    `The Annotated S4 (srush/annotated-s4, JAX + Flax, jit; bench/annotated_jax.py), times in ms: its block, N=${N} modes,`,
    'GELU, GLU of two Dense layers, residual and post-LayerNorm (a little more work than the block',
    'above), vmapped over the batch, FP32 matmuls; compile time excluded.',
    '',
    table(['B, H, L', 'mode', 'ours', 'The Annotated S4 (JAX)', 'x faster than JAX'], rows),
  ];
}

function modelSection(ix, spec) {
  const m = spec.model;
  const label = `B=${m.B} L=${m.L} layers=${m.nLayers} H=${m.H} N=${m.N}`;
  const ours = ix.get('model', 'ours', label, 'train step');
  const official = ix.get('model', 'official', label, 'train step');
  const eager = ix.get('model', 'torch-eager', label, 'train step');
  const comp = ix.get('model', 'torch-compile', label, 'train step');
  const rows = [
    ['training step (ms)', fmtMs(ours), fmtMs(official), fmtMs(eager), fmtMs(comp), ratio(official, ours), ratio(eager, ours), `${fmtMiB(ours)} / ${fmtMiB(official)} / ${fmtMiB(eager)} / ${fmtMiB(comp)}`],
  ];
  for (const B of m.genBatches) {
    const c = `${label} batch=${B}`;
    const o = ix.get('model', 'ours', c, 'generate');
    const f = ix.get('model', 'official', c, 'generate');
    const e = ix.get('model', 'torch-eager', c, 'generate');
    rows.push([`generation, batch ${B} (tokens/s)`, fmtTok(o), fmtTok(f), fmtTok(e), '-', rateRatio(o, f), rateRatio(o, e), '-']);
  }
  return [
    `## 5. Fashion-MNIST model (issue 6): ${m.nLayers} layers, H=${m.H}, N=${m.N}, L=${m.L}, batch ${m.B}`,
    '',
    table(['what', 'ours', officialColumn(ix, 'model'), 'PyTorch rewrite, eager', 'torch.compile', 'x faster than official', 'x faster than eager', 'peak MiB ours / official / eager / compile'], rows),
    '',
    `Model: encoder 1 -> H, ${m.nLayers} S4 blocks with residual, dropout ${m.dropout} and post-LayerNorm, mean`,
    'pooling, decoder H -> 10 (ours: s4.nn.SequenceModel; official: the example.py model with the',
    'official S4Block, test/data/official_example.py; PyTorch rewrite: the same model on',
    `bench/torch_s4.py). Training step: forward, cross-entropy, backward, AdamW (lr ${m.lr}, weight decay`,
    `${m.weightDecay}; A, B, dt in their own group: lr min(0.001, lr), no weight decay, as the official`,
    'example). Generation: the recurrent view, one token per call for the whole model (ours:',
    'model.stepper().step; official: S4Block.step in its default mode, dense, in each layer;',
    'PyTorch rewrite: an eager loop with the official linear step in each layer).',
  ];
}

function checksAndFailures(ix) {
  const checks = ix.all.filter((r) => r.mode === 'check');
  const bad = ix.all.filter((r) => r.status !== 'ok');
  const lines = ['## Correctness checks run before timing', ''];
  if (!checks.length) lines.push(NOT_YET);
  for (const r of checks) {
    lines.push(`- ${r.suite} / ${r.impl}: ${r.case}: ${r.status === 'ok' ? `${r.check.name} = ${r.check.value.toExponential(2)} (limit ${r.check.limit})` : `**${r.status}**`}`);
  }
  lines.push('', '## Failures, skips and unavailable benchmarks', '');
  if (!bad.length) lines.push(ix.all.length ? 'None.' : NOT_YET);
  for (const r of bad) lines.push(`- **${r.status}** ${r.suite} / ${r.impl} / ${r.case} / ${r.mode}: ${String(r.error || r.note || '').replace(/\|/g, '/').slice(0, 800)}`);
  return lines;
}

function methodNotes(ix) {
  const timers = [...new Set(ix.all.filter((r) => r.timer).map((r) => `${r.impl}: ${r.timer}`))];
  return [
    '## Method',
    '',
    '- Times: median over the timed repetitions (p10/p90 and counts in the JSON) after warm-up;',
    '  each repetition is a loop of calls long enough to hide the synchronization.',
    '  Official S4 and PyTorch rewrite: CUDA events recorded around the loop (bench/torch_common.py).',
    '  Ours: `s4.synchronize()` before and after',
    '  the loop, host clock (process.hrtime).',
    ...(timers.length ? [`- Timers used: ${timers.join('; ')}.`] : []),
    '- Both sides do the same work per call: outputs are freed each call (ours: s4.tidy;',
    '  official and PyTorch: the caching allocator), gradients are dropped after each backward.',
    '- All three in FP32 with TF32 off; same shapes and timing settings (bench/specs.js).',
    '- Where the time of a block and of a training step goes (by native entry point and by',
    '  kernel, against the floor of each): [PROFILE.md](PROFILE.md), made with bench/profile.js.',
  ];
}

// Ends the generated part of RESULTS.md: what follows it in an existing file (notes of
// dedicated comparisons, written by hand) is kept when the file is written again.
const HAND_WRITTEN = '<!-- Written by bench/report.js down to here; what follows is kept when it writes this file again. -->';

function handWritten(file) {
  if (!fs.existsSync(file)) return '';
  const text = fs.readFileSync(file, 'utf8');
  const at = text.indexOf(HAND_WRITTEN);
  return at < 0 ? '' : text.slice(at + HAND_WRITTEN.length).replace(/^\n/, '');
}

/** Writes the markdown to each of mdFiles (keeping their hand-written part) and the chart to each of svgFiles. */
function writeReport(outDir, mdFiles, svgFiles) {
  const { docs, run, spec: stored } = load(outDir);
  const spec = stored || makeSpec(false);
  const ix = index(docs);
  const peaks = devicePeaks(deviceName(docs, run));
  const md = [
    ...header(docs, run, spec.quick),
    '',
    peaksLine(peaks),
    '',
    ...kernelSection(ix, spec, peaks),
    '',
    ...fftconvSection(ix, spec, peaks),
    '',
    ...stepSection(ix, spec, peaks),
    '',
    ...blockSection(ix, spec, peaks),
    '',
    ...modelSection(ix, spec),
    '',
    ...checksAndFailures(ix),
    '',
    ...methodNotes(ix),
    '',
  ].join('\n');
  for (const f of mdFiles) fs.writeFileSync(f, `${md}\n${HAND_WRITTEN}\n${handWritten(f)}`);
  const svg = blockChart(ix, spec, officialColumn(ix, 'block').replace('official S4', 'official').replace(', pure-PyTorch fallback (no CUDA ext)', ' (no CUDA ext)'));
  for (const f of svgFiles || []) fs.writeFileSync(f, svg);
  return md;
}

if (require.main === module) {
  const args = process.argv.slice(2);
  let outDir = path.join(__dirname, 'out');
  let md = path.join(__dirname, 'RESULTS.md');
  let svg = path.join(__dirname, 'block_chart.svg');
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--md') md = args[++i];
    else if (args[i] === '--svg') svg = args[++i];
    else outDir = args[i];
  }
  writeReport(path.resolve(outDir), [md], [svg]);
  console.log(`wrote ${md} and ${svg} from ${outDir}`);
}

module.exports = { writeReport, RESULT_FILE };
