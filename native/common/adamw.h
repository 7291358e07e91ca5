// AdamW step shared by the CPU and CUDA backends (plain C++, usable from host and device
// code), so both apply the very same float operations in the same order.
#pragma once
#include <cmath>
#include <cstdint>

#ifdef __CUDACC__
#define S4_ADAMW_HD __host__ __device__ __forceinline__
#else
#define S4_ADAMW_HD inline
#endif

namespace s4::nn {

// AdamW constants computed once on the host (double, then rounded to float).
struct AdamWConstants {
  float decay;        // 1 - lr * weightDecay
  float beta1, beta2;
  float oneMinusBeta1, oneMinusBeta2;  // from double: 1 - float(0.999) would be off by 5e-5
  float stepSize;     // lr / (1 - beta1^step)
  float invSqrtBc2;   // 1 / sqrt(1 - beta2^step)
  float eps;
};
inline AdamWConstants adamwConstants(double lr, double beta1, double beta2, double eps,
                                     double weightDecay, double step) {
  AdamWConstants c;
  c.decay = float(1.0 - lr * weightDecay);
  c.beta1 = float(beta1);
  c.beta2 = float(beta2);
  c.oneMinusBeta1 = float(1.0 - beta1);
  c.oneMinusBeta2 = float(1.0 - beta2);
  c.stepSize = float(lr / (1.0 - std::pow(beta1, step)));
  c.invSqrtBc2 = float(1.0 / std::sqrt(1.0 - std::pow(beta2, step)));
  c.eps = float(eps);
  return c;
}
// On the GPU every product and fused multiply-add is spelled out: left to the compiler, which
// product of `a * b + c * d` becomes the FMA may differ between kernels that inline this
// function, and the one-tensor and multi-tensor kernels must give the same floats.
S4_ADAMW_HD void adamwElement(float& p, float g, float& m, float& v, const AdamWConstants& c) {
#ifdef __CUDA_ARCH__
  p = __fmul_rn(p, c.decay);
  m = __fmaf_rn(c.beta1, m, __fmul_rn(c.oneMinusBeta1, g));
  v = __fmaf_rn(c.beta2, v, __fmul_rn(__fmul_rn(c.oneMinusBeta2, g), g));
  const float denom = __fmaf_rn(__fsqrt_rn(v), c.invSqrtBc2, c.eps);
  p = __fmaf_rn(-c.stepSize, __fdiv_rn(m, denom), p);
#else
  p *= c.decay;
  m = c.beta1 * m + c.oneMinusBeta1 * g;
  v = c.beta2 * v + c.oneMinusBeta2 * g * g;
  const float denom = sqrtf(v) * c.invSqrtBc2 + c.eps;
  p -= c.stepSize * (m / denom);
#endif
}

}  // namespace s4::nn
