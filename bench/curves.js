'use strict';
/**
 * Training curves from `s4 train` logs (log.jsonl), for comparing runs (e.g. LayerNorm and
 * BatchNorm on ListOps): a chart of evaluation accuracy against training time, one line per
 * run, as PNG (--out x.png, drawn by bench/raster.js) or SVG (--out x.svg), and a table of
 * each run's epochs, seconds per epoch and last test accuracy on stdout (markdown).
 *
 *   node bench/curves.js --out curves.png [--title TEXT] runs/a/log.jsonl:LayerNorm runs/b/log.jsonl:BatchNorm
 *
 * Time is measured from the run's first 'start' record (resumed runs continue the clock of
 * their log); the evaluations plotted are the validation ones when the run has them, else
 * the test ones. No dependencies.
 */
const { readFileSync, writeFileSync } = require('node:fs');
const { Canvas } = require('./raster');

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];
const W = 760;
const H = 440;
const M = { left: 70, right: 200, top: 44, bottom: 56 };
/** The chart's title (--title), or one made from the run labels. */
let title = null;
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;');

function readRun(spec) {
  const at = spec.lastIndexOf(':');
  const path = at > 1 ? spec.slice(0, at) : spec;
  const label = at > 1 ? spec.slice(at + 1) : spec;
  const lines = readFileSync(path, 'utf8').split('\n').filter((l) => l.trim() !== '');
  const recs = lines.map((l, i) => {
    try {
      return JSON.parse(l);
    } catch (err) {
      throw new Error(`${path}:${i + 1}: not valid JSON (${err.message})`);
    }
  });
  const start = recs.find((r) => r.type === 'start');
  if (!start) throw new Error(`${path}: no 'start' record (not a log of s4 train)`);
  const t0 = Date.parse(start.time);
  const evals = recs.filter((r) => r.type === 'eval' && typeof r.accuracy === 'number');
  const split = evals.some((r) => r.split === 'val') ? 'val' : 'test';
  const points = evals.filter((r) => r.split === split).map((r) => ({ min: (Date.parse(r.time) - t0) / 60000, acc: 100 * r.accuracy, epoch: r.epoch }));
  const epochs = recs.filter((r) => r.type === 'epoch').map((r) => (Date.parse(r.time) - t0) / 1000);
  const perEpoch = epochs.map((t, i) => t - (i ? epochs[i - 1] : 0)).sort((a, b) => a - b);
  const finalTest = [...recs].reverse().find((r) => r.type === 'eval' && r.split === 'test');
  return { label, path, split, points, epochs: epochs.length, secondsPerEpoch: perEpoch.length ? perEpoch[Math.floor(perEpoch.length / 2)] : NaN, finalTest };
}

/** A time tick with as many decimals as the axis length needs. */
const tick = (t, xMax) => t.toFixed(xMax < 1 ? 2 : xMax < 10 ? 1 : 0);

/** Minutes, or seconds for runs shorter than two minutes: the axis length and the factor from minutes. */
function timeAxis(points) {
  const m = Math.max(1e-9, ...points.map((p) => p.min));
  return m < 2 ? { xMax: 60 * m, unit: 'seconds', scaleX: 60 } : { xMax: m, unit: 'minutes', scaleX: 1 };
}

/** The axes both drawings share: time and accuracy ranges, the plot size, the maps to pixels. */
function layout(runs) {
  const all = runs.flatMap((r) => r.points);
  const { xMax, unit, scaleX } = timeAxis(all);
  const yMax = Math.min(100, Math.ceil((Math.max(10, ...all.map((p) => p.acc)) + 5) / 10) * 10);
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const x = (v) => M.left + ((v * scaleX) / xMax) * pw;
  const y = (v) => M.top + ph - (v / yMax) * ph;
  return { xMax, unit, scaleX, yMax, pw, ph, x, y };
}

function svg(runs) {
  const { xMax, unit, scaleX, yMax, pw, ph, x, y } = layout(runs);
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${M.left}" y="26" font-size="15">${esc(title ?? `${runs.map((r) => r.label).join(' vs ')}: ${runs[0]?.split ?? 'test'} accuracy during training`)}</text>`,
  ];
  for (let i = 0; i <= 5; i++) {
    const v = (yMax * i) / 5;
    out.push(`<line x1="${M.left}" x2="${M.left + pw}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`, `<text x="${M.left - 8}" y="${y(v) + 4}" text-anchor="end">${v.toFixed(0)}%</text>`);
    const t = (xMax * i) / 5;
    out.push(`<text x="${x(t / scaleX)}" y="${M.top + ph + 18}" text-anchor="middle">${tick(t, xMax)}</text>`);
  }
  out.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${M.left + pw / 2}" y="${H - 14}" text-anchor="middle">training time (${unit})</text>`);
  runs.forEach((r, k) => {
    const c = COLORS[k % COLORS.length];
    if (r.points.length) {
      out.push(`<polyline fill="none" stroke="${c}" stroke-width="2" points="${r.points.map((p) => `${x(p.min).toFixed(1)},${y(p.acc).toFixed(1)}`).join(' ')}"/>`);
      for (const p of r.points) out.push(`<circle cx="${x(p.min).toFixed(1)}" cy="${y(p.acc).toFixed(1)}" r="3" fill="${c}"/>`);
    }
    const ly = M.top + 16 + 22 * k;
    out.push(`<line x1="${M.left + pw + 16}" x2="${M.left + pw + 40}" y1="${ly}" y2="${ly}" stroke="${c}" stroke-width="2"/>`, `<text x="${M.left + pw + 46}" y="${ly + 4}">${esc(r.label)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}

/** The same chart as svg(), drawn into a PNG. */
function png(runs) {
  const { xMax, unit, scaleX, yMax, pw, ph, x, y } = layout(runs);
  const c = new Canvas(W, H);
  c.text(M.left, 14, title ?? `${runs.map((r) => r.label).join(' vs ')}: ${runs[0]?.split ?? 'test'} accuracy`, '#000000', 2);
  for (let i = 0; i <= 5; i++) {
    const v = (yMax * i) / 5;
    c.line(M.left, y(v), M.left + pw, y(v), '#dddddd');
    c.text(M.left - 8, y(v) - 3, `${v.toFixed(0)}%`, '#000000', 1, 'right');
    const t = (xMax * i) / 5;
    c.text(x(t / scaleX), M.top + ph + 10, tick(t, xMax), '#000000', 1, 'center');
  }
  c.line(M.left, M.top, M.left + pw, M.top, '#333333');
  c.line(M.left, M.top + ph, M.left + pw, M.top + ph, '#333333');
  c.line(M.left, M.top, M.left, M.top + ph, '#333333');
  c.line(M.left + pw, M.top, M.left + pw, M.top + ph, '#333333');
  c.text(M.left + pw / 2, H - 22, `training time (${unit})`, '#000000', 1, 'center');
  runs.forEach((r, k) => {
    const col = COLORS[k % COLORS.length];
    r.points.forEach((p, i) => {
      if (i > 0) c.line(x(r.points[i - 1].min), y(r.points[i - 1].acc), x(p.min), y(p.acc), col, 2);
      c.dot(x(p.min), y(p.acc), 3, col);
    });
    const ly = M.top + 16 + 22 * k;
    c.line(M.left + pw + 16, ly, M.left + pw + 40, ly, col, 2);
    c.text(M.left + pw + 46, ly - 3, r.label, '#000000');
  });
  return c.png();
}

function main(argv) {
  const o = argv.indexOf('--out');
  const outPath = o >= 0 ? argv[o + 1] : null;
  const t = argv.indexOf('--title');
  title = t >= 0 ? argv[t + 1] : null;
  const skip = new Set([o, o + 1, t, t + 1].filter((i) => i >= 0 && (i === o || i === o + 1 ? o >= 0 : t >= 0)));
  const specs = argv.filter((_, i) => !skip.has(i));
  if (!outPath || specs.length === 0) {
    console.error('usage: node bench/curves.js --out curves.png|curves.svg [--title TEXT] LOG.jsonl[:label] [LOG.jsonl[:label] ...]');
    process.exit(2);
  }
  const runs = specs.map(readRun);
  writeFileSync(outPath, outPath.endsWith('.png') ? png(runs) : svg(runs));
  console.log('| run | epochs | s / epoch (median) | last test accuracy |');
  console.log('|---|---|---|---|');
  for (const r of runs) {
    const acc = r.finalTest && typeof r.finalTest.accuracy === 'number' ? `${(100 * r.finalTest.accuracy).toFixed(2)}%` : '-';
    console.log(`| ${r.label} | ${r.epochs} | ${Number.isFinite(r.secondsPerEpoch) ? r.secondsPerEpoch.toFixed(1) : '-'} | ${acc} |`);
  }
  console.log(`wrote ${outPath}`);
}

if (require.main === module) main(process.argv.slice(2));
module.exports = { readRun, svg, png };
