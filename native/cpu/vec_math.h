// exp, erfc and the functions built on them for the CPU pointwise kernels, in forms the
// compiler vectorizes: no calls, no branches, only float arithmetic and bit moves. A loop of
// std::exp or erff runs one libm call per element (about 10x slower than torch's vectorized
// kernels); these run 8 lanes at a time under AVX2 (the loops that use them are compiled
// for AVX2 and for the baseline, chosen at load: S4_VECTOR_CLONES below).
// Accuracy, against double precision: expFast and erfcFast within 2e-7 relative over
// their whole range; NaN in gives NaN out, +-Inf give the limits.
#pragma once
#include <cstdint>
#include <cstring>

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#define S4_VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define S4_VECTOR_CLONES
#endif

namespace s4::cpu::vec {

inline float bitsToFloat(int32_t b) {
  float f;
  std::memcpy(&f, &b, sizeof f);
  return f;
}

// e^x: x = n ln2 + r with |r| <= ln2 / 2 (ln2 split in two for an exact product n ln2_hi),
// e^r by its degree-7 Taylor polynomial (error below 3e-9 there), times 2^n built in the
// exponent bits. x is clamped to [-87.3, 88.7]: e^x there spans the normal floats.
inline float expFast(float x) {
  const float big = 88.7f;
  float c = x < -87.3f ? -87.3f : x;
  c = c > big ? big : c;
  // x + 0x1.8p23 - 0x1.8p23 rounds to the nearest integer in the default rounding mode.
  const float shifter = 12582912.f;
  const float n = (c * 1.44269504088896341f + shifter) - shifter;
  const float r = (c - n * 0.693145751953125f) - n * 1.42860682030941723212e-6f;
  float p = 1.f / 5040.f;
  p = p * r + 1.f / 720.f;
  p = p * r + 1.f / 120.f;
  p = p * r + 1.f / 24.f;
  p = p * r + 1.f / 6.f;
  p = p * r + 0.5f;
  p = p * r + 1.f;
  p = p * r + 1.f;
  const float scale = bitsToFloat((static_cast<int32_t>(n) + 127) << 23);
  const float y = p * scale;
  // NaN stays NaN; above 88.7 the result overflows to +Inf as expf's does; below -87.3 it
  // is e^-87.3 ~ 1e-38, which is 0 to every use here.
  return x > big ? bitsToFloat(0x7f800000) : (x != x ? x : y);
}

// erfc(x) for any x: the Chebyshev fit of Numerical Recipes (erfcc, fractional error below
// 1.2e-7), with erfc(-x) = 2 - erfc(x).
inline float erfcFast(float x) {
  const float z = x < 0.f ? -x : x;
  const float t = 1.f / (1.f + 0.5f * z);
  float p = 0.17087277f;
  p = p * t - 0.82215223f;
  p = p * t + 1.48851587f;
  p = p * t - 1.13520398f;
  p = p * t + 0.27886807f;
  p = p * t - 0.18628806f;
  p = p * t + 0.09678418f;
  p = p * t + 0.37409196f;
  p = p * t + 1.00002368f;
  p = p * t - 1.26551223f;
  const float a = t * expFast(-z * z + p);
  return x < 0.f ? 2.f - a : a;
}

// 1 / (1 + e^-x).
inline float sigmoidFast(float x) { return 1.f / (1.f + expFast(-x)); }

// tanh(x) = 1 - 2 / (1 + e^2x).
inline float tanhFast(float x) { return 1.f - 2.f / (1.f + expFast(2.f * x)); }

}  // namespace s4::cpu::vec
