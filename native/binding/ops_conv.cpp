// Exports of the long convolution (FFT) and the recurrent scan:
//   fftConv(u, k, d | null, y, B, H, L)
//   fftConvBackward(dy, u, k, d | null, du | null, dk | null, dd | null, B, H, L)
//   ssmScan(coef, state | null, u, y, B, H, N2, T, gelu?)   gelu: y = GELU(scan) (default false)
//   stepEpilogue(z, bias | null, x, w | null, lb | null, out, B, H, eps, normalize)
//     out = [LayerNorm](x + GLU(z + bias)) of one token of a block (cpu/ssm_scan.h)
// Shapes (float32 unless noted): u, y, dy, du [B,H,L]; k, dk [H,L]; d, dd [H];
// coef [H, 10*N2 + 2] (layout in cpu/ssm_scan.h); state complex64 [B,H,N2]; scan u, y [B,H,T];
// epilogue z [B, 2H], bias [2H], x, out [B, H], w, lb [H].
// Every buffer is checked for its element count and for living on the device of the
// output; the kernels run on that device.
#include <string>

#include "../common/error.h"
#include "../cpu/fft_conv.h"
#include "../cpu/ssm_scan.h"
#include "args.h"
#include "dispatch.h"
#include "registry.h"
#ifdef S4_WITH_CUDA
#include "../cuda/fft_conv.h"
#include "../cuda/ssm_scan.h"
#endif

namespace s4::binding {
namespace {

constexpr int64_t kMaxDim = int64_t(1) << 31;

void check(const Args& a, const Storage* buf, const char* name, int64_t elements, Device dev,
           size_t elementBytes = sizeof(float)) {
  if (!buf) return;
  a.expectElements(*buf, name, elements, elementBytes);
  a.expectDevice(*buf, name, dev);
}

const float* cptr(const Storage* s) { return s ? s->as<float>() : nullptr; }
float* ptr(Storage* s) { return s ? s->as<float>() : nullptr; }

Napi::Value fftConv(const Napi::CallbackInfo& info) {
  Args a(info, "fftConv", 7);
  Storage& u = a.buffer(0, "u");
  Storage& k = a.buffer(1, "k");
  Storage* d = a.optionalBuffer(2, "d");
  Storage& y = a.buffer(3, "y");
  const int64_t B = a.integer(4, "B", 0, kMaxDim);
  const int64_t H = a.integer(5, "H", 1, kMaxDim);
  const int64_t L = a.integer(6, "L", 1, kMaxDim);
  const int64_t bhl = checkedProduct("fftConv", "u [B, H, L]", {B, H, L});
  const int64_t hl = checkedProduct("fftConv", "k [H, L]", {H, L});
  const Device dev = y.device();
  check(a, &u, "u", bhl, dev);
  check(a, &k, "k", hl, dev);
  check(a, d, "d", H, dev);
  check(a, &y, "y", bhl, dev);
  S4_DISPATCH(dev, fftConv(u.as<float>(), k.as<float>(), cptr(d), y.as<float>(), B, H, L));
  return info.Env().Undefined();
}

Napi::Value fftConvBackward(const Napi::CallbackInfo& info) {
  Args a(info, "fftConvBackward", 10);
  Storage& dy = a.buffer(0, "dy");
  Storage& u = a.buffer(1, "u");
  Storage& k = a.buffer(2, "k");
  Storage* d = a.optionalBuffer(3, "d");
  Storage* du = a.optionalBuffer(4, "du");
  Storage* dk = a.optionalBuffer(5, "dk");
  Storage* dd = a.optionalBuffer(6, "dd");
  const int64_t B = a.integer(7, "B", 0, kMaxDim);
  const int64_t H = a.integer(8, "H", 1, kMaxDim);
  const int64_t L = a.integer(9, "L", 1, kMaxDim);
  const int64_t bhl = checkedProduct("fftConvBackward", "dy [B, H, L]", {B, H, L});
  const int64_t hl = checkedProduct("fftConvBackward", "k [H, L]", {H, L});
  const Device dev = dy.device();
  check(a, &dy, "dy", bhl, dev);
  check(a, &u, "u", bhl, dev);
  check(a, &k, "k", hl, dev);
  check(a, d, "d", H, dev);
  check(a, du, "du", bhl, dev);
  check(a, dk, "dk", hl, dev);
  check(a, dd, "dd", H, dev);
  S4_DISPATCH(dev, fftConvBackward(dy.as<float>(), u.as<float>(), k.as<float>(), cptr(d), ptr(du),
                                   ptr(dk), ptr(dd), B, H, L));
  return info.Env().Undefined();
}

Napi::Value ssmScan(const Napi::CallbackInfo& info) {
  Args a(info, "ssmScan", 8);
  Storage& coef = a.buffer(0, "coef");
  Storage* state = a.optionalBuffer(1, "state");
  Storage& u = a.buffer(2, "u");
  Storage& y = a.buffer(3, "y");
  const int64_t B = a.integer(4, "B", 0, kMaxDim);
  const int64_t H = a.integer(5, "H", 1, kMaxDim);
  const int64_t N2 = a.integer(6, "N2", 1, int64_t(1) << 20);
  const int64_t T = a.integer(7, "T", 0, kMaxDim - 1);
  const int64_t bht = checkedProduct("ssmScan", "u [B, H, T]", {B, H, T});
  const int64_t coefCount = checkedProduct("ssmScan", "coef [H, 10 N2 + 2]", {H, scanCoefStride(N2)});
  const int64_t stateCount = checkedProduct("ssmScan", "state [B, H, N2]", {B, H, N2});
  const Device dev = y.device();
  check(a, &coef, "coef", coefCount, dev);
  check(a, state, "state", stateCount, dev, 2 * sizeof(float));
  check(a, &u, "u", bht, dev);
  check(a, &y, "y", bht, dev);
  const bool gelu = info.Length() > 8 && !info[8].IsUndefined() && a.boolean(8, "gelu");
  S4_DISPATCH(dev, ssmScan(coef.as<float>(), ptr(state), u.as<float>(), y.as<float>(), B, H, N2, T, gelu));
  return info.Env().Undefined();
}

Napi::Value stepEpilogue(const Napi::CallbackInfo& info) {
  Args a(info, "stepEpilogue", 10);
  Storage& z = a.buffer(0, "z");
  Storage* bias = a.optionalBuffer(1, "bias");
  Storage& x = a.buffer(2, "x");
  Storage* w = a.optionalBuffer(3, "w");
  Storage* lb = a.optionalBuffer(4, "lb");
  Storage& out = a.buffer(5, "out");
  const int64_t B = a.integer(6, "B", 0, kMaxDim);
  const int64_t H = a.integer(7, "H", 1, kMaxDim / 2);
  const double eps = a.number(8, "eps");
  const bool normalize = a.boolean(9, "normalize");
  if (!(eps > 0)) failRange("stepEpilogue: argument 'eps' must be > 0 (got " + std::to_string(eps) + ")");
  const int64_t bh = checkedProduct("stepEpilogue", "x [B, H]", {B, H});
  const int64_t b2h = checkedProduct("stepEpilogue", "z [B, 2H]", {B, 2 * H});
  const Device dev = out.device();
  check(a, &z, "z", b2h, dev);
  check(a, bias, "bias", 2 * H, dev);
  check(a, &x, "x", bh, dev);
  check(a, w, "w", H, dev);
  check(a, lb, "lb", H, dev);
  check(a, &out, "out", bh, dev);
  if (&out == &z || &out == &x) failRange("stepEpilogue: argument 'out' must not be 'z' or 'x'");
  S4_DISPATCH(dev, stepEpilogue(z.as<float>(), cptr(bias), x.as<float>(), cptr(w), cptr(lb), out.as<float>(), B, H,
                                static_cast<float>(eps), normalize));
  return info.Env().Undefined();
}

void exportConv(Napi::Env env, Napi::Object exports) {
  exports.Set("fftConv", makeFunction(env, "fftConv", fftConv));
  exports.Set("fftConvBackward", makeFunction(env, "fftConvBackward", fftConvBackward));
  exports.Set("ssmScan", makeFunction(env, "ssmScan", ssmScan));
  exports.Set("stepEpilogue", makeFunction(env, "stepEpilogue", stepEpilogue));
}

}  // namespace

S4_REGISTER_EXPORTS(exportConv);

}  // namespace s4::binding
