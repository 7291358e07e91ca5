#!/usr/bin/env node
'use strict';
/**
 * The benchmark runner: each suite runs as a Node worker (ours), a Python worker of the
 * official S4 (state-spaces/s4, the first baseline; kernel, step, block and model) and a
 * Python worker of our PyTorch rewrite (eager and torch.compile) in turn, one process each
 * with a time limit, so a crash, a hang or a missing API costs that suite and nothing else.
 * Results (JSON) and logs go to S4_BENCH_OUT (default bench/out/); then report.js writes
 * the tables.
 *
 *   node bench/run.js [--quick] [--backend cuda|cpu] [--only kernel,fftconv,...]
 *                     [--no-torch] [--no-official] [--no-jax] [--no-node] [--budget SECONDS] [--results FILE]
 *
 * --results: where RESULTS.md goes (default bench/RESULTS.md for a full CUDA run, and
 * <out>/RESULTS.md always).
 *
 * The official S4 column needs S4REF: a folder with the official models/s4 and
 * extensions/kernels (bench/official_sources.sh writes one, .s4ref/, from a clone of
 * state-spaces/s4). Before the suites, bench/official_build.py builds its CUDA extension
 * there when it is not built for this GPU (time limit LIMITS.build, output in the log);
 * without the extension the official code runs its pure-PyTorch Cauchy, and the report
 * labels that column so. Without S4REF the column is reported as not measured.
 *
 * The Annotated S4 (JAX) is a column of the block suite where `python3 -c "import jax, flax"`
 * works and ANNOT names a folder with its s4/s4.py (bench/annotated_jax.py); else it is
 * reported as not measured, with the reason.
 *
 * On the GPU machine (carry .gpu and .s4ref):
 *   source .gpu/enter.sh && S4REF=$PWD/.s4ref S4_BENCH_OUT=$OUT node bench/run.js --budget 540
 */
const fs = require('node:fs');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');
const { spec: makeSpec, SUITES } = require('./specs');
const { writeReport, RESULT_FILE } = require('./report');

// Per-worker time limits (s) in a full run; the overall budget may cut them shorter.
const LIMITS = {
  build: { official: 300 },
  kernel: { ours: 60, official: 90, torch: 90 },
  fftconv: { ours: 60, torch: 90 },
  step: { ours: 90, official: 90, torch: 90 },
  block: { ours: 90, official: 150, torch: 200, jax: 150 },
  model: { ours: 120, official: 120, torch: 200 },
};

function parseArgs(argv) {
  const o = { quick: false, backend: 'cuda', only: null, torch: true, official: true, jax: true, node: true, budget: 450, results: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--quick') o.quick = true;
    else if (a === '--backend') o.backend = val();
    else if (a === '--only') o.only = val().split(',').filter(Boolean);
    else if (a === '--no-torch') o.torch = false;
    else if (a === '--no-official') o.official = false;
    else if (a === '--no-jax') o.jax = false;
    else if (a === '--no-node') o.node = false;
    else if (a === '--budget') o.budget = Number(val());
    else if (a === '--results') o.results = val();
    else if (a === '--help' || a === '-h') {
      console.log(fs.readFileSync(__filename, 'utf8').split('*/')[0]);
      process.exit(0);
    } else throw new Error(`unknown argument '${a}' (see --help)`);
  }
  if (o.backend !== 'cuda' && o.backend !== 'cpu') throw new Error(`--backend must be cuda or cpu (got ${o.backend})`);
  for (const s of o.only || []) if (!SUITES.includes(s)) throw new Error(`--only: unknown suite '${s}' (one of ${SUITES.join(', ')})`);
  if (!(o.budget > 0)) throw new Error('--budget must be a positive number of seconds');
  return o;
}

/** Runs a worker with its output teed to the console and a log file; kills its process group on timeout. */
function runWorker(cmd, args, { timeoutS, logFile, env }) {
  return new Promise((resolve) => {
    const log = fs.openSync(logFile, 'w');
    const started = Date.now();
    let child;
    try {
      child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    } catch (err) {
      fs.closeSync(log);
      resolve({ code: null, signal: null, timedOut: false, spawnError: String(err), seconds: 0 });
      return;
    }
    const tee = (stream, sink) =>
      stream.on('data', (d) => {
        fs.writeSync(log, d);
        sink.write(d);
      });
    tee(child.stdout, process.stdout);
    tee(child.stderr, process.stderr);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, timeoutS * 1e3);
    let spawnError = null;
    child.on('error', (err) => {
      spawnError = String(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      fs.closeSync(log);
      resolve({ code, signal, timedOut, spawnError, seconds: (Date.now() - started) / 1e3 });
    });
  });
}

function tail(file, n = 15) {
  try {
    return fs.readFileSync(file, 'utf8').trim().split('\n').slice(-n).join('\n');
  } catch {
    return '';
  }
}

/** Makes sure a worker's failure is in its results file, whatever it managed to write. */
function recordOutcome(file, suite, impl, outcome, logFile) {
  let doc;
  try {
    doc = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    doc = { suite, impl, results: [] };
  }
  doc.worker = { ...outcome, log: path.basename(logFile) };
  const failed = outcome.timedOut || outcome.spawnError || outcome.code !== 0;
  if (failed) {
    const why = outcome.spawnError
      ? `could not start: ${outcome.spawnError}`
      : outcome.timedOut
        ? `timed out after ${outcome.seconds.toFixed(0)} s (killed)`
        : `exited with ${outcome.signal ? `signal ${outcome.signal}` : `code ${outcome.code}`}`;
    doc.results.push({ suite, impl, case: '(worker)', mode: '-', status: 'error', error: `${impl} worker ${why}; log ${path.basename(logFile)}: ${tail(logFile, 6).replace(/\s+/g, ' ').slice(-600)}` });
    console.error(`!! ${suite}/${impl}: worker ${why} (see ${logFile})`);
  }
  fs.writeFileSync(file, JSON.stringify(doc, null, 1));
}

/**
 * Merges the per-worker results into results.json and the logs into logs.txt, then removes
 * the parts: a run leaves four files (results.json, logs.txt, RESULTS.md, block_chart.svg).
 */
function consolidate(outDir, run, spec) {
  const docs = [];
  const logs = [];
  for (const f of fs.readdirSync(outDir).sort()) {
    if (!RESULT_FILE.test(f)) continue;
    docs.push(JSON.parse(fs.readFileSync(path.join(outDir, f), 'utf8')));
    const log = path.join(outDir, 'logs', f.replace(/\.json$/, '.log'));
    if (fs.existsSync(log)) logs.push(`===== ${path.basename(log)}\n${fs.readFileSync(log, 'utf8')}`);
  }
  fs.writeFileSync(path.join(outDir, 'results.json'), JSON.stringify({ run, spec, docs }, null, 1));
  fs.writeFileSync(path.join(outDir, 'logs.txt'), logs.join('\n'));
  for (const d of docs) fs.rmSync(path.join(outDir, `${d.suite}-${d.impl}.json`), { force: true });
  fs.rmSync(path.join(outDir, 'logs'), { recursive: true, force: true });
  fs.rmSync(path.join(outDir, 'spec.json'), { force: true });
}

function gitDescribe() {
  const head = probe('git', ['-C', path.join(__dirname, '..'), 'rev-parse', '--short', 'HEAD']);
  if (!head) return null;
  const dirty = probe('git', ['-C', path.join(__dirname, '..'), 'status', '--porcelain', '--untracked-files=no']);
  return dirty ? `${head} with uncommitted changes (${dirty.split('\n').map((l) => l.slice(3)).join(', ')})` : head;
}

function probe(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 20e3 });
  return r.status === 0 ? r.stdout.trimEnd() : null;
}

/** Suites the official S4 worker times (it has no separate FFT convolution). */
const OFFICIAL_SUITES = ['kernel', 'step', 'block', 'model'];

/**
 * The workers of one suite in column order: ours, the official S4, the PyTorch rewrite.
 * 'build' is the official extension's build, run before the suites. A job with notRun is
 * recorded as not measured, with that reason, instead of being started.
 */
function jobsOf(suite, { opts, python, specFile, s4ref, annot, jax }) {
  const py = (script) => (file, device) => [path.join(__dirname, script), suite, specFile, file, device];
  const noS4ref = 'S4REF is not set (a folder with the official models/s4 and extensions/kernels; see bench/official_sources.sh)';
  if (suite === 'build') {
    if (!opts.official) return [];
    const argv = (file, device, limit) => [path.join(__dirname, 'official_build.py'), file, device, String(Math.max(5, Math.floor(limit - 5)))];
    return [{ impl: 'official', cmd: python, argv, notRun: s4ref ? null : noS4ref }];
  }
  const jobs = [];
  if (opts.node) jobs.push({ impl: 'ours', cmd: process.execPath, argv: (file, device) => [path.join(__dirname, 'node', 'worker.js'), suite, specFile, file, device] });
  if (opts.official && OFFICIAL_SUITES.includes(suite)) jobs.push({ impl: 'official', cmd: python, argv: py('official_bench.py'), notRun: s4ref ? null : noS4ref });
  if (opts.torch) jobs.push({ impl: 'torch', cmd: python, argv: py('torch_bench.py') });
  if (opts.jax && suite === 'block') {
    const notRun = !jax.available ? `no JAX/Flax in ${python} (${jax.error})` : !annot ? "ANNOT is not set (a folder with The Annotated S4's s4/s4.py; see bench/annotated_jax.py)" : null;
    jobs.push({ impl: 'jax', cmd: python, argv: py('annotated_jax.py'), notRun });
  }
  return jobs;
}

/** Whether python can run the JAX worker: `import jax, flax`. */
function jaxStatus(python) {
  const r = spawnSync(python, ['-c', 'import jax, flax; print(jax.__version__, flax.__version__)'], { encoding: 'utf8', timeout: 60e3 });
  if (r.status === 0) return { available: true, versions: r.stdout.trim() };
  const why = (r.stderr || String(r.error || '')).trim().split('\n').pop();
  return { available: false, error: why || `exit code ${r.status}` };
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const outDir = path.resolve(process.env.S4_BENCH_OUT || path.join(__dirname, 'out'));
  const logDir = path.join(outDir, 'logs');
  fs.mkdirSync(logDir, { recursive: true });
  for (const f of fs.readdirSync(outDir)) if (f.endsWith('.json') || f === 'logs.txt') fs.rmSync(path.join(outDir, f));

  const spec = makeSpec(opts.quick);
  const specFile = path.join(outDir, 'spec.json');
  fs.writeFileSync(specFile, JSON.stringify(spec, null, 1));
  const python = process.env.S4_BENCH_PYTHON || 'python3';
  // torch.compile's cache: private to this run, outside the results folder.
  const inductorCache = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 's4-bench-inductor-'));
  const started = Date.now();
  const deadline = started + opts.budget * 1e3;
  const run = {
    startedAt: new Date(started).toISOString(),
    args: process.argv.slice(2),
    backend: opts.backend,
    quick: opts.quick,
    nvidiaSmi: probe('nvidia-smi', ['--query-gpu=name,driver_version,memory.total,clocks.max.sm', '--format=csv,noheader']),
    nvcc: (probe('nvcc', ['--version']) || '').split('\n').pop() || null,
    node: process.version,
    host: require('node:os').hostname(),
    // Which code was measured: S4_BENCH_CODE (e.g. a commit, given where .git is not at hand), else git.
    code: process.env.S4_BENCH_CODE || gitDescribe(),
    workers: [],
  };
  const suites = opts.only || SUITES;
  const ctx = {
    opts,
    python,
    specFile,
    s4ref: process.env.S4REF ? path.resolve(process.env.S4REF) : null,
    annot: process.env.ANNOT ? path.resolve(process.env.ANNOT) : null,
    jax: opts.jax && suites.includes('block') ? jaxStatus(python) : { available: false, error: 'not asked for' },
  };
  run.official = { s4ref: ctx.s4ref };
  run.jax = { annot: ctx.annot, ...ctx.jax };
  const phases = suites.some((s) => OFFICIAL_SUITES.includes(s)) ? ['build', ...suites] : suites;
  for (const suite of phases) {
    for (const job of jobsOf(suite, ctx)) {
      const file = path.join(outDir, `${suite}-${job.impl}.json`);
      const logFile = path.join(logDir, `${suite}-${job.impl}.log`);
      if (job.notRun) {
        const doc = { suite, impl: job.impl, results: [{ suite, impl: job.impl, case: '(worker)', mode: '-', status: 'n/a', error: `not measured: ${job.notRun}` }] };
        fs.writeFileSync(file, JSON.stringify(doc, null, 1));
        console.error(`!! ${suite}/${job.impl}: not run, ${job.notRun}`);
        continue;
      }
      const left = (deadline - Date.now()) / 1e3;
      const limit = Math.min(opts.quick && suite !== 'build' ? 120 : LIMITS[suite][job.impl], left);
      if (limit < 10) {
        const doc = { suite, impl: job.impl, results: [{ suite, impl: job.impl, case: '(worker)', mode: '-', status: 'skipped', error: `the run's time budget (${opts.budget} s) was spent` }] };
        fs.writeFileSync(file, JSON.stringify(doc, null, 1));
        console.error(`!! ${suite}/${job.impl}: skipped, time budget spent`);
        continue;
      }
      console.log(`== ${suite} / ${job.impl} (limit ${limit.toFixed(0)} s)`);
      const device = job.impl === 'ours' ? opts.backend : opts.backend === 'cuda' ? 'cuda' : 'cpu';
      const outcome = await runWorker(job.cmd, job.argv(file, device, limit), {
        timeoutS: limit,
        logFile,
        env: { TORCHINDUCTOR_CACHE_DIR: inductorCache, PYTHONUNBUFFERED: '1', ...(ctx.s4ref ? { S4REF: ctx.s4ref } : {}), ...(ctx.annot ? { ANNOT: ctx.annot } : {}) },
      });
      recordOutcome(file, suite, job.impl, outcome, logFile);
      run.workers.push({ suite, impl: job.impl, ...outcome });
    }
  }
  run.finishedAt = new Date().toISOString();
  run.seconds = (Date.now() - started) / 1e3;
  fs.rmSync(inductorCache, { recursive: true, force: true });
  consolidate(outDir, run, spec);

  const targets = [path.join(outDir, 'RESULTS.md')];
  if (opts.results) targets.push(path.resolve(opts.results));
  else if (!opts.quick && opts.backend === 'cuda' && !opts.only) targets.push(path.join(__dirname, 'RESULTS.md'));
  const chartTargets = [path.join(outDir, 'block_chart.svg')];
  if (targets.length > 1) chartTargets.push(path.join(__dirname, 'block_chart.svg'));
  writeReport(outDir, targets, chartTargets);
  console.log(`done in ${run.seconds.toFixed(0)} s; results: ${targets.join(', ')}`);
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : err);
  process.exit(1);
});
