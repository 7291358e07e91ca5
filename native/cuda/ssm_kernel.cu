// CUDA twins of the S4 kernel-generation ops (spec and formulas:
// native/binding/ssm_kernel.cpp; the backward derivation: native/cpu/ssm_kernel.cpp).
//
// Work floor of dplrKernel: H x (L/2+1) x N2 Cauchy terms for each of the 4 sums. At
// H=256, L=4096, N2=32 that is 256 * 2049 * 32 = 16.8M (h, j, n) triples, 67M terms. The
// conjugate pair of each term is folded in exactly: with x = -c wr, y1 = 2s - c wi,
// y2 = 2s + c wi and D = (x + i y1)(x + i y2),
//   a/(x + i y1) + conj(a)/(x + i y2) = (-2c Re(conj(w) a) + 4 i s Re(a)) / D,
// so each triple costs ONE complex reciprocal (1 MUFU.RCP) and 4 FMAs per sum on two
// real numbers per state, about 33 FP32 operations in all (below). That is ~0.55 GFLOP
// for the benchmark shape: ~17 us at the H100's FP32 peak; the forward is this one kernel
// plus one batched C2R. The backward recomputes the sums (same cost), then reduces over
// the nodes per (h, n) with ~95 operations per triple (~1.6 GFLOP, ~50 us at peak).
//
// Accuracy. Near a resonance (2 sin(phi_j) ~ cos(phi_j) Im w_n) y1 or y2 is a difference
// of nearly equal numbers, and float32 roundings of sin, cos and w would be amplified by
// |Im w| / |Re w| (large for HiPPO spectra). 2 sin, cos and Im w are therefore carried as
// float pairs (hi + lo, from double) and y1, y2 are formed with FMAs, which keeps their
// error relative to their own size; everything else is plain float32.
//
// Backward of dplrKernel, 4 launches:
//   r2c       g = rfft(dK) (batched over H), weighted by m_j / L in the next kernel
//   cauchy    per node: the sums again, then the adjoints lam_ab(j) -> [H, J, 4]; the
//             blocks of channel 0 also write the node table (2 sin, cos as hi/lo) [J]
//   partial   one warp per (h, group of states, node range): T, T', U, U', Z summed over
//             the nodes of its range, reduced with warp shuffles -> partials [H, N2, S, 22]
//   finalize  one block per channel: sums the S partials in a fixed order (deterministic,
//             no float atomics), forms the gradients in double, reduces grad dt over n.
// diagKernel: one thread per group of 16 outputs l; each state's power z^l starts from
// exp(l w) (phase reduced in double) and steps by z^T, T = threads per block.
#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <string>

#include "../common/ssm_param_flags.h"
#include "context.h"
#include "cufft_api.h"

namespace s4::cuda {
namespace {

constexpr int kCauchyThreads = 64;
constexpr int kNodesPerThread = 4;
constexpr int kStateChunk = 128;  // states staged in shared memory at a time
constexpr int kGradGroup = 2;     // states per warp in the node reduction
constexpr int kGradWarps = 4;
constexpr int kPartial = 22;      // T[4], T'[4], U, U', Z as floats
constexpr int kFinalizeThreads = 128;
constexpr int kDiagThreads = 128;
constexpr int kDiagPer = 16;      // outputs per thread in diagKernel
constexpr int kDiagGroup = 4;     // states per pass in diagKernelBackward
constexpr int kDiagBwdThreads = 256;
constexpr unsigned kMaxGridY = 65535;

__device__ __forceinline__ float2 cmul(float2 a, float2 b) {
  return make_float2(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x);
}
__device__ __forceinline__ float2 cscale(float2 a, float s) { return make_float2(a.x * s, a.y * s); }
__device__ __forceinline__ float2 cconj(float2 a) { return make_float2(a.x, -a.y); }
__device__ __forceinline__ float2 cinv(float2 a) {
  const float r = 1.f / fmaf(a.x, a.x, a.y * a.y);
  return make_float2(a.x * r, -a.y * r);
}
// acc += a * b
__device__ __forceinline__ void cmac(float2& acc, float2 a, float2 b) {
  acc.x = fmaf(a.x, b.x, fmaf(-a.y, b.y, acc.x));
  acc.y = fmaf(a.x, b.y, fmaf(a.y, b.x, acc.y));
}

// Node j: 2 sin(pi j / L) and cos(pi j / L) as float pairs (hi + lo).
struct __align__(16) Node {
  float s2hi, s2lo, chi, clo;
};

__device__ __forceinline__ Node makeNode(long long j, long long L) {
  double s, c;
  sincospi(static_cast<double>(j) / static_cast<double>(L), &s, &c);
  const double s2 = 2.0 * s;
  Node nd;
  nd.s2hi = static_cast<float>(s2);
  nd.s2lo = static_cast<float>(s2 - nd.s2hi);
  nd.chi = static_cast<float>(c);
  nd.clo = static_cast<float>(c - nd.chi);
  return nd;
}

// y1 = 2s - c wi, y2 = 2s + c wi, each with an error relative to its own size.
__device__ __forceinline__ void resonantPair(const Node& nd, float wiHi, float wiLo, float* y1, float* y2) {
  const float e = fmaf(nd.chi, wiLo, nd.clo * wiHi);
  *y1 = fmaf(-nd.chi, wiHi, nd.s2hi) + (nd.s2lo - e);
  *y2 = fmaf(nd.chi, wiHi, nd.s2hi) + (nd.s2lo + e);
}

// One state of the DPLR sums: w = dt lambda and, per pair ab, U = Re(conj(w) alpha_ab),
// R = Re(alpha_ab), for alpha = C~ B, C~ P, conj(P) B, |P|^2.
struct __align__(16) CauchyState {
  float wr, wiHi, wiLo, r11;
  float u00, r00, u01, r01;
  float u10, r10, u11, pad;
};

struct DplrIn {
  const float* lambda;
  const float* p;
  const float* b;
  const float* c;
  const float* dt;
};

// alpha_ab of state i (global index h * N2 + n), in double.
struct Alphas {
  double wr, wi, a00r, a00i, a01r, a01i, a10r, a10i, a11;
};

__device__ Alphas loadAlphas(const DplrIn& in, double dt, long long i) {
  const double lr = in.lambda[2 * i], li = in.lambda[2 * i + 1];
  const double pr = in.p[2 * i], pi = in.p[2 * i + 1];
  const double br = in.b[2 * i], bi = in.b[2 * i + 1];
  const double cr = in.c[2 * i], ci = in.c[2 * i + 1];
  Alphas a;
  a.wr = dt * lr;
  a.wi = dt * li;
  a.a00r = cr * br - ci * bi;
  a.a00i = cr * bi + ci * br;
  a.a01r = cr * pr - ci * pi;
  a.a01i = cr * pi + ci * pr;
  a.a10r = pr * br + pi * bi;
  a.a10i = pr * bi - pi * br;
  a.a11 = pr * pr + pi * pi;
  return a;
}

__device__ void stageStates(CauchyState* sh, const DplrIn& in, double dt, long long h, int N2, int n0, int count) {
  for (int k = threadIdx.x; k < count; k += blockDim.x) {
    const Alphas a = loadAlphas(in, dt, h * N2 + n0 + k);
    CauchyState s;
    s.wr = static_cast<float>(a.wr);
    s.wiHi = static_cast<float>(a.wi);
    s.wiLo = static_cast<float>(a.wi - s.wiHi);
    s.r11 = static_cast<float>(a.a11);
    s.u00 = static_cast<float>(a.wr * a.a00r + a.wi * a.a00i);
    s.r00 = static_cast<float>(a.a00r);
    s.u01 = static_cast<float>(a.wr * a.a01r + a.wi * a.a01i);
    s.r01 = static_cast<float>(a.a01r);
    s.u10 = static_cast<float>(a.wr * a.a10r + a.wi * a.a10i);
    s.r10 = static_cast<float>(a.a10r);
    s.u11 = static_cast<float>(a.wr * a.a11);
    s.pad = 0.f;
    sh[k] = s;
  }
}

enum class CauchyMode { Forward, Adjoint };

struct CauchyOut {
  float2* spec;        // Forward, L > 1: Khat / L  [H, J]
  float* real;         // Forward, L == 1: K        [H]
  const float2* g;     // Adjoint, L > 1: rfft(dK)  [H, J]
  const float* dK;     // Adjoint, L == 1           [H]
  float4* lam;         // Adjoint: lam_ab(j) as 2 float4 per node [H, J, 2]
  Node* nodes;         // Adjoint: node table [J]
};

// Each thread evaluates the four sums at kNodesPerThread nodes j = tile + t + k * blockDim
// of channel h, then either the kernel spectrum (Forward) or the adjoints (Adjoint).
template <CauchyMode MODE>
__global__ void __launch_bounds__(kCauchyThreads) cauchyKernel(DplrIn in, CauchyOut out, int H, int N2, long long L,
                                                              int J) {
  __shared__ CauchyState sh[kStateChunk];
  const int tile = blockIdx.x * kCauchyThreads * kNodesPerThread;
  const bool active = tile + static_cast<int>(threadIdx.x) < J;  // else all nodes of this thread are past J
  for (int h = blockIdx.y; h < H; h += gridDim.y) {
    const double dt = in.dt[h];
    Node nd[kNodesPerThread];
    float2 P[kNodesPerThread][4], S[kNodesPerThread][4];
#pragma unroll
    for (int k = 0; k < kNodesPerThread; ++k) {
      nd[k] = makeNode(tile + threadIdx.x + k * kCauchyThreads, L);
#pragma unroll
      for (int q = 0; q < 4; ++q) P[k][q] = S[k][q] = make_float2(0.f, 0.f);
    }
    for (int n0 = 0; n0 < N2; n0 += kStateChunk) {
      const int count = min(kStateChunk, N2 - n0);
      __syncthreads();
      stageStates(sh, in, dt, h, N2, n0, count);
      __syncthreads();
      if (!active) continue;
#pragma unroll 2
      for (int i = 0; i < count; ++i) {
        const float4 v0 = reinterpret_cast<const float4*>(sh + i)[0];
        const float4 v1 = reinterpret_cast<const float4*>(sh + i)[1];
        const float4 v2 = reinterpret_cast<const float4*>(sh + i)[2];
        const float u[4] = {v1.x, v1.z, v2.x, v2.z}, r[4] = {v1.y, v1.w, v2.y, v0.w};
#pragma unroll
        for (int k = 0; k < kNodesPerThread; ++k) {
          float y1, y2;
          resonantPair(nd[k], v0.y, v0.z, &y1, &y2);
          const float x = -nd[k].chi * v0.x;
          const float dre = fmaf(x, x, -y1 * y2);
          const float dim = x * (y1 + y2);
          const float inv = __fdividef(1.f, fmaf(dre, dre, dim * dim));
          const float qr = dre * inv, qi = -dim * inv;
#pragma unroll
          for (int q = 0; q < 4; ++q) {
            P[k][q].x = fmaf(qr, u[q], P[k][q].x);
            P[k][q].y = fmaf(qi, u[q], P[k][q].y);
            S[k][q].x = fmaf(qr, r[q], S[k][q].x);
            S[k][q].y = fmaf(qi, r[q], S[k][q].y);
          }
        }
      }
    }
    const float fdt = static_cast<float>(dt);
#pragma unroll
    for (int k = 0; k < kNodesPerThread; ++k) {
      const int j = tile + threadIdx.x + k * kCauchyThreads;
      if (j >= J) continue;
      const float c = nd[k].chi, s = 0.5f * nd[k].s2hi;
      // sigma = dt (-2c P + 4 i s S)
      float2 sg[4];
#pragma unroll
      for (int q = 0; q < 4; ++q)
        sg[q] = make_float2(fdt * (-2.f * c * P[k][q].x - 4.f * s * S[k][q].y),
                            fdt * (-2.f * c * P[k][q].y + 4.f * s * S[k][q].x));
      const float2 e = make_float2(c, s);
      const float2 Dinv = cinv(make_float2(1.f + c * sg[3].x, c * sg[3].y));
      const bool realBin = j == 0 || 2LL * j == L;
      if (MODE == CauchyMode::Forward) {
        const float2 corr = cscale(cmul(cmul(sg[1], sg[2]), Dinv), c);
        float2 kh = cmul(e, make_float2(sg[0].x - corr.x, sg[0].y - corr.y));
        if (L == 1) {
          out.real[h] = kh.x;
        } else {
          kh = cscale(kh, 1.f / static_cast<float>(L));
          if (realBin) kh.y = 0.f;
          out.spec[static_cast<long long>(h) * J + j] = kh;
        }
      } else {
        float2 g;
        if (L == 1) {
          g = make_float2(out.dK[h], 0.f);
        } else {
          g = out.g[static_cast<long long>(h) * J + j];
          g = cscale(g, (realBin ? 1.f : 2.f) / static_cast<float>(L));
          if (realBin) g.y = 0.f;
        }
        const float2 ge = cmul(cconj(g), e);
        const float2 geD = cscale(cmul(ge, Dinv), -c);  // -conj(g) e c / D
        const float2 l01 = cmul(geD, sg[2]);
        const float2 l10 = cmul(geD, sg[1]);
        const float2 l11 = cscale(cmul(cmul(l01, sg[1]), Dinv), -c);  // conj(g) e c^2 s01 s10 / D^2
        float4* dst = out.lam + (static_cast<long long>(h) * J + j) * 2;
        dst[0] = make_float4(ge.x, ge.y, l01.x, l01.y);
        dst[1] = make_float4(l10.x, l10.y, l11.x, l11.y);
        if (h == 0) out.nodes[j] = nd[k];
      }
    }
  }
}

// Per (h, group of kGradGroup states, node range): sums over the nodes j of the range of
//   T_q += lam_q t1, T'_q += lam_q t2, U += c t1^2 sum_q lam_q alpha_q,
//   U' += c t2^2 sum_q lam_q conj(alpha_q),  t1 = 1/(x + i y1), t2 = 1/(x + i y2),
//   Z += s (t1^2 sum_q lam_q alpha_q + t2^2 sum_q lam_q conj(alpha_q))  (for grad dt).
__global__ void __launch_bounds__(kGradWarps * 32) dplrPartialKernel(DplrIn in, const Node* __restrict__ nodes,
                                                                   const float4* __restrict__ lam,
                                                                   float* __restrict__ part, int H, int N2, int J,
                                                                   int splits) {
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int n0 = (blockIdx.x * kGradWarps + warp) * kGradGroup;
  const int split = blockIdx.z;
  if (n0 >= N2) return;
  const int per = (J + splits - 1) / splits;
  const int jBegin = split * per, jEnd = min(J, jBegin + per);
  for (int h = blockIdx.y; h < H; h += gridDim.y) {
    const double dt = in.dt[h];
    float wr[kGradGroup], wiHi[kGradGroup], wiLo[kGradGroup];
    float2 al[kGradGroup][4];
    float2 T[kGradGroup][4], Tc[kGradGroup][4], U[kGradGroup], Uc[kGradGroup], Z[kGradGroup];
#pragma unroll
    for (int g = 0; g < kGradGroup; ++g) {
      const int n = min(n0 + g, N2 - 1);  // a missing state repeats the last; never stored
      const Alphas a = loadAlphas(in, dt, static_cast<long long>(h) * N2 + n);
      wr[g] = static_cast<float>(a.wr);
      wiHi[g] = static_cast<float>(a.wi);
      wiLo[g] = static_cast<float>(a.wi - wiHi[g]);
      al[g][0] = make_float2(static_cast<float>(a.a00r), static_cast<float>(a.a00i));
      al[g][1] = make_float2(static_cast<float>(a.a01r), static_cast<float>(a.a01i));
      al[g][2] = make_float2(static_cast<float>(a.a10r), static_cast<float>(a.a10i));
      al[g][3] = make_float2(static_cast<float>(a.a11), 0.f);
      U[g] = Uc[g] = Z[g] = make_float2(0.f, 0.f);
#pragma unroll
      for (int q = 0; q < 4; ++q) T[g][q] = Tc[g][q] = make_float2(0.f, 0.f);
    }
    const float4* lamH = lam + static_cast<long long>(h) * J * 2;
    for (int j = jBegin + lane; j < jEnd; j += 32) {
      const Node nd = nodes[j];
      const float4 la = __ldg(lamH + 2 * j), lb = __ldg(lamH + 2 * j + 1);
      const float2 l[4] = {make_float2(la.x, la.y), make_float2(la.z, la.w), make_float2(lb.x, lb.y),
                           make_float2(lb.z, lb.w)};
      const float c = nd.chi, s = 0.5f * nd.s2hi;
#pragma unroll
      for (int g = 0; g < kGradGroup; ++g) {
        float y1, y2;
        resonantPair(nd, wiHi[g], wiLo[g], &y1, &y2);
        const float x = -c * wr[g];
        const float r1 = __fdividef(1.f, fmaf(x, x, y1 * y1));
        const float r2 = __fdividef(1.f, fmaf(x, x, y2 * y2));
        const float2 t1 = make_float2(x * r1, -y1 * r1), t2 = make_float2(x * r2, -y2 * r2);
        float2 A = make_float2(0.f, 0.f), Ac = make_float2(0.f, 0.f);
#pragma unroll
        for (int q = 0; q < 4; ++q) {
          cmac(T[g][q], l[q], t1);
          cmac(Tc[g][q], l[q], t2);
          cmac(A, l[q], al[g][q]);
          cmac(Ac, l[q], cconj(al[g][q]));
        }
        const float2 p1 = cmul(cmul(t1, t1), A), p2 = cmul(cmul(t2, t2), Ac);
        U[g].x = fmaf(c, p1.x, U[g].x);
        U[g].y = fmaf(c, p1.y, U[g].y);
        Uc[g].x = fmaf(c, p2.x, Uc[g].x);
        Uc[g].y = fmaf(c, p2.y, Uc[g].y);
        Z[g].x = fmaf(s, p1.x + p2.x, Z[g].x);
        Z[g].y = fmaf(s, p1.y + p2.y, Z[g].y);
      }
    }
    // Warp reduction, then lane g * kPartial + v stores value v of state g.
#pragma unroll
    for (int g = 0; g < kGradGroup; ++g) {
      float v[kPartial];
#pragma unroll
      for (int q = 0; q < 4; ++q) {
        v[2 * q] = T[g][q].x;
        v[2 * q + 1] = T[g][q].y;
        v[8 + 2 * q] = Tc[g][q].x;
        v[8 + 2 * q + 1] = Tc[g][q].y;
      }
      v[16] = U[g].x;
      v[17] = U[g].y;
      v[18] = Uc[g].x;
      v[19] = Uc[g].y;
      v[20] = Z[g].x;
      v[21] = Z[g].y;
      float mine = 0.f;
#pragma unroll
      for (int q = 0; q < kPartial; ++q) {
        float x = v[q];
#pragma unroll
        for (int off = 16; off > 0; off >>= 1) x += __shfl_xor_sync(0xffffffffu, x, off);
        if (lane == q) mine = x;
      }
      const int n = n0 + g;
      if (n < N2 && lane < kPartial)
        part[((static_cast<long long>(h) * N2 + n) * splits + split) * kPartial + lane] = mine;
    }
  }
}

// One block per channel: the gradients of every state from its partials, and grad dt.
__global__ void __launch_bounds__(kFinalizeThreads) dplrFinalizeKernel(DplrIn in, const float* __restrict__ part,
                                                                     float* gLambda, float* gP, float* gB, float* gC,
                                                                     float* gDt, int H, int N2, int splits) {
  __shared__ double red[kFinalizeThreads];
  for (int h = blockIdx.x; h < H; h += gridDim.x) {
    const double dt = in.dt[h];
    double gdt = 0;
    for (int n = threadIdx.x; n < N2; n += blockDim.x) {
      const long long i = static_cast<long long>(h) * N2 + n;
      double v[kPartial] = {};
      for (int s = 0; s < splits; ++s)
        for (int q = 0; q < kPartial; ++q) v[q] += part[(i * splits + s) * kPartial + q];
      double Gr[4], Gi[4];
      for (int q = 0; q < 4; ++q) {
        const double tr = v[2 * q], ti = v[2 * q + 1], cr = v[8 + 2 * q], ci = v[9 + 2 * q];
        Gr[q] = dt * (tr + cr);  // dt (conj(T) + T')
        Gi[q] = dt * (ci - ti);
      }
      gdt -= 2 * v[21];  // Re(2 i Z)
      const double gwr = dt * (v[16] + v[18]), gwi = dt * (v[19] - v[17]);  // dt (conj(U) + U')
      gLambda[2 * i] = static_cast<float>(dt * gwr);
      gLambda[2 * i + 1] = static_cast<float>(dt * gwi);
      const double pr = in.p[2 * i], pi = in.p[2 * i + 1];
      const double br = in.b[2 * i], bi = in.b[2 * i + 1];
      const double cr = in.c[2 * i], ci = in.c[2 * i + 1];
      // grad C~ = G00 conj(B) + G01 conj(P)
      gC[2 * i] = static_cast<float>(Gr[0] * br + Gi[0] * bi + Gr[1] * pr + Gi[1] * pi);
      gC[2 * i + 1] = static_cast<float>(Gi[0] * br - Gr[0] * bi + Gi[1] * pr - Gr[1] * pi);
      // grad B = G00 conj(C~) + G10 P
      gB[2 * i] = static_cast<float>(Gr[0] * cr + Gi[0] * ci + Gr[2] * pr - Gi[2] * pi);
      gB[2 * i + 1] = static_cast<float>(Gi[0] * cr - Gr[0] * ci + Gr[2] * pi + Gi[2] * pr);
      // grad P = G01 conj(C~) + conj(G10) B + 2 Re(G11) P
      gP[2 * i] = static_cast<float>(Gr[1] * cr + Gi[1] * ci + Gr[2] * br + Gi[2] * bi + 2 * Gr[3] * pr);
      gP[2 * i + 1] = static_cast<float>(Gi[1] * cr - Gr[1] * ci + Gr[2] * bi - Gi[2] * br + 2 * Gr[3] * pi);
    }
    red[threadIdx.x] = gdt;
    __syncthreads();
    for (int w = blockDim.x / 2; w > 0; w >>= 1) {
      if (threadIdx.x < w) red[threadIdx.x] += red[threadIdx.x + w];
      __syncthreads();
    }
    if (threadIdx.x == 0) gDt[h] = static_cast<float>(red[0]);
    __syncthreads();
  }
}

// ---- diagonal (S4D, ZOH) ----

struct DiagIn {
  const float* lambda;
  const float* b;
  const float* c;
  const float* dt;
};

// (e^w - 1)/w and its derivative, accurate near w = 0 (as in the CPU twin).
struct Cd {
  double re, im;
};
__device__ __forceinline__ Cd cdmul(Cd a, Cd b) { return {a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re}; }
__device__ __forceinline__ Cd cddiv(Cd a, Cd b) {
  const double d = b.re * b.re + b.im * b.im;
  return {(a.re * b.re + a.im * b.im) / d, (a.im * b.re - a.re * b.im) / d};
}
__device__ __forceinline__ double cdabs(Cd a) { return hypot(a.re, a.im); }
__device__ Cd cdexp(Cd w) {
  double s, c;
  sincos(w.im, &s, &c);
  const double m = exp(w.re);
  return {m * c, m * s};
}
__device__ Cd phi1(Cd w) {
  if (cdabs(w) < 1e-4) {
    // 1 + w (1/2 + w (1/6 + w / 24))
    Cd t = {1.0 / 6 + w.re / 24.0, w.im / 24.0};
    t = cdmul(w, t);
    t.re += 0.5;
    t = cdmul(w, t);
    t.re += 1.0;
    return t;
  }
  const double sh = sin(0.5 * w.im);
  const Cd em1 = {expm1(w.re) * cos(w.im) - 2 * sh * sh, exp(w.re) * sin(w.im)};
  return cddiv(em1, w);
}
__device__ Cd phi1Prime(Cd w) {
  if (cdabs(w) < 1e-2) {
    const double k[6] = {0.5, 1.0 / 3, 1.0 / 8, 1.0 / 30, 1.0 / 144, 1.0 / 840};
    Cd t = {k[5], 0.0};
    for (int q = 4; q >= 0; --q) {
      t = cdmul(w, t);
      t.re += k[q];
    }
    return t;
  }
  const Cd e = cdexp(w), f = phi1(w);
  return cddiv({e.re - f.re, e.im - f.im}, w);
}

// exp(l w) in float with the phase reduced to [-pi, pi] in double (l w may be thousands of
// radians), where the fast sine and cosine are accurate to ~4e-7.
__device__ __forceinline__ float2 powerFrom(double l, double wr, double wi) {
  const double ph = l * wi;
  const double red = ph - 6.283185307179586 * rint(ph * 0.15915494309189535);
  float s, c;
  __sincosf(static_cast<float>(red), &s, &c);
  const float m = expf(static_cast<float>(l * wr));
  return make_float2(m * c, m * s);
}

struct __align__(16) DiagState {
  double wr, wi;
  float2 coef;  // C B dt phi1(w)
  float2 step;  // exp(T w), T = blockDim.x
};

// Kept out of line: its double-precision math would otherwise crowd the accumulators.
__device__ __noinline__ DiagState diagState(const DiagIn& in, double dt, long long i) {
  const Cd w = {dt * in.lambda[2 * i], dt * in.lambda[2 * i + 1]};
  const Cd cb = cdmul({in.c[2 * i], in.c[2 * i + 1]}, {in.b[2 * i], in.b[2 * i + 1]});
  const Cd f = phi1(w);
  const Cd coef = cdmul(cb, {dt * f.re, dt * f.im});
  const Cd st = cdexp({kDiagThreads * w.re, kDiagThreads * w.im});
  return DiagState{w.re, w.im, make_float2(static_cast<float>(coef.re), static_cast<float>(coef.im)),
                   make_float2(static_cast<float>(st.re), static_cast<float>(st.im))};
}

__global__ void __launch_bounds__(kDiagThreads) diagForwardKernel(DiagIn in, float* __restrict__ out, int H, int N2,
                                                                 long long L) {
  __shared__ DiagState sh[kStateChunk];
  const long long l0 = static_cast<long long>(blockIdx.x) * kDiagThreads * kDiagPer + threadIdx.x;
  for (int h = blockIdx.y; h < H; h += gridDim.y) {
    const double dt = in.dt[h];
    float acc[kDiagPer];
#pragma unroll
    for (int k = 0; k < kDiagPer; ++k) acc[k] = 0.f;
    for (int n0 = 0; n0 < N2; n0 += kStateChunk) {
      const int count = min(kStateChunk, N2 - n0);
      __syncthreads();
      for (int k = threadIdx.x; k < count; k += blockDim.x) sh[k] = diagState(in, dt, static_cast<long long>(h) * N2 + n0 + k);
      __syncthreads();
      if (l0 >= L) continue;
      for (int i = 0; i < count; ++i) {
        const DiagState st = sh[i];
        float2 pw = cmul(st.coef, powerFrom(static_cast<double>(l0), st.wr, st.wi));
#pragma unroll
        for (int k = 0; k < kDiagPer; ++k) {
          acc[k] += pw.x;
          pw = cmul(pw, st.step);
        }
      }
    }
#pragma unroll
    for (int k = 0; k < kDiagPer; ++k) {
      const long long l = l0 + static_cast<long long>(k) * kDiagThreads;
      if (l < L) out[static_cast<long long>(h) * L + l] = 2.f * acc[k];
    }
  }
}

// One block per channel; states in groups of kDiagGroup. Per state:
//   S = sum_l dK_l z^l, S' = sum_l l dK_l z^l (block reduction), then the gradients.
__global__ void __launch_bounds__(kDiagBwdThreads) diagBackwardKernel(DiagIn in, const float* __restrict__ dK,
                                                                    float* gLambda, float* gB, float* gC, float* gDt,
                                                                    int H, int N2, long long L) {
  constexpr int kVals = 4 * kDiagGroup;
  constexpr int kWarps = kDiagBwdThreads / 32;
  __shared__ double wsh[kDiagGroup][2];
  __shared__ float2 stepSh[kDiagGroup];
  __shared__ float red[kWarps][kVals];
  __shared__ double tot[kVals];
  __shared__ double gdtSh[kDiagGroup];
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  for (int h = blockIdx.x; h < H; h += gridDim.x) {
    const double dt = in.dt[h];
    const float* dk = dK + static_cast<long long>(h) * L;
    double gdt = 0;  // thread 0
    for (int n0 = 0; n0 < N2; n0 += kDiagGroup) {
      __syncthreads();
      if (threadIdx.x < kDiagGroup) {
        const int n = min(n0 + static_cast<int>(threadIdx.x), N2 - 1);
        const long long i = static_cast<long long>(h) * N2 + n;
        const double wr = dt * in.lambda[2 * i], wi = dt * in.lambda[2 * i + 1];
        wsh[threadIdx.x][0] = wr;
        wsh[threadIdx.x][1] = wi;
        const Cd st = cdexp({kDiagBwdThreads * wr, kDiagBwdThreads * wi});
        stepSh[threadIdx.x] = make_float2(static_cast<float>(st.re), static_cast<float>(st.im));
      }
      __syncthreads();
      float2 S[kDiagGroup], S1[kDiagGroup], pw[kDiagGroup], step[kDiagGroup];
#pragma unroll
      for (int g = 0; g < kDiagGroup; ++g) {
        S[g] = S1[g] = make_float2(0.f, 0.f);
        step[g] = stepSh[g];
        pw[g] = powerFrom(static_cast<double>(threadIdx.x), wsh[g][0], wsh[g][1]);
      }
      for (long long l = threadIdx.x; l < L; l += kDiagBwdThreads) {
        const float d = __ldg(dk + l), ld = static_cast<float>(l) * d;
#pragma unroll
        for (int g = 0; g < kDiagGroup; ++g) {
          S[g].x = fmaf(d, pw[g].x, S[g].x);
          S[g].y = fmaf(d, pw[g].y, S[g].y);
          S1[g].x = fmaf(ld, pw[g].x, S1[g].x);
          S1[g].y = fmaf(ld, pw[g].y, S1[g].y);
          pw[g] = cmul(pw[g], step[g]);
        }
      }
      float v[kVals];
#pragma unroll
      for (int g = 0; g < kDiagGroup; ++g) {
        v[4 * g] = S[g].x;
        v[4 * g + 1] = S[g].y;
        v[4 * g + 2] = S1[g].x;
        v[4 * g + 3] = S1[g].y;
      }
#pragma unroll
      for (int q = 0; q < kVals; ++q) {
        float x = v[q];
#pragma unroll
        for (int off = 16; off > 0; off >>= 1) x += __shfl_xor_sync(0xffffffffu, x, off);
        if (lane == 0) red[warp][q] = x;
      }
      __syncthreads();
      if (threadIdx.x < kVals) {
        double t = 0;
        for (int w = 0; w < kWarps; ++w) t += red[w][threadIdx.x];
        tot[threadIdx.x] = t;
      }
      __syncthreads();
      if (threadIdx.x < kDiagGroup) {
        const int g = threadIdx.x, n = n0 + g;
        double contrib = 0;
        if (n < N2) {
          const long long i = static_cast<long long>(h) * N2 + n;
          const Cd lam = {in.lambda[2 * i], in.lambda[2 * i + 1]};
          const Cd bn = {in.b[2 * i], in.b[2 * i + 1]}, cn = {in.c[2 * i], in.c[2 * i + 1]};
          const Cd w = {dt * lam.re, dt * lam.im};
          const Cd Sd = {tot[4 * g], tot[4 * g + 1]}, S1d = {tot[4 * g + 2], tot[4 * g + 3]};
          const Cd f1 = phi1(w), psi = {dt * f1.re, dt * f1.im};
          const Cd cb = cdmul(cn, bn);
          const Cd psiS = cdmul(psi, Sd);
          const Cd gc = cdmul(bn, psiS), gb = cdmul(cn, psiS);
          gC[2 * i] = static_cast<float>(2 * gc.re);
          gC[2 * i + 1] = static_cast<float>(-2 * gc.im);
          gB[2 * i] = static_cast<float>(2 * gb.re);
          gB[2 * i + 1] = static_cast<float>(-2 * gb.im);
          const Cd fp = phi1Prime(w);
          const Cd t1 = cdmul({dt * dt * fp.re, dt * dt * fp.im}, Sd);
          const Cd t2 = cdmul({dt * psi.re, dt * psi.im}, S1d);
          const Cd gl = cdmul(cb, {t1.re + t2.re, t1.im + t2.im});
          gLambda[2 * i] = static_cast<float>(2 * gl.re);
          gLambda[2 * i + 1] = static_cast<float>(-2 * gl.im);
          const Cd z = cdexp(w);
          const Cd a = cdmul(z, Sd), bb = cdmul(cdmul(w, f1), S1d);
          contrib = 2 * cdmul(cb, {a.re + bb.re, a.im + bb.im}).re;
        }
        gdtSh[g] = contrib;
      }
      __syncthreads();
      if (threadIdx.x == 0)
        for (int g = 0; g < kDiagGroup; ++g) gdt += gdtSh[g];
    }
    if (threadIdx.x == 0) gDt[h] = static_cast<float>(gdt);
  }
}

// ---- parameter check ----

__device__ __forceinline__ bool finite(float x) { return isfinite(x); }

__global__ void paramCheckKernel(const float* lambda, const float* x1, const float* x2, const float* x3,
                                 const float* dt, long long H, long long N2, unsigned* flags) {
  unsigned f = 0;
  const long long n = H * N2, stride = static_cast<long long>(gridDim.x) * blockDim.x;
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < n; i += stride) {
    const float re = lambda[2 * i], im = lambda[2 * i + 1];
    if (!finite(re) || !finite(im)) f |= kBadLambdaNonFinite;
    else if (re > 0) f |= kBadLambdaUnstable;
    const float* xs[3] = {x1, x2, x3};
    for (int k = 0; k < 3; ++k)
      if (xs[k] && (!finite(xs[k][2 * i]) || !finite(xs[k][2 * i + 1]))) f |= kBadX1 << k;
    if (i < H && !(finite(dt[i]) && dt[i] > 0)) f |= kBadDt;
  }
  for (long long i = n + blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < H; i += stride)
    if (!(finite(dt[i]) && dt[i] > 0)) f |= kBadDt;
  if (f) atomicOr(flags, f);
}

void checkDims(const char* fn, int64_t H, int64_t N2, int64_t L) {
  if (H > INT_MAX || N2 > INT_MAX) failRange(std::string(fn) + ": H or N2 exceeds 2^31 - 1");
  if (L > INT_MAX) failRange(std::string(fn) + ": L exceeds 2^31 - 1 (cuFFT length limit)");
}

unsigned gridY(int64_t H) { return static_cast<unsigned>(H < kMaxGridY ? H : kMaxGridY); }

// Runs the Cauchy kernel over all nodes of every channel.
template <CauchyMode MODE>
void launchCauchy(const DplrIn& in, const CauchyOut& out, int64_t H, int64_t N2, int64_t L) {
  const int64_t J = L / 2 + 1;
  const int64_t tile = kCauchyThreads * kNodesPerThread;
  dim3 grid(static_cast<unsigned>((J + tile - 1) / tile), gridY(H));
  cauchyKernel<MODE><<<grid, kCauchyThreads, 0, stream()>>>(in, out, static_cast<int>(H), static_cast<int>(N2), L,
                                                            static_cast<int>(J));
  S4_CUDA_CHECK_LAUNCH("cauchyKernel");
}

int smCount() {
  static int count = [] {
    int dev = 0, n = 0;
    if (cudaGetDevice(&dev) != cudaSuccess || cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess)
      n = 100;
    return n;
  }();
  return count;
}

}  // namespace

void dplrKernel(const float* lambda, const float* p, const float* b, const float* cTilde, const float* dt, float* out,
                int64_t H, int64_t N2, int64_t L) {
  if (H <= 0 || L <= 0) return;
  checkDims("dplrKernel", H, N2, L);
  const DplrIn in{lambda, p, b, cTilde, dt};
  if (L == 1) {
    launchCauchy<CauchyMode::Forward>(in, CauchyOut{nullptr, out, nullptr, nullptr, nullptr, nullptr}, H, N2, L);
    return;
  }
  const int64_t J = L / 2 + 1;
  Workspace spec(static_cast<size_t>(H * J) * sizeof(float2));
  launchCauchy<CauchyMode::Forward>(in, CauchyOut{spec.as<float2>(), nullptr, nullptr, nullptr, nullptr, nullptr}, H,
                                    N2, L);
  cufft::c2r(static_cast<int>(L), static_cast<int>(H), spec.as<float2>(), J, out, L);
}

void dplrKernelBackward(const float* lambda, const float* p, const float* b, const float* cTilde, const float* dt,
                        const float* dK, float* gLambda, float* gP, float* gB, float* gCTilde, float* gDt, int64_t H,
                        int64_t N2, int64_t L) {
  if (H <= 0) return;
  checkDims("dplrKernelBackward", H, N2, L);
  const DplrIn in{lambda, p, b, cTilde, dt};
  if (N2 <= 0) {
    S4_CUDA_CHECK(cudaMemsetAsync(gDt, 0, sizeof(float) * H, stream()));
    return;
  }
  const int64_t J = L / 2 + 1;
  Workspace gSpec(L > 1 ? static_cast<size_t>(H * J) * sizeof(float2) : 0);
  Workspace lam(static_cast<size_t>(H * J) * 2 * sizeof(float4));
  Workspace nodes(static_cast<size_t>(J) * sizeof(Node));
  if (L > 1) cufft::r2c(static_cast<int>(L), static_cast<int>(H), dK, L, gSpec.as<float2>(), J);
  launchCauchy<CauchyMode::Adjoint>(
      in, CauchyOut{nullptr, nullptr, gSpec.as<float2>(), dK, lam.as<float4>(), nodes.as<Node>()}, H, N2, L);

  // Split the node range so that about 16 warps per SM are busy, each range >= 256 nodes.
  const int64_t groups = (N2 + kGradGroup - 1) / kGradGroup;
  const int64_t blocksX = (groups + kGradWarps - 1) / kGradWarps;
  const int64_t warps = H * groups;
  int64_t splits = (16LL * smCount() + warps - 1) / warps;
  splits = std::max<int64_t>(1, std::min<int64_t>({splits, (J + 255) / 256, 65535}));
  Workspace part(static_cast<size_t>(H * N2 * splits * kPartial) * sizeof(float));
  dim3 grid(static_cast<unsigned>(blocksX), gridY(H), static_cast<unsigned>(splits));
  dplrPartialKernel<<<grid, kGradWarps * 32, 0, stream()>>>(in, nodes.as<Node>(), lam.as<float4>(), part.as<float>(),
                                                            static_cast<int>(H), static_cast<int>(N2),
                                                            static_cast<int>(J), static_cast<int>(splits));
  S4_CUDA_CHECK_LAUNCH("dplrPartialKernel");
  dplrFinalizeKernel<<<gridY(H), kFinalizeThreads, 0, stream()>>>(in, part.as<float>(), gLambda, gP, gB, gCTilde, gDt,
                                                                  static_cast<int>(H), static_cast<int>(N2),
                                                                  static_cast<int>(splits));
  S4_CUDA_CHECK_LAUNCH("dplrFinalizeKernel");
}

void diagKernel(const float* lambda, const float* b, const float* c, const float* dt, float* out, int64_t H, int64_t N2,
                int64_t L) {
  if (H <= 0 || L <= 0) return;
  checkDims("diagKernel", H, N2, L);
  const int64_t tile = kDiagThreads * kDiagPer;
  dim3 grid(static_cast<unsigned>((L + tile - 1) / tile), gridY(H));
  diagForwardKernel<<<grid, kDiagThreads, 0, stream()>>>(DiagIn{lambda, b, c, dt}, out, static_cast<int>(H),
                                                         static_cast<int>(N2), L);
  S4_CUDA_CHECK_LAUNCH("diagForwardKernel");
}

void diagKernelBackward(const float* lambda, const float* b, const float* c, const float* dt, const float* dK,
                        float* gLambda, float* gB, float* gC, float* gDt, int64_t H, int64_t N2, int64_t L) {
  if (H <= 0) return;
  checkDims("diagKernelBackward", H, N2, L);
  diagBackwardKernel<<<gridY(H), kDiagBwdThreads, 0, stream()>>>(DiagIn{lambda, b, c, dt}, dK, gLambda, gB, gC, gDt,
                                                                 static_cast<int>(H), static_cast<int>(N2), L);
  S4_CUDA_CHECK_LAUNCH("diagBackwardKernel");
}

uint32_t ssmParamCheck(const float* lambda, const float* x1, const float* x2, const float* x3, const float* dt,
                       int64_t H, int64_t N2) {
  if (H <= 0) return 0;
  Workspace flags(sizeof(unsigned));
  S4_CUDA_CHECK(cudaMemsetAsync(flags.as<unsigned>(), 0, sizeof(unsigned), stream()));
  const int64_t n = std::max<int64_t>(H * N2, H);
  const unsigned blocks = static_cast<unsigned>(std::min<int64_t>((n + 255) / 256, 1024));
  paramCheckKernel<<<blocks, 256, 0, stream()>>>(lambda, x1, x2, x3, dt, H, N2, flags.as<unsigned>());
  S4_CUDA_CHECK_LAUNCH("paramCheckKernel");
  unsigned host = 0;
  S4_CUDA_CHECK(cudaMemcpyAsync(&host, flags.as<unsigned>(), sizeof(unsigned), cudaMemcpyDeviceToHost, stream()));
  S4_CUDA_CHECK(cudaStreamSynchronize(stream()));
  return host;
}

}  // namespace s4::cuda
