'use strict';
/**
 * Load test of examples/server.mjs on 127.0.0.1: N requests at concurrency C, each a
 * forward pass (POST /predict) and a generation (POST /generate, streamed), against the
 * server with dynamic batching and then one request at a time (S4_BATCHING=0). Prints,
 * for each: errors, latency p50/p99, requests/s, and the server's event-loop delay p99
 * (perf_hooks.monitorEventLoopDelay, read from GET /stats); then the batching speedup.
 * Needs the built package (npm run build:ts). Not part of CI.
 *
 *   node bench/serving/load_server.js [--requests 200] [--concurrency 16] [--tokens 64]
 *       [--prompt 32] [--length 256] [--d-model 128] [--layers 4] [--vocab 256] [--only batched|single]
 *   S4_BACKEND=cuda node bench/serving/load_server.js
 *
 * A model of the given size is made with a fixed seed and written as a checkpoint (the
 * figures measure serving, not model quality).
 */
const { spawn } = require('node:child_process');
const { mkdtempSync } = require('node:fs');
const { tmpdir } = require('node:os');
const path = require('node:path');
const { loadS4, nowMs } = require('../node/common');

function arg(name, def) {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? def : process.argv[i + 1];
}
const REQUESTS = Number(arg('requests', '200'));
const CONCURRENCY = Number(arg('concurrency', '16'));
const TOKENS = Number(arg('tokens', '64'));
const PROMPT = Number(arg('prompt', '32'));
const LENGTH = Number(arg('length', '256'));
const ONLY = arg('only', '');
const root = path.resolve(__dirname, '..', '..');

function writeCheckpoint(file) {
  const s4 = loadS4();
  const opts = { embedding: Number(arg('vocab', '256')), dModel: Number(arg('d-model', '128')), nLayers: Number(arg('layers', '4')), dState: 64, lMax: 1024, pool: 'none', dropout: 0, seed: 1 };
  opts.dOutput = opts.embedding;
  const model = new s4.nn.SequenceModel(opts);
  const params = {};
  for (const [n, t] of model.namedParameters()) params[n] = { shape: [...t.shape], dtype: t.dtype, data: t.dataSync() };
  s4.train.saveCheckpoint(file, { step: 0, epoch: 0, batch: 0, seed: 0, params, moments: {}, scheduleStep: 0, dropout: {}, info: { model: opts } });
  model.dispose();
  return opts;
}

function startServer(checkpoint, env) {
  const child = spawn(process.execPath, [path.join(root, 'examples/server.mjs'), checkpoint], {
    cwd: root,
    env: { ...process.env, S4_PACKAGE: process.env.S4_BENCH_PKG || path.join(root, 'dist/index.js'), HOST: '127.0.0.1', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d.toString();
      const m = /\{"listening":"([^"]+)"/.exec(out);
      if (m) resolve({ child, url: m[1] });
    });
    child.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
}

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

async function oneRequest(url, i, vocab) {
  const input = Array.from({ length: LENGTH }, (_, l) => (l * 31 + i * 7) % vocab);
  const p = await fetch(`${url}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input }) });
  if (p.status !== 200) throw new Error(`/predict ${p.status}: ${await p.text()}`);
  await p.json();
  const prompt = input.slice(0, PROMPT);
  const g = await fetch(`${url}/generate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt, maxTokens: TOKENS, temperature: 0.8, topK: 40, seed: i }) });
  if (g.status !== 200) throw new Error(`/generate ${g.status}: ${await g.text()}`);
  const text = await g.text();
  if (!text.includes('event: done')) throw new Error(`/generate ended without 'done': ${text.slice(-200)}`);
}

async function run(label, checkpoint, env, vocab) {
  const { child, url } = await startServer(checkpoint, env);
  try {
    // Warm-up (first calls set up kernels and traces), then reset the server's loop monitor.
    await oneRequest(url, 0, vocab);
    await fetch(`${url}/stats?reset=1`);
    const latencies = [];
    const errors = [];
    let next = 0;
    const t0 = nowMs();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < REQUESTS) {
          const i = next++;
          const s = nowMs();
          try {
            await oneRequest(url, i + 1, vocab);
            latencies.push(nowMs() - s);
          } catch (err) {
            errors.push(String(err.message || err));
          }
        }
      }),
    );
    const seconds = (nowMs() - t0) / 1000;
    const stats = await (await fetch(`${url}/stats`)).json();
    latencies.sort((a, b) => a - b);
    const row = {
      mode: label,
      requests: REQUESTS,
      concurrency: CONCURRENCY,
      errors: errors.length,
      p50Ms: Math.round(quantile(latencies, 0.5)),
      p99Ms: Math.round(quantile(latencies, 0.99)),
      requestsPerSec: Math.round((REQUESTS / seconds) * 100) / 100,
      eventLoopDelayP99Ms: stats.eventLoopDelayMs.p99,
      eventLoopDelayMaxMs: stats.eventLoopDelayMs.max,
      meanPredictBatch: Math.round(stats.predict.meanBatch * 10) / 10,
      meanGenerateBatch: Math.round(stats.generate.meanBatch * 10) / 10,
    };
    if (errors.length) row.firstError = errors[0];
    console.log(JSON.stringify(row));
    return row;
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.on('exit', r));
  }
}

async function main() {
  const dir = mkdtempSync(path.join(tmpdir(), 's4-load-'));
  const checkpoint = path.join(dir, 'model.safetensors');
  const opts = writeCheckpoint(checkpoint);
  console.log(JSON.stringify({ backend: process.env.S4_BACKEND || 'default', model: opts, tokens: TOKENS, prompt: PROMPT, length: LENGTH }));
  const batched = ONLY === 'single' ? null : await run('batched', checkpoint, { S4_BATCHING: '1' }, opts.embedding);
  const single = ONLY === 'batched' ? null : await run('one-at-a-time', checkpoint, { S4_BATCHING: '0' }, opts.embedding);
  if (batched && single) console.log(JSON.stringify({ batchingSpeedup: Math.round((batched.requestsPerSec / single.requestsPerSec) * 100) / 100 }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
