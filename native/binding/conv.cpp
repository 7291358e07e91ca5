// Long causal convolution through the FFT.
// Twins: native/cpu/conv.cpp (spectra in double), native/cuda/conv.cu (fused shared-memory
// FFTs: one block per row up to L = 8192, two passes (conv_long.cu) up to 65536; cuFFT
// above, or at every length with S4_FFTCONV=cufft).
//
//   y[b,h,t] = sum_{s<=t} k[h,s] u[b,h,t-s] + d[h] u[b,h,t]      (d optional)
// computed as irfft(rfft(u, n) * (rfft(k, n) + d), n)[:L] with n >= 2L (a power of two on
// the CPU and in the fused CUDA kernels, a 7-smooth even length through cuFFT); the skip term folds into the kernel spectrum
// (D u = conv(u, D delta), rfft(D delta) = D).
// All buffers row-major float32: u, y, dy, du [B,H,L]; k, dk [H,L]; d, dd [H]. B may be 0.
#include <cstdint>

#include "dispatch.h"
#include "op_spec.h"

S4_TWIN(void, fftConv, (const float* u, const float* k, const float* d, float* y, int64_t B, int64_t H, int64_t L))
// Gradients of fftConv: du = corr(dy, k) + d dy, dk[h] = sum_b corr(dy, u),
// dd[h] = sum_{b,t} dy u (= dk[h,0] before the skip). du, dk, dd may each be null.
S4_TWIN(void, fftConvBackward,
        (const float* dy, const float* u, const float* k, const float* d, float* du, float* dk, float* dd, int64_t B,
         int64_t H, int64_t L))

namespace s4::binding {

namespace {

// The sizes of u, y [B, H, L] (B may be 0: no data) and k [H, L].
OpSpec& convSizes(OpSpec& s) { return s.dim("B", 0).dim("H").dim("L"); }

}  // namespace

S4_OP(fftConv, "conv") {
  return OpSpec()
      .in("u", {"B", "H", "L"}).in("k", {"H", "L"}).optionalIn("d", {"H"})
      .out("y", {"B", "H", "L"})
      .with(convSizes)
      .run([](Call& c) {
        S4_DISPATCH(c.device(), fftConv(c.in("u"), c.in("k"), c.optionalIn("d"), c.out("y"), c.dim("B"), c.dim("H"),
                                        c.dim("L")));
      });
}

S4_OP(fftConvBackward, "conv") {
  return OpSpec()
      .in("dy", {"B", "H", "L"}).in("u", {"B", "H", "L"}).in("k", {"H", "L"}).optionalIn("d", {"H"})
      .optionalOut("du", {"B", "H", "L"}).optionalOut("dk", {"H", "L"}).optionalOut("dd", {"H"})
      .with(convSizes)
      .run([](Call& c) {
        S4_DISPATCH(c.device(), fftConvBackward(c.in("dy"), c.in("u"), c.in("k"), c.optionalIn("d"), c.optionalOut("du"),
                                                c.optionalOut("dk"), c.optionalOut("dd"), c.dim("B"), c.dim("H"),
                                                c.dim("L")));
      });
}

}  // namespace s4::binding
