// The few CUDA names the shared-memory FFT kernels use, for compiling them as host C++
// (test/helpers/conv_long_emulation.cpp): a block runs as one thread, so every
// `for (t = threadIdx.x; t < n; t += blockDim.x)` loop visits all of its work in order and
// __syncthreads has nothing to wait for. Index arithmetic and results are the kernels';
// races between threads are not modelled.
#pragma once
#include <cmath>
#include <cstdint>

struct float2 {
  float x, y;
};
inline float2 make_float2(float x, float y) { return {x, y}; }

struct EmulatedDim3 {
  unsigned x = 0, y = 0, z = 0;
};
extern EmulatedDim3 threadIdx, blockIdx, blockDim, gridDim;

template <class T>
inline T __ldg(const T* p) {
  return *p;
}
inline unsigned __brev(unsigned v) {
  unsigned r = 0;
  for (int i = 0; i < 32; ++i) r |= ((v >> i) & 1u) << (31 - i);
  return r;
}
inline void __syncthreads() {}

#define __device__
#define __global__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__
