#!/usr/bin/env node
'use strict';
/**
 * Data-parallel throughput: `s4 train` on one process without DataParallel, then through
 * the launcher with 1, 2, 4, ... ranks at a fixed batch per rank (the global batch grows
 * with the ranks), each for a fixed number of steps. Reports examples per second (median
 * over the steps after the warm-up, from the runs' log.jsonl), the step time, the speed-up
 * over one rank, the overhead of one rank through the group against no group at all, and
 * how far the one-rank run's losses are from the plain run's (they should agree to float
 * rounding: the same batches, the same updates). Writes dist_scaling.json, dist_scaling.md
 * and dist_scaling.svg (speed-up against ranks, with the ideal line) to --out.
 *
 *   node bench/dist_scaling.js --launch gpus --ranks 1,2,4 --task fmnist --per-rank-batch 64
 *   node bench/dist_scaling.js --launch procs --ranks 1,2 --task sine --per-rank-batch 16
 *
 * Flags after `--` go to every `s4 train` (e.g. -- --data-dir /data/fmnist). Uses the built
 * CLI (dist/cli/s4.js: `npm run build:ts` first).
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

function parseArgs(argv) {
  const o = { launch: 'gpus', ranks: [1, 2], task: 'fmnist', perRankBatch: 64, steps: 60, warmup: 15, out: path.join('bench', 'out'), extra: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => argv[++i];
    if (a === '--') {
      o.extra = argv.slice(i + 1);
      break;
    } else if (a === '--launch') o.launch = val();
    else if (a === '--ranks') o.ranks = val().split(',').map(Number);
    else if (a === '--task') o.task = val();
    else if (a === '--per-rank-batch') o.perRankBatch = Number(val());
    else if (a === '--steps') o.steps = Number(val());
    else if (a === '--warmup') o.warmup = Number(val());
    else if (a === '--out') o.out = val();
    else throw new Error(`unknown flag ${a}`);
  }
  if (!['gpus', 'procs'].includes(o.launch)) throw new Error('--launch must be gpus or procs');
  if (o.ranks.some((n) => !Number.isInteger(n) || n < 1)) throw new Error('--ranks must list positive integers');
  if (o.warmup >= o.steps) throw new Error('--warmup must be below --steps');
  return o;
}

const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
};

/** One `s4 train`; ranks null: a plain single process. */
function train(o, ranks) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 's4-scaling-'));
  const batch = o.perRankBatch * (ranks ?? 1);
  const args = [path.join(__dirname, '..', 'dist', 'cli', 's4.js'), 'train', '--task', o.task, '--batch-size', String(batch), '--max-steps', String(o.steps), '--eval-limit', String(batch), '--test-size', String(batch), '--out', dir, '--no-progress', '--json'];
  if (ranks !== null) args.push(`--${o.launch}`, String(ranks));
  args.push(...o.extra);
  const t0 = Date.now();
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  const seconds = (Date.now() - t0) / 1000;
  if (r.status !== 0) return { ranks, status: 'failed', error: (r.stderr || '').trim().split('\n').slice(-3).join(' | ') };
  const steps = fs
    .readFileSync(path.join(dir, 'log.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
    .filter((e) => e.type === 'step');
  const rates = steps.filter((e) => e.step > o.warmup).map((e) => e.examplesPerSec);
  const rate = median(rates);
  return { ranks, status: 'ok', globalBatch: batch, examplesPerSec: rate, stepMs: (1000 * batch) / rate, losses: steps.map((e) => e.loss), seconds };
}

function table(o, plain, runs) {
  const base = runs.find((r) => r.ranks === 1 && r.status === 'ok');
  const lines = [
    `| ranks (${o.launch}) | global batch | examples/s | step ms | speed-up over 1 rank |`,
    '|---|---|---|---|---|',
    `| 1, no DataParallel | ${plain.globalBatch ?? '-'} | ${plain.status === 'ok' ? plain.examplesPerSec.toFixed(0) : plain.status} | ${plain.status === 'ok' ? plain.stepMs.toFixed(2) : '-'} | |`,
  ];
  for (const r of runs) {
    if (r.status !== 'ok') lines.push(`| ${r.ranks} | | ${r.status}: ${r.error} | | |`);
    else lines.push(`| ${r.ranks} | ${r.globalBatch} | ${r.examplesPerSec.toFixed(0)} | ${r.stepMs.toFixed(2)} | ${base ? (r.examplesPerSec / base.examplesPerSec).toFixed(2) + 'x' : '-'} |`);
  }
  if (base && plain.status === 'ok') {
    const n = Math.min(base.losses.length, plain.losses.length);
    let worst = 0;
    for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(base.losses[i] - plain.losses[i]) / Math.max(1, Math.abs(plain.losses[i])));
    lines.push('', `One rank through the group against no group: ${(base.stepMs - plain.stepMs).toFixed(3)} ms per step of overhead; losses agree to ${worst.toExponential(2)} (largest relative difference over ${n} steps).`);
  }
  return lines.join('\n');
}

function svg(runs) {
  const ok = runs.filter((r) => r.status === 'ok');
  const base = ok.find((r) => r.ranks === 1);
  const W = 480;
  const H = 320;
  const m = { l: 60, r: 20, t: 30, b: 50 };
  const maxN = Math.max(1, ...runs.map((r) => r.ranks));
  const x = (n) => m.l + ((n - 1) / Math.max(1, maxN - 1)) * (W - m.l - m.r);
  const y = (s) => H - m.b - ((s - 0) / maxN) * (H - m.t - m.b);
  const pts = base ? ok.map((r) => `${x(r.ranks).toFixed(1)},${y(r.examplesPerSec / base.examplesPerSec).toFixed(1)}`).join(' ') : '';
  const ticks = Array.from({ length: maxN }, (_, i) => i + 1)
    .map((n) => `<text x="${x(n)}" y="${H - m.b + 18}" text-anchor="middle">${n}</text><text x="${m.l - 8}" y="${y(n) + 4}" text-anchor="end">${n}x</text>`)
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">
<rect width="${W}" height="${H}" fill="white"/>
<text x="${W / 2}" y="18" text-anchor="middle">data-parallel speed-up at a fixed batch per rank</text>
<line x1="${m.l}" y1="${H - m.b}" x2="${W - m.r}" y2="${H - m.b}" stroke="black"/><line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${H - m.b}" stroke="black"/>
${ticks}
<text x="${W / 2}" y="${H - 12}" text-anchor="middle">ranks</text>
<line x1="${x(1)}" y1="${y(1)}" x2="${x(maxN)}" y2="${y(maxN)}" stroke="#999" stroke-dasharray="5,4"/>
${pts ? `<polyline points="${pts}" fill="none" stroke="#1f77b4" stroke-width="2"/>` : `<text x="${W / 2}" y="${H / 2}" text-anchor="middle">no data</text>`}
</svg>
`;
}

function main() {
  const o = parseArgs(process.argv.slice(2));
  fs.mkdirSync(o.out, { recursive: true });
  const plain = train(o, null);
  console.error(`plain: ${plain.status === 'ok' ? `${plain.examplesPerSec.toFixed(0)} examples/s` : plain.error}`);
  const runs = [];
  for (const n of o.ranks) {
    const r = train(o, n);
    console.error(`${n} rank(s): ${r.status === 'ok' ? `${r.examplesPerSec.toFixed(0)} examples/s` : r.error}`);
    runs.push(r);
  }
  const md = table(o, plain, runs);
  const result = { date: new Date().toISOString(), options: o, host: os.hostname(), plain, runs };
  fs.writeFileSync(path.join(o.out, 'dist_scaling.json'), JSON.stringify(result, null, 1));
  fs.writeFileSync(path.join(o.out, 'dist_scaling.md'), md + '\n');
  fs.writeFileSync(path.join(o.out, 'dist_scaling.svg'), svg(runs));
  console.log(md);
}

main();
