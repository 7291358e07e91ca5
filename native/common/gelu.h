// GELU and its derivative, and the GLU's sigmoid with its complement, shared by the CPU and
// CUDA backends (plain C++, usable from host and device code). Exact GELU:
// x Phi(x) = x erfc(-x / sqrt 2) / 2 (erfc, not 1 + erf: for negative x the sum would cancel
// to a few bits); tanh form: x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2. The CPU's
// vectorized loops evaluate the same formulas with their own exp and erfc (cpu/vec_math.h).
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

S4_HD inline float geluErf(float v) { return 0.5f * v * erfcf(-v * float(kInvSqrt2)); }

S4_HD inline float geluTanh(float v) {
  const float u = float(kSqrt2OverPi) * (v + kGeluTanhC * v * v * v);
  return 0.5f * v * (1.f + tanhf(u));
}

// d/dv geluErf(v) = Phi(v) + v phi(v).
S4_HD inline float geluErfGrad(float v) {
  const float cdf = 0.5f * erfcf(-v * float(kInvSqrt2));
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

// s = 1 / (1 + e^-g) and 1 - s, the latter as e^-g s where s is near 1 (g > 0): the
// subtraction would keep only a few bits of it there.
S4_HD inline void sigmoidPair(float g, float& s, float& oneMinus) {
  const float e = expf(-g);
  s = 1.f / (1.f + e);
  oneMinus = g > 0.f ? e * s : 1.f - s;
}

}  // namespace s4::nn
