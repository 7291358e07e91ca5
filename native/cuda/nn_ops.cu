// CUDA twins of the neural-network ops (contract in native/cpu/nn_ops.h).
//
// Row ops (layer norm, softmax cross-entropy, mean pooling) give one warp to a row when it
// is short and one block when it is long; all reductions are trees of fixed shape, so
// results do not change from run to run. Parameter gradients (bias, layer-norm weight)
// are column sums done in two stages (fixed row chunks, then the chunks in order) rather
// than with float atomics. Elementwise kernels use float4 loads when the data allows.
// Bad class labels / embedding indices are flagged on the device (the only atomics here,
// off the data path) and reported as RangeError after the stream has finished the check.
#include <cub/cub.cuh>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <string>

#include "context.h"
#include "kernel_common.cuh"
#include "nn_ops.h"

namespace s4::cuda {
namespace {

constexpr double kInvSqrt2 = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;
constexpr double kSqrt2OverPi = 0.79788456080286535588;
constexpr float kGeluTanhC = 0.044715f;

struct ColumnOf {  // (m[r, c], 0)
  const float* m;
  int64_t ld;
  __device__ float2 operator()(int64_t r, int64_t c) const { return make_float2(m[r * ld + c], 0.f); }
};

struct LayerNormParamGrad {  // (dy * xhat, dy)
  const float *dy, *x, *mean, *rstd;
  int64_t D;
  __device__ float2 operator()(int64_t r, int64_t c) const {
    const float g = dy[r * D + c];
    return make_float2(g * ((x[r * D + c] - mean[r]) * rstd[r]), g);
  }
};

// ---- linear ------------------------------------------------------------------------------------

__global__ void addBiasKernel(float* y, const float* bias, int64_t n, int64_t inner, int64_t count) {
  // y viewed as [*, count, inner]: y[t] += bias[(t / inner) % count].
  S4_GRID_STRIDE(t, n) y[t] += bias[(t / inner) % count];
}

// y [rows, inner], rows = outer x count: y[r, :] += bias[r % count], a block per row. The
// flat form above spends most of its time on the 64-bit t / inner % count of every element
// (181 us for the 128 MB of a block's linear output at B 4, 2H 512, L 16384 on an H200,
// 27% of DRAM bandwidth); here the division is once per row.
__global__ void addBiasChannelRowsKernel(float* __restrict__ y, const float* __restrict__ bias, int64_t rows,
                                         int64_t inner, int64_t count, bool vec) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const float b = bias[r % count];
    float* row = y + r * inner;
    if (vec) {
      float4* row4 = reinterpret_cast<float4*>(row);
      for (int64_t j = threadIdx.x; j < inner / 4; j += blockDim.x) {
        float4 v = row4[j];
        v.x += b; v.y += b; v.z += b; v.w += b;
        row4[j] = v;
      }
    } else {
      for (int64_t j = threadIdx.x; j < inner; j += blockDim.x) row[j] += b;
    }
  }
}

__global__ void addBiasRowsVec4Kernel(float4* y, const float4* bias, int64_t n4, int64_t N4) {
  S4_GRID_STRIDE(q, n4) {
    float4 v = y[q];
    const float4 b = bias[q % N4];
    v.x += b.x; v.y += b.y; v.z += b.z; v.w += b.w;
    y[q] = v;
  }
}

// Sums over (b, l) of channel-major [B, C, L] data, per channel c: block (c, s) sums the
// batches of split s into double partials (rows of L read contiguously, no index division),
// and a second kernel adds the splits in a fixed order, so the result is deterministic.
// One block per channel alone left most of the GPU idle (C = 128 blocks of B * L each).
template <class F>
__global__ void channelPartialsKernel(F f, int64_t B, int64_t C, int64_t L, int64_t perSplit, double* p0,
                                      double* p1) {
  const int64_t c = blockIdx.x, s = blockIdx.y;
  const int64_t b0 = s * perSplit, b1 = b0 + perSplit < B ? b0 + perSplit : B;
  double a0 = 0, a1 = 0;
  for (int64_t b = b0; b < b1; ++b)
    for (int64_t l = threadIdx.x; l < L; l += blockDim.x) f(b, c, l, a0, a1);
  a0 = blockSumDouble(a0);
  a1 = blockSumDouble(a1);
  if (threadIdx.x == 0) {
    p0[c * gridDim.y + s] = a0;
    p1[c * gridDim.y + s] = a1;
  }
}

__global__ void channelFinishKernel(const double* p0, const double* p1, int64_t C, int64_t splits, float* out0,
                                    float* out1) {
  const int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (c >= C) return;
  double a0 = 0, a1 = 0;
  for (int64_t s = 0; s < splits; ++s) {
    a0 += p0[c * splits + s];
    a1 += p1[c * splits + s];
  }
  if (out0) out0[c] = float(a0);
  if (out1) out1[c] = float(a1);
}

template <class F>
void channelSums(F f, int64_t B, int64_t C, int64_t L, float* out0, float* out1) {
  // About 1024 blocks in all, whatever C: enough to fill the GPU, few partials.
  const int64_t splits = std::max<int64_t>(1, std::min<int64_t>({B, (1024 + C - 1) / C, 65535}));
  const int64_t perSplit = (B + splits - 1) / splits;
  Workspace ws(sizeof(double) * size_t(2 * C * splits));
  double* p0 = ws.as<double>();
  double* p1 = p0 + C * splits;
  channelPartialsKernel<<<dim3(unsigned(C), unsigned(splits)), kThreads, 0, stream()>>>(f, B, C, L, perSplit, p0, p1);
  channelFinishKernel<<<gridFor(C), kThreads, 0, stream()>>>(p0, p1, C, splits, out0, out1);
}

// out0 += m[b, c, l] (a channel sum, e.g. the bias gradient).
struct ChannelOf {
  const float* m;
  __device__ void operator()(int64_t b, int64_t c, int64_t l, double& a0, double&) const {
    a0 += m[(b * C_ + c) * L_ + l];
  }
  int64_t C_, L_;
};

// dw (out0) += dy * xhat, db (out1) += dy, xhat from the saved per-(b, l) statistics.
struct ChannelNormParamGrad {
  const float* dy;
  const float* x;
  const float* mean;
  const float* rstd;
  int64_t C_, L_;
  __device__ void operator()(int64_t b, int64_t c, int64_t l, double& a0, double& a1) const {
    const int64_t o = (b * C_ + c) * L_ + l;
    const float g = dy[o];
    a1 += g;
    a0 += double(g) * double((x[o] - mean[b * L_ + l]) * rstd[b * L_ + l]);
  }
};

// ---- layer norm over the last dimension ---------------------------------------------------------

template <int G, bool V>
__global__ void layerNormFwdKernel(const float* __restrict__ x, const float* __restrict__ w,
                                                                const float* __restrict__ b, float* __restrict__ y,
                                                                float* mean, float* rstd, int64_t rows, int D,
                                                                float eps) {
  __shared__ float scratch[kThreads / 32];
  constexpr int kRows = kThreads / G;
  const int lane = threadIdx.x % G;
  const int64_t row = int64_t(blockIdx.x) * kRows + threadIdx.x / G;
  if (row >= rows) return;  // uniform per group (a whole warp, or the whole block)
  const float* xr = x + row * D;
  float s = 0.f;
  visitRow<G, V>(xr, D, lane, [&](int, float v) { s += v; });
  const float mu = groupSum<G>(s, scratch) / float(D);
  float q = 0.f;  // second pass over the (cached) row: no cancellation in the variance
  visitRow<G, V>(xr, D, lane, [&](int, float v) { q += (v - mu) * (v - mu); });
  const float rs = rsqrtf(groupSum<G>(q, scratch) / float(D) + eps);
  if (lane == 0) {
    mean[row] = mu;
    rstd[row] = rs;
  }
  float* yr = y + row * D;
  if (V) {
    const float4* x4 = reinterpret_cast<const float4*>(xr);
    float4* y4 = reinterpret_cast<float4*>(yr);
    for (int qi = lane; qi < D / 4; qi += G) {
      const float4 v = x4[qi];
      const int i = 4 * qi;
      float4 o;
      o.x = (v.x - mu) * rs * (w ? w[i] : 1.f) + (b ? b[i] : 0.f);
      o.y = (v.y - mu) * rs * (w ? w[i + 1] : 1.f) + (b ? b[i + 1] : 0.f);
      o.z = (v.z - mu) * rs * (w ? w[i + 2] : 1.f) + (b ? b[i + 2] : 0.f);
      o.w = (v.w - mu) * rs * (w ? w[i + 3] : 1.f) + (b ? b[i + 3] : 0.f);
      y4[qi] = o;
    }
  } else {
    for (int i = lane; i < D; i += G) yr[i] = (xr[i] - mu) * rs * (w ? w[i] : 1.f) + (b ? b[i] : 0.f);
  }
}

template <int G, bool V>
__global__ void layerNormBwdKernel(const float* __restrict__ dy, const float* __restrict__ x,
                                                                const float* __restrict__ w, const float* mean,
                                                                const float* rstd, float* __restrict__ dx,
                                                                int64_t rows, int D) {
  __shared__ float scratch[kThreads / 32];
  constexpr int kRows = kThreads / G;
  const int lane = threadIdx.x % G;
  const int64_t row = int64_t(blockIdx.x) * kRows + threadIdx.x / G;
  if (row >= rows) return;
  const float* xr = x + row * D;
  const float* gr = dy + row * D;
  const float mu = mean[row], rs = rstd[row];
  float sg = 0.f, sgx = 0.f;
  visitRow<G, V>(xr, D, lane, [&](int i, float v) {
    const float g = gr[i] * (w ? w[i] : 1.f);
    sg += g;
    sgx += g * ((v - mu) * rs);
  });
  const float mg = groupSum<G>(sg, scratch) / float(D);
  const float mgx = groupSum<G>(sgx, scratch) / float(D);
  float* dr = dx + row * D;
  for (int i = lane; i < D; i += G) {
    const float g = gr[i] * (w ? w[i] : 1.f);
    const float xh = (xr[i] - mu) * rs;
    dr[i] = rs * (g - mg - xh * mgx);
  }
}

// ---- layer norm over channels of [B, H, L] -------------------------------------------------------
// Block (32, 8): 32 positions l (coalesced) x 8 lanes over H; grid (L / 32, B).

__device__ __forceinline__ float channelLaneSum(float v, float (*s)[33]) {
  s[threadIdx.y][threadIdx.x] = v;
  __syncthreads();
  float t = 0.f;
#pragma unroll
  for (int k = 0; k < 8; ++k) t += s[k][threadIdx.x];
  __syncthreads();
  return t;
}

__global__ void layerNormChannelsFwdKernel(const float* __restrict__ x, const float* __restrict__ w,
                                           const float* __restrict__ b, float* __restrict__ y, float* mean,
                                           float* rstd, int64_t H, int64_t L, float eps) {
  __shared__ float s[8][33];
  const int64_t l = int64_t(blockIdx.x) * 32 + threadIdx.x;
  const int64_t bi = blockIdx.y;
  const bool live = l < L;
  const float* xb = x + bi * H * L + l;
  float acc = 0.f;
  if (live)
    for (int64_t h = threadIdx.y; h < H; h += 8) acc += xb[h * L];
  const float mu = channelLaneSum(acc, s) / float(H);
  acc = 0.f;
  if (live)
    for (int64_t h = threadIdx.y; h < H; h += 8) {
      const float d = xb[h * L] - mu;
      acc += d * d;
    }
  const float rs = rsqrtf(channelLaneSum(acc, s) / float(H) + eps);
  if (!live) return;
  if (threadIdx.y == 0) {
    mean[bi * L + l] = mu;
    rstd[bi * L + l] = rs;
  }
  float* yb = y + bi * H * L + l;
  for (int64_t h = threadIdx.y; h < H; h += 8) yb[h * L] = (xb[h * L] - mu) * rs * (w ? w[h] : 1.f) + (b ? b[h] : 0.f);
}

__global__ void layerNormChannelsBwdKernel(const float* __restrict__ dy, const float* __restrict__ x,
                                           const float* __restrict__ w, const float* mean, const float* rstd,
                                           float* __restrict__ dx, int64_t H, int64_t L) {
  __shared__ float s[8][33];
  const int64_t l = int64_t(blockIdx.x) * 32 + threadIdx.x;
  const int64_t bi = blockIdx.y;
  const bool live = l < L;
  const int64_t off = bi * H * L + l;
  const float mu = live ? mean[bi * L + l] : 0.f, rs = live ? rstd[bi * L + l] : 0.f;
  float sg = 0.f, sgx = 0.f;
  if (live)
    for (int64_t h = threadIdx.y; h < H; h += 8) {
      const float g = dy[off + h * L] * (w ? w[h] : 1.f);
      sg += g;
      sgx += g * ((x[off + h * L] - mu) * rs);
    }
  const float mg = channelLaneSum(sg, s) / float(H);
  const float mgx = channelLaneSum(sgx, s) / float(H);
  if (!live) return;
  for (int64_t h = threadIdx.y; h < H; h += 8) {
    const float g = dy[off + h * L] * (w ? w[h] : 1.f);
    const float xh = (x[off + h * L] - mu) * rs;
    dx[off + h * L] = rs * (g - mg - xh * mgx);
  }
}

// ---- elementwise -------------------------------------------------------------------------------

// y[i] = op(x[i], i), float4 at a time when `vec` (aligned pointers), scalar tail.
template <class Op>
__global__ void mapKernel(const float* __restrict__ x, float* __restrict__ y, int64_t n, Op op, bool vec) {
  const int64_t nq = (n + 3) / 4;
  S4_GRID_STRIDE(q, nq) {
    const int64_t i = 4 * q;
    if (vec && i + 4 <= n) {
      float4 v = reinterpret_cast<const float4*>(x)[q];
      v.x = op(v.x, i); v.y = op(v.y, i + 1); v.z = op(v.z, i + 2); v.w = op(v.w, i + 3);
      reinterpret_cast<float4*>(y)[q] = v;
    } else {
      for (int64_t k = i; k < min(n, i + 4); ++k) y[k] = op(x[k], k);
    }
  }
}

// dx[i] = op(dy[i], x[i]), float4 at a time when `vec`.
template <class Op>
__global__ void map2Kernel(const float* __restrict__ g, const float* __restrict__ x, float* __restrict__ y, int64_t n,
                           Op op, bool vec) {
  const int64_t nq = (n + 3) / 4;
  S4_GRID_STRIDE(q, nq) {
    const int64_t i = 4 * q;
    if (vec && i + 4 <= n) {
      const float4 a = reinterpret_cast<const float4*>(g)[q];
      const float4 b = reinterpret_cast<const float4*>(x)[q];
      float4 v;
      v.x = op(a.x, b.x); v.y = op(a.y, b.y); v.z = op(a.z, b.z); v.w = op(a.w, b.w);
      reinterpret_cast<float4*>(y)[q] = v;
    } else {
      for (int64_t k = i; k < min(n, i + 4); ++k) y[k] = op(g[k], x[k]);
    }
  }
}

template <class Op>
void launchMap(const float* x, float* y, int64_t n, Op op, const char* name) {
  if (n <= 0) return;
  mapKernel<<<gridFor((n + 3) / 4), kThreads, 0, stream()>>>(x, y, n, op, aligned16(x) && aligned16(y));
  S4_CUDA_CHECK_LAUNCH(name);
}

template <class Op>
void launchMap2(const float* g, const float* x, float* y, int64_t n, Op op, const char* name) {
  if (n <= 0) return;
  map2Kernel<<<gridFor((n + 3) / 4), kThreads, 0, stream()>>>(g, x, y, n, op, aligned16(g) && aligned16(x) && aligned16(y));
  S4_CUDA_CHECK_LAUNCH(name);
}

struct GeluErf {
  __device__ float operator()(float v, int64_t) const { return 0.5f * v * (1.f + erff(v * float(kInvSqrt2))); }
};
struct GeluTanh {
  __device__ float operator()(float v, int64_t) const {
    const float u = float(kSqrt2OverPi) * (v + kGeluTanhC * v * v * v);
    return 0.5f * v * (1.f + tanhf(u));
  }
};
struct GeluErfGrad {
  __device__ float operator()(float g, float v) const {
    const float cdf = 0.5f * (1.f + erff(v * float(kInvSqrt2)));
    const float pdf = float(kInvSqrt2Pi) * expf(-0.5f * v * v);
    return g * (cdf + v * pdf);
  }
};
struct GeluTanhGrad {
  __device__ float operator()(float g, float v) const {
    const float u = float(kSqrt2OverPi) * (v + kGeluTanhC * v * v * v);
    const float t = tanhf(u);
    const float du = float(kSqrt2OverPi) * (1.f + 3.f * kGeluTanhC * v * v);
    return g * (0.5f * (1.f + t) + 0.5f * v * (1.f - t * t) * du);
  }
};
struct Dropout {
  float p, scale;
  uint64_t key;
  __device__ float operator()(float v, int64_t i) const {
    return nn::dropoutUniform(key, uint64_t(i)) >= p ? v * scale : 0.f;
  }
};

// GLU on [outer, 2 * R, ...] rows of R = half * inner: vectorized when R % 4 == 0.
__global__ void gluFwdKernel(const float* __restrict__ x, float* __restrict__ y, int64_t outer, int64_t R, bool vec) {
  if (vec) {
    const int64_t R4 = R / 4;
    S4_GRID_STRIDE(q, outer * R4) {
      const int64_t o = q / R4, j = q % R4;
      const float4 a = reinterpret_cast<const float4*>(x + o * 2 * R)[j];
      const float4 g = reinterpret_cast<const float4*>(x + o * 2 * R + R)[j];
      float4 v;
      v.x = a.x / (1.f + expf(-g.x)); v.y = a.y / (1.f + expf(-g.y));
      v.z = a.z / (1.f + expf(-g.z)); v.w = a.w / (1.f + expf(-g.w));
      reinterpret_cast<float4*>(y)[q] = v;
    }
  } else {
    S4_GRID_STRIDE(t, outer * R) {
      const int64_t o = t / R, j = t % R;
      y[t] = x[o * 2 * R + j] / (1.f + expf(-x[o * 2 * R + R + j]));
    }
  }
}

__device__ __forceinline__ void gluBwdOne(float a, float g, float d, float& da, float& dg) {
  const float s = 1.f / (1.f + expf(-g));
  da = d * s;
  dg = d * a * s * (1.f - s);
}

// Four neighbours per thread (R % 4 == 0, aligned): one index division per four elements,
// 16-byte loads and stores.
__global__ void gluBwdVec4Kernel(const float4* __restrict__ dy, const float4* __restrict__ x, float4* __restrict__ dx,
                                 int64_t outer, int64_t R4) {
  S4_GRID_STRIDE(q, outer * R4) {
    const int64_t o = q / R4, j = q % R4;
    const float4 a = x[o * 2 * R4 + j], g = x[o * 2 * R4 + R4 + j], d = dy[q];
    float4 da, dg;
    gluBwdOne(a.x, g.x, d.x, da.x, dg.x);
    gluBwdOne(a.y, g.y, d.y, da.y, dg.y);
    gluBwdOne(a.z, g.z, d.z, da.z, dg.z);
    gluBwdOne(a.w, g.w, d.w, da.w, dg.w);
    dx[o * 2 * R4 + j] = da;
    dx[o * 2 * R4 + R4 + j] = dg;
  }
}

__global__ void gluBwdKernel(const float* __restrict__ dy, const float* __restrict__ x, float* __restrict__ dx,
                             int64_t outer, int64_t R) {
  S4_GRID_STRIDE(t, outer * R) {
    const int64_t o = t / R, j = t % R;
    gluBwdOne(x[o * 2 * R + j], x[o * 2 * R + R + j], dy[t], dx[o * 2 * R + j], dx[o * 2 * R + R + j]);
  }
}

// ---- pooling, losses, embedding ----------------------------------------------------------------

template <int G>
__global__ void meanPoolKernel(const float* __restrict__ x, float* __restrict__ y,
                                                            int64_t rows, int L) {
  __shared__ float scratch[kThreads / 32];
  constexpr int kRows = kThreads / G;
  const int lane = threadIdx.x % G;
  const int64_t row = int64_t(blockIdx.x) * kRows + threadIdx.x / G;
  if (row >= rows) return;
  float s = 0.f;
  visitRow<G, false>(x + row * L, L, lane, [&](int, float v) { s += v; });
  s = groupSum<G>(s, scratch);
  if (lane == 0) y[row] = s / float(L);
}

__global__ void meanPoolBwdKernel(const float* dy, float* dx, int64_t n, int64_t L, float inv) {
  S4_GRID_STRIDE(t, n) dx[t] = dy[t / L] * inv;
}

__global__ void lastPoolFwdKernel(const float* x, float* y, int64_t rows, int64_t L) {
  S4_GRID_STRIDE(r, rows) y[r] = x[r * L + L - 1];
}

__global__ void lastPoolBwdKernel(const float* dy, float* dx, int64_t n, int64_t L) {
  S4_GRID_STRIDE(t, n) dx[t] = t % L == L - 1 ? dy[t / L] : 0.f;
}

// ---- predictions: argmax over channels ---------------------------------------------------------
// The rule of the CPU twin (native/cpu/nn_ops.h): the first index of the maximum, -1 when
// the column holds a NaN. Both are exact, so the backends give identical indices.

// One thread per column (b, l): consecutive threads take consecutive l, so every step of
// the loop over c reads a contiguous run of x (coalesced once L >= 32).
__global__ void argmaxColumnKernel(const float* __restrict__ x, float* __restrict__ out, int64_t n, int64_t C,
                                   int64_t L) {
  S4_GRID_STRIDE(i, n) {
    const int64_t b = i / L, l = i - b * L;
    const float* p = x + b * C * L + l;
    float bestV = -INFINITY;
    int64_t best = 0;
    bool nan = false;
#pragma unroll 4
    for (int64_t c = 0; c < C; ++c) {
      const float v = p[c * L];
      nan |= isnan(v);
      if (v > bestV) {  // strict: an equal value later never replaces the first
        bestV = v;
        best = c;
      }
    }
    out[i] = nan ? -1.f : float(best);
  }
}

// One warp per column, for short L with many channels (classification logits are L = 1),
// where a thread per column would leave most of the GPU idle and read x with stride C.
// Each lane keeps the first maximum of its channels c = lane, lane + 32, ...; the merge
// keeps the larger value, or between equal values the smaller index, which is again the
// first maximum of the whole column.
__global__ void argmaxWarpKernel(const float* __restrict__ x, float* __restrict__ out, int64_t n, int64_t C,
                                 int64_t L) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = int64_t(gridDim.x) * (blockDim.x >> 5);
  // i is the same for the 32 lanes of a warp, so the shuffles below see full warps.
  for (int64_t i = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) >> 5; i < n; i += warps) {
    const int64_t b = i / L, l = i - b * L;
    const float* p = x + b * C * L + l;
    float bestV = -INFINITY;
    int best = -1;  // -1: no channel seen yet (C <= 2^24, see the binding)
    bool nan = false;
    for (int c = lane; c < C; c += 32) {
      const float v = p[int64_t(c) * L];
      nan |= isnan(v);
      if (best < 0 || v > bestV) {
        bestV = v;
        best = c;
      }
    }
    if (best < 0) best = INT_MAX;  // a lane without channels loses every tie below
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
      const float ov = __shfl_xor_sync(0xffffffffu, bestV, o);
      const int oi = __shfl_xor_sync(0xffffffffu, best, o);
      if (ov > bestV || (ov == bestV && oi < best)) {
        bestV = ov;
        best = oi;
      }
    }
    nan = __any_sync(0xffffffffu, nan);
    if (lane == 0) out[i] = nan ? -1.f : float(best);
  }
}

// Softmax cross-entropy, one group per row: probabilities and the row's loss (double).
template <int G>
__global__ void crossEntropyRowKernel(const float* __restrict__ logits,
                                                                   const float* __restrict__ labels,
                                                                   float* __restrict__ probs, double* rowLoss,
                                                                   unsigned long long* bad, int64_t M, int C) {
  __shared__ float scratch[kThreads / 32];
  constexpr int kRows = kThreads / G;
  const int lane = threadIdx.x % G;
  const int64_t row = int64_t(blockIdx.x) * kRows + threadIdx.x / G;
  if (row >= M) return;
  const float* z = logits + row * C;
  float mx = -INFINITY;
  for (int c = lane; c < C; c += G) mx = fmaxf(mx, z[c]);
  mx = groupMax<G>(mx, scratch);
  float s = 0.f;
  for (int c = lane; c < C; c += G) s += expf(z[c] - mx);
  s = groupSum<G>(s, scratch);
  const float inv = 1.f / s;
  float* pr = probs + row * C;
  for (int c = lane; c < C; c += G) pr[c] = expf(z[c] - mx) * inv;
  if (lane == 0) {
    const float lf = labels[row];
    if (!isIndex(lf, C)) {
      atomicMin(bad, (unsigned long long)row);
      rowLoss[row] = 0.0;
    } else {
      rowLoss[row] = log(double(s)) + double(mx) - double(z[int64_t(lf)]);
    }
  }
}

// out[0] = scale * sum of v[0..n) (double), one block of kThreads, fixed order.
__global__ void sumDoublesKernel(const double* v, int64_t n, double scale, float* out) {
  double s = 0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += v[i];
  s = blockSumDouble(s);
  if (threadIdx.x == 0) out[0] = float(s * scale);
}

__global__ void crossEntropyBwdKernel(const float* __restrict__ probs, const float* __restrict__ labels,
                                      const float* gradLoss, float* __restrict__ dl, int64_t M, int64_t C) {
  const float scale = float(double(gradLoss[0]) / double(M));
  S4_GRID_STRIDE(t, M * C) {
    const int64_t r = t / C, c = t % C;
    const float lf = labels[r];
    const int64_t lab = isIndex(lf, C) ? int64_t(lf) : -1;
    dl[t] = scale * (probs[t] - (c == lab ? 1.f : 0.f));
  }
}

// Squared differences summed per block (double), then sumDoublesKernel.
__global__ void msePartialKernel(const float* a, const float* b, int64_t n, double* partial) {
  double s = 0;
  S4_GRID_STRIDE(i, n) {
    const double d = double(a[i]) - double(b[i]);
    s += d * d;
  }
  s = blockSumDouble(s);
  if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

__global__ void mseBwdKernel(const float* a, const float* b, const float* gradLoss, float* da, float* db, int64_t n) {
  const float scale = float(2.0 * double(gradLoss[0]) / double(n));
  S4_GRID_STRIDE(i, n) {
    const float d = scale * (a[i] - b[i]);
    if (da) da[i] = d;
    if (db) db[i] = -d;
  }
}

// out [M, D] = table rows; a bad index flags its position and writes zeros.
__global__ void embeddingFwdKernel(const float* __restrict__ idx, const float* __restrict__ table,
                                   float* __restrict__ out, unsigned long long* bad, int64_t M, int64_t V, int64_t D,
                                   bool vec) {
  const int64_t per = vec ? D / 4 : D;
  S4_GRID_STRIDE(t, M * per) {
    const int64_t m = t / per, j = t % per;
    const float f = idx[m];
    const bool ok = isIndex(f, V);
    if (!ok && j == 0) atomicMin(bad, (unsigned long long)m);
    const int64_t v = ok ? int64_t(f) : 0;
    if (vec) {
      const float4 z = make_float4(0.f, 0.f, 0.f, 0.f);
      reinterpret_cast<float4*>(out + m * D)[j] = ok ? reinterpret_cast<const float4*>(table + v * D)[j] : z;
    } else {
      out[t] = ok ? table[v * D + j] : 0.f;
    }
  }
}

__global__ void embeddingKeysKernel(const float* idx, int* keys, int* positions, unsigned long long* bad, int64_t M,
                                    int64_t V) {
  S4_GRID_STRIDE(m, M) {
    const float f = idx[m];
    const bool ok = isIndex(f, V);
    if (!ok) atomicMin(bad, (unsigned long long)m);
    keys[m] = ok ? int(f) : 0;
    positions[m] = int(m);
  }
}

__device__ __forceinline__ int64_t lowerBound(const int* keys, int64_t n, int v) {
  int64_t lo = 0, hi = n;
  while (lo < hi) {
    const int64_t mid = (lo + hi) >> 1;
    if (keys[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// dtable[v, d] = sum of dy[m, d] over the positions m with index v, in increasing m (the
// keys were sorted stably, so each row's positions are contiguous and in order).
__global__ void embeddingBwdKernel(const int* sortedKeys, const int* sortedPos, const float* __restrict__ dy,
                                   float* __restrict__ dtable, int64_t M, int64_t V, int64_t D) {
  S4_GRID_STRIDE(t, V * D) {
    const int64_t v = t / D, d = t % D;
    const int64_t k0 = lowerBound(sortedKeys, M, int(v)), k1 = lowerBound(sortedKeys, M, int(v) + 1);
    float s = 0.f;
    for (int64_t k = k0; k < k1; ++k) s += dy[int64_t(sortedPos[k]) * D + d];
    dtable[t] = s;
  }
}

// ---- optimizer ---------------------------------------------------------------------------------

__global__ void adamwKernel(float* __restrict__ p, const float* __restrict__ g, float* __restrict__ m,
                            float* __restrict__ v, int64_t n, nn::AdamWConstants c, bool vec) {
  const int64_t nq = (n + 3) / 4;
  S4_GRID_STRIDE(q, nq) {
    const int64_t i = 4 * q;
    if (vec && i + 4 <= n) {
      float4 pp = reinterpret_cast<float4*>(p)[q];
      const float4 gg = reinterpret_cast<const float4*>(g)[q];
      float4 mm = reinterpret_cast<float4*>(m)[q];
      float4 vv = reinterpret_cast<float4*>(v)[q];
      nn::adamwElement(pp.x, gg.x, mm.x, vv.x, c);
      nn::adamwElement(pp.y, gg.y, mm.y, vv.y, c);
      nn::adamwElement(pp.z, gg.z, mm.z, vv.z, c);
      nn::adamwElement(pp.w, gg.w, mm.w, vv.w, c);
      reinterpret_cast<float4*>(p)[q] = pp;
      reinterpret_cast<float4*>(m)[q] = mm;
      reinterpret_cast<float4*>(v)[q] = vv;
    } else {
      for (int64_t k = i; k < min(n, i + 4); ++k) nn::adamwElement(p[k], g[k], m[k], v[k], c);
    }
  }
}

// ---- layout ------------------------------------------------------------------------------------

// 32 x 32 tiles through shared memory (padded against bank conflicts); block (32, 8).
__global__ void transposeKernel(const float* __restrict__ x, float* __restrict__ y, int64_t M, int64_t N,
                                int64_t batchBase) {
  __shared__ float tile[32][33];
  const int64_t b = batchBase + blockIdx.z;
  const float* xb = x + b * M * N;
  float* yb = y + b * M * N;
  const int64_t i0 = int64_t(blockIdx.y) * 32, j0 = int64_t(blockIdx.x) * 32;
  for (int k = threadIdx.y; k < 32; k += 8) {
    const int64_t i = i0 + k, j = j0 + threadIdx.x;
    if (i < M && j < N) tile[k][threadIdx.x] = xb[i * N + j];
  }
  __syncthreads();
  for (int k = threadIdx.y; k < 32; k += 8) {
    const int64_t j = j0 + k, i = i0 + threadIdx.x;
    if (i < M && j < N) yb[j * M + i] = tile[threadIdx.x][k];
  }
}

__global__ void flipKernel(const float* __restrict__ x, float* __restrict__ y, int64_t n, int64_t L) {
  S4_GRID_STRIDE(t, n) {
    const int64_t l = t % L;
    y[t] = x[t - l + (L - 1 - l)];
  }
}

}  // namespace

// ================================ launch functions ================================================

void linearForward(const float* x, const float* w, const float* bias, float* y, int64_t M, int64_t K, int64_t N) {
  cpu::GemmArgs g;
  g.M = M; g.N = N; g.K = K;
  g.A = x; g.lda = K;
  g.B = w; g.ldb = K; g.transB = true;
  g.C = y; g.ldc = N;
  s4::cuda::gemm(g);
  if (!bias) return;
  if (N % 4 == 0 && aligned16(y) && aligned16(bias)) {
    const int64_t n4 = M * N / 4;
    addBiasRowsVec4Kernel<<<gridFor(n4), kThreads, 0, stream()>>>(reinterpret_cast<float4*>(y),
                                                                   reinterpret_cast<const float4*>(bias), n4, N / 4);
  } else {
    addBiasKernel<<<gridFor(M * N), kThreads, 0, stream()>>>(y, bias, M * N, 1, N);
  }
  S4_CUDA_CHECK_LAUNCH("linearForward");
}

void linearBackward(const float* dy, const float* x, const float* w, float* dx, float* dw, float* db, int64_t M,
                    int64_t K, int64_t N) {
  if (dx) {  // dx[M, K] = dy[M, N] W[N, K]
    cpu::GemmArgs g;
    g.M = M; g.N = K; g.K = N;
    g.A = dy; g.lda = N;
    g.B = w; g.ldb = K;
    g.C = dx; g.ldc = K;
    s4::cuda::gemm(g);
  }
  if (dw) {  // dW[N, K] = dy^T[N, M] x[M, K]
    cpu::GemmArgs g;
    g.M = N; g.N = K; g.K = M;
    g.A = dy; g.lda = N; g.transA = true;
    g.B = x; g.ldb = K;
    g.C = dw; g.ldc = K;
    s4::cuda::gemm(g);
  }
  if (db) columnSums(ColumnOf{dy, N}, M, N, db, nullptr);
}

void linearChannelsForward(const float* x, const float* w, const float* bias, float* y, int64_t B, int64_t H,
                           int64_t L, int64_t O) {
  cpu::GemmArgs g;  // y_b[O, L] = W[O, H] x_b[H, L]
  g.M = O; g.N = L; g.K = H; g.batch = B;
  g.A = w; g.lda = H; g.strideA = 0;
  g.B = x; g.ldb = L; g.strideB = H * L;
  g.C = y; g.ldc = L; g.strideC = O * L;
  s4::cuda::gemm(g);
  if (!bias) return;
  if (L >= 32) {
    const bool vec = L % 4 == 0 && aligned16(y);
    const unsigned grid = unsigned(std::min<int64_t>(B * O, int64_t(1) << 20));
    addBiasChannelRowsKernel<<<grid, kThreads, 0, stream()>>>(y, bias, B * O, L, O, vec);
  } else {
    addBiasKernel<<<gridFor(B * O * L), kThreads, 0, stream()>>>(y, bias, B * O * L, L, O);
  }
  S4_CUDA_CHECK_LAUNCH("linearChannelsForward");
}

void linearChannelsBackward(const float* dy, const float* x, const float* w, float* dx, float* dw, float* db,
                            int64_t B, int64_t H, int64_t L, int64_t O) {
  if (dx) {  // dx_b[H, L] = W^T[H, O] dy_b[O, L]
    cpu::GemmArgs g;
    g.M = H; g.N = L; g.K = O; g.batch = B;
    g.A = w; g.lda = H; g.strideA = 0; g.transA = true;
    g.B = dy; g.ldb = L; g.strideB = O * L;
    g.C = dx; g.ldc = L; g.strideC = H * L;
    s4::cuda::gemm(g);
  }
  if (dw) {  // dW[O, H] = sum_b dy_b[O, L] x_b^T[L, H]
    cpu::GemmArgs g;
    g.M = O; g.N = H; g.K = L; g.batch = B; g.reduceBatch = true;
    g.A = dy; g.lda = L; g.strideA = O * L;
    g.B = x; g.ldb = L; g.strideB = H * L; g.transB = true;
    g.C = dw; g.ldc = H;
    s4::cuda::gemm(g);
  }
  if (db) {
    channelSums(ChannelOf{dy, O, L}, B, O, L, db, nullptr);
    S4_CUDA_CHECK_LAUNCH("linearChannelsBackward");
  }
}

void layerNormForward(const float* x, const float* w, const float* b, float* y, float* mean, float* rstd,
                      int64_t rows, int64_t D, float eps) {
  const bool vec = D % 4 == 0 && aligned16(x) && aligned16(y);
  byRowLength(D, [&](auto gc) {
    constexpr int G = decltype(gc)::value;
    const unsigned grid = unsigned((rows + kThreads / G - 1) / (kThreads / G));
    if (vec) layerNormFwdKernel<G, true><<<grid, kThreads, 0, stream()>>>(x, w, b, y, mean, rstd, rows, int(D), eps);
    else layerNormFwdKernel<G, false><<<grid, kThreads, 0, stream()>>>(x, w, b, y, mean, rstd, rows, int(D), eps);
  });
  S4_CUDA_CHECK_LAUNCH("layerNormForward");
}

void layerNormBackward(const float* dy, const float* x, const float* w, const float* mean, const float* rstd,
                       float* dx, float* dw, float* db, int64_t rows, int64_t D) {
  if (dx) {
    const bool vec = D % 4 == 0 && aligned16(x);
    byRowLength(D, [&](auto gc) {
      constexpr int G = decltype(gc)::value;
      const unsigned grid = unsigned((rows + kThreads / G - 1) / (kThreads / G));
      if (vec) layerNormBwdKernel<G, true><<<grid, kThreads, 0, stream()>>>(dy, x, w, mean, rstd, dx, rows, int(D));
      else layerNormBwdKernel<G, false><<<grid, kThreads, 0, stream()>>>(dy, x, w, mean, rstd, dx, rows, int(D));
    });
    S4_CUDA_CHECK_LAUNCH("layerNormBackward");
  }
  if (dw || db) {
    const LayerNormParamGrad f{dy, x, mean, rstd, D};
    if (dw) columnSums(f, rows, D, dw, db);
    else columnSums(ColumnOf{dy, D}, rows, D, db, nullptr);
  }
}

void layerNormChannelsForward(const float* x, const float* w, const float* b, float* y, float* mean, float* rstd,
                              int64_t B, int64_t H, int64_t L, float eps) {
  if (B > 65535) throw s4::Error("layerNormChannels: B must be at most 65535 on the GPU", ErrorKind::Range);
  const dim3 grid(unsigned((L + 31) / 32), unsigned(B));
  layerNormChannelsFwdKernel<<<grid, dim3(32, 8), 0, stream()>>>(x, w, b, y, mean, rstd, H, L, eps);
  S4_CUDA_CHECK_LAUNCH("layerNormChannelsForward");
}

void layerNormChannelsBackward(const float* dy, const float* x, const float* w, const float* mean, const float* rstd,
                               float* dx, float* dw, float* db, int64_t B, int64_t H, int64_t L) {
  if (B > 65535) throw s4::Error("layerNormChannels: B must be at most 65535 on the GPU", ErrorKind::Range);
  if (dx) {
    const dim3 grid(unsigned((L + 31) / 32), unsigned(B));
    layerNormChannelsBwdKernel<<<grid, dim3(32, 8), 0, stream()>>>(dy, x, w, mean, rstd, dx, H, L);
    S4_CUDA_CHECK_LAUNCH("layerNormChannelsBackward");
  }
  if (dw || db) {
    channelSums(ChannelNormParamGrad{dy, x, mean, rstd, H, L}, B, H, L, dw, db);
    S4_CUDA_CHECK_LAUNCH("layerNormChannelsBackward");
  }
}

void geluForward(const float* x, float* y, int64_t n, bool approximateTanh) {
  if (approximateTanh) launchMap(x, y, n, GeluTanh{}, "geluForward");
  else launchMap(x, y, n, GeluErf{}, "geluForward");
}

void geluBackward(const float* dy, const float* x, float* dx, int64_t n, bool approximateTanh) {
  if (approximateTanh) launchMap2(dy, x, dx, n, GeluTanhGrad{}, "geluBackward");
  else launchMap2(dy, x, dx, n, GeluErfGrad{}, "geluBackward");
}

void gluForward(const float* x, float* y, int64_t outer, int64_t half, int64_t inner) {
  const int64_t R = half * inner;
  const bool vec = R % 4 == 0 && aligned16(x) && aligned16(y);
  gluFwdKernel<<<gridFor(vec ? outer * R / 4 : outer * R), kThreads, 0, stream()>>>(x, y, outer, R, vec);
  S4_CUDA_CHECK_LAUNCH("gluForward");
}

void gluBackward(const float* dy, const float* x, float* dx, int64_t outer, int64_t half, int64_t inner) {
  const int64_t R = half * inner;
  if (R % 4 == 0 && aligned16(dy) && aligned16(x) && aligned16(dx)) {
    gluBwdVec4Kernel<<<gridFor(outer * R / 4), kThreads, 0, stream()>>>(reinterpret_cast<const float4*>(dy),
                                                                       reinterpret_cast<const float4*>(x),
                                                                       reinterpret_cast<float4*>(dx), outer, R / 4);
  } else {
    gluBwdKernel<<<gridFor(outer * R), kThreads, 0, stream()>>>(dy, x, dx, outer, R);
  }
  S4_CUDA_CHECK_LAUNCH("gluBackward");
}

void dropoutApply(const float* x, float* y, int64_t n, float p, float scale, uint64_t key) {
  launchMap(x, y, n, Dropout{p, scale, key}, "dropout");
}

void meanPoolForward(const float* x, float* y, int64_t B, int64_t H, int64_t L) {
  const int64_t rows = B * H;
  byRowLength(L, [&](auto gc) {
    constexpr int G = decltype(gc)::value;
    const unsigned grid = unsigned((rows + kThreads / G - 1) / (kThreads / G));
    meanPoolKernel<G><<<grid, kThreads, 0, stream()>>>(x, y, rows, int(L));
  });
  S4_CUDA_CHECK_LAUNCH("meanPoolForward");
}

void meanPoolBackward(const float* dy, float* dx, int64_t B, int64_t H, int64_t L) {
  meanPoolBwdKernel<<<gridFor(B * H * L), kThreads, 0, stream()>>>(dy, dx, B * H * L, L, float(1.0 / double(L)));
  S4_CUDA_CHECK_LAUNCH("meanPoolBackward");
}

void crossEntropyForward(const float* logits, const float* labels, float* loss, float* probs, int64_t M, int64_t C) {
  BadFlag bad;
  Workspace rowLoss(sizeof(double) * size_t(M));
  byRowLength(C, [&](auto gc) {
    constexpr int G = decltype(gc)::value;
    const unsigned grid = unsigned((M + kThreads / G - 1) / (kThreads / G));
    crossEntropyRowKernel<G><<<grid, kThreads, 0, stream()>>>(logits, labels, probs, rowLoss.as<double>(),
                                                              bad.device(), M, int(C));
  });
  S4_CUDA_CHECK_LAUNCH("crossEntropy");
  sumDoublesKernel<<<1, kThreads, 0, stream()>>>(rowLoss.as<double>(), M, 1.0 / double(M), loss);
  S4_CUDA_CHECK_LAUNCH("crossEntropy");
  const int64_t r = bad.first();
  if (r >= 0)
    failRange("crossEntropy: argument 'labels' must hold integer class indices in [0, " + std::to_string(C) +
              ") (got " + numberText(readDeviceFloat(labels + r)) + " at row " + std::to_string(r) + ")");
}

void crossEntropyBackward(const float* probs, const float* labels, const float* gradLoss, float* dlogits, int64_t M,
                          int64_t C) {
  crossEntropyBwdKernel<<<gridFor(M * C), kThreads, 0, stream()>>>(probs, labels, gradLoss, dlogits, M, C);
  S4_CUDA_CHECK_LAUNCH("crossEntropyBackward");
}

void mseForward(const float* a, const float* b, float* loss, int64_t n) {
  const int blocks = int(std::min<int64_t>(1024, (n + kThreads - 1) / kThreads));
  Workspace partial(sizeof(double) * size_t(blocks));
  msePartialKernel<<<blocks, kThreads, 0, stream()>>>(a, b, n, partial.as<double>());
  S4_CUDA_CHECK_LAUNCH("mse");
  sumDoublesKernel<<<1, kThreads, 0, stream()>>>(partial.as<double>(), blocks, 1.0 / double(n), loss);
  S4_CUDA_CHECK_LAUNCH("mse");
}

void mseBackward(const float* a, const float* b, const float* gradLoss, float* da, float* db, int64_t n) {
  mseBwdKernel<<<gridFor(n), kThreads, 0, stream()>>>(a, b, gradLoss, da, db, n);
  S4_CUDA_CHECK_LAUNCH("mseBackward");
}

void embeddingForward(const float* idx, const float* table, float* out, int64_t M, int64_t V, int64_t D) {
  BadFlag bad;
  const bool vec = D % 4 == 0 && aligned16(table) && aligned16(out);
  embeddingFwdKernel<<<gridFor(vec ? M * D / 4 : M * D), kThreads, 0, stream()>>>(idx, table, out, bad.device(), M,
                                                                                    V, D, vec);
  S4_CUDA_CHECK_LAUNCH("embedding");
  const int64_t m = bad.first();
  if (m >= 0)
    failRange("embedding: argument 'indices' must hold integer row indices in [0, " + std::to_string(V) + ") (got " +
              numberText(readDeviceFloat(idx + m)) + " at position " + std::to_string(m) + ")");
}

void embeddingBackward(const float* idx, const float* dy, float* dtable, int64_t M, int64_t V, int64_t D) {
  if (M > INT_MAX || V > INT_MAX) throw s4::Error("embedding: too many indices for the GPU sort", ErrorKind::Range);
  BadFlag bad;
  Workspace keys(sizeof(int) * size_t(4 * M));
  int* keysIn = keys.as<int>();
  int* posIn = keysIn + M;
  int* keysOut = posIn + M;
  int* posOut = keysOut + M;
  embeddingKeysKernel<<<gridFor(M), kThreads, 0, stream()>>>(idx, keysIn, posIn, bad.device(), M, V);
  S4_CUDA_CHECK_LAUNCH("embeddingBackward");
  const int64_t m = bad.first();
  if (m >= 0)
    failRange("embedding: argument 'indices' must hold integer row indices in [0, " + std::to_string(V) + ") (got " +
              numberText(readDeviceFloat(idx + m)) + " at position " + std::to_string(m) + ")");
  int endBit = 1;
  while (endBit < 31 && (int64_t(1) << endBit) < V) ++endBit;
  // A stable radix sort of (index, position): each table row's positions end up
  // contiguous and in increasing order, so the sums below have a fixed order.
  size_t tempBytes = 0;
  S4_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, tempBytes, keysIn, keysOut, posIn, posOut, int(M), 0, endBit,
                                                stream()));
  Workspace temp(std::max<size_t>(tempBytes, 1));
  S4_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(temp.as<void>(), tempBytes, keysIn, keysOut, posIn, posOut, int(M), 0,
                                                endBit, stream()));
  embeddingBwdKernel<<<gridFor(V * D), kThreads, 0, stream()>>>(keysOut, posOut, dy, dtable, M, V, D);
  S4_CUDA_CHECK_LAUNCH("embeddingBackward");
}

void adamwUpdate(float* param, const float* grad, float* m, float* v, int64_t n, const nn::AdamWConstants& c) {
  if (n <= 0) return;
  const bool vec = aligned16(param) && aligned16(grad) && aligned16(m) && aligned16(v);
  adamwKernel<<<gridFor((n + 3) / 4), kThreads, 0, stream()>>>(param, grad, m, v, n, c, vec);
  S4_CUDA_CHECK_LAUNCH("adamwUpdate");
}

void lastPoolForward(const float* x, float* y, int64_t rows, int64_t L) {
  lastPoolFwdKernel<<<gridFor(rows), kThreads, 0, stream()>>>(x, y, rows, L);
  S4_CUDA_CHECK_LAUNCH("lastPoolForward");
}

void lastPoolBackward(const float* dy, float* dx, int64_t rows, int64_t L) {
  lastPoolBwdKernel<<<gridFor(rows * L), kThreads, 0, stream()>>>(dy, dx, rows * L, L);
  S4_CUDA_CHECK_LAUNCH("lastPoolBackward");
}

void argmaxChannels(const float* x, float* out, int64_t B, int64_t C, int64_t L) {
  const int64_t n = B * L;
  if (L < 32 && C >= 64) {
    argmaxWarpKernel<<<gridFor(n * 32), kThreads, 0, stream()>>>(x, out, n, C, L);
  } else {
    argmaxColumnKernel<<<gridFor(n), kThreads, 0, stream()>>>(x, out, n, C, L);
  }
  S4_CUDA_CHECK_LAUNCH("argmaxChannels");
}

void transpose12(const float* x, float* y, int64_t B, int64_t M, int64_t N) {
  const int64_t gx = (N + 31) / 32, gy = (M + 31) / 32;
  if (gx > INT_MAX || gy > 65535) throw s4::Error("transpose12: matrix too large for the GPU kernel", ErrorKind::Range);
  for (int64_t b0 = 0; b0 < B; b0 += 65535) {
    const dim3 grid(unsigned(gx), unsigned(gy), unsigned(std::min<int64_t>(65535, B - b0)));
    transposeKernel<<<grid, dim3(32, 8), 0, stream()>>>(x, y, M, N, b0);
    S4_CUDA_CHECK_LAUNCH("transpose12");
  }
}

void flipLast(const float* x, float* y, int64_t rows, int64_t L) {
  flipKernel<<<gridFor(rows * L), kThreads, 0, stream()>>>(x, y, rows * L, L);
  S4_CUDA_CHECK_LAUNCH("flipLast");
}

}  // namespace s4::cuda
