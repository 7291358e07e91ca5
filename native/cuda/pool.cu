// CUDA twins of the pooling ops (spec: native/binding/pool.cpp). The mean gives one warp
// to a row when it is short and one block when it is long; the sum is a tree of fixed
// shape, so results do not change from run to run.
#include <cstdint>

#include "kernel_common.cuh"

namespace s4::cuda {
namespace {

template <int G>
__global__ void meanPoolKernel(const float* __restrict__ x, float* __restrict__ y, int64_t rows, int L) {
  __shared__ float scratch[kThreads / 32];
  const int lane = threadIdx.x % G;
  const int64_t row = groupRow<G>();
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

// The valid length of a row as the spec reads it: trunc(v) clamped to [0, L], NaN as 0.
__device__ __forceinline__ int validLength(float v, int L) {
  if (!(v > 0.f)) return 0;
  return v >= float(L) ? L : int(v);
}

__global__ void lengthMaskKernel(const float* x, const float* __restrict__ lengths, float* y, int64_t n, int H, int L) {
  S4_GRID_STRIDE(t, n) {
    const int l = int(t % L);
    const int b = int(t / L / H);
    y[t] = l < validLength(lengths[b], L) ? x[t] : 0.f;
  }
}

// One group of G threads per row, summing the valid prefix in a tree of fixed shape.
template <int G>
__global__ void maskedMeanPoolKernel(const float* __restrict__ x, const float* __restrict__ lengths, float* __restrict__ y,
                                     int64_t rows, int H, int L) {
  __shared__ float scratch[kThreads / 32];
  const int lane = threadIdx.x % G;
  const int64_t row = groupRow<G>();
  if (row >= rows) return;
  const int n = validLength(lengths[row / H], L);
  float s = 0.f;
  visitRow<G, false>(x + row * L, n, lane, [&](int, float v) { s += v; });
  s = groupSum<G>(s, scratch);
  if (lane == 0) y[row] = n > 0 ? s / float(n) : 0.f;
}

__global__ void maskedMeanPoolBwdKernel(const float* __restrict__ dy, const float* __restrict__ lengths, float* __restrict__ dx,
                                        int64_t total, int H, int L) {
  S4_GRID_STRIDE(t, total) {
    const int l = int(t % L);
    const int64_t row = t / L;
    const int n = validLength(lengths[row / H], L);
    dx[t] = l < n ? float(double(dy[row]) / double(n)) : 0.f;
  }
}

__global__ void maskedLastPoolFwdKernel(const float* __restrict__ x, const float* __restrict__ lengths, float* __restrict__ y,
                                        int64_t rows, int H, int L) {
  S4_GRID_STRIDE(r, rows) {
    const int n = validLength(lengths[r / H], L);
    y[r] = n > 0 ? x[r * L + n - 1] : 0.f;
  }
}

__global__ void maskedLastPoolBwdKernel(const float* __restrict__ dy, const float* __restrict__ lengths, float* __restrict__ dx,
                                        int64_t total, int H, int L) {
  S4_GRID_STRIDE(t, total) {
    const int l = int(t % L);
    const int64_t row = t / L;
    const int n = validLength(lengths[row / H], L);
    dx[t] = l == n - 1 ? dy[row] : 0.f;
  }
}

}  // namespace

void meanPoolForward(const float* x, float* y, int64_t B, int64_t H, int64_t L) {
  const int64_t rows = B * H;
  byRowLength(L, [&](auto gc) {
    constexpr int G = decltype(gc)::value;
    meanPoolKernel<G><<<rowsGrid<G>(rows), kThreads, 0, stream()>>>(x, y, rows, int(L));
  });
  S4_CUDA_CHECK_LAUNCH("meanPoolForward");
}

void meanPoolBackward(const float* dy, float* dx, int64_t B, int64_t H, int64_t L) {
  meanPoolBwdKernel<<<gridFor(B * H * L), kThreads, 0, stream()>>>(dy, dx, B * H * L, L, float(1.0 / double(L)));
  S4_CUDA_CHECK_LAUNCH("meanPoolBackward");
}

void lastPoolForward(const float* x, float* y, int64_t rows, int64_t L) {
  lastPoolFwdKernel<<<gridFor(rows), kThreads, 0, stream()>>>(x, y, rows, L);
  S4_CUDA_CHECK_LAUNCH("lastPoolForward");
}

void lastPoolBackward(const float* dy, float* dx, int64_t rows, int64_t L) {
  lastPoolBwdKernel<<<gridFor(rows * L), kThreads, 0, stream()>>>(dy, dx, rows * L, L);
  S4_CUDA_CHECK_LAUNCH("lastPoolBackward");
}

void lengthMask(const float* x, const float* lengths, float* y, int64_t B, int64_t H, int64_t L) {
  const int64_t n = B * H * L;
  lengthMaskKernel<<<gridFor(n), kThreads, 0, stream()>>>(x, lengths, y, n, int(H), int(L));
  S4_CUDA_CHECK_LAUNCH("lengthMask");
}

void maskedMeanPoolForward(const float* x, const float* lengths, float* y, int64_t B, int64_t H, int64_t L) {
  const int64_t rows = B * H;
  byRowLength(L, [&](auto gc) {
    constexpr int G = decltype(gc)::value;
    maskedMeanPoolKernel<G><<<rowsGrid<G>(rows), kThreads, 0, stream()>>>(x, lengths, y, rows, int(H), int(L));
  });
  S4_CUDA_CHECK_LAUNCH("maskedMeanPoolForward");
}

void maskedMeanPoolBackward(const float* dy, const float* lengths, float* dx, int64_t B, int64_t H, int64_t L) {
  const int64_t n = B * H * L;
  maskedMeanPoolBwdKernel<<<gridFor(n), kThreads, 0, stream()>>>(dy, lengths, dx, n, int(H), int(L));
  S4_CUDA_CHECK_LAUNCH("maskedMeanPoolBackward");
}

void maskedLastPoolForward(const float* x, const float* lengths, float* y, int64_t B, int64_t H, int64_t L) {
  maskedLastPoolFwdKernel<<<gridFor(B * H), kThreads, 0, stream()>>>(x, lengths, y, B * H, int(H), int(L));
  S4_CUDA_CHECK_LAUNCH("maskedLastPoolForward");
}

void maskedLastPoolBackward(const float* dy, const float* lengths, float* dx, int64_t B, int64_t H, int64_t L) {
  const int64_t n = B * H * L;
  maskedLastPoolBwdKernel<<<gridFor(n), kThreads, 0, stream()>>>(dy, lengths, dx, n, int(H), int(L));
  S4_CUDA_CHECK_LAUNCH("maskedLastPoolBackward");
}

}  // namespace s4::cuda
