// Long causal convolution through cuFFT (CUDA backend); twin of cpu/fft_conv.h, same
// signatures and layouts. All pointers are device pointers; work is issued on
// s4::cuda::stream(). No CUDA headers here.
#pragma once
#include <cstdint>

namespace s4::cuda {

// Transform length used for sequence length L: the smallest even n >= 2L whose prime
// factors are 2, 3, 5, 7 (cuFFT's fast sizes).
int64_t fftConvSize(int64_t L);

void fftConv(const float* u, const float* k, const float* d, float* y, int64_t B, int64_t H,
             int64_t L);

void fftConvBackward(const float* dy, const float* u, const float* k, const float* d, float* du,
                     float* dk, float* dd, int64_t B, int64_t H, int64_t L);

}  // namespace s4::cuda
