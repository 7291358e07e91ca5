// Dropout mask shared by the CPU and CUDA backends (plain C++, usable from host and device
// code): both compute element i's keep decision with this very code, so a mask depends only
// on (seed, step, i) and never on the backend or on how the work is split.
#pragma once
#include <cstdint>

#ifdef __CUDACC__
#define S4_DROPOUT_HD __host__ __device__ __forceinline__
#else
#define S4_DROPOUT_HD inline
#endif

namespace s4::nn {

// splitmix64 finalizer: a bijective 64-bit mixer.
S4_DROPOUT_HD uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
// Key of one dropout mask from a user seed and a step counter.
S4_DROPOUT_HD uint64_t dropoutKey(uint64_t seed, uint64_t step) {
  return mix64(mix64(seed + 0x9e3779b97f4a7c15ULL) ^ (step * 0xd1b54a32d192ed03ULL + 0x632be59bd9b4e019ULL));
}
// The key whose element i is element i + offset of `key`'s mask: dropoutUniform below adds
// (i + 1) * golden to the key, so shifting the key by offset * golden shifts the index. A
// tensor that is a slice of a larger one (one rank's part of a data-parallel batch) then
// draws exactly that slice of the larger tensor's mask, with no change to the kernels.
S4_DROPOUT_HD uint64_t dropoutShiftKey(uint64_t key, uint64_t offset) {
  return key + offset * 0x9e3779b97f4a7c15ULL;
}
// Uniform in [0, 1) with 24 random bits (exact in float32), a pure function of (key, i).
S4_DROPOUT_HD float dropoutUniform(uint64_t key, uint64_t i) {
  return float(mix64(key + (i + 1) * 0x9e3779b97f4a7c15ULL) >> 40) * (1.0f / 16777216.0f);
}
// Element i of x after dropout: kept (times scale = 1/(1-p)) iff dropoutUniform(key, i) >= p.
S4_DROPOUT_HD float dropoutElement(float x, uint64_t key, uint64_t i, float p, float scale) {
  return dropoutUniform(key, i) >= p ? x * scale : 0.f;
}

}  // namespace s4::nn
