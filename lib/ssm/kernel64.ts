/**
 * Float64 SSM convolution kernels K[h, l], l = 0..L-1: the generating-function DPLR kernel
 * (the algorithm of the native kernels, docs/ARCHITECTURE.md, "Kernel by generating
 * function"), the S4D Vandermonde kernel, and naive references by repeated matrix products.
 *
 * Generating function. With omega_j = exp(-2 pi i j / L), sum_l K[l] omega^l =
 * C~ (I - omega Ab)^-1 Bb exactly (C~ = C (I - Ab^L) absorbs the truncation), which for the
 * bilinear Ab is 2/(1 + omega) C~ (z - dt A)^-1 dt B, z = 2 (1 - omega)/(1 + omega); Woodbury
 * on dt A = diag(w) - dt P P^* gives the Cauchy sums of that section. Here the factor
 * s = (1 + omega)/2 is moved into each Cauchy term,
 *   r~_ab = sum_n 2 dt a_n b_n / (2 (1 - omega) - w_n (1 + omega))  + conjugate terms,
 *   Khat = r~_{B,C~} - s r~_{B,Q} r~_{P,C~} / (1 + s r~_{P,Q}),
 * which is the same number where omega != -1 and stays finite at omega = -1 (even L), where
 * z is infinite. K is then the exact inverse real DFT of Khat (O(L^2) with an exact twiddle
 * table), so any L >= 1 works.
 */
import { cmatmul, type CMatrix } from './complex';
import { bilinear, dplrFull, fullRow, validateDiag64, validateDplr64, type Discretization } from './discretize';
import { cTildeToC } from './step_setup';
import type { DiagParams64, DplrParams64 } from './types';

function checkL(fn: string, L: unknown): asserts L is number {
  if (typeof L !== 'number' || !Number.isInteger(L) || L < 1) throw new RangeError(`${fn}: argument 'L' must be a positive integer (got ${String(L)})`);
}

/** cos and sin of 2 pi m / L for m = 0..L-1, each from the reduced angle. */
function twiddles(L: number): { cos: Float64Array; sin: Float64Array } {
  const cos = new Float64Array(L), sin = new Float64Array(L);
  for (let m = 0; m < L; m++) {
    const t = (2 * Math.PI * m) / L;
    cos[m] = Math.cos(t);
    sin[m] = Math.sin(t);
  }
  return { cos, sin };
}

/** Real x [L] with rfft(x) = X (X [floor(L/2) + 1]; imaginary parts of X_0 and X_{L/2} ignored). */
function irfftExact(Xr: Float64Array, Xi: Float64Array, L: number, tw: { cos: Float64Array; sin: Float64Array }, out: Float64Array, offset: number): void {
  const half = Math.floor(L / 2);
  const top = L % 2 === 0 ? half - 1 : half; // last j with a distinct conjugate partner
  for (let l = 0; l < L; l++) {
    let acc = Xr[0];
    let m = 0;
    for (let j = 1; j <= top; j++) {
      m += l;
      if (m >= L) m -= L;
      // Re(X_j e^{+2 pi i j l / L})
      acc += 2 * (Xr[j] * tw.cos[m] - Xi[j] * tw.sin[m]);
    }
    if (L % 2 === 0) acc += l % 2 === 0 ? Xr[half] : -Xr[half];
    out[offset + l] = acc / L;
  }
}

/** DPLR kernel [H, L] (bilinear, C~ stored) by the generating function, float64. */
export function dplrKernel64(params: DplrParams64, L: number): Float64Array {
  const fn = 'dplrKernel64';
  validateDplr64(fn, params);
  checkL(fn, L);
  const { H, N2 } = params;
  const half = Math.floor(L / 2);
  const tw = twiddles(L);
  const K = new Float64Array(H * L);
  const Xr = new Float64Array(half + 1), Xi = new Float64Array(half + 1);
  // Products a_n b_n of the four Cauchy sums, per state: (B, C~), (B, Q), (P, C~), (P, Q), Q = conj P.
  const vr = [new Float64Array(N2), new Float64Array(N2), new Float64Array(N2), new Float64Array(N2)];
  const vi = [new Float64Array(N2), new Float64Array(N2), new Float64Array(N2), new Float64Array(N2)];
  const rr = new Float64Array(4), ri = new Float64Array(4);
  for (let h = 0; h < H; h++) {
    const dt = params.dt[h];
    for (let n = 0; n < N2; n++) {
      const i = h * N2 + n;
      const br = params.b.re[i], bi = params.b.im[i];
      const pr = params.p.re[i], pi = params.p.im[i];
      const cr = params.cTilde.re[i], ci = params.cTilde.im[i];
      const qr = pr, qi = -pi;
      const pairs: [number, number, number, number][] = [[br, bi, cr, ci], [br, bi, qr, qi], [pr, pi, cr, ci], [pr, pi, qr, qi]];
      pairs.forEach(([xr, xi, yr, yi], k) => {
        vr[k][n] = 2 * dt * (xr * yr - xi * yi);
        vi[k][n] = 2 * dt * (xr * yi + xi * yr);
      });
    }
    for (let j = 0; j <= half; j++) {
      // omega = exp(-2 pi i j / L)
      const or = tw.cos[j], oi = -tw.sin[j];
      const ur = 2 * (1 - or), ui = -2 * oi; // 2 (1 - omega)
      const sr = 1 + or, si = oi; // 1 + omega
      rr.fill(0);
      ri.fill(0);
      for (let n = 0; n < N2; n++) {
        const i = h * N2 + n;
        const wr = dt * params.lambda.re[i], wi = dt * params.lambda.im[i];
        // d = 2 (1 - omega) - w (1 + omega); e = same with conj(w)
        const dr = ur - (wr * sr - wi * si), di = ui - (wr * si + wi * sr);
        const er = ur - (wr * sr + wi * si), ei = ui - (wr * si - wi * sr);
        const dd = dr * dr + di * di, de = er * er + ei * ei;
        for (let k = 0; k < 4; k++) {
          const ar = vr[k][n], ai = vi[k][n];
          // a / d + conj(a) / e
          rr[k] += (ar * dr + ai * di) / dd + (ar * er - ai * ei) / de;
          ri[k] += (ai * dr - ar * di) / dd + (-ai * er - ar * ei) / de;
        }
      }
      // Khat = r0 - s r1 r2 / (1 + s r3), s = (1 + omega) / 2
      const hr = sr / 2, hi = si / 2;
      const nr = rr[1] * rr[2] - ri[1] * ri[2], ni = rr[1] * ri[2] + ri[1] * rr[2];
      const snr = hr * nr - hi * ni, sni = hr * ni + hi * nr;
      const denr = 1 + hr * rr[3] - hi * ri[3], deni = hr * ri[3] + hi * rr[3];
      const dd = denr * denr + deni * deni;
      Xr[j] = rr[0] - (snr * denr + sni * deni) / dd;
      Xi[j] = ri[0] - (sni * denr - snr * deni) / dd;
      if (!Number.isFinite(Xr[j]) || !Number.isFinite(Xi[j])) {
        throw new RangeError(`${fn}: the kernel of channel ${h} is not finite at frequency ${j}: a state has dt * lambda at a pole of the Cauchy sums (e.g. lambda = 0 at frequency 0); keep Re(lambda) < 0`);
      }
    }
    irfftExact(Xr, Xi, L, tw, K, h * L);
  }
  return K;
}

/**
 * S4D kernel [H, L]: K[l] = 2 Re sum_n C_n Bb_n Ab_n^l, with Ab^l taken as exp(l log Ab)
 * (no error growth with l). disc 'zoh' (the S4D default) or 'bilinear'.
 */
export function diagKernel64(params: DiagParams64, L: number, disc: Discretization = 'zoh'): Float64Array {
  const fn = 'diagKernel64';
  validateDiag64(fn, params);
  checkL(fn, L);
  if (disc !== 'zoh' && disc !== 'bilinear') throw new TypeError(`${fn}: argument 'disc' must be 'zoh' or 'bilinear' (got ${String(disc)})`);
  const { H, N2 } = params;
  const K = new Float64Array(H * L);
  for (let h = 0; h < H; h++) {
    const dt = params.dt[h];
    for (let n = 0; n < N2; n++) {
      const i = h * N2 + n;
      const lr = params.lambda.re[i], li = params.lambda.im[i];
      // log Ab and Bb / B
      let gr: number, gi: number, fr: number, fi: number;
      if (disc === 'zoh') {
        gr = dt * lr;
        gi = dt * li;
        const m = Math.exp(gr);
        const er = Math.expm1(gr) * Math.cos(gi) - 2 * Math.sin(gi / 2) ** 2, ei = m * Math.sin(gi);
        const l2 = lr * lr + li * li;
        [fr, fi] = l2 === 0 ? [dt, 0] : [(er * lr + ei * li) / l2, (ei * lr - er * li) / l2];
      } else {
        const dr = 1 - (dt / 2) * lr, di = -(dt / 2) * li;
        const ur = 1 + (dt / 2) * lr, ui = (dt / 2) * li;
        gr = 0.5 * Math.log((ur * ur + ui * ui) / (dr * dr + di * di));
        gi = Math.atan2(ui, ur) - Math.atan2(di, dr);
        const den = dr * dr + di * di;
        fr = (dt * dr) / den;
        fi = (-dt * di) / den;
      }
      const cr = params.c.re[i], ci = params.c.im[i], br = params.b.re[i], bi = params.b.im[i];
      const cbr = cr * br - ci * bi, cbi = cr * bi + ci * br;
      const vr = cbr * fr - cbi * fi, vi = cbr * fi + cbi * fr;
      for (let l = 0; l < L; l++) {
        const m = Math.exp(l * gr), t = l * gi;
        K[h * L + l] += 2 * m * (vr * Math.cos(t) - vi * Math.sin(t));
      }
    }
  }
  return K;
}

/** Re(C Ab^l Bb), l = 0..L-1, by repeated products (C 1 x n, Ab n x n, Bb n x 1). */
export function naiveKernel(Ab: CMatrix, Bb: CMatrix, C: CMatrix, L: number): Float64Array {
  checkL('naiveKernel', L);
  const n = Ab.rows;
  if (Ab.cols !== n || Bb.rows !== n || Bb.cols !== 1 || C.rows !== 1 || C.cols !== n) {
    throw new RangeError(`naiveKernel: need Ab n x n, Bb n x 1, C 1 x n (got ${Ab.rows}x${Ab.cols}, ${Bb.rows}x${Bb.cols}, ${C.rows}x${C.cols})`);
  }
  const K = new Float64Array(L);
  let x = Bb;
  for (let l = 0; l < L; l++) {
    K[l] = cmatmul(C, x).re[0];
    if (l + 1 < L) x = cmatmul(Ab, x);
  }
  return K;
}

/**
 * Naive DPLR kernel [H, L]: C from C~ (cTildeToC), dense bilinear Ab, Bb in the full complex
 * state, K[l] = Cf Ab^l Bb by repeated products. O(L N^2) per channel; for tests.
 */
export function dplrKernelNaive(params: DplrParams64, L: number): Float64Array {
  const fn = 'dplrKernelNaive';
  validateDplr64(fn, params);
  checkL(fn, L);
  const { H, N2 } = params;
  const C = cTildeToC(params, L);
  const K = new Float64Array(H * L);
  for (let h = 0; h < H; h++) {
    const { A, B } = dplrFull(params, h);
    const { Ab, Bb } = bilinear(A, B, params.dt[h]);
    K.set(naiveKernel(Ab, Bb, fullRow(C, h, N2), L), h * L);
  }
  return K;
}
