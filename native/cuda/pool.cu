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

}  // namespace s4::cuda
