/**
 * Eigendecomposition of complex Hermitian matrices by the cyclic complex Jacobi method:
 * each rotation zeroes one off-diagonal pair exactly; sweeps converge quadratically and the
 * eigenvectors come out orthonormal to rounding, also for repeated eigenvalues (fout has a
 * double zero). O(n^3) per sweep, fine for state sizes up to a few hundred.
 *
 * Deterministic output: eigenvalues ascending; each eigenvector's phase is chosen so that
 * its first largest-magnitude component is real and positive.
 */
import { cmatrix, type CMatrix } from './complex';

export interface Eigh {
  /** Real eigenvalues, ascending. */
  values: Float64Array;
  /** Orthonormal eigenvectors as columns (n x n). */
  vectors: CMatrix;
}

/** m <- m U on columns p, q, where U[p,p] = c, U[q,p] = up, U[p,q] = s, U[q,q] = uq. */
function rotateColumns(mr: Float64Array, mi: Float64Array, n: number, p: number, q: number, c: number, s: number, upr: number, upi: number, uqr: number, uqi: number): void {
  for (let k = 0; k < n; k++) {
    const kpr = mr[k * n + p], kpi = mi[k * n + p], kqr = mr[k * n + q], kqi = mi[k * n + q];
    mr[k * n + p] = c * kpr + (kqr * upr - kqi * upi);
    mi[k * n + p] = c * kpi + (kqr * upi + kqi * upr);
    mr[k * n + q] = s * kpr + (kqr * uqr - kqi * uqi);
    mi[k * n + q] = s * kpi + (kqr * uqi + kqi * uqr);
  }
}

/** Hermitian eigendecomposition M = V diag(values) V^*. */
export function eigh(m: CMatrix, maxSweeps = 60): Eigh {
  const n = m.rows;
  if (m.cols !== n) throw new RangeError(`eigh: the matrix must be square (got ${m.rows}x${m.cols})`);
  let scale = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const dr = m.re[i * n + j] - m.re[j * n + i], di = m.im[i * n + j] + m.im[j * n + i];
      scale = Math.max(scale, Math.hypot(m.re[i * n + j], m.im[i * n + j]));
      if (!Number.isFinite(dr) || !Number.isFinite(di)) throw new RangeError('eigh: the matrix has non-finite entries');
      if (Math.hypot(dr, di) > 1e-10 * (1 + Math.hypot(m.re[i * n + j], m.im[i * n + j]))) {
        throw new RangeError(`eigh: the matrix must be Hermitian (entry (${i}, ${j}) differs from the conjugate of (${j}, ${i}))`);
      }
    }
  }
  const ar = m.re.slice(), ai = m.im.slice();
  const vr = new Float64Array(n * n), vi = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    vr[i * n + i] = 1;
    ai[i * n + i] = 0;
  }
  const offNorm = (): number => {
    let s = 0;
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) s += ar[i * n + j] ** 2 + ai[i * n + j] ** 2;
    return Math.sqrt(2 * s);
  };
  const tol = 1e-15 * Math.max(scale, Number.MIN_VALUE) * n;
  for (let sweep = 0; sweep < maxSweeps && offNorm() > tol; sweep++) {
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const xr = ar[p * n + q], xi = ai[p * n + q];
        const mag = Math.hypot(xr, xi);
        if (mag === 0) continue;
        // In the basis (e_p, e^{-i phi} e_q) the 2x2 block is real symmetric
        // [[app, |x|], [|x|, aqq]]; a real rotation by theta zeroes it.
        const er = xr / mag, ei = -xi / mag; // e^{-i phi}
        const app = ar[p * n + p], aqq = ar[q * n + q];
        const theta = 0.5 * Math.atan2(2 * mag, aqq - app);
        const c = Math.cos(theta), s = Math.sin(theta);
        // U: column p = c e_p - s e^{-i phi} e_q; column q = s e_p + c e^{-i phi} e_q.
        const upr = -s * er, upi = -s * ei; // U[q, p]
        const uqr = c * er, uqi = c * ei; // U[q, q]
        // Columns: A <- A U, V <- V U.
        rotateColumns(ar, ai, n, p, q, c, s, upr, upi, uqr, uqi);
        rotateColumns(vr, vi, n, p, q, c, s, upr, upi, uqr, uqi);
        // Rows: A <- U^* A (row p gets conj(U[., p]), row q conj(U[., q])).
        for (let k = 0; k < n; k++) {
          const pkr = ar[p * n + k], pki = ai[p * n + k], qkr = ar[q * n + k], qki = ai[q * n + k];
          ar[p * n + k] = c * pkr + (qkr * upr + qki * upi);
          ai[p * n + k] = c * pki + (qki * upr - qkr * upi);
          ar[q * n + k] = s * pkr + (qkr * uqr + qki * uqi);
          ai[q * n + k] = s * pki + (qki * uqr - qkr * uqi);
        }
        ar[p * n + q] = ai[p * n + q] = ar[q * n + p] = ai[q * n + p] = 0;
        ai[p * n + p] = ai[q * n + q] = 0;
      }
    }
  }
  if (offNorm() > 1e-10 * Math.max(scale, Number.MIN_VALUE) * n) throw new RangeError('eigh: the Jacobi iteration did not converge');
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => ar[x * n + x] - ar[y * n + y] || x - y);
  const values = Float64Array.from(order, (i) => ar[i * n + i]);
  const vectors = cmatrix(n, n);
  order.forEach((src, dst) => {
    let best = 0;
    for (let k = 0; k < n; k++) best = Math.max(best, Math.hypot(vr[k * n + src], vi[k * n + src]));
    let piv = 0;
    while (Math.hypot(vr[piv * n + src], vi[piv * n + src]) < best * (1 - 1e-9)) piv++;
    const mag = Math.hypot(vr[piv * n + src], vi[piv * n + src]);
    const cr = vr[piv * n + src] / mag, ci = -vi[piv * n + src] / mag; // conj phase
    for (let k = 0; k < n; k++) {
      const xr = vr[k * n + src], xi = vi[k * n + src];
      vectors.re[k * n + dst] = xr * cr - xi * ci;
      vectors.im[k * n + dst] = xr * ci + xi * cr;
    }
    vectors.im[piv * n + dst] = 0;
  });
  return { values, vectors };
}

/**
 * Eigendecomposition of a real matrix of the form c I + S, S skew-symmetric (the normal
 * part of the HiPPO matrices): eigenvalues c + i w with w the eigenvalues of the Hermitian
 * -i S, same eigenvectors. Throws if the matrix is not of that form.
 */
export function eigShiftedSkew(a: ArrayLike<number>, n: number): { shift: number; imag: Float64Array; vectors: CMatrix } {
  if (a.length !== n * n) throw new RangeError(`eigShiftedSkew: expected ${n * n} values (got ${a.length})`);
  let shift = 0;
  for (let i = 0; i < n; i++) shift += a[i * n + i] / n;
  let scale = 0, err = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      scale = Math.max(scale, Math.abs(a[i * n + j]));
      err = Math.max(err, Math.abs(a[i * n + j] + a[j * n + i] - (i === j ? 2 * shift : 0)));
    }
  }
  if (err > 1e-9 * Math.max(scale, 1)) throw new RangeError(`eigShiftedSkew: the matrix is not c I + skew-symmetric (deviation ${err})`);
  const h = cmatrix(n, n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) if (i !== j) h.im[i * n + j] = -0.5 * (a[i * n + j] - a[j * n + i]);
  }
  const { values, vectors } = eigh(h);
  return { shift, imag: values, vectors };
}
