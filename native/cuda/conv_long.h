// The FFT convolution of rows too long for one block's shared memory (8192 < L <= 65536),
// as a two-pass shared-memory transform (native/cuda/conv_long.cu), and the switch that
// picks it or the cuFFT pipeline (native/cuda/conv_path.cpp). Called by conv.cu, whose
// twins define the arguments (native/binding/conv.cpp).
#pragma once
#include <cstdint>
#include <string>

namespace s4::cuda {

// The longest row the two-pass transform takes: transforms of up to n = 131072 reals
// (65536 packed complex points = 256 x 256).
constexpr int64_t kLongConvMaxL = 65536;

// Whether the two-pass kernels take rows of length L for B * H rows (grid and index limits).
bool longConvFits(int64_t B, int64_t H, int64_t L);

// y = conv(u, k) + d u, or with CORR the correlation corr(u, k) + d u (du of the backward).
void longConv(const float* u, const float* k, const float* d, float* y, int64_t B, int64_t H, int64_t L, bool corr);

// The backward with dk and/or dd (du too when non-null); B > 0.
void longConvBackward(const float* dy, const float* u, const float* k, const float* d, float* du, float* dk, float* dd,
                      int64_t B, int64_t H, int64_t L);

// Which transform fftConv and its backward use: 'fused' (the default: the one-block
// kernels up to L = 8192, the two-pass kernels up to kLongConvMaxL, cuFFT above) or
// 'cufft' (the cuFFT pipeline at every length). The first use reads S4_FFTCONV;
// setFftConvPath changes it for the ops queued afterwards.
enum class FftConvPath { Fused, Cufft };
FftConvPath fftConvPath();
void setFftConvPath(FftConvPath path);
const char* fftConvPathName(FftConvPath path);
// 'fused' | 'cufft' -> the path; anything else throws a RangeError naming `what`.
FftConvPath parseFftConvPath(const std::string& name, const char* what);

}  // namespace s4::cuda
