/**
 * Float64 model of the CUDA long-sequence FFT convolution (native/cuda/conv_long.cu), index
 * for index: the same transform size, block partition, shared-memory positions, twiddle
 * table indices and radix-2^R butterflies, so a test of this model against a direct
 * convolution checks the decomposition the kernels implement.
 *
 * The real row x (length L, zero-padded to n = 2M) is packed as z[m] = x[2m] + i x[2m+1]
 * (M complex points, M = 2^logM) and transformed by the radix-2 decimation-in-frequency FFT
 * of size M, whose log M stages are split between two kernels with M = M1 M2:
 *   pass A: the log M1 stages of half >= M2 (they mix only elements with equal m mod M2),
 *           C columns m2 per block, over all M1 positions p of each column;
 *   pass B: the log M2 stages of half < M2 (within one row of M2 positions), then the
 *           spectral product, then the inverse (decimation-in-time) stages of half < M2;
 *   pass C: the inverse stages of half >= M2 and the crop to L.
 * Position e = p M2 + q then holds Z[bitrev_logM(e)] between the passes (the DIF leaves
 * bit-reversed order, the DIT takes it), so the bins k and M - k that the real-input
 * product needs together sit in rows p and p' with bitrev(p), bitrev(p') = k1 and -k1 mod
 * M1: pass B gives each block whole "units" of two rows {k1, M1 - k1} (unit 0 holds the
 * self-paired k1 = 0 and M1 / 2).
 */

/** Interleaved complex float64: element j at [2j] (re) and [2j + 1] (im). */
export type Complex64 = Float64Array;

export interface FourStepSize {
  L: number;
  M: number;
  logM: number;
  logM1: number;
  logM2: number;
  M1: number;
  M2: number;
  /** Columns per pass-A / pass-C block. */
  C: number;
  /** Row units (two rows of M2 each) per pass-B block. */
  G: number;
}

/** Elements one block holds in shared memory in passes A, B and C. */
export const FOUR_STEP_BLOCK_ELEMENTS = 4096;

/** M = the power of two >= max(L, 16); M1 = 2^floor(logM / 2), M2 = M / M1. */
export function fourStepSize(L: number): FourStepSize {
  let logM = 4;
  while (1 << logM < L) logM++;
  const logM1 = logM >> 1;
  const logM2 = logM - logM1;
  const M1 = 1 << logM1;
  const M2 = 1 << logM2;
  return {
    L, M: 1 << logM, logM, logM1, logM2, M1, M2,
    C: Math.min(M2, FOUR_STEP_BLOCK_ELEMENTS / M1),
    G: Math.min(M1 / 2, FOUR_STEP_BLOCK_ELEMENTS / (2 * M2)),
  };
}

function bitrev(x: number, bits: number): number {
  let r = 0;
  for (let i = 0; i < bits; i++) r |= ((x >> i) & 1) << (bits - 1 - i);
  return r;
}

/** tw[k] = exp(-2 pi i k / 2M), k < M (the device table is this, rounded to float). */
export function twiddleTable(M: number): Complex64 {
  const tw = new Float64Array(2 * M);
  for (let k = 0; k < M; k++) {
    tw[2 * k] = Math.cos((Math.PI * k) / M);
    tw[2 * k + 1] = -Math.sin((Math.PI * k) / M);
  }
  return tw;
}

type C2 = [number, number];
const mul = (a: C2, b: C2): C2 => [a[0] * b[0] - a[1] * b[1], a[0] * b[1] + a[1] * b[0]];
const conj = (a: C2): C2 => [a[0], -a[1]];
const add = (a: C2, b: C2): C2 => [a[0] + b[0], a[1] + b[1]];
const sub = (a: C2, b: C2): C2 => [a[0] - b[0], a[1] - b[1]];

/** v exp(-+2 pi i q / 16) (INV: +). */
function rot16(v: C2, q: number, inv: boolean): C2 {
  const a = (2 * Math.PI * (q & 15)) / 16;
  return mul(v, [Math.cos(a), inv ? Math.sin(a) : -Math.sin(a)]);
}

/**
 * R radix-2 stages on the P = 2^R values of one group, base twiddle b (the kernel's
 * fftButterflies): DIF covers the halves s 2^(R-1) .. s, DIT s .. s 2^(R-1).
 */
function butterflies(v: C2[], R: number, inv: boolean, b: C2): void {
  const P = 1 << R;
  const pw: C2[] = [b];
  for (let k = 1; k < R; k++) pw.push(mul(pw[k - 1], pw[k - 1]));
  for (let st = 0; st < R; st++) {
    const logD = inv ? st : R - 1 - st;
    const d = 1 << logD;
    const bs = inv ? conj(pw[R - 1 - logD]) : pw[R - 1 - logD];
    for (let m = 0; m < P; m++) {
      if (m & d) continue;
      const sixteenths = (m & (2 * d - 1)) * (8 / d);
      if (inv) {
        const t = rot16(mul(v[m + d], bs), sixteenths, true);
        v[m + d] = sub(v[m], t);
        v[m] = add(v[m], t);
      } else {
        const x = v[m], y = v[m + d];
        v[m] = add(x, y);
        v[m + d] = rot16(mul(sub(x, y), bs), sixteenths, false);
      }
    }
  }
}

/** Base twiddle of a group: offset i within the half s = 2^logS of the size-M transform. */
function baseTwiddle(tw: Complex64, i: number, logS: number, R: number, logM: number): C2 {
  const j = i << (logM + 1 - R - logS);
  return [tw[2 * j], tw[2 * j + 1]];
}

/** The radix of each pass over `bits` stages: 4 while at least 4 are left, then the rest. */
function radices(bits: number): number[] {
  const out: number[] = [];
  for (let left = bits; left > 0; left -= Math.min(4, left)) out.push(Math.min(4, left));
  return out;
}

/**
 * One radix pass over a set of independent length-2^bits transforms held in `at` (get and
 * set by transform t and element index within it), DIF (logS falling) or DIT (rising).
 * `full(t, i)` maps offset i of transform t to the size-M offset and `shift` is the
 * log of the size-M half over the local half (log M2 in pass A/C, 0 in pass B).
 */
function runStages(
  s: FourStepSize, tw: Complex64, count: number, bits: number, inv: boolean, shift: number,
  fullI: (t: number, i: number) => number, get: (t: number, e: number) => C2, set: (t: number, e: number, v: C2) => void,
): void {
  const rs = radices(bits);
  let logS = inv ? 0 : bits;
  for (const R of rs) {
    if (!inv) logS -= R;
    const P = 1 << R;
    const groups = (1 << bits) >> R;
    for (let t = 0; t < count; t++) {
      for (let g = 0; g < groups; g++) {
        const i = g & ((1 << logS) - 1);
        const base = ((g >> logS) << (logS + R)) + i;
        const v: C2[] = [];
        for (let m = 0; m < P; m++) v.push(get(t, base + (m << logS)));
        butterflies(v, R, inv, baseTwiddle(tw, fullI(t, i), logS + shift, R, s.logM));
        for (let m = 0; m < P; m++) set(t, base + (m << logS), v[m]);
      }
    }
    if (inv) logS += R;
  }
}

/**
 * Pass A of one real row x (length L): the DIF stages of half >= M2 of its packed form,
 * column block by column block; returns the M positions (p M2 + q order).
 */
export function passA(s: FourStepSize, tw: Complex64, x: ArrayLike<number>): Complex64 {
  const out = new Float64Array(2 * s.M);
  const packed = (e: number): C2 => [2 * e < s.L ? x[2 * e] : 0, 2 * e + 1 < s.L ? x[2 * e + 1] : 0];
  for (let c0 = 0; c0 < s.M2; c0 += s.C) {
    // the block's shared memory: element (p, c) at p C + c
    const sh: C2[] = [];
    for (let p = 0; p < s.M1; p++) for (let c = 0; c < s.C; c++) sh.push(packed(p * s.M2 + c0 + c));
    runStages(s, tw, s.C, s.logM1, false, s.logM2, (c, i) => (i << s.logM2) + c0 + c,
      (c, p) => sh[p * s.C + c], (c, p, v) => { sh[p * s.C + c] = v; });
    for (let p = 0; p < s.M1; p++) {
      for (let c = 0; c < s.C; c++) {
        const e = p * s.M2 + c0 + c;
        [out[2 * e], out[2 * e + 1]] = sh[p * s.C + c];
      }
    }
  }
  return out;
}

/** The size-M row (position p) of local row lr of the block whose first unit is u0. */
export function unitRow(s: FourStepSize, u0: number, lr: number): number {
  const unit = u0 + (lr >> 1);
  const k1 = (lr & 1) === 0 ? unit : unit === 0 ? s.M1 / 2 : s.M1 - unit;
  return bitrev(k1, s.logM1);
}

/** A pass-B block's rows: `rows[lr]` is the position row of local row lr. */
function blockRows(s: FourStepSize, u0: number): number[] {
  return Array.from({ length: 2 * s.G }, (_, lr) => unitRow(s, u0, lr));
}

/** The row-local stages of one block's rows (DIF or DIT), in place on `sh` (lr M2 + q). */
function rowStages(s: FourStepSize, tw: Complex64, sh: C2[], inv: boolean): void {
  runStages(s, tw, 2 * s.G, s.logM2, inv, 0, (_t, i) => i,
    (t, q) => sh[t * s.M2 + q], (t, q, v) => { sh[t * s.M2 + q] = v; });
}

/**
 * Each bin pair the product handles in one block: position e of local index `li`, its
 * bin k <= M / 2 and the local index of bin M - k (li itself for k = 0 and k = M / 2).
 */
export function blockPairs(s: FourStepSize, rows: number[]): { li: number; k: number; lm: number }[] {
  const out: { li: number; k: number; lm: number }[] = [];
  for (let li = 0; li < rows.length * s.M2; li++) {
    const lr = Math.floor(li / s.M2), q = li % s.M2;
    const k = bitrev(rows[lr] * s.M2 + q, s.logM);
    if (k > s.M / 2) continue;
    const pm = bitrev((s.M - k) % s.M, s.logM);
    const k1 = k & (s.M1 - 1), k1m = (s.M1 - k1) & (s.M1 - 1);
    const lrm = k1m === k1 ? lr : lr ^ 1;
    if (rows[lrm] !== pm >> s.logM2) throw new Error('partner bin outside the block');
    out.push({ li, k, lm: lrm * s.M2 + (pm & (s.M2 - 1)) });
  }
  return out;
}

/** X[k], X[M-k] of the real row from Z[k], Z[M-k] (the kernels' xPair). */
function xPair(zk: C2, zm: C2, wk: C2): [C2, C2] {
  const e: C2 = [0.5 * (zk[0] + zm[0]), 0.5 * (zk[1] - zm[1])];
  const o: C2 = [0.5 * (zk[1] + zm[1]), -0.5 * (zk[0] - zm[0])];
  const wo = mul(wk, o);
  return [add(e, wo), sub(conj(e), conj(wo))];
}

/** Z'[k] = (Y[k] + conj Y[M-k]) + i conj(W^k) (Y[k] - conj Y[M-k]) (the kernels' inversePack). */
function inversePack(yk: C2, ym: C2, wk: C2): C2 {
  const a = add(yk, conj(ym));
  const b = mul(conj(wk), sub(yk, conj(ym)));
  return [a[0] - b[1], a[1] + b[0]];
}

function getPos(a: Complex64, e: number): C2 {
  return [a[2 * e], a[2 * e + 1]];
}

function setPos(a: Complex64, e: number, v: C2): void {
  a[2 * e] = v[0];
  a[2 * e + 1] = v[1];
}

function loadBlock(s: FourStepSize, row: Complex64, rows: number[]): C2[] {
  const sh: C2[] = [];
  for (const r of rows) for (let q = 0; q < s.M2; q++) sh.push(getPos(row, r * s.M2 + q));
  return sh;
}

function storeBlock(s: FourStepSize, row: Complex64, rows: number[], sh: C2[]): void {
  rows.forEach((r, lr) => { for (let q = 0; q < s.M2; q++) setPos(row, r * s.M2 + q, sh[lr * s.M2 + q]); });
}

/**
 * Pass B, spectrum: the row's real spectrum by position, in place: X[k] at the position of
 * k (0 < k < M), and (X[0], X[M]) (both real) at position 0.
 */
export function passBSpectrum(s: FourStepSize, tw: Complex64, row: Complex64): void {
  for (let u0 = 0; u0 < s.M1 / 2; u0 += s.G) {
    const rows = blockRows(s, u0);
    const sh = loadBlock(s, row, rows);
    rowStages(s, tw, sh, false);
    for (const { li, k, lm } of blockPairs(s, rows)) {
      const z = sh[li];
      if (k === 0) {
        sh[li] = [z[0] + z[1], z[0] - z[1]];
        continue;
      }
      const [xk, xm] = xPair(z, sh[lm], getPos(tw, k));
      sh[li] = xk;
      sh[lm] = xm;
    }
    storeBlock(s, row, rows, sh);
  }
}

/** The kernel factor at bin k from a passBSpectrum row: (K + d) / n, conjugated for CONJ. */
function kernelAt(spec: Complex64, pos: number, k0: 0 | 1 | null, d: number, scale: number, conjK: boolean): C2 {
  const v = getPos(spec, pos);
  if (k0 !== null) return [(v[k0] + d) * scale, 0];
  return [(v[0] + d) * scale, (conjK ? -v[1] : v[1]) * scale];
}

/** Pass B, product: the row's Z times (K + d) / n (conjugated: correlation), inverse row stages. */
export function passBConv(s: FourStepSize, tw: Complex64, row: Complex64, spec: Complex64, d: number, conjK: boolean): void {
  const scale = 1 / (2 * s.M);
  for (let u0 = 0; u0 < s.M1 / 2; u0 += s.G) {
    const rows = blockRows(s, u0);
    const sh = loadBlock(s, row, rows);
    rowStages(s, tw, sh, false);
    for (const { li, k, lm } of blockPairs(s, rows)) {
      const pos = rows[Math.floor(li / s.M2)] * s.M2 + (li % s.M2);
      const z = sh[li];
      if (k === 0) {
        const y0 = (z[0] + z[1]) * kernelAt(spec, 0, 0, d, scale, conjK)[0];
        const yM = (z[0] - z[1]) * kernelAt(spec, 0, 1, d, scale, conjK)[0];
        sh[li] = [y0 + yM, y0 - yM];
        continue;
      }
      const posm = rows[Math.floor(lm / s.M2)] * s.M2 + (lm % s.M2);
      const wk = getPos(tw, k);
      const [xk, xm] = xPair(z, sh[lm], wk);
      const yk = mul(xk, kernelAt(spec, pos, null, d, scale, conjK));
      const ym = mul(xm, kernelAt(spec, posm, null, d, scale, conjK));
      sh[li] = inversePack(yk, ym, wk);
      sh[lm] = inversePack(ym, yk, [-wk[0], wk[1]]);
    }
    rowStages(s, tw, sh, true);
    storeBlock(s, row, rows, sh);
  }
}

/**
 * Pass B of the backward for one channel: for b = 0 .. B-1 in order, G += DY conj(U) by
 * position (bins 0 and M as (G0, GM) at position 0) and, when dyRows[b]'s du is wanted
 * (spec given), dy's row becomes du's (times conj(K + d) / n, inverse row stages); then
 * gRow (the channel's dk row) gets G / n packed and through the inverse row stages.
 */
export function passBBackward(
  s: FourStepSize, tw: Complex64, dyRows: Complex64[], uRows: Complex64[], spec: Complex64 | null, d: number, gRow: Complex64,
): void {
  const scale = 1 / (2 * s.M);
  for (let u0 = 0; u0 < s.M1 / 2; u0 += s.G) {
    const rows = blockRows(s, u0);
    const pairs = blockPairs(s, rows);
    const posOf = (li: number) => rows[Math.floor(li / s.M2)] * s.M2 + (li % s.M2);
    const g: C2[] = Array.from({ length: rows.length * s.M2 }, () => [0, 0] as C2);
    for (let b = 0; b < dyRows.length; b++) {
      const shD = loadBlock(s, dyRows[b], rows);
      const shU = loadBlock(s, uRows[b], rows);
      rowStages(s, tw, shD, false);
      rowStages(s, tw, shU, false);
      for (const { li, k, lm } of pairs) {
        const zd = shD[li], zu = shU[li];
        if (k === 0) {
          const xd0 = zd[0] + zd[1], xdM = zd[0] - zd[1];
          g[li] = [g[li][0] + xd0 * (zu[0] + zu[1]), g[li][1] + xdM * (zu[0] - zu[1])];
          if (spec) {
            const y0 = xd0 * kernelAt(spec, 0, 0, d, scale, true)[0];
            const yM = xdM * kernelAt(spec, 0, 1, d, scale, true)[0];
            shD[li] = [y0 + yM, y0 - yM];
          }
          continue;
        }
        const wk = getPos(tw, k);
        const [xdk, xdm] = xPair(zd, shD[lm], wk);
        const [xuk, xum] = xPair(zu, shU[lm], wk);
        g[li] = add(g[li], mul(xdk, conj(xuk)));
        if (lm !== li) g[lm] = add(g[lm], mul(xdm, conj(xum)));
        if (spec) {
          const yk = mul(xdk, kernelAt(spec, posOf(li), null, d, scale, true));
          const ym = mul(xdm, kernelAt(spec, posOf(lm), null, d, scale, true));
          shD[li] = inversePack(yk, ym, wk);
          shD[lm] = inversePack(ym, yk, [-wk[0], wk[1]]);
        }
      }
      if (spec) {
        rowStages(s, tw, shD, true);
        storeBlock(s, dyRows[b], rows, shD);
      }
    }
    const shG: C2[] = g.map(() => [0, 0]);
    for (const { li, k, lm } of pairs) {
      if (k === 0) {
        const y0 = g[li][0] * scale, yM = g[li][1] * scale;
        shG[li] = [y0 + yM, y0 - yM];
        continue;
      }
      const wk = getPos(tw, k);
      const yk: C2 = [g[li][0] * scale, g[li][1] * scale], ym: C2 = [g[lm][0] * scale, g[lm][1] * scale];
      shG[li] = inversePack(yk, ym, wk);
      shG[lm] = inversePack(ym, yk, [-wk[0], wk[1]]);
    }
    rowStages(s, tw, shG, true);
    storeBlock(s, gRow, rows, shG);
  }
}

/** Pass C: the inverse stages of half >= M2, then the first L reals of the unpacked row. */
export function passC(s: FourStepSize, tw: Complex64, row: Complex64): Float64Array {
  const y = new Float64Array(s.L);
  for (let c0 = 0; c0 < s.M2; c0 += s.C) {
    const sh: C2[] = [];
    for (let p = 0; p < s.M1; p++) for (let c = 0; c < s.C; c++) sh.push(getPos(row, p * s.M2 + c0 + c));
    runStages(s, tw, s.C, s.logM1, true, s.logM2, (c, i) => (i << s.logM2) + c0 + c,
      (c, p) => sh[p * s.C + c], (c, p, v) => { sh[p * s.C + c] = v; });
    for (let p = 0; p < s.M1; p++) {
      for (let c = 0; c < s.C; c++) {
        const e = p * s.M2 + c0 + c;
        if (2 * e < s.L) y[2 * e] = sh[p * s.C + c][0];
        if (2 * e + 1 < s.L) y[2 * e + 1] = sh[p * s.C + c][1];
      }
    }
  }
  return y;
}

/** The kernel spectra rows of k [H, L] (pass A, then pass B spectrum). */
function kernelSpectra(s: FourStepSize, tw: Complex64, k: ArrayLike<number>, H: number): Complex64[] {
  return Array.from({ length: H }, (_, h) => {
    const row = passA(s, tw, Array.prototype.slice.call(k, h * s.L, (h + 1) * s.L) as number[]);
    passBSpectrum(s, tw, row);
    return row;
  });
}

function rowOf(x: ArrayLike<number>, r: number, L: number): number[] {
  return Array.prototype.slice.call(x, r * L, (r + 1) * L) as number[];
}

/** y = conv(u, k) + d u (correlation with conjK) of u [B, H, L], k [H, L], d [H], through the passes. */
export function fourStepConv(
  u: ArrayLike<number>, k: ArrayLike<number>, d: ArrayLike<number> | null, B: number, H: number, L: number, conjK = false,
): Float64Array {
  const s = fourStepSize(L);
  const tw = twiddleTable(s.M);
  const spec = kernelSpectra(s, tw, k, H);
  const y = new Float64Array(B * H * L);
  for (let r = 0; r < B * H; r++) {
    const h = r % H;
    const row = passA(s, tw, rowOf(u, r, L));
    passBConv(s, tw, row, spec[h], d ? d[h] : 0, conjK);
    y.set(passC(s, tw, row), r * L);
  }
  return y;
}

/** du, dk, dd of fftConv (see convBackward64) through the passes. */
export function fourStepBackward(
  dy: ArrayLike<number>, u: ArrayLike<number>, k: ArrayLike<number>, d: ArrayLike<number> | null, B: number, H: number, L: number,
): { du: Float64Array; dk: Float64Array; dd: Float64Array } {
  const s = fourStepSize(L);
  const tw = twiddleTable(s.M);
  const spec = kernelSpectra(s, tw, k, H);
  const du = new Float64Array(B * H * L), dk = new Float64Array(H * L), dd = new Float64Array(H);
  for (let h = 0; h < H; h++) {
    const dyRows = Array.from({ length: B }, (_, b) => passA(s, tw, rowOf(dy, b * H + h, L)));
    const uRows = Array.from({ length: B }, (_, b) => passA(s, tw, rowOf(u, b * H + h, L)));
    const gRow = new Float64Array(2 * s.M);
    passBBackward(s, tw, dyRows, uRows, spec[h], d ? d[h] : 0, gRow);
    dyRows.forEach((row, b) => du.set(passC(s, tw, row), (b * H + h) * L));
    dk.set(passC(s, tw, gRow), h * L);
    // the kernels sum dd directly (in pass A of the dy rows), not as dk[h, 0]
    for (let b = 0; b < B; b++) for (let t = 0; t < L; t++) dd[h] += dy[(b * H + h) * L + t] * u[(b * H + h) * L + t];
  }
  return { du, dk, dd };
}
