'use strict';
/**
 * The block chart: time of one S4 block against L (log-log), one line per implementation
 * and mode, as a hand-written SVG (no dependencies). Missing points are left out; with no
 * data at all the chart says so.
 */

const W = 720;
const H = 420;
const M = { left: 70, right: 230, top: 40, bottom: 60 };
const SERIES = [
  { impl: 'ours', mode: 'fwd', label: 'ours fwd', color: '#1f77b4', dash: '' },
  { impl: 'ours', mode: 'fwd+bwd', label: 'ours fwd+bwd', color: '#1f77b4', dash: '6,4' },
  { impl: 'official', mode: 'fwd', label: 'official fwd', color: '#9467bd', dash: '' },
  { impl: 'official', mode: 'fwd+bwd', label: 'official fwd+bwd', color: '#9467bd', dash: '6,4' },
  { impl: 'torch-eager', mode: 'fwd', label: 'PyTorch eager fwd', color: '#d62728', dash: '' },
  { impl: 'torch-eager', mode: 'fwd+bwd', label: 'PyTorch eager fwd+bwd', color: '#d62728', dash: '6,4' },
  { impl: 'torch-compile', mode: 'fwd', label: 'torch.compile fwd', color: '#2ca02c', dash: '' },
  { impl: 'torch-compile', mode: 'fwd+bwd', label: 'torch.compile fwd+bwd', color: '#2ca02c', dash: '6,4' },
];

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;');

/** officialName: the official column's short name (e.g. 'official + CUDA ext'), so the chart labels a fallback as the table does. */
function blockChart(ix, spec, officialName = 'official') {
  const cases = spec.block.cases;
  const pts = SERIES.map((s) => ({
    ...s,
    label: s.impl === 'official' ? s.label.replace('official', officialName) : s.label,
    points: cases
      .map((c) => ({ L: c.L, r: ix.get('block', s.impl, `B=${c.B} H=${c.H} L=${c.L}`, s.mode) }))
      .filter((p) => p.r && p.r.status === 'ok')
      .map((p) => ({ L: p.L, ms: p.r.ms.median })),
  }));
  const all = pts.flatMap((s) => s.points);
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`, `<rect width="${W}" height="${H}" fill="white"/>`];
  out.push(`<text x="${M.left}" y="22" font-size="15">One S4 block (N=${spec.block.N}): time vs sequence length</text>`);
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  if (!all.length) {
    out.push(`<text x="${M.left + pw / 2}" y="${M.top + ph / 2}" text-anchor="middle">not yet measured</text>`, '</svg>');
    return out.join('\n');
  }
  const Ls = cases.map((c) => c.L);
  const lx0 = Math.log2(Math.min(...Ls));
  const lx1 = Math.max(Math.log2(Math.max(...Ls)), lx0 + 1);
  const ly0 = Math.floor(Math.log10(Math.min(...all.map((p) => p.ms))));
  const ly1 = Math.max(Math.ceil(Math.log10(Math.max(...all.map((p) => p.ms)))), ly0 + 1);
  const x = (L) => M.left + ((Math.log2(L) - lx0) / (lx1 - lx0)) * pw;
  const y = (ms) => M.top + ph - ((Math.log10(ms) - ly0) / (ly1 - ly0)) * ph;
  out.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#444"/>`);
  for (let e = ly0; e <= ly1; e++) {
    const yy = y(10 ** e);
    out.push(`<line x1="${M.left}" x2="${M.left + pw}" y1="${yy}" y2="${yy}" stroke="#ddd"/>`, `<text x="${M.left - 6}" y="${yy + 4}" text-anchor="end">${10 ** e >= 1 ? 10 ** e : (10 ** e).toFixed(-e)}</text>`);
  }
  for (const c of cases) {
    const xx = x(c.L);
    out.push(`<line x1="${xx}" x2="${xx}" y1="${M.top}" y2="${M.top + ph}" stroke="#eee"/>`, `<text x="${xx}" y="${M.top + ph + 18}" text-anchor="middle">${c.L}</text>`, `<text x="${xx}" y="${M.top + ph + 32}" text-anchor="middle" fill="#666">B=${c.B}, H=${c.H}</text>`);
  }
  out.push(`<text x="${M.left + pw / 2}" y="${H - 10}" text-anchor="middle">L (log scale)</text>`);
  out.push(`<text transform="translate(18 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle">ms per call (log scale)</text>`);
  pts.forEach((s, i) => {
    if (s.points.length) {
      const d = s.points.map((p, j) => `${j ? 'L' : 'M'}${x(p.L).toFixed(1)},${y(p.ms).toFixed(1)}`).join(' ');
      out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2" ${s.dash ? `stroke-dasharray="${s.dash}"` : ''}/>`);
      for (const p of s.points) out.push(`<circle cx="${x(p.L).toFixed(1)}" cy="${y(p.ms).toFixed(1)}" r="3" fill="${s.color}"/>`);
    }
    const ly = M.top + 10 + i * 20;
    const lx = M.left + pw + 15;
    out.push(`<line x1="${lx}" x2="${lx + 28}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2" ${s.dash ? `stroke-dasharray="${s.dash}"` : ''}/>`, `<text x="${lx + 34}" y="${ly + 4}">${esc(s.label)}${s.points.length ? '' : ' (no data)'}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}

module.exports = { blockChart };
