// The twiddle tables of the shared-memory FFTs (fft_radix.cuh): exp(-2 pi i k / 2M) for
// k < M, computed in double on the device and kept for the life of the process.
#include <map>
#include <mutex>

#include "fft_radix.cuh"
#include "kernel_common.cuh"

namespace s4::cuda {
namespace {

__global__ void twiddleKernel(float2* tw, int M) {
  const int k = blockIdx.x * blockDim.x + threadIdx.x;
  if (k >= M) return;
  double s, c;
  sincospi(-static_cast<double>(k) / M, &s, &c);  // exp(-2 pi i k / 2M)
  tw[k] = make_float2(static_cast<float>(c), static_cast<float>(s));
}

}  // namespace

const float2* fftTwiddles(int M) {
  static std::mutex mu;
  static std::map<int, float2*> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(M);
  if (it != cache.end()) return it->second;
  float2* tw = static_cast<float2*>(deviceAlloc(sizeof(float2) * M));
  twiddleKernel<<<blocksFor(M, 256), 256, 0, stream()>>>(tw, M);
  S4_CUDA_CHECK_LAUNCH("twiddleKernel");
  cache.emplace(M, tw);
  return tw;
}

}  // namespace s4::cuda
