// GELU and its derivative, shared by the CPU and CUDA backends (plain C++, usable from host
// and device code): both evaluate these very float formulas. Exact form:
// x Phi(x) = x (1 + erf(x / sqrt 2)) / 2; tanh form: x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2.
#pragma once
#include <math.h>

#ifdef __CUDACC__
#define S4_HD __host__ __device__
#else
#define S4_HD
#endif

namespace s4::nn {

constexpr double kInvSqrt2 = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;
constexpr double kSqrt2OverPi = 0.79788456080286535588;
constexpr float kGeluTanhC = 0.044715f;

S4_HD inline float geluErf(float v) { return 0.5f * v * (1.f + erff(v * float(kInvSqrt2))); }

S4_HD inline float geluTanh(float v) {
  const float u = float(kSqrt2OverPi) * (v + kGeluTanhC * v * v * v);
  return 0.5f * v * (1.f + tanhf(u));
}

// d/dv geluErf(v) = Phi(v) + v phi(v).
S4_HD inline float geluErfGrad(float v) {
  const float cdf = 0.5f * (1.f + erff(v * float(kInvSqrt2)));
  const float pdf = float(kInvSqrt2Pi) * expf(-0.5f * v * v);
  return cdf + v * pdf;
}

// d/dv geluTanh(v).
S4_HD inline float geluTanhGrad(float v) {
  const float u = float(kSqrt2OverPi) * (v + kGeluTanhC * v * v * v);
  const float t = tanhf(u);
  const float du = float(kSqrt2OverPi) * (1.f + 3.f * kGeluTanhC * v * v);
  return 0.5f * (1.f + t) + 0.5f * v * (1.f - t * t) * du;
}

}  // namespace s4::nn
