// S4 convolution-kernel generation: the kernel K [H, L] of a DPLR (S4) or diagonal (S4D)
// state space model, its gradients, and the value check of the parameters.
// Twins: native/cpu/ssm_kernel.cpp (computed in double; it also derives the backward
// passes), native/cuda/ssm_kernel.cu.
//
// Complex buffers (lambda, p, b, cTilde, c and their gradients) are complex64 [H, N2]
// (interleaved re, im), row-major: element (h, n) at floats 2*(h*N2+n), +1; the N2 stored
// members of the conjugate pairs. dt, gDt are float32 [H]; out, dK float32 [H, L].
//
// dplrKernel (S4, bilinear, docs/ARCHITECTURE.md, "Kernel by generating function"). With
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
// Backward ops take dK [H, L] and write the gradient of sum(K * dK) with respect to every
// input: complex grads in the PyTorch convention (dL/dRe + i dL/dIm), dt grad real. Every
// output buffer is fully overwritten.
//
// ssmParamCheck returns the bits of native/common/ssm_param_flags.h (0 = all good): lambda
// not finite or Re lambda > 0, x1..x3 not finite (x3 optional), dt not finite or <= 0. The
// TypeScript wrappers raise the errors; on CUDA the call waits for the stream.
#include <cstdint>
#include <string>
#include <vector>

#include "dispatch.h"
#include "op_spec.h"

S4_TWIN(void, dplrKernel,
        (const float* lambda, const float* p, const float* b, const float* cTilde, const float* dt, float* out,
         int64_t H, int64_t N2, int64_t L))
S4_TWIN(void, dplrKernelBackward,
        (const float* lambda, const float* p, const float* b, const float* cTilde, const float* dt, const float* dK,
         float* gLambda, float* gP, float* gB, float* gCTilde, float* gDt, int64_t H, int64_t N2, int64_t L))
S4_TWIN(void, diagKernel,
        (const float* lambda, const float* b, const float* c, const float* dt, float* out, int64_t H, int64_t N2,
         int64_t L))
S4_TWIN(void, diagKernelBackward,
        (const float* lambda, const float* b, const float* c, const float* dt, const float* dK, float* gLambda,
         float* gB, float* gC, float* gDt, int64_t H, int64_t N2, int64_t L))
S4_TWIN(uint32_t, ssmParamCheck,
        (const float* lambda, const float* x1, const float* x2, const float* x3, const float* dt, int64_t H,
         int64_t N2))

namespace s4::binding {

namespace {

// The extents of a complex64 state buffer (parameters and their gradients).
const std::vector<std::string> kState = {"H", "N2"};

// The sizes of the kernel ops.
OpSpec& kernelSizes(OpSpec& s) { return s.dim("H").dim("N2").dim("L"); }

// The DPLR kernel's inputs, and the gradients of its backward in the same order.
OpSpec& dplrInputs(OpSpec& s) {
  return s.in("lambda", kState, DType::C64).in("p", kState, DType::C64).in("b", kState, DType::C64)
      .in("cTilde", kState, DType::C64).in("dt", {"H"});
}
OpSpec& dplrGrads(OpSpec& s) {
  return s.out("gLambda", kState, DType::C64).out("gP", kState, DType::C64).out("gB", kState, DType::C64)
      .out("gCTilde", kState, DType::C64).out("gDt", {"H"});
}

// The diagonal kernel's inputs, and the gradients of its backward in the same order.
OpSpec& diagInputs(OpSpec& s) {
  return s.in("lambda", kState, DType::C64).in("b", kState, DType::C64).in("c", kState, DType::C64).in("dt", {"H"});
}
OpSpec& diagGrads(OpSpec& s) {
  return s.out("gLambda", kState, DType::C64).out("gB", kState, DType::C64).out("gC", kState, DType::C64)
      .out("gDt", {"H"});
}

}  // namespace

S4_OP(dplrKernel, "ssm_kernel") {
  return OpSpec().with(dplrInputs).out("out", {"H", "L"}).with(kernelSizes).run([](Call& c) {
    S4_DISPATCH(c.device(), dplrKernel(c.in("lambda"), c.in("p"), c.in("b"), c.in("cTilde"), c.in("dt"), c.out("out"),
                                       c.dim("H"), c.dim("N2"), c.dim("L")));
  });
}

S4_OP(dplrKernelBackward, "ssm_kernel") {
  return OpSpec().with(dplrInputs).in("dK", {"H", "L"}).with(dplrGrads).with(kernelSizes).run([](Call& c) {
    S4_DISPATCH(c.device(), dplrKernelBackward(c.in("lambda"), c.in("p"), c.in("b"), c.in("cTilde"), c.in("dt"),
                                               c.in("dK"), c.out("gLambda"), c.out("gP"), c.out("gB"),
                                               c.out("gCTilde"), c.out("gDt"), c.dim("H"), c.dim("N2"), c.dim("L")));
  });
}

S4_OP(diagKernel, "ssm_kernel") {
  return OpSpec().with(diagInputs).out("out", {"H", "L"}).with(kernelSizes).run([](Call& c) {
    S4_DISPATCH(c.device(), diagKernel(c.in("lambda"), c.in("b"), c.in("c"), c.in("dt"), c.out("out"), c.dim("H"),
                                       c.dim("N2"), c.dim("L")));
  });
}

S4_OP(diagKernelBackward, "ssm_kernel") {
  return OpSpec().with(diagInputs).in("dK", {"H", "L"}).with(diagGrads).with(kernelSizes).run([](Call& c) {
    S4_DISPATCH(c.device(), diagKernelBackward(c.in("lambda"), c.in("b"), c.in("c"), c.in("dt"), c.in("dK"),
                                               c.out("gLambda"), c.out("gB"), c.out("gC"), c.out("gDt"), c.dim("H"),
                                               c.dim("N2"), c.dim("L")));
  });
}

S4_OP(ssmParamCheck, "ssm_kernel") {
  return OpSpec()
      .in("lambda", kState, DType::C64).in("x1", kState, DType::C64).in("x2", kState, DType::C64)
      .optionalIn("x3", kState, DType::C64).in("dt", {"H"})
      .dim("H").dim("N2")
      .returnsNumber()
      .run([](Call& c) {
        uint32_t flags;
#ifdef S4_WITH_CUDA
        if (c.device() != Device::CPU)
          flags = s4::cuda::ssmParamCheck(c.in("lambda"), c.in("x1"), c.in("x2"), c.optionalIn("x3"), c.in("dt"),
                                          c.dim("H"), c.dim("N2"));
        else
#endif
          flags = s4::cpu::ssmParamCheck(c.in("lambda"), c.in("x1"), c.in("x2"), c.optionalIn("x3"), c.in("dt"),
                                         c.dim("H"), c.dim("N2"));
        c.result(double(flags));
      });
}

}  // namespace s4::binding
