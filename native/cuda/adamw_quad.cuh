// The AdamW step of one quad of a tensor (elements 4q .. 4q + 3, fewer at the end), shared
// by the one-tensor kernel (optim.cu) and the multi-tensor kernel (adamw_multi.cu) so that
// both apply nn::adamwElement to the same elements the same way: a 16-byte access of each
// buffer when all four are aligned (vec) and the quad is whole, scalar accesses otherwise.
#pragma once
#include <cstdint>

#include "../common/adamw.h"

namespace s4::cuda {

__device__ __forceinline__ void adamwQuad(float* __restrict__ p, const float* __restrict__ g, float* __restrict__ m,
                                          float* __restrict__ v, int64_t n, int64_t q, bool vec,
                                          const nn::AdamWConstants& c) {
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

}  // namespace s4::cuda
