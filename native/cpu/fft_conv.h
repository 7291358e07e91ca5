// Long causal convolution through the FFT (CPU backend), the twin of cuda/fft_conv.h.
//   y[b,h,t] = sum_{s<=t} k[h,s] u[b,h,t-s] + d[h] u[b,h,t]      (d optional)
// computed as irfft(rfft(u, n) * (rfft(k, n) + d), n)[:L] with n a power of two >= 2L;
// the skip term folds into the kernel spectrum (D u = conv(u, D delta), rfft(D delta) = D).
// All tensors row-major float32: u, y, du, dy [B,H,L]; k, dk [H,L]; d, dd [H].
#pragma once
#include <cstdint>

namespace s4::cpu {

// Transform length used for sequence length L (power of two >= 2L).
int64_t fftConvSize(int64_t L);

void fftConv(const float* u, const float* k, const float* d, float* y, int64_t B, int64_t H,
             int64_t L);

// Gradients of fftConv: du = corr(dy, k) + d dy, dk[h] = sum_b corr(dy, u),
// dd[h] = sum_{b,t} dy u (= dk[h,0] before the skip). du, dk, dd may each be null.
void fftConvBackward(const float* dy, const float* u, const float* k, const float* d, float* du,
                     float* dk, float* dd, int64_t B, int64_t H, int64_t L);

}  // namespace s4::cpu
