// CUDA twins of the layout ops (spec: native/binding/layout.cpp).
#include <algorithm>
#include <climits>
#include <cstdint>

#include "kernel_common.cuh"

namespace s4::cuda {
namespace {

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

// ---- window of the last dimension ---------------------------------------------------------------
// Rows of at least kSliceRowMin floats: grid (column chunks of kThreads, rows), so
// consecutive threads read and write consecutive floats of one row and no thread divides an
// index. Shorter rows: one thread per element of the flat output, which keeps every thread
// busy at the cost of a division.
constexpr int64_t kSliceRowMin = 64;
constexpr int64_t kMaxGridY = 65535;

__global__ void sliceRowsKernel(const float* __restrict__ x, float* __restrict__ y, int64_t rows, int64_t L,
                                int64_t start, int64_t len) {
  const int64_t j = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (j >= len) return;
  for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) y[r * len + j] = x[r * L + start + j];
}

__global__ void sliceFlatKernel(const float* __restrict__ x, float* __restrict__ y, int64_t n, int64_t L,
                                int64_t start, int64_t len) {
  S4_GRID_STRIDE(t, n) {
    const int64_t r = t / len, j = t - r * len;
    y[t] = x[r * L + start + j];
  }
}

__global__ void sliceBwdRowsKernel(const float* __restrict__ dy, float* __restrict__ dx, int64_t rows, int64_t L,
                                   int64_t start, int64_t len) {
  const int64_t l = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (l >= L) return;
  const bool inside = l >= start && l < start + len;
  for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) dx[r * L + l] = inside ? dy[r * len + l - start] : 0.f;
}

__global__ void sliceBwdFlatKernel(const float* __restrict__ dy, float* __restrict__ dx, int64_t n, int64_t L,
                                   int64_t start, int64_t len) {
  S4_GRID_STRIDE(t, n) {
    const int64_t r = t / L, l = t - r * L;
    dx[t] = l >= start && l < start + len ? dy[r * len + l - start] : 0.f;
  }
}

// ---- copies along a middle axis ----------------------------------------------------------------
__global__ void repeatMidKernel(const float* __restrict__ x, float* __restrict__ y, int64_t n, int64_t reps,
                                int64_t inner) {
  S4_GRID_STRIDE(t, n) {
    const int64_t i = t % inner, o = t / (reps * inner);
    y[t] = x[o * inner + i];
  }
}

// One thread per output element sums its reps copies in double, in order (as the CPU twin).
__global__ void repeatMidBwdKernel(const float* __restrict__ dy, float* __restrict__ dx, int64_t n, int64_t reps,
                                   int64_t inner) {
  S4_GRID_STRIDE(t, n) {
    const int64_t o = t / inner, i = t - o * inner;
    const float* g = dy + o * reps * inner + i;
    double s = 0;
    for (int64_t r = 0; r < reps; ++r) s += g[r * inner];
    dx[t] = float(s);
  }
}

dim3 rowsGrid(int64_t cols, int64_t rows) {
  return dim3(unsigned((cols + kThreads - 1) / kThreads), unsigned(std::min(rows, kMaxGridY)));
}

}  // namespace

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

void sliceLast(const float* x, float* y, int64_t rows, int64_t L, int64_t start, int64_t len) {
  if (len >= kSliceRowMin) sliceRowsKernel<<<rowsGrid(len, rows), kThreads, 0, stream()>>>(x, y, rows, L, start, len);
  else sliceFlatKernel<<<gridFor(rows * len), kThreads, 0, stream()>>>(x, y, rows * len, L, start, len);
  S4_CUDA_CHECK_LAUNCH("sliceLast");
}

void sliceLastBackward(const float* dy, float* dx, int64_t rows, int64_t L, int64_t start, int64_t len) {
  if (L >= kSliceRowMin) sliceBwdRowsKernel<<<rowsGrid(L, rows), kThreads, 0, stream()>>>(dy, dx, rows, L, start, len);
  else sliceBwdFlatKernel<<<gridFor(rows * L), kThreads, 0, stream()>>>(dy, dx, rows * L, L, start, len);
  S4_CUDA_CHECK_LAUNCH("sliceLastBackward");
}

void repeatMid(const float* x, float* y, int64_t outer, int64_t reps, int64_t inner) {
  const int64_t n = outer * reps * inner;
  repeatMidKernel<<<gridFor(n), kThreads, 0, stream()>>>(x, y, n, reps, inner);
  S4_CUDA_CHECK_LAUNCH("repeatMid");
}

void repeatMidBackward(const float* dy, float* dx, int64_t outer, int64_t reps, int64_t inner) {
  const int64_t n = outer * inner;
  repeatMidBwdKernel<<<gridFor(n), kThreads, 0, stream()>>>(dy, dx, n, reps, inner);
  S4_CUDA_CHECK_LAUNCH("repeatMidBackward");
}

}  // namespace s4::cuda
