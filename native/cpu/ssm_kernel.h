// S4 convolution-kernel generation (CPU twin of cuda/ssm_kernel.h), computed in double.
//
// Complex inputs are complex64 [H, N2] (interleaved re, im float32), row-major: element
// (h, n) at floats 2*(h*N2+n), +1. dt is float32 [H]. Kernels are float32 [H, L].
//
// dplrKernel (S4, bilinear, DESIGN.md "Kernel by generating function"). With
// phi_j = pi j / L, s_j = sin(phi_j), c_j = cos(phi_j) (so omega_j = exp(-2 i phi_j) and
// z_j = 2 i tan(phi_j)) and w_n = dt lambda_n, the factor 2/(1+omega_j) is folded into the
// Cauchy denominators:
//   sigma_ab(j) = dt sum_n [ a_n b_n / (2 i s_j - c_j w_n) + conj(a_n b_n) / (2 i s_j - c_j conj(w_n)) ]
//   Khat_j      = exp(i phi_j) ( sigma_00 - c_j sigma_01 sigma_10 / (1 + c_j sigma_11) )
// with (a b) = (C~ B), (C~ P), (Q B), (Q P), Q = conj(P). Since 1/(z_j - w) = c_j/(2 i s_j - c_j w)
// and 2/(1+omega_j) = exp(i phi_j)/c_j, the official r_ab = c_j sigma_ab and
// 2/(1+omega) (r00 - r01 r10/(1 + r11)) is exactly the expression above, which stays finite
// at omega = -1 (even L, j = L/2, c = 0): Khat = dt sum_n 2 Re(C~_n B_n) / 2, the exact limit.
// Then K = irfft(Khat, L).
//
// diagKernel (S4D, ZOH): K[h, l] = 2 Re sum_n C_n B_n (exp(w_n) - 1)/lambda_n exp(w_n)^l.
//
// Backward functions take dK [H, L] and write the gradient of sum(K * dK) with respect to
// every input: complex grads in the PyTorch convention (dL/dRe + i dL/dIm), dt grad real.
// Every output buffer is fully overwritten.
#pragma once
#include <cstdint>

namespace s4::cpu {

void dplrKernel(const float* lambda, const float* p, const float* b, const float* cTilde, const float* dt, float* out,
                int64_t H, int64_t N2, int64_t L);
void dplrKernelBackward(const float* lambda, const float* p, const float* b, const float* cTilde, const float* dt,
                        const float* dK, float* gLambda, float* gP, float* gB, float* gCTilde, float* gDt, int64_t H,
                        int64_t N2, int64_t L);

void diagKernel(const float* lambda, const float* b, const float* c, const float* dt, float* out, int64_t H, int64_t N2,
                int64_t L);
void diagKernelBackward(const float* lambda, const float* b, const float* c, const float* dt, const float* dK,
                        float* gLambda, float* gB, float* gC, float* gDt, int64_t H, int64_t N2, int64_t L);

// Value checks of SSM parameters. Returns a bit set (0 = all good):
//   kBadLambdaNonFinite, kBadLambdaUnstable (Re lambda > 0), kBadX1..kBadX3 (x_k has a
//   non-finite value; x3 may be null), kBadDt (dt not finite or <= 0).
enum SsmParamFlags : uint32_t {
  kBadLambdaNonFinite = 1u,
  kBadLambdaUnstable = 2u,
  kBadX1 = 4u,
  kBadX2 = 8u,
  kBadX3 = 16u,
  kBadDt = 32u,
};
uint32_t ssmParamCheck(const float* lambda, const float* x1, const float* x2, const float* x3, const float* dt,
                       int64_t H, int64_t N2);

}  // namespace s4::cpu
