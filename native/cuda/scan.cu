// CUDA twin of the recurrent scan (spec: native/binding/scan.cpp;
// coefficient layout and math: native/common/scan_layout.h).
//
// Floor (H100, 3.35 TB/s) at H=256, N2=32 (N=64): per token and (b, h) it reads u and
// writes y (8 bytes); coefficients (H * (10 N2 + 2) * 4 = 330 KB) and the state
// (8 N2 bytes per (b, h)) move once per launch, not per token. Batch 64: 131 KB per step
// -> 39 ns, i.e. 1.6e9 tokens/s; batch 1: 2 KB per step -> 0.6 ns. Memory never binds:
// a step is bound by its dependency chain (two dot products, 2 x log2(G) shuffles, the
// update), a few hundred cycles, so T tokens go in one launch (stepMany) rather than one
// launch (several us) per token. Measured on an H100 (H=256, N2=32): one token per call
// (stepper.step with an output tensor) 4.5-5.6 us at batch 1 (180-220 k tokens/s; an
// empty fill launch takes 3.9-4.4 us in the same runs, so this is launch bound) and 7.8 us
// at batch 64 (8.1 M tokens/s); 1024 tokens per call 0.105 ms at batch 1 (9.8 M tokens/s)
// and 0.86 ms at batch 64 (76 M tokens/s).
// A group of G lanes (G = min(32, pow2 >= N2)) owns one (b, h): lane l holds the states
// n = l, l + G, ... (PER of them) in registers for all T steps. Per step the two real sums
// s = 2Re sum w x and o = 2Re sum ca x are reduced with xor shuffles (every lane ends with
// the same bits), then y and the state update follow. u is read G steps at a time (one
// coalesced load per lane, prefetched one chunk ahead) and broadcast by shuffle; y is
// gathered the same way and written G steps at a time.
#include <cstdint>
#include <string>

#include "../common/gelu.h"
#include "../common/scan_layout.h"
#include "context.h"

namespace s4::cuda {
namespace {

// Largest state half-size N2 the kernel supports (8 states per lane).
constexpr int64_t kScanMaxN2 = 256;

constexpr int kBlock = 64;
constexpr unsigned kFull = 0xffffffffu;

template <int G, int PER>
__global__ void __launch_bounds__(kBlock) scanKernel(const float* __restrict__ coef,
                                                     float* state, const float* __restrict__ u,
                                                     float* __restrict__ y, long long BH, int H,
                                                     int N2, int T, bool gelu) {
  const long long grp = (static_cast<long long>(blockIdx.x) * kBlock + threadIdx.x) / G;
  const int lane = threadIdx.x % G;
  const bool valid = grp < BH;
  const long long r = valid ? grp : BH - 1;  // tail groups shadow the last row, store nothing
  const int h = static_cast<int>(r % H);
  const float* c = coef + static_cast<long long>(h) * (kScanCoefPerState * N2 + 2);

  float2 a[PER], w[PER], g[PER], bb[PER], ca[PER], x[PER];
#pragma unroll
  for (int i = 0; i < PER; ++i) {
    const int n = lane + i * G;
    if (n < N2) {
      // One array per quantity: lanes n, n+1, ... read consecutive float2.
      const float2* q = reinterpret_cast<const float2*>(c) + n;
      a[i] = q[kScanA * N2];
      w[i] = q[kScanW * N2];
      g[i] = q[kScanG * N2];
      bb[i] = q[kScanBb * N2];
      ca[i] = q[kScanCa * N2];
      x[i] = state ? reinterpret_cast<const float2*>(state)[r * N2 + n] : make_float2(0.f, 0.f);
    } else {  // padding lanes: all zero, contribute nothing and stay zero
      a[i] = w[i] = g[i] = bb[i] = ca[i] = x[i] = make_float2(0.f, 0.f);
    }
  }
  const float cg = c[10 * N2], cu = c[10 * N2 + 1];
  const float* ur = u + r * T;
  float* yr = y + r * T;

  float uNext = lane < T ? __ldg(ur + lane) : 0.f;
  for (int t0 = 0; t0 < T; t0 += G) {  // T is the same for every group: uniform loop
    const int cnt = min(G, T - t0);
    const float uc = uNext;
    if (t0 + G + lane < T) uNext = __ldg(ur + t0 + G + lane);
    float yc = 0.f;
    for (int tt = 0; tt < cnt; ++tt) {
      const float ut = __shfl_sync(kFull, uc, tt, G);
      float s = 0.f, o = 0.f;
#pragma unroll
      for (int i = 0; i < PER; ++i) {
        s = fmaf(w[i].x, x[i].x, fmaf(-w[i].y, x[i].y, s));
        o = fmaf(ca[i].x, x[i].x, fmaf(-ca[i].y, x[i].y, o));
      }
#pragma unroll
      for (int off = G / 2; off > 0; off >>= 1) {
        s += __shfl_xor_sync(kFull, s, off, G);
        o += __shfl_xor_sync(kFull, o, off, G);
      }
      s *= 2.f;
      o *= 2.f;
      const float yv = fmaf(cu, ut, fmaf(-cg, s, o));
      if (lane == tt) yc = yv;
#pragma unroll
      for (int i = 0; i < PER; ++i) {
        const float re = fmaf(a[i].x, x[i].x, fmaf(-a[i].y, x[i].y, fmaf(-g[i].x, s, bb[i].x * ut)));
        const float im = fmaf(a[i].x, x[i].y, fmaf(a[i].y, x[i].x, fmaf(-g[i].y, s, bb[i].y * ut)));
        x[i] = make_float2(re, im);
      }
    }
    // GELU (exact erf form) off the step chain: once per lane and chunk, at the store.
    if (valid && lane < cnt) yr[t0 + lane] = gelu ? nn::geluErf(yc) : yc;
  }
  if (state && valid) {
#pragma unroll
    for (int i = 0; i < PER; ++i) {
      const int n = lane + i * G;
      if (n < N2) reinterpret_cast<float2*>(state)[r * N2 + n] = x[i];
    }
  }
}

template <int G, int PER>
void launch(const float* coef, float* state, const float* u, float* y, long long BH, int H,
            int N2, int T, bool gelu) {
  const long long threads = BH * G;
  const unsigned blocks = blocksFor(threads, kBlock);
  scanKernel<G, PER><<<blocks, kBlock, 0, stream()>>>(coef, state, u, y, BH, H, N2, T, gelu);
  S4_CUDA_CHECK_LAUNCH("scanKernel");
}

}  // namespace

void ssmScan(const float* coef, float* state, const float* u, float* y, int64_t B, int64_t H,
             int64_t N2, int64_t T, bool gelu) {
  if (B <= 0 || H <= 0) return;
  if (N2 < 1 || N2 > kScanMaxN2)
    failRange("ssmScan: state size N2 must be in [1, " + std::to_string(kScanMaxN2) + "] on CUDA (got " +
              std::to_string(N2) + ")");
  if (T <= 0) return;  // nothing to step; the state is unchanged
  if (T > 0x7fffffffLL) failRange("ssmScan: too many steps for one launch");
  const long long BH = B * H;
  const int h = static_cast<int>(H), n2 = static_cast<int>(N2), t = static_cast<int>(T);
  if (N2 <= 1) launch<1, 1>(coef, state, u, y, BH, h, n2, t, gelu);
  else if (N2 <= 2) launch<2, 1>(coef, state, u, y, BH, h, n2, t, gelu);
  else if (N2 <= 4) launch<4, 1>(coef, state, u, y, BH, h, n2, t, gelu);
  else if (N2 <= 8) launch<8, 1>(coef, state, u, y, BH, h, n2, t, gelu);
  else if (N2 <= 16) launch<16, 1>(coef, state, u, y, BH, h, n2, t, gelu);
  else if (N2 <= 32) launch<32, 1>(coef, state, u, y, BH, h, n2, t, gelu);
  else if (N2 <= 64) launch<32, 2>(coef, state, u, y, BH, h, n2, t, gelu);
  else if (N2 <= 128) launch<32, 4>(coef, state, u, y, BH, h, n2, t, gelu);
  else launch<32, 8>(coef, state, u, y, BH, h, n2, t, gelu);
}

}  // namespace s4::cuda
