// The few CUDA names the shared-memory FFT kernels use, for compiling them as host C++
// (test/helpers/conv_long_emulation.cpp). A block runs as blockDim.x host threads (one
// thread's id in threadIdx, thread_local) and __syncthreads is a barrier of those threads,
// both provided by the driver; with one thread every `for (t = threadIdx.x; t < n;
// t += blockDim.x)` loop visits all of its work in order.
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
extern thread_local EmulatedDim3 threadIdx;
extern EmulatedDim3 blockIdx, blockDim, gridDim;  // set before a block's threads start

template <class T>
inline T __ldg(const T* p) {
  return *p;
}
inline unsigned __brev(unsigned v) {
  unsigned r = 0;
  for (int i = 0; i < 32; ++i) r |= ((v >> i) & 1u) << (31 - i);
  return r;
}
void __syncthreads();

#define __device__
#define __global__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__
