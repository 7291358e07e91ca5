// CUDA twins of the layer norms and of the fused residual tail (spec: native/binding/norm.cpp).
//
// Layer norm over the last dimension gives one warp to a row when it is short and one block
// when it is long; over the channels of [B, H, L] a block of 32 positions (coalesced) x 8
// channel lanes. All reductions are trees of fixed shape, so results do not change from run
// to run. Parameter gradients are column or channel sums in two fixed-order stages
// (kernel_common.cuh) rather than float atomics.
//
// residualNorm recomputes r = x + dropout(GLU(z + zBias)) from z, zBias and x wherever it
// needs it (the dropout mask is a pure function of the element index), so neither r nor the
// mask is ever stored: the forward reads z and x once and writes out (r stays in registers
// for H <= 1024), the backward reads them again and gives dz, dx and the per-block partials
// of dw, db in one pass. The bias costs a load of zBias[h] and zBias[H + h] next to the two
// z loads of channel h (the 32 positions of a tile warp read one address: a broadcast, and
// every column reads the same [2H] from cache). Short L (a generation step has L = 1) takes
// the row layout of layerNorm: one group (a block, or a warp when there are many columns)
// per column (b, l), so a token of any batch is one launch (4.1 us at B 1, H 256 on an
// H100, measured without zBias); long L takes the layerNormChannels tile, coalesced over l.
#include <algorithm>
#include <cstdint>

#include "../common/dropout_mask.h"
#include "../common/gelu.h"
#include "kernel_common.cuh"

namespace s4::cuda {
namespace {

struct LayerNormParamGrad {  // (dy * xhat, dy)
  const float *dy, *x, *mean, *rstd;
  int64_t D;
  __device__ float2 operator()(int64_t r, int64_t c) const {
    const float g = dy[r * D + c];
    return make_float2(g * ((x[r * D + c] - mean[r]) * rstd[r]), g);
  }
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
  const int lane = threadIdx.x % G;
  const int64_t row = groupRow<G>();
  if (row >= rows) return;  // uniform per group (a whole warp, or the whole block)
  const float* xr = x + row * D;
  float s = 0.f;
  visitRow<G, V>(xr, D, lane, [&](int, float v) { s += v; });
  const float mu = groupSum<G>(s, scratch) / float(D);
  float q = 0.f;  // second pass over the (cached) row: no cancellation in the variance
  visitRow<G, V>(xr, D, lane, [&](int, float v) { q += (v - mu) * (v - mu); });
  const float rs = rsqrtf(groupSum<G>(q, scratch) / float(D) + eps);
  if (lane == 0) {
    if (mean) mean[row] = mu;
    if (rstd) rstd[row] = rs;
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
  const int lane = threadIdx.x % G;
  const int64_t row = groupRow<G>();
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

// The position l of a thread of a (32, Y) tile block: 32 consecutive positions per block.
__device__ __forceinline__ int64_t tilePosition() { return int64_t(blockIdx.x) * 32 + threadIdx.x; }

// Sum over the Y channel lanes of a (32, Y) block; every thread gets its position's sum.
// The scratch is one shared array per kernel, reused by every call.
template <int Y>
__device__ __forceinline__ float tileLaneSum(float v) {
  __shared__ float s[Y][33];
  s[threadIdx.y][threadIdx.x] = v;
  __syncthreads();
  float t = 0.f;
#pragma unroll
  for (int k = 0; k < Y; ++k) t += s[k][threadIdx.x];
  __syncthreads();
  return t;
}

__global__ void layerNormChannelsFwdKernel(const float* __restrict__ x, const float* __restrict__ w,
                                           const float* __restrict__ b, float* __restrict__ y, float* mean,
                                           float* rstd, int64_t H, int64_t L, float eps) {
  const int64_t l = tilePosition();
  const int64_t bi = blockIdx.y;
  const bool live = l < L;
  const float* xb = x + bi * H * L + l;
  float acc = 0.f;
  if (live)
    for (int64_t h = threadIdx.y; h < H; h += 8) acc += xb[h * L];
  const float mu = tileLaneSum<8>(acc) / float(H);
  acc = 0.f;
  if (live)
    for (int64_t h = threadIdx.y; h < H; h += 8) {
      const float d = xb[h * L] - mu;
      acc += d * d;
    }
  const float rs = rsqrtf(tileLaneSum<8>(acc) / float(H) + eps);
  if (!live) return;
  if (threadIdx.y == 0) {
    if (mean) mean[bi * L + l] = mu;
    if (rstd) rstd[bi * L + l] = rs;
  }
  float* yb = y + bi * H * L + l;
  for (int64_t h = threadIdx.y; h < H; h += 8) yb[h * L] = (xb[h * L] - mu) * rs * (w ? w[h] : 1.f) + (b ? b[h] : 0.f);
}

__global__ void layerNormChannelsBwdKernel(const float* __restrict__ dy, const float* __restrict__ x,
                                           const float* __restrict__ w, const float* mean, const float* rstd,
                                           float* __restrict__ dx, int64_t H, int64_t L) {
  const int64_t l = tilePosition();
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
  const float mg = tileLaneSum<8>(sg) / float(H);
  const float mgx = tileLaneSum<8>(sgx) / float(H);
  if (!live) return;
  for (int64_t h = threadIdx.y; h < H; h += 8) {
    const float g = dy[off + h * L] * (w ? w[h] : 1.f);
    const float xh = (x[off + h * L] - mu) * rs;
    dx[off + h * L] = rs * (g - mg - xh * mgx);
  }
}

// ---- residualNorm: [LayerNorm](x + dropout(GLU(z + zBias))) over channels ----------------------

// r = x + dropout(GLU(z + zb)) of [B, H, L], z [B, 2H, L], zb [2H] or null: the GLU of
// gluForward, then the dropout op's mask at the element's flat index o = (b H + h) L + l.
struct Residual {
  const float* __restrict__ z;
  const float* __restrict__ zb;
  const float* __restrict__ x;
  int64_t H, L;
  float p, scale;
  uint64_t key;
  bool drop;  // p > 0

  // Position (b, l): channel h of it is at offset h L from these.
  struct Column {
    int64_t o0;  // flat index of (b, 0, l) in [B, H, L]
    int64_t z0;  // of (b, 0, l) in [B, 2H, L]; its gate at + H L
  };
  __device__ __forceinline__ Column column(int64_t b, int64_t l) const { return {b * H * L + l, 2 * b * H * L + l}; }
  __device__ __forceinline__ float dropped(float v, int64_t o) const {
    return drop ? nn::dropoutElement(v, key, uint64_t(o), p, scale) : v;
  }
  // The GLU's value and gate of channel h of column c, bias added.
  __device__ __forceinline__ float2 halves(const Column& c, int64_t h) const {
    const float* a = z + c.z0 + h * L;
    float2 u = make_float2(a[0], a[H * L]);
    if (zb) {
      u.x += zb[h];
      u.y += zb[H + h];
    }
    return u;
  }
  // r of channel h of column c.
  __device__ __forceinline__ float at(const Column& c, int64_t h) const {
    const float2 u = halves(c, h);
    return x[c.o0 + h * L] + dropped(u.x / (1.f + expf(-u.y)), c.o0 + h * L);
  }
};
using Column = Residual::Column;

// The input gradient of channel h of column c: dr from the layer norm (layerNormChannelsBwd's
// formula with the column's rs, mean(g), mean(g xhat), g = dy w; dy itself when
// !normalize), then dx = dr and, through the mask and the GLU, dz.
__device__ __forceinline__ void residualNormGrad(const Residual& r, const Column& c, int64_t h, float dyv, float wh,
                                                 float xh, bool normalize, float rs, float mg, float mgx,
                                                 float* __restrict__ dz, float* __restrict__ dx) {
  const int64_t hL = h * r.L;
  const float dr = normalize ? rs * (dyv * wh - mg - xh * mgx) : dyv;
  if (dx) dx[c.o0 + hL] = dr;
  if (dz) {
    const float2 u = r.halves(c, h);
    float s, sc;
    nn::sigmoidPair(u.y, s, sc);
    const float dg = r.dropped(dr, c.o0 + hL);
    float* d = dz + c.z0 + hL;
    d[0] = dg * s;
    d[r.H * r.L] = dg * u.x * s * sc;
  }
}

// Short L: G threads per column (b, l), kThreads / G columns per block: the row layout of
// layerNormFwdKernel (with L = 1 a column is a contiguous row). A few columns (a generation
// step) get a block each; many get a warp each when H <= 1024.
// r is recomputed in each pass instead of being staged, so any H fits.
template <int G>
__global__ void residualNormColumnFwdKernel(Residual r, const float* __restrict__ w, const float* __restrict__ b,
                                            float* __restrict__ out, float* mean, float* rstd, int64_t cols, float eps,
                                            bool normalize) {
  __shared__ float scratch[kThreads / 32];
  const int lane = threadIdx.x % G;
  const int64_t H = r.H, L = r.L;
  S4_GROUP_STRIDE(G, col, cols) {
    const Column c = r.column(col / L, col % L);
    float* o = out + c.o0;
    if (!normalize) {
      for (int64_t h = lane; h < H; h += G) o[h * L] = r.at(c, h);
      continue;
    }
    float s = 0.f;
    for (int64_t h = lane; h < H; h += G) s += r.at(c, h);
    const float mu = groupSum<G>(s, scratch) / float(H);
    float q = 0.f;  // two passes: the variance of r - mu, not E[r^2] - mu^2
    for (int64_t h = lane; h < H; h += G) {
      const float d = r.at(c, h) - mu;
      q += d * d;
    }
    const float rs = rsqrtf(groupSum<G>(q, scratch) / float(H) + eps);
    if (lane == 0) {
      if (mean) mean[col] = mu;
      if (rstd) rstd[col] = rs;
    }
    for (int64_t h = lane; h < H; h += G) o[h * L] = (r.at(c, h) - mu) * rs * (w ? w[h] : 1.f) + (b ? b[h] : 0.f);
  }
}

template <int G>
__global__ void residualNormColumnBwdKernel(const float* __restrict__ dy, Residual r, const float* __restrict__ w,
                                            const float* mean, const float* rstd, float* __restrict__ dz,
                                            float* __restrict__ dx, int64_t cols, bool normalize) {
  __shared__ float scratch[kThreads / 32];
  const int lane = threadIdx.x % G;
  const int64_t H = r.H, L = r.L;
  S4_GROUP_STRIDE(G, col, cols) {
    const Column c = r.column(col / L, col % L);
    const float* g0 = dy + c.o0;
    float mu = 0.f, rs = 0.f, mg = 0.f, mgx = 0.f;
    if (normalize) {
      mu = mean[col];
      rs = rstd[col];
      float sg = 0.f, sgx = 0.f;
      for (int64_t h = lane; h < H; h += G) {
        const float g = g0[h * L] * (w ? w[h] : 1.f);
        sg += g;
        sgx += g * ((r.at(c, h) - mu) * rs);
      }
      mg = groupSum<G>(sg, scratch) / float(H);
      mgx = groupSum<G>(sgx, scratch) / float(H);
    }
    for (int64_t h = lane; h < H; h += G) {
      const float xh = normalize ? (r.at(c, h) - mu) * rs : 0.f;
      residualNormGrad(r, c, h, g0[h * L], w ? w[h] : 1.f, xh, normalize, rs, mg, mgx, dz, dx);
    }
  }
}

// Long L: block (32, Y), 32 positions l (coalesced) x Y lanes over H, as
// layerNormChannelsFwdKernel; grid (L / 32, batches), looping over the batches beyond 65535.
// PER > 0: lane y holds r of its channels h = y + Y k (k < PER) in registers, so z and x are
// read once (H <= Y PER); PER = 0: r is recomputed in each pass (any H). 1024 threads per SM
// at most 64 registers each, whatever Y.
template <int Y, int PER>
__global__ void __launch_bounds__(32 * Y, 32 / Y)
    residualNormTileFwdKernel(Residual r, const float* __restrict__ w, const float* __restrict__ b,
                              float* __restrict__ out, float* mean, float* rstd, int64_t B, float eps, bool normalize) {
  const int64_t H = r.H, L = r.L, l = tilePosition();
  const bool live = l < L;
  const int y = threadIdx.y;
  for (int64_t bi = blockIdx.y; bi < B; bi += gridDim.y) {
    const Column c = r.column(bi, l);
    float* o = out + c.o0;
    if (!normalize) {
      if (live)
        for (int64_t h = y; h < H; h += Y) o[h * L] = r.at(c, h);
      continue;
    }
    float v[PER > 0 ? PER : 1];
    float acc = 0.f;
    if (PER > 0) {
#pragma unroll
      for (int k = 0; k < PER; ++k) {
        const int64_t h = y + Y * k;
        v[k] = live && h < H ? r.at(c, h) : 0.f;
        acc += v[k];
      }
    } else if (live) {
      for (int64_t h = y; h < H; h += Y) acc += r.at(c, h);
    }
    const float mu = tileLaneSum<Y>(acc) / float(H);
    acc = 0.f;
    if (PER > 0) {
#pragma unroll
      for (int k = 0; k < PER; ++k) {
        const float d = v[k] - mu;
        if (live && y + Y * k < H) acc += d * d;
      }
    } else if (live) {
      for (int64_t h = y; h < H; h += Y) {
        const float d = r.at(c, h) - mu;
        acc += d * d;
      }
    }
    const float rs = rsqrtf(tileLaneSum<Y>(acc) / float(H) + eps);
    if (!live) continue;
    if (y == 0) {
      if (mean) mean[bi * L + l] = mu;
      if (rstd) rstd[bi * L + l] = rs;
    }
    if (PER > 0) {
#pragma unroll
      for (int k = 0; k < PER; ++k) {
        const int64_t h = y + Y * k;
        if (h < H) o[h * L] = (v[k] - mu) * rs * (w ? w[h] : 1.f) + (b ? b[h] : 0.f);
      }
    } else {
      for (int64_t h = y; h < H; h += Y) o[h * L] = (r.at(c, h) - mu) * rs * (w ? w[h] : 1.f) + (b ? b[h] : 0.f);
    }
  }
}

// The backward on the tile of the forward. PER > 0: lane y keeps xhat of its channels in
// registers between the two passes (dy and z are read again in the second, from cache).
// With the norm, each block also sums dy xhat and dy over its 32 positions per channel (a
// warp is one channel's 32 positions: a shuffle tree) into row (b, blockIdx.x) of the
// partials pw, pb [B gridDim.x, H]; the parameter gradients are their column sums.
template <int Y, int PER, bool Normalize>
__global__ void __launch_bounds__(32 * Y, 32 / Y)
    residualNormTileBwdKernel(const float* __restrict__ dy, Residual r, const float* __restrict__ w, const float* mean,
                              const float* rstd, float* __restrict__ dz, float* __restrict__ dx, float* pw, float* pb,
                              int64_t B) {
  const int64_t H = r.H, L = r.L, l = tilePosition();
  const bool live = l < L;
  const int y = threadIdx.y;
  for (int64_t bi = blockIdx.y; bi < B; bi += gridDim.y) {
    const Column c = r.column(bi, l);
    const float* g0 = dy + c.o0;
    const int64_t row = bi * gridDim.x + blockIdx.x;  // of the partials
    float mu = 0.f, rs = 0.f, mg = 0.f, mgx = 0.f;
    float xv[PER > 0 ? PER : 1];
    // dy xhat and dy of channel h summed over the warp's 32 positions, into the partials.
    auto partial = [&](int64_t h, float g, float xh) {
      if (!pw) return;  // no parameter gradients asked for
      float a0 = g * xh, a1 = g;
#pragma unroll
      for (int off = 16; off > 0; off >>= 1) {
        a0 += __shfl_xor_sync(0xffffffffu, a0, off);
        a1 += __shfl_xor_sync(0xffffffffu, a1, off);
      }
      if (threadIdx.x == 0 && h < H) {
        pw[row * H + h] = a0;
        pb[row * H + h] = a1;
      }
    };
    if (Normalize) {
      if (live) {
        mu = mean[bi * L + l];
        rs = rstd[bi * L + l];
      }
      float sg = 0.f, sgx = 0.f;
      if (PER > 0) {
#pragma unroll
        for (int k = 0; k < PER; ++k) {
          const int64_t h = y + Y * k;
          const bool in = live && h < H;
          const float gv = in ? g0[h * L] : 0.f;
          xv[k] = in ? (r.at(c, h) - mu) * rs : 0.f;
          const float g = gv * (in && w ? w[h] : 1.f);
          sg += g;
          sgx += g * xv[k];
          if (y + Y * k < H) partial(h, gv, xv[k]);  // uniform per warp
        }
      } else {
        for (int64_t h = y; h < H; h += Y) {
          const float gv = live ? g0[h * L] : 0.f;
          const float xh = live ? (r.at(c, h) - mu) * rs : 0.f;
          const float g = gv * (w ? w[h] : 1.f);
          sg += g;
          sgx += g * xh;
          partial(h, gv, xh);
        }
      }
      mg = tileLaneSum<Y>(sg) / float(H);
      mgx = tileLaneSum<Y>(sgx) / float(H);
    }
    if (!live || (!dz && !dx)) continue;
    if (PER > 0 && Normalize) {
#pragma unroll
      for (int k = 0; k < PER; ++k) {
        const int64_t h = y + Y * k;
        if (h < H) residualNormGrad(r, c, h, g0[h * L], w ? w[h] : 1.f, xv[k], true, rs, mg, mgx, dz, dx);
      }
    } else {
      for (int64_t h = y; h < H; h += Y) {
        const float xh = Normalize ? (r.at(c, h) - mu) * rs : 0.f;
        residualNormGrad(r, c, h, g0[h * L], w ? w[h] : 1.f, xh, Normalize, rs, mg, mgx, dz, dx);
      }
    }
  }
}

// f(row, c) = (dy xhat, dy) of column `row` = (b, l) and channel c, r recomputed: the
// parameter gradients of short L. dbOnly: (dy, 0).
struct ResidualNormParamGrad {
  const float* dy;
  Residual r;
  const float* mean;
  const float* rstd;
  bool dbOnly;
  __device__ float2 operator()(int64_t col, int64_t h) const {
    const Column c = r.column(col / r.L, col % r.L);
    const float g = dy[c.o0 + h * r.L];
    if (dbOnly) return make_float2(g, 0.f);
    return make_float2(g * ((r.at(c, h) - mean[col]) * rstd[col]), g);
  }
};

// f(row, c) = (pw[row, c], pb[row, c]) or the other way round: the sums of the tile partials.
struct PartialPair {
  const float* p0;
  const float* p1;
  int64_t ld;
  __device__ float2 operator()(int64_t r, int64_t c) const {
    return make_float2(p0[r * ld + c], p1 ? p1[r * ld + c] : 0.f);
  }
};

// Positions per column below which residualNorm takes the column kernels (the tile kernels
// leave most of their 32 position lanes idle there).
constexpr int64_t kTileMinL = 32;

dim3 tileGrid(int64_t B, int64_t L) { return dim3(unsigned((L + 31) / 32), unsigned(std::min<int64_t>(B, 65535))); }

// Column kernels: a block per column when there are few columns (the work of a generation
// step is latency, and a block's 256 threads share it) or many channels; else a warp each.
// The layer-norm row kernels' template arguments: G threads per row by the row length
// (byRowLength), V: float4 loads. Launches with RowShape<G, V>, then checks the launch.
template <int G_, bool V_>
struct RowShape {
  static constexpr int G = G_;
  static constexpr bool V = V_;
};

template <class Launch>
void byRowShape(int64_t D, bool vec, const char* what, Launch launch) {
  byRowLength(D, [&](auto gc) {
    constexpr int G = decltype(gc)::value;
    if (vec) launch(RowShape<G, true>());
    else launch(RowShape<G, false>());
  });
  S4_CUDA_CHECK_LAUNCH(what);
}

template <class Launch>
void byColumns(int64_t cols, int64_t H, Launch launch) {
  if (cols < 2048 || H > kWarpRowMax) launch(std::integral_constant<int, kThreads>());
  else launch(std::integral_constant<int, 32>());
}

// The tile shapes (Y lanes over H, PER channels in registers per lane; PER = 0: recomputed)
// by H, as measured on an H100 at B 4 x H x L 16384 / 4096 against the chain glu, dropout,
// add, layerNormChannels (forward 174 vs 228 us at H 256, 95 vs 116 at H 512) and its
// backward (316 vs 289 us at H 256, 207 vs 158 at H 512, without dropout; with dropout
// p = 0.1, 330 vs 338 at H 256). The backward holds fewer channels per lane: its second
// pass needs more registers.
// One row of such a table: H <= MaxH takes (Y, PER); the last row takes every larger H.
template <int MaxH, int Y, int PER>
struct TileRule {};

template <class Launch, int MaxH, int Y, int PER, class... Rest>
void pickTile(int64_t H, Launch launch, TileRule<MaxH, Y, PER>, Rest... rest) {
  if constexpr (sizeof...(Rest) > 0) {
    if (H > MaxH) return pickTile(H, launch, rest...);
  }
  launch(std::integral_constant<int, Y>(), std::integral_constant<int, PER>());
}

template <class Launch>
void forwardTile(int64_t H, Launch launch) {
  pickTile(H, launch, TileRule<16, 8, 2>(), TileRule<64, 8, 8>(), TileRule<128, 16, 8>(), TileRule<256, 16, 16>(),
           TileRule<512, 32, 16>(), TileRule<1024, 32, 32>(), TileRule<0, 32, 0>());
}

template <class Launch>
void backwardTile(int64_t H, Launch launch) {
  pickTile(H, launch, TileRule<16, 8, 2>(), TileRule<64, 16, 4>(), TileRule<128, 16, 8>(), TileRule<256, 32, 8>(),
           TileRule<512, 32, 16>(), TileRule<0, 32, 0>());
}

}  // namespace

void layerNormForward(const float* x, const float* w, const float* b, float* y, float* mean, float* rstd,
                      int64_t rows, int64_t D, float eps) {
  byRowShape(D, D % 4 == 0 && aligned16(x) && aligned16(y), "layerNormForward", [&](auto shape) {
    using S = decltype(shape);
    layerNormFwdKernel<S::G, S::V><<<rowsGrid<S::G>(rows), kThreads, 0, stream()>>>(x, w, b, y, mean, rstd, rows,
                                                                                     int(D), eps);
  });
}

void layerNormBackward(const float* dy, const float* x, const float* w, const float* mean, const float* rstd,
                       float* dx, float* dw, float* db, int64_t rows, int64_t D) {
  if (dx) {
    byRowShape(D, D % 4 == 0 && aligned16(x), "layerNormBackward", [&](auto shape) {
      using S = decltype(shape);
      layerNormBwdKernel<S::G, S::V><<<rowsGrid<S::G>(rows), kThreads, 0, stream()>>>(dy, x, w, mean, rstd, dx, rows,
                                                                                       int(D));
    });
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

void residualNormForward(const float* z, const float* zb, const float* x, const float* w, const float* b, float* out,
                         float* mean, float* rstd, int64_t B, int64_t H, int64_t L, float p, float scale, uint64_t key,
                         float eps, bool normalize) {
  const Residual r{z, zb, x, H, L, p, scale, key, p > 0.f};
  if (L < kTileMinL) {
    const int64_t cols = B * L;
    byColumns(cols, H, [&](auto gc) {
      constexpr int G = decltype(gc)::value;
      residualNormColumnFwdKernel<G><<<gridFor(cols * G), kThreads, 0, stream()>>>(r, w, b, out, mean, rstd, cols, eps,
                                                                                   normalize);
    });
  } else {
    forwardTile(H, [&](auto yc, auto pc) {
      constexpr int Y = decltype(yc)::value, PER = decltype(pc)::value;
      residualNormTileFwdKernel<Y, PER><<<tileGrid(B, L), dim3(32, Y), 0, stream()>>>(r, w, b, out, mean, rstd, B, eps,
                                                                                    normalize);
    });
  }
  S4_CUDA_CHECK_LAUNCH("residualNormForward");
}

void residualNormBackward(const float* dy, const float* z, const float* zb, const float* x, const float* w,
                          const float* mean, const float* rstd, float* dz, float* dzb, float* dx, float* dw, float* db,
                          int64_t B, int64_t H, int64_t L, float p, float scale, uint64_t key, bool normalize) {
  const Residual r{z, zb, x, H, L, p, scale, key, p > 0.f};
  const bool params = normalize && (dw || db);
  if (!normalize) {  // w and b take no part: zero gradients
    if (dw) S4_CUDA_CHECK(cudaMemsetAsync(dw, 0, sizeof(float) * size_t(H), stream()));
    if (db) S4_CUDA_CHECK(cudaMemsetAsync(db, 0, sizeof(float) * size_t(H), stream()));
  }
  // dzb is the channel sum of dz: without dz asked for, dz goes to a workspace.
  Workspace dzSpace(dzb && !dz ? sizeof(float) * size_t(2 * B * H * L) : 0);
  if (dzb && !dz) dz = dzSpace.as<float>();
  if (L < kTileMinL) {
    const int64_t cols = B * L;
    if (dz || dx) {
      byColumns(cols, H, [&](auto gc) {
        constexpr int G = decltype(gc)::value;
        residualNormColumnBwdKernel<G><<<gridFor(cols * G), kThreads, 0, stream()>>>(dy, r, w, mean, rstd, dz, dx, cols,
                                                                                     normalize);
      });
      S4_CUDA_CHECK_LAUNCH("residualNormBackward");
    }
    if (params) columnSums(ResidualNormParamGrad{dy, r, mean, rstd, !dw}, cols, H, dw ? dw : db, dw ? db : nullptr);
  } else if (dz || dx || params) {
    // One pass gives dz, dx and the per-block partials of dw, db; their column sums follow.
    const dim3 grid = tileGrid(B, L);
    const int64_t rows = B * int64_t(grid.x);
    Workspace partials(params ? sizeof(float) * size_t(2 * rows * H) : 0);
    float* pw = params ? partials.as<float>() : nullptr;
    float* pb = params ? pw + rows * H : nullptr;
    backwardTile(H, [&](auto yc, auto pc) {
      constexpr int Y = decltype(yc)::value, PER = decltype(pc)::value;
      if (normalize)
        residualNormTileBwdKernel<Y, PER, true><<<grid, dim3(32, Y), 0, stream()>>>(dy, r, w, mean, rstd, dz, dx, pw, pb, B);
      else
        residualNormTileBwdKernel<Y, PER, false><<<grid, dim3(32, Y), 0, stream()>>>(dy, r, w, mean, rstd, dz, dx, pw, pb, B);
    });
    S4_CUDA_CHECK_LAUNCH("residualNormBackward");
    if (params) columnSums(dw ? PartialPair{pw, db ? pb : nullptr, H} : PartialPair{pb, nullptr, H}, rows, H, dw ? dw : db, dw ? db : nullptr);
  }
  // As linearChannels' bias gradient: [B, 2H, 1] is the row-major [B, 2H] (column sums),
  // longer L a sum per channel.
  if (dzb) {
    if (L == 1) columnSums(ColumnOf{dz, 2 * H}, B, 2 * H, dzb, nullptr);
    else channelSums(ChannelOf{dz, 2 * H, L}, B, 2 * H, L, dzb, nullptr);
  }
}

}  // namespace s4::cuda
