// Elementwise ops and the full sum, CPU twins of cuda/pointwise.h. Counts are in floats.
#pragma once
#include <cstdint>

namespace s4::cpu {

void fill(float* out, float value, int64_t n);
// out = alpha * a + beta * b (b may be null: out = alpha * a). out may alias a or b.
void axpby(float* out, const float* a, float alpha, const float* b, float beta, int64_t n);
void mul(float* out, const float* a, const float* b, int64_t n);
// out[0] = sum of a (accumulated in double).
void sum(float* out, const float* a, int64_t n);
// out[i] = scalar[0] * scale
void broadcastScalar(float* out, const float* scalar, float scale, int64_t n);

}  // namespace s4::cpu
