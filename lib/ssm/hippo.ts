/**
 * HiPPO transition matrices (continuous time, dense, float64) and the low-rank corrections
 * that make them normal, in the conventions of the official S4 (`transition`,
 * `rank_correction`):
 *
 *  legs (scaled Legendre):     A_nk = -sqrt(2n+1) sqrt(2k+1) (n > k), -(n+1) (n = k), 0 (n < k)
 *                              B_n = sqrt(2n+1);  P_n = sqrt(n + 1/2)  (rank 1)
 *  legt (translated Legendre): A_nk = -1/2 R_n R_k (n >= k), -1/2 (-1)^(n-k) R_n R_k (n < k),
 *                              R_n = sqrt(2n+1), B_n = R_n / 2;  rank 2: P_0 = R / sqrt(2) on odd
 *                              n, P_1 = R / sqrt(2) on even n (the rows are halved like A)
 *  fout (truncated Fourier):   A = pi (frequency blocks) - B B^T, B = (1, 0, sqrt 2, 0, sqrt 2, ...)
 *                              (the rank-1 term is the endpoint u(t - 1));  P = B  (rank 1)
 *
 * In every case A + sum_r P_r P_r^T = c I + S with S skew-symmetric (so normal).
 */

export type Measure = 'legs' | 'legt' | 'fout';

export const MEASURES: readonly Measure[] = ['legs', 'legt', 'fout'];

function checkMeasure(fn: string, measure: unknown): asserts measure is Measure {
  if (!MEASURES.includes(measure as Measure)) {
    throw new TypeError(`${fn}: argument 'measure' must be 'legs', 'legt' or 'fout' (got ${String(measure)})`);
  }
}

function checkN(fn: string, N: unknown): asserts N is number {
  if (typeof N !== 'number' || !Number.isInteger(N) || N < 1) throw new RangeError(`${fn}: argument 'N' must be a positive integer (got ${String(N)})`);
}

/** The HiPPO (A [N, N] row-major, B [N]) of a measure. */
export function transition(measure: Measure, N: number): { A: Float64Array; B: Float64Array } {
  const fn = 'transition';
  checkMeasure(fn, measure);
  checkN(fn, N);
  const A = new Float64Array(N * N);
  const B = new Float64Array(N);
  if (measure === 'legs') {
    for (let n = 0; n < N; n++) {
      B[n] = Math.sqrt(2 * n + 1);
      for (let k = 0; k < n; k++) A[n * N + k] = -Math.sqrt(2 * n + 1) * Math.sqrt(2 * k + 1);
      A[n * N + n] = -(n + 1);
    }
  } else if (measure === 'legt') {
    for (let n = 0; n < N; n++) {
      const rn = Math.sqrt(2 * n + 1);
      B[n] = 0.5 * rn;
      for (let k = 0; k < N; k++) {
        const sign = n >= k ? 1 : (n - k) % 2 === 0 ? 1 : -1;
        A[n * N + k] = -0.5 * sign * rn * Math.sqrt(2 * k + 1);
      }
    }
  } else {
    // Frequency f couples the cosine (2f - 1) and sine (2f) coordinates; 0 and 1 hold f = 0.
    for (let k = 0; k + 1 < N; k++) {
      const d = k % 2 === 0 ? k / 2 : 0;
      A[k * N + k + 1] = -Math.PI * d;
      A[(k + 1) * N + k] = Math.PI * d;
    }
    for (let n = 0; n < N; n += 2) B[n] = n === 0 ? 1 : Math.SQRT2;
    for (let n = 0; n < N; n++) for (let k = 0; k < N; k++) A[n * N + k] -= B[n] * B[k];
  }
  return { A, B };
}

/** The smallest rank of a correction that makes A normal: 2 for legt, 1 otherwise. */
export function minRank(measure: Measure): number {
  checkMeasure('minRank', measure);
  return measure === 'legt' ? 2 : 1;
}

/**
 * P [rank, N] (row-major) with A + sum_r P_r P_r^T normal; rows beyond the measure's own
 * rank are zero.
 */
export function rankCorrection(measure: Measure, N: number, rank: number = minRank(measure)): Float64Array {
  const fn = 'rankCorrection';
  checkMeasure(fn, measure);
  checkN(fn, N);
  const need = minRank(measure);
  if (!Number.isInteger(rank) || rank < need) throw new RangeError(`${fn}: argument 'rank' must be an integer >= ${need} for '${measure}' (got ${rank})`);
  const P = new Float64Array(rank * N);
  for (let n = 0; n < N; n++) {
    if (measure === 'legs') P[n] = Math.sqrt(n + 0.5);
    else if (measure === 'legt') P[(n % 2 === 1 ? 0 : N) + n] = Math.sqrt(2 * n + 1) * Math.SQRT1_2;
    else P[n] = n % 2 === 1 ? 0 : n === 0 ? 1 : Math.SQRT2;
  }
  return P;
}
