/**
 * Dense float64 complex matrices for the set-up math: small (N up to a few hundred), so
 * plain O(n^3) loops; real and imaginary parts are split, row-major.
 */

export interface CMatrix {
  rows: number;
  cols: number;
  re: Float64Array;
  im: Float64Array;
}

export function cmatrix(rows: number, cols: number): CMatrix {
  return { rows, cols, re: new Float64Array(rows * cols), im: new Float64Array(rows * cols) };
}

export function cidentity(n: number): CMatrix {
  const m = cmatrix(n, n);
  for (let i = 0; i < n; i++) m.re[i * n + i] = 1;
  return m;
}

/** A real row-major matrix as a complex one. */
export function cfromReal(a: ArrayLike<number>, rows: number, cols: number): CMatrix {
  if (a.length !== rows * cols) throw new RangeError(`cfromReal: expected ${rows * cols} values (got ${a.length})`);
  return { rows, cols, re: Float64Array.from(a), im: new Float64Array(rows * cols) };
}

export function cclone(a: CMatrix): CMatrix {
  return { rows: a.rows, cols: a.cols, re: a.re.slice(), im: a.im.slice() };
}

export function cmatmul(a: CMatrix, b: CMatrix): CMatrix {
  if (a.cols !== b.rows) throw new RangeError(`cmatmul: inner sizes differ (${a.cols} vs ${b.rows})`);
  const { rows: n, cols: m } = a;
  const p = b.cols;
  const c = cmatrix(n, p);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < m; k++) {
      const ar = a.re[i * m + k], ai = a.im[i * m + k];
      if (ar === 0 && ai === 0) continue;
      const bo = k * p, co = i * p;
      for (let j = 0; j < p; j++) {
        const br = b.re[bo + j], bi = b.im[bo + j];
        c.re[co + j] += ar * br - ai * bi;
        c.im[co + j] += ar * bi + ai * br;
      }
    }
  }
  return c;
}

/** alpha a + beta b (real scalars). */
export function cadd(a: CMatrix, b: CMatrix, alpha = 1, beta = 1): CMatrix {
  if (a.rows !== b.rows || a.cols !== b.cols) throw new RangeError(`cadd: shapes differ (${a.rows}x${a.cols} vs ${b.rows}x${b.cols})`);
  const c = cmatrix(a.rows, a.cols);
  for (let i = 0; i < a.re.length; i++) {
    c.re[i] = alpha * a.re[i] + beta * b.re[i];
    c.im[i] = alpha * a.im[i] + beta * b.im[i];
  }
  return c;
}

/** Conjugate transpose a^*. */
export function cadjoint(a: CMatrix): CMatrix {
  const t = cmatrix(a.cols, a.rows);
  for (let i = 0; i < a.rows; i++) {
    for (let j = 0; j < a.cols; j++) {
      t.re[j * a.rows + i] = a.re[i * a.cols + j];
      t.im[j * a.rows + i] = -a.im[i * a.cols + j];
    }
  }
  return t;
}

/** Plain transpose a^T. */
export function ctranspose(a: CMatrix): CMatrix {
  const t = cadjoint(a);
  for (let i = 0; i < t.im.length; i++) t.im[i] = -t.im[i];
  return t;
}

/** Largest |a_ij|. */
export function cmaxAbs(a: CMatrix): number {
  let m = 0;
  for (let i = 0; i < a.re.length; i++) m = Math.max(m, Math.hypot(a.re[i], a.im[i]));
  return m;
}

/** Frobenius norm. */
export function cnorm(a: CMatrix): number {
  let s = 0;
  for (let i = 0; i < a.re.length; i++) s += a.re[i] * a.re[i] + a.im[i] * a.im[i];
  return Math.sqrt(s);
}

/** Solves a x = b (a square, b n x m) by LU with partial pivoting. */
export function csolve(a: CMatrix, b: CMatrix): CMatrix {
  const n = a.rows;
  if (a.cols !== n || b.rows !== n) throw new RangeError(`csolve: need a square n x n matrix and n rows on the right (got ${a.rows}x${a.cols}, ${b.rows}x${b.cols})`);
  const m = b.cols;
  const ar = a.re.slice(), ai = a.im.slice();
  const xr = b.re.slice(), xi = b.im.slice();
  const swap = (arr: Float64Array, r1: number, r2: number, w: number): void => {
    for (let j = 0; j < w; j++) {
      const t = arr[r1 * w + j];
      arr[r1 * w + j] = arr[r2 * w + j];
      arr[r2 * w + j] = t;
    }
  };
  for (let col = 0; col < n; col++) {
    let piv = col;
    let best = Math.hypot(ar[col * n + col], ai[col * n + col]);
    for (let i = col + 1; i < n; i++) {
      const v = Math.hypot(ar[i * n + col], ai[i * n + col]);
      if (v > best) {
        best = v;
        piv = i;
      }
    }
    if (best === 0) throw new RangeError('csolve: the matrix is singular');
    if (piv !== col) {
      swap(ar, col, piv, n);
      swap(ai, col, piv, n);
      swap(xr, col, piv, m);
      swap(xi, col, piv, m);
    }
    const pr = ar[col * n + col], pi = ai[col * n + col];
    const den = pr * pr + pi * pi;
    const ir = pr / den, ii = -pi / den;
    for (let i = col + 1; i < n; i++) {
      const er = ar[i * n + col], ei = ai[i * n + col];
      const fr = er * ir - ei * ii, fi = er * ii + ei * ir;
      if (fr === 0 && fi === 0) continue;
      for (let j = col; j < n; j++) {
        const cr = ar[col * n + j], ci = ai[col * n + j];
        ar[i * n + j] -= fr * cr - fi * ci;
        ai[i * n + j] -= fr * ci + fi * cr;
      }
      for (let j = 0; j < m; j++) {
        const cr = xr[col * m + j], ci = xi[col * m + j];
        xr[i * m + j] -= fr * cr - fi * ci;
        xi[i * m + j] -= fr * ci + fi * cr;
      }
    }
  }
  for (let col = n - 1; col >= 0; col--) {
    const pr = ar[col * n + col], pi = ai[col * n + col];
    const den = pr * pr + pi * pi;
    const ir = pr / den, ii = -pi / den;
    for (let j = 0; j < m; j++) {
      const vr = xr[col * m + j], vi = xi[col * m + j];
      xr[col * m + j] = vr * ir - vi * ii;
      xi[col * m + j] = vr * ii + vi * ir;
    }
    for (let i = 0; i < col; i++) {
      const fr = ar[i * n + col], fi = ai[i * n + col];
      if (fr === 0 && fi === 0) continue;
      for (let j = 0; j < m; j++) {
        const cr = xr[col * m + j], ci = xi[col * m + j];
        xr[i * m + j] -= fr * cr - fi * ci;
        xi[i * m + j] -= fr * ci + fi * cr;
      }
    }
  }
  return { rows: n, cols: m, re: xr, im: xi };
}

/** a^p for an integer p >= 0 by repeated squaring. */
export function cpow(a: CMatrix, p: number): CMatrix {
  if (a.rows !== a.cols) throw new RangeError('cpow: the matrix must be square');
  if (!Number.isInteger(p) || p < 0) throw new RangeError(`cpow: the power must be an integer >= 0 (got ${p})`);
  let result: CMatrix | null = null;
  let base = a;
  while (p > 0) {
    if (p & 1) result = result ? cmatmul(result, base) : cclone(base);
    p = Math.floor(p / 2);
    if (p > 0) base = cmatmul(base, base);
  }
  return result ?? cidentity(a.rows);
}

/**
 * Matrix exponential by scaling and squaring: exp(a) = exp(a / 2^s)^(2^s) with ||a / 2^s|| <= 1/2
 * and a Taylor series to float64 rounding (terms until they stop changing the sum).
 */
export function cexpm(a: CMatrix): CMatrix {
  const n = a.rows;
  if (a.cols !== n) throw new RangeError('cexpm: the matrix must be square');
  const norm = cnorm(a);
  const s = norm > 0.5 ? Math.ceil(Math.log2(norm / 0.5)) : 0;
  const scaled = cadd(a, a, 2 ** -s, 0);
  let sum = cidentity(n);
  let term = cidentity(n);
  for (let k = 1; k < 40; k++) {
    term = cmatmul(term, scaled);
    for (let i = 0; i < term.re.length; i++) {
      term.re[i] /= k;
      term.im[i] /= k;
    }
    sum = cadd(sum, term);
    if (cnorm(term) <= 1e-18 * cnorm(sum)) break;
  }
  for (let i = 0; i < s; i++) sum = cmatmul(sum, sum);
  return sum;
}
