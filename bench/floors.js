'use strict';
/**
 * Lower bounds ("floors") of each benchmark on the device: the time the unavoidable
 * arithmetic takes at the peak FP32 (non-tensor-core) rate, or the unavoidable memory
 * traffic at the peak DRAM bandwidth, whichever is larger. They are bounds, not
 * estimates: a kernel at its floor would be perfect.
 */

/** Peak FP32 (non-tensor) FLOP/s and DRAM bytes/s by device name (vendor data sheets). */
function devicePeaks(name) {
  const n = String(name || '');
  const env = { flops: Number(process.env.S4_BENCH_PEAK_FLOPS), bw: Number(process.env.S4_BENCH_PEAK_BW) };
  let peaks;
  if (/H200/i.test(n)) peaks = { flops: 67e12, bw: 4.8e12, label: 'H200: 67 TFLOP/s FP32, 4.8 TB/s' };
  else if (/H100.*PCIe/i.test(n)) peaks = { flops: 51.2e12, bw: 2.0e12, label: 'H100 PCIe: 51.2 TFLOP/s FP32, 2.0 TB/s' };
  else if (/H100.*NVL/i.test(n)) peaks = { flops: 60e12, bw: 3.9e12, label: 'H100 NVL: 60 TFLOP/s FP32, 3.9 TB/s' };
  else peaks = { flops: 67e12, bw: 3.35e12, label: 'H100 SXM: 67 TFLOP/s FP32, 3.35 TB/s' };
  if (env.flops > 0) peaks = { ...peaks, flops: env.flops, label: `${peaks.label} (FLOP/s overridden: ${env.flops})` };
  if (env.bw > 0) peaks = { ...peaks, bw: env.bw, label: `${peaks.label} (bandwidth overridden: ${env.bw})` };
  return peaks;
}

/** FLOPs counted per complex Cauchy term: one complex multiply-add (4 FMA = 8 FLOP). */
const FLOPS_PER_CAUCHY_TERM = 8;
/**
 * Backward: each term needs the numerator's gradient (one complex multiply-add with the
 * same reciprocal) and the pole's (one more, with the squared reciprocal): 2 terms' worth.
 */
const BWD_TERMS_PER_FWD_TERM = 2;

function ms(seconds) {
  return seconds * 1e3;
}

/** dplrKernel: H (L/2+1) N2 4 Cauchy terms (four sums, conjugate pairs folded into N2). */
function kernelFloor({ H, N, L }, mode, peaks) {
  const N2 = N / 2;
  const terms = H * (Math.floor(L / 2) + 1) * N2 * 4;
  const flops = terms * FLOPS_PER_CAUCHY_TERM * (mode === 'fwd' ? 1 : 1 + BWD_TERMS_PER_FWD_TERM);
  // Memory: parameters are tiny; K [H, L] is written (fwd) and dK read (bwd).
  const bytes = 4 * H * L * (mode === 'fwd' ? 1 : 2);
  const t = Math.max(flops / peaks.flops, bytes / peaks.bw);
  return { ms: ms(t), flops, bytes, basis: `${terms} terms x ${FLOPS_PER_CAUCHY_TERM} FLOP${mode === 'fwd' ? '' : ' x 3 (fwd + bwd)'}` };
}

/** fftConv: read u, k, d and write y (fwd); bwd also reads dy, u, k and writes du, dk, dd. */
function fftconvFloor({ B, H, L }, mode, peaks) {
  const fwd = 4 * (2 * B * H * L + H * L + H);
  const bwd = 4 * (3 * B * H * L + 2 * H * L + 2 * H);
  const bytes = mode === 'fwd' ? fwd : fwd + bwd;
  return { ms: ms(bytes / peaks.bw), bytes, basis: `${(bytes / 1e6).toFixed(1)} MB of tensor traffic` };
}

/**
 * Stepping, per step of the whole batch: the state update x = a x - g s + bb u, the inner
 * product s and the output (about 24 FLOP per complex state element), and at least the
 * coefficients (10 N2 + 2 floats per channel) and u, y once per call; for step() the state
 * (8 bytes per element) is read and written each call, for stepMany() once per call.
 */
function stepFloor({ B, H, N }, T, peaks, stateEachStep) {
  const N2 = N / 2;
  const flops = 24 * B * H * N2 * T;
  const stateBytes = 2 * 8 * B * H * N2 * (stateEachStep ? T : 1);
  const bytes = stateBytes + 4 * H * (10 * N2 + 2) * (stateEachStep ? T : 1) + 8 * B * H * T;
  const t = Math.max(flops / peaks.flops, bytes / peaks.bw);
  return { tokensPerSec: (B * T) / t, basis: `${(flops / T / 1e6).toFixed(2)} MFLOP and ${(bytes / T / 1e6).toFixed(3)} MB per step` };
}

/**
 * One S4 block: the kernel (as above) + the convolution (as above) + the output linear
 * H -> 2H (2 B L H 2H FLOP forward, twice that backward, at the FP32 rate) + the pointwise
 * GELU/GLU traffic (read B H L, write B H L for GELU; read 2 B H L, write B H L for GLU).
 */
function blockFloor({ B, H, L, N }, mode, peaks) {
  const k = kernelFloor({ H, N, L }, mode, peaks);
  const c = fftconvFloor({ B, H, L }, mode, peaks);
  const gemm = 2 * B * L * H * 2 * H * (mode === 'fwd' ? 1 : 3);
  const pw = 4 * B * H * L * 5 * (mode === 'fwd' ? 1 : 2);
  const t = k.ms + c.ms + ms(gemm / peaks.flops) + ms(pw / peaks.bw);
  return { ms: t, basis: 'kernel + conv + GEMM at FP32 + pointwise traffic' };
}

module.exports = { devicePeaks, kernelFloor, fftconvFloor, stepFloor, blockFloor, FLOPS_PER_CAUCHY_TERM };
