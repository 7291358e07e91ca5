// Launch helpers and reductions of fixed shape shared by the CUDA op files: grid sizes,
// group (warp or block) sums and maxima, row visits with float4 loads, per-column and
// per-channel sums in two deterministic stages, and the device-side flag of a bad label or
// index. Everything here has internal linkage: each .cu file gets its own copy.
#pragma once
#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <string>
#include <type_traits>

#include "context.h"

namespace s4::cuda {
namespace {

constexpr int kThreads = 256;

#define S4_GRID_STRIDE(i, n) \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); i += int64_t(gridDim.x) * blockDim.x)

unsigned gridFor(int64_t n, int threads = kThreads) {
  const int64_t blocks = (n + threads - 1) / threads;
  return unsigned(std::max<int64_t>(1, std::min<int64_t>(blocks, int64_t(65535) * 64)));
}

bool aligned16(const void* p) { return p == nullptr || (reinterpret_cast<uintptr_t>(p) & 15) == 0; }

// ---- reductions of fixed shape ---------------------------------------------------------------

// Sum (or max) over a group of G threads: G = 32 is one warp, G > 32 is the whole block
// (scratch holds G / 32 values). Every thread of the group gets the result.
template <int G>
__device__ __forceinline__ float groupSum(float v, float* scratch) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  if (G == 32) return v;
  const int warp = threadIdx.x >> 5;
  if ((threadIdx.x & 31) == 0) scratch[warp] = v;
  __syncthreads();
  float s = 0.f;
#pragma unroll
  for (int w = 0; w < G / 32; ++w) s += scratch[w];
  __syncthreads();  // scratch may be reused right away
  return s;
}

template <int G>
__device__ __forceinline__ float groupMax(float v, float* scratch) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  if (G == 32) return v;
  const int warp = threadIdx.x >> 5;
  if ((threadIdx.x & 31) == 0) scratch[warp] = v;
  __syncthreads();
  float s = scratch[0];
#pragma unroll
  for (int w = 1; w < G / 32; ++w) s = fmaxf(s, scratch[w]);
  __syncthreads();
  return s;
}

// Block-wide sum in double (blockDim.x a multiple of 32, at most 1024); result in thread 0.
__device__ double blockSumDouble(double v) {
  __shared__ double warpSums[32];
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) warpSums[warp] = v;
  __syncthreads();
  v = threadIdx.x < blockDim.x / 32 ? warpSums[threadIdx.x] : 0.0;
  if (warp == 0)
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  __syncthreads();
  return v;
}

// Visits a row of D floats, the G threads of a group striding over it; float4 loads when V.
template <int G, bool V, class F>
__device__ __forceinline__ void visitRow(const float* __restrict__ p, int D, int lane, F f) {
  if (V) {
    const float4* p4 = reinterpret_cast<const float4*>(p);
    for (int q = lane; q < D / 4; q += G) {
      const float4 v = p4[q];
      f(4 * q, v.x); f(4 * q + 1, v.y); f(4 * q + 2, v.z); f(4 * q + 3, v.w);
    }
  } else {
    for (int i = lane; i < D; i += G) f(i, p[i]);
  }
}

// Row kernels: 32 threads per row up to this length, a 256-thread block per row above.
constexpr int kWarpRowMax = 1024;

template <class Launch>
void byRowLength(int64_t D, Launch launch) {
  if (D <= kWarpRowMax) launch(std::integral_constant<int, 32>());
  else launch(std::integral_constant<int, kThreads>());
}

// A row kernel of G threads per row has kThreads / G rows per block: the grid that covers
// `rows`, and the row of the calling thread's group.
template <int G>
unsigned rowsGrid(int64_t rows) {
  return unsigned((rows + kThreads / G - 1) / (kThreads / G));
}
template <int G>
__device__ __forceinline__ int64_t groupRow() {
  return int64_t(blockIdx.x) * (kThreads / G) + threadIdx.x / G;
}
// Grid-stride loop of the groups of G threads over rows [0, n): uniform per group.
#define S4_GROUP_STRIDE(G, row, n) \
  for (int64_t row = groupRow<G>(); row < (n); row += int64_t(gridDim.x) * (kThreads / (G)))

// Sums of f(r, c) = (first, second) over the rows of a [rows, cols] domain, per column:
// stage one sums fixed chunks of rows (block 32 x 8: 32 columns, 8 row lanes), stage two
// adds the chunk partials in order. out1 may be null.
constexpr int kColChunk = 256;

template <class F>
__global__ void columnPartialsKernel(F f, int64_t rows, int64_t cols, int64_t rowsPerChunk, float* out0,
                                     float* out1, int64_t ldPartial) {
  __shared__ float s0[8][33], s1[8][33];
  const int64_t c = int64_t(blockIdx.x) * 32 + threadIdx.x;
  const int64_t r0 = int64_t(blockIdx.y) * rowsPerChunk;
  const int64_t r1 = min(rows, r0 + rowsPerChunk);
  float a0 = 0.f, a1 = 0.f;
  if (c < cols) {
    for (int64_t r = r0 + threadIdx.y; r < r1; r += 8) {
      const float2 v = f(r, c);
      a0 += v.x;
      a1 += v.y;
    }
  }
  s0[threadIdx.y][threadIdx.x] = a0;
  s1[threadIdx.y][threadIdx.x] = a1;
  __syncthreads();
  if (threadIdx.y == 0 && c < cols) {
    float t0 = 0.f, t1 = 0.f;
#pragma unroll
    for (int k = 0; k < 8; ++k) {
      t0 += s0[k][threadIdx.x];
      t1 += s1[k][threadIdx.x];
    }
    const int64_t o = int64_t(blockIdx.y) * ldPartial + c;
    out0[o] = t0;
    if (out1) out1[o] = t1;
  }
}

__global__ void columnFinishKernel(const float* p0, const float* p1, int64_t chunks, int64_t cols, float* out0,
                                   float* out1) {
  S4_GRID_STRIDE(c, cols) {
    float t0 = 0.f, t1 = 0.f;
    for (int64_t k = 0; k < chunks; ++k) {
      t0 += p0[k * cols + c];
      if (out1) t1 += p1[k * cols + c];
    }
    out0[c] = t0;
    if (out1) out1[c] = t1;
  }
}

template <class F>
void columnSums(F f, int64_t rows, int64_t cols, float* out0, float* out1) {
  const int64_t rowsPerChunk = std::max<int64_t>(kColChunk, (rows + 4095) / 4096);
  const int64_t chunks = (rows + rowsPerChunk - 1) / rowsPerChunk;
  const dim3 block(32, 8);
  const int64_t gx = (cols + 31) / 32;
  if (gx > INT_MAX || chunks > 65535) throw s4::Error("column sum: size too large", ErrorKind::Range);
  const dim3 grid{unsigned(gx), unsigned(chunks)};
  if (chunks == 1) {
    columnPartialsKernel<<<grid, block, 0, stream()>>>(f, rows, cols, rowsPerChunk, out0, out1, cols);
    S4_CUDA_CHECK_LAUNCH("columnSums");
    return;
  }
  Workspace ws(sizeof(float) * size_t(2 * chunks * cols));
  float* p0 = ws.as<float>();
  float* p1 = out1 ? p0 + chunks * cols : nullptr;
  columnPartialsKernel<<<grid, block, 0, stream()>>>(f, rows, cols, rowsPerChunk, p0, p1, cols);
  S4_CUDA_CHECK_LAUNCH("columnSums");
  columnFinishKernel<<<gridFor(cols), kThreads, 0, stream()>>>(p0, p1, chunks, cols, out0, out1);
  S4_CUDA_CHECK_LAUNCH("columnSums");
}

// f(r, c) = (m[r, c], 0): the plain column sum of a [rows, ld] matrix (a bias gradient).
struct ColumnOf {
  const float* m;
  int64_t ld;
  __device__ float2 operator()(int64_t r, int64_t c) const { return make_float2(m[r * ld + c], 0.f); }
};

// Sums over (b, l) of channel-major [B, C, L] data, per channel c: f(b, c, l, a0, a1) adds
// its terms to the double accumulators a0, a1. Block (c, s) sums the batches of split s
// (rows of L read contiguously, no index division), and a second kernel adds the splits in
// a fixed order, so the result is deterministic. One block per channel alone left most of
// the GPU idle (C = 128 blocks of B * L each). out0 or out1 may be null.
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
  S4_CUDA_CHECK_LAUNCH("channelSums");
  channelFinishKernel<<<gridFor(C), kThreads, 0, stream()>>>(p0, p1, C, splits, out0, out1);
  S4_CUDA_CHECK_LAUNCH("channelSums");
}

// f(b, c, l) adds m[b, c, l] to a0: the plain channel sum of [B, C, L] data (a bias gradient).
struct ChannelOf {
  const float* m;
  int64_t C, L;
  __device__ void operator()(int64_t b, int64_t c, int64_t l, double& a0, double&) const { a0 += m[(b * C + c) * L + l]; }
};

// ---- device-side checks of class labels and indices ---------------------------------------------

__device__ __forceinline__ bool isIndex(float v, int64_t limit) {
  return v >= 0.f && v < float(limit) && v == floorf(v);
}

// Flag of the first bad position, kept as an unsigned 64-bit minimum (all ones = none).
class BadFlag {
 public:
  BadFlag() : ws_(sizeof(unsigned long long)) {
    S4_CUDA_CHECK(cudaMemsetAsync(ws_.as<void>(), 0xff, sizeof(unsigned long long), stream()));
  }
  unsigned long long* device() const { return ws_.as<unsigned long long>(); }
  // Waits for the stream; -1 when nothing was flagged.
  int64_t first() const {
    unsigned long long h = 0;
    S4_CUDA_CHECK(cudaMemcpyAsync(&h, device(), sizeof h, cudaMemcpyDeviceToHost, stream()));
    S4_CUDA_CHECK(cudaStreamSynchronize(stream()));
    return h == ~0ULL ? -1 : int64_t(h);
  }

 private:
  Workspace ws_;
};

float readDeviceFloat(const float* p) {
  float h = 0.f;
  S4_CUDA_CHECK(cudaMemcpyAsync(&h, p, sizeof h, cudaMemcpyDeviceToHost, stream()));
  S4_CUDA_CHECK(cudaStreamSynchronize(stream()));
  return h;
}

std::string numberText(float v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", double(v));
  return buf;
}

}  // namespace
}  // namespace s4::cuda
