// Pieces of the shared-memory FFTs of the convolution kernels (conv.cu: one block per row
// for L <= 8192; conv_long.cu: the two-pass transform of longer rows): complex helpers,
// the radix-2^R butterflies of one group in registers, and the real-input packing of a
// length-2M real row as M complex points. docs/ARCHITECTURE.md, "Convolution and
// recurrent mode", gives the formulas they implement.
#pragma once
#include <cuda_runtime.h>

namespace s4::cuda {
namespace {

__device__ __forceinline__ float2 cmul(float2 a, float2 b) {
  return make_float2(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x);
}
// a * conj(b)
__device__ __forceinline__ float2 cmulConj(float2 a, float2 b) {
  return make_float2(a.x * b.x + a.y * b.y, a.y * b.x - a.x * b.y);
}
__device__ __forceinline__ float2 cadd(float2 a, float2 b) { return make_float2(a.x + b.x, a.y + b.y); }
__device__ __forceinline__ float2 csub(float2 a, float2 b) { return make_float2(a.x - b.x, a.y - b.y); }
__device__ __forceinline__ float2 cconj(float2 a) { return make_float2(a.x, -a.y); }

// Shared-memory index with one float2 of padding per 8: the strided accesses of the
// small-stride passes (stride 1 or 8 groups of 8) then hit distinct banks.
__device__ __forceinline__ int padIdx(int i) { return i + (i >> 3); }

// v * exp(-+2 pi i q / 16) for a q known at compile time after unrolling: the twiddles
// inside a pass. Quarter turns are exact; the rest multiply by rounded constants.
template <bool INV>
__device__ __forceinline__ float2 rot16(float2 v, int q) {
  constexpr float c[4] = {1.0f, 0.92387953251128674f, 0.70710678118654752f, 0.38268343236508977f};
  q &= 15;
  if (q == 0) return v;
  if (q == 8) return make_float2(-v.x, -v.y);
  if (q == 4) return INV ? make_float2(-v.y, v.x) : make_float2(v.y, -v.x);
  if (q == 12) return INV ? make_float2(v.y, -v.x) : make_float2(-v.y, v.x);
  // exp(-2 pi i q / 16) = cos - i sin; cos/sin of q pi / 8 from the quarter table
  const int a = q & 3, quadrant = q >> 2;
  float co = a == 0 ? 1.f : c[a], si = a == 0 ? 0.f : c[4 - a];
  for (int k = 0; k < quadrant; ++k) {  // rotate by a quarter turn: (co, si) -> (-si, co)
    const float t = co;
    co = -si;
    si = t;
  }
  const float wy = INV ? si : -si;
  return make_float2(v.x * co - v.y * wy, v.x * wy + v.y * co);
}

// R radix-2 stages on the P = 2^R values of one group, in registers. DIF (INV false)
// covers the halves s 2^(R-1), ..., s; DIT (INV true) covers s, ..., s 2^(R-1). The
// twiddle of stage half hh = s d at offset j = i + q s (i < s, q < d) factors as
//   exp(-2 pi i j / 2hh) = b^(P / 2d) * exp(-2 pi i q / 2d),   b = exp(-2 pi i i / P s),
// so the caller loads one table value b per group; the rest are squarings and
// compile-time rotations.
template <int R, bool INV>
__device__ __forceinline__ void fftButterflies(float2 (&v)[1 << R], float2 b) {
  constexpr int P = 1 << R;
  float2 pw[R];  // pw[k] = b^(2^k)
  pw[0] = b;
#pragma unroll
  for (int k = 1; k < R; ++k) pw[k] = cmul(pw[k - 1], pw[k - 1]);
#pragma unroll
  for (int st = 0; st < R; ++st) {
    const int logD = INV ? st : R - 1 - st;
    const int d = 1 << logD;
    const float2 bs = INV ? cconj(pw[R - 1 - logD]) : pw[R - 1 - logD];  // b^(P / 2d)
#pragma unroll
    for (int m = 0; m < P; ++m) {
      if (m & d) continue;
      const int q = m & (2 * d - 1);  // < d since m & d == 0
      const int sixteenths = q * (8 / d);  // q / 2d of a turn
      if (INV) {
        const float2 t = rot16<true>(cmul(v[m + d], bs), sixteenths);
        v[m + d] = csub(v[m], t);
        v[m] = cadd(v[m], t);
      } else {
        const float2 a = v[m], c = v[m + d];
        v[m] = cadd(a, c);
        v[m + d] = rot16<false>(cmul(csub(a, c), bs), sixteenths);
      }
    }
  }
}

// Element e of a real row of length L packed as complex points z[e] = (x[2e], x[2e+1]),
// zero past the end; the store writes only the reals below L.
__device__ __forceinline__ float2 loadPacked(const float* row, int L, int e) {
  float2 v = make_float2(0.f, 0.f);
  if (2 * e < L) {
    v.x = __ldg(row + 2 * e);
    if (2 * e + 1 < L) v.y = __ldg(row + 2 * e + 1);
  }
  return v;
}

__device__ __forceinline__ void storePacked(float* row, int L, int e, float2 v) {
  if (2 * e < L) {
    row[2 * e] = v.x;
    if (2 * e + 1 < L) row[2 * e + 1] = v.y;
  }
}

// X at bins k and M - k (0 < k < M) of the real row from Z = DFT_M of its packed form:
// X[k] = E + W^k O,  X[M-k] = conj(E) - conj(W^k) conj(O)  (W^(M-k) = -conj(W^k)), with
// E = (Z[k] + conj Z[M-k]) / 2, O = -i (Z[k] - conj Z[M-k]) / 2, W = exp(-2 pi i / 2M).
__device__ __forceinline__ void xPair(float2 zk, float2 zmk, float2 wk, float2& xk, float2& xmk) {
  const float2 e = make_float2(0.5f * (zk.x + zmk.x), 0.5f * (zk.y - zmk.y));
  const float2 o = make_float2(0.5f * (zk.y + zmk.y), -0.5f * (zk.x - zmk.x));
  const float2 wo = cmul(wk, o);
  xk = cadd(e, wo);
  xmk = csub(cconj(e), cconj(wo));
}

// Z'[k] = (Y[k] + conj Y[M-k]) + i conj(W^k) (Y[k] - conj Y[M-k]): twice the packed
// spectrum of the real row whose spectrum is Y (the inverse transform then needs no 1/2).
__device__ __forceinline__ float2 inversePack(float2 yk, float2 ymk, float2 wk) {
  const float2 a = cadd(yk, cconj(ymk));
  const float2 b = cmul(cconj(wk), csub(yk, cconj(ymk)));
  return make_float2(a.x - b.y, a.y + b.x);
}

}  // namespace

// exp(-2 pi i k / 2M), k < M, on the device; made once per M and kept for the process
// (native/cuda/fft_twiddles.cu).
const float2* fftTwiddles(int M);

}  // namespace s4::cuda
