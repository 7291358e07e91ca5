// CUDA twin of the AdamW step (spec: native/binding/optim.cpp): four elements per thread
// with 16-byte loads when all four buffers are aligned, the same element function as the
// CPU twin (native/common/adamw.h).
#include <cstdint>

#include "../common/adamw.h"
#include "kernel_common.cuh"

namespace s4::cuda {
namespace {

__global__ void adamwKernel(float* __restrict__ p, const float* __restrict__ g, float* __restrict__ m,
                            float* __restrict__ v, int64_t n, nn::AdamWConstants c, bool vec) {
  const int64_t nq = (n + 3) / 4;
  S4_GRID_STRIDE(q, nq) {
    const int64_t i = 4 * q;
    if (vec && i + 4 <= n) {
      float4 pp = reinterpret_cast<float4*>(p)[q];
      const float4 gg = reinterpret_cast<const float4*>(g)[q];
      float4 mm = reinterpret_cast<float4*>(m)[q];
      float4 vv = reinterpret_cast<float4*>(v)[q];
      nn::adamwElement(pp.x, gg.x, mm.x, vv.x, c);
      nn::adamwElement(pp.y, gg.y, mm.y, vv.y, c);
      nn::adamwElement(pp.z, gg.z, mm.z, vv.z, c);
      nn::adamwElement(pp.w, gg.w, mm.w, vv.w, c);
      reinterpret_cast<float4*>(p)[q] = pp;
      reinterpret_cast<float4*>(m)[q] = mm;
      reinterpret_cast<float4*>(v)[q] = vv;
    } else {
      for (int64_t k = i; k < min(n, i + 4); ++k) nn::adamwElement(p[k], g[k], m[k], v[k], c);
    }
  }
}

}  // namespace

void adamwUpdate(float* param, const float* grad, float* m, float* v, int64_t n, const nn::AdamWConstants& c) {
  if (n <= 0) return;
  const bool vec = aligned16(param) && aligned16(grad) && aligned16(m) && aligned16(v);
  adamwKernel<<<gridFor((n + 3) / 4), kThreads, 0, stream()>>>(param, grad, m, v, n, c, vec);
  S4_CUDA_CHECK_LAUNCH("adamwUpdate");
}

}  // namespace s4::cuda
