// Elementwise ops and the full sum on the GPU (see cpu/pointwise.h for the contract).
#pragma once
#include <cstdint>

namespace s4::cuda {

void fill(float* out, float value, int64_t n);
void axpby(float* out, const float* a, float alpha, const float* b, float beta, int64_t n);
void mul(float* out, const float* a, const float* b, int64_t n);
void sum(float* out, const float* a, int64_t n);
void broadcastScalar(float* out, const float* scalar, float scale, int64_t n);

}  // namespace s4::cuda
