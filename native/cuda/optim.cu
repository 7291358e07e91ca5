// CUDA twin of the AdamW step (spec: native/binding/optim.cpp): four elements per thread
// with 16-byte loads when all four buffers are aligned, the same element function as the
// CPU twin (native/common/adamw.h).
#include <cstdint>

#include "../common/adamw.h"
#include "adamw_quad.cuh"
#include "kernel_common.cuh"

namespace s4::cuda {
namespace {

__global__ void adamwKernel(float* __restrict__ p, const float* __restrict__ g, float* __restrict__ m,
                            float* __restrict__ v, int64_t n, nn::AdamWConstants c, bool vec) {
  S4_GRID_STRIDE(q, (n + 3) / 4) adamwQuad(p, g, m, v, n, q, vec, c);
}

}  // namespace

void adamwUpdate(float* param, const float* grad, float* m, float* v, int64_t n, const nn::AdamWConstants& c) {
  if (n <= 0) return;
  const bool vec = aligned16(param) && aligned16(grad) && aligned16(m) && aligned16(v);
  adamwKernel<<<gridFor((n + 3) / 4), kThreads, 0, stream()>>>(param, grad, m, v, n, c, vec);
  S4_CUDA_CHECK_LAUNCH("adamwUpdate");
}

}  // namespace s4::cuda
