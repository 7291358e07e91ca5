// The bits returned by ssmParamCheck (CPU and CUDA twins; spec: native/binding/ssm_kernel.cpp),
// 0 when every value is valid. lib/ops/ssm_kernel.ts (SsmParamFlag) reads the same values.
#pragma once
#include <cstdint>

namespace s4 {

enum SsmParamFlags : uint32_t {
  kBadLambdaNonFinite = 1u,  // lambda has a NaN or infinite part
  kBadLambdaUnstable = 2u,   // Re lambda > 0 somewhere (finite entries only)
  kBadX1 = 4u,               // x1 has a non-finite value; x2, x3 the next bits
  kBadX2 = 8u,
  kBadX3 = 16u,
  kBadDt = 32u,              // dt not finite or <= 0 in some channel
};

}  // namespace s4
