// CUDA twins of the elementwise ops (spec: native/binding/pointwise.cpp).
#include <cstdint>

#include "context.h"

namespace s4::cuda {
namespace {

constexpr int kThreads = 256;

unsigned gridFor(int64_t n) {
  long long blocks = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(blocks < 65535LL * 16 ? blocks : 65535LL * 16);
}

__global__ void fillKernel(float* out, float value, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    out[i] = value;
}

__global__ void axpbyKernel(float* out, const float* a, float alpha, const float* b, float beta, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    out[i] = b ? alpha * a[i] + beta * b[i] : alpha * a[i];
}

__global__ void mulKernel(float* out, const float* a, const float* b, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    out[i] = a[i] * b[i];
}

__global__ void broadcastKernel(float* out, const float* scalar, float scale, int64_t n) {
  float v = scalar[0] * scale;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    out[i] = v;
}

__global__ void runningMeanKernel(float* sum, float* count, const float* x, float* mean, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const float s = sum[i] + x[i];
    const float c = count[i] + 1.f;
    sum[i] = s;
    count[i] = c;
    mean[i] = float(1.0 / double(c)) * s;
  }
}

__global__ void expKernel(const float* x, float* y, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    y[i] = expf(x[i]);
}

__global__ void fromPartsKernel(const float* re, const float* im, float2* z, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    z[i] = make_float2(re ? re[i] : 0.f, im ? im[i] : 0.f);
}

__global__ void partsKernel(const float2* z, float* re, float* im, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const float2 v = z[i];
    if (re) re[i] = v.x;
    if (im) im[i] = v.y;
  }
}

// Two passes for a deterministic sum: per-block partials in double, then one block.
__device__ double blockSum(double v) {
  __shared__ double warpSums[32];
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) warpSums[warp] = v;
  __syncthreads();
  v = threadIdx.x < blockDim.x / 32 ? warpSums[threadIdx.x] : 0.0;
  if (warp == 0)
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  return v;
}

__global__ void partialSumKernel(double* partial, const float* a, int64_t n) {
  double acc = 0;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) acc += a[i];
  acc = blockSum(acc);
  if (threadIdx.x == 0) partial[blockIdx.x] = acc;
}

__global__ void finalSumKernel(float* out, const double* partial, int count) {
  double acc = 0;
  for (int i = threadIdx.x; i < count; i += blockDim.x) acc += partial[i];
  acc = blockSum(acc);
  if (threadIdx.x == 0) out[0] = static_cast<float>(acc);
}

}  // namespace

void fill(float* out, float value, int64_t n) {
  if (n <= 0) return;
  fillKernel<<<gridFor(n), kThreads, 0, stream()>>>(out, value, n);
  S4_CUDA_CHECK_LAUNCH("fill");
}

void axpby(float* out, const float* a, float alpha, const float* b, float beta, int64_t n) {
  if (n <= 0) return;
  axpbyKernel<<<gridFor(n), kThreads, 0, stream()>>>(out, a, alpha, b, beta, n);
  S4_CUDA_CHECK_LAUNCH("axpby");
}

void mul(float* out, const float* a, const float* b, int64_t n) {
  if (n <= 0) return;
  mulKernel<<<gridFor(n), kThreads, 0, stream()>>>(out, a, b, n);
  S4_CUDA_CHECK_LAUNCH("mul");
}

void runningMean(float* sum, float* count, const float* x, float* mean, int64_t n) {
  if (n <= 0) return;
  runningMeanKernel<<<gridFor(n), kThreads, 0, stream()>>>(sum, count, x, mean, n);
  S4_CUDA_CHECK_LAUNCH("runningMean");
}

void broadcastScalar(float* out, const float* scalar, float scale, int64_t n) {
  if (n <= 0) return;
  broadcastKernel<<<gridFor(n), kThreads, 0, stream()>>>(out, scalar, scale, n);
  S4_CUDA_CHECK_LAUNCH("broadcastScalar");
}

void sum(float* out, const float* a, int64_t n) {
  int blocks = static_cast<int>(n <= 0 ? 1 : (n + kThreads - 1) / kThreads);
  if (blocks > 1024) blocks = 1024;
  Workspace partial(sizeof(double) * blocks);
  partialSumKernel<<<blocks, kThreads, 0, stream()>>>(partial.as<double>(), a, n);
  S4_CUDA_CHECK_LAUNCH("sum");
  finalSumKernel<<<1, kThreads, 0, stream()>>>(out, partial.as<double>(), blocks);
  S4_CUDA_CHECK_LAUNCH("sum");
}

void expForward(const float* x, float* y, int64_t n) {
  if (n == 0) return;
  expKernel<<<gridFor(n), kThreads, 0, stream()>>>(x, y, n);
  S4_CUDA_CHECK_LAUNCH("expForward");
}

void complexFromParts(const float* re, const float* im, float* z, int64_t n) {
  if (n == 0) return;
  fromPartsKernel<<<gridFor(n), kThreads, 0, stream()>>>(re, im, reinterpret_cast<float2*>(z), n);
  S4_CUDA_CHECK_LAUNCH("complexFromParts");
}

void complexParts(const float* z, float* re, float* im, int64_t n) {
  if (n == 0) return;
  partsKernel<<<gridFor(n), kThreads, 0, stream()>>>(reinterpret_cast<const float2*>(z), re, im, n);
  S4_CUDA_CHECK_LAUNCH("complexParts");
}

}  // namespace s4::cuda
