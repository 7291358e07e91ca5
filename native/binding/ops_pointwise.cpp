// Exports of the elementwise ops used by autograd (gradient accumulation, seeds) and by
// simple losses. Counts are in floats: a complex64 tensor of n elements is 2n floats.
#include <limits>

#include "../cpu/pointwise.h"
#include "args.h"
#include "dispatch.h"
#include "registry.h"
#ifdef S4_WITH_CUDA
#include "../cuda/pointwise.h"
#endif

namespace s4::binding {
namespace {

constexpr int64_t kMaxCount = int64_t(1) << 44;


Napi::Value fill(const Napi::CallbackInfo& info) {
  Args a(info, "fill", 3);
  Storage& out = a.buffer(0, "out");
  double v = a.number(1, "value");
  int64_t n = a.integer(2, "n", 0, kMaxCount);
  a.expectElements(out, "out", n, sizeof(float));
  S4_DISPATCH(out.device(), fill(out.as<float>(), static_cast<float>(v), n));
  return info.Env().Undefined();
}

// axpby(out, a, alpha, b | null, beta, n)
Napi::Value axpby(const Napi::CallbackInfo& info) {
  Args a(info, "axpby", 6);
  Storage& out = a.buffer(0, "out");
  Storage& x = a.buffer(1, "a");
  double alpha = a.number(2, "alpha");
  Storage* y = a.optionalBuffer(3, "b");
  double beta = a.number(4, "beta");
  int64_t n = a.integer(5, "n", 0, kMaxCount);
  a.expectElements(out, "out", n, sizeof(float));
  a.expectElements(x, "a", n, sizeof(float));
  a.expectDevice(x, "a", out.device());
  if (y) {
    a.expectElements(*y, "b", n, sizeof(float));
    a.expectDevice(*y, "b", out.device());
  }
  S4_DISPATCH(out.device(), axpby(out.as<float>(), x.as<float>(), static_cast<float>(alpha), y ? y->as<float>() : nullptr,
                                   static_cast<float>(beta), n));
  return info.Env().Undefined();
}

Napi::Value mul(const Napi::CallbackInfo& info) {
  Args a(info, "mul", 4);
  Storage& out = a.buffer(0, "out");
  Storage& x = a.buffer(1, "a");
  Storage& y = a.buffer(2, "b");
  int64_t n = a.integer(3, "n", 0, kMaxCount);
  for (auto [buf, name] : {std::pair<Storage*, const char*>{&out, "out"}, {&x, "a"}, {&y, "b"}}) {
    a.expectElements(*buf, name, n, sizeof(float));
    a.expectDevice(*buf, name, out.device());
  }
  S4_DISPATCH(out.device(), mul(out.as<float>(), x.as<float>(), y.as<float>(), n));
  return info.Env().Undefined();
}

Napi::Value sum(const Napi::CallbackInfo& info) {
  Args a(info, "sum", 3);
  Storage& out = a.buffer(0, "out");
  Storage& x = a.buffer(1, "a");
  int64_t n = a.integer(2, "n", 0, kMaxCount);
  a.expectElements(out, "out", 1, sizeof(float));
  a.expectElements(x, "a", n, sizeof(float));
  a.expectDevice(x, "a", out.device());
  S4_DISPATCH(out.device(), sum(out.as<float>(), x.as<float>(), n));
  return info.Env().Undefined();
}

Napi::Value broadcastScalar(const Napi::CallbackInfo& info) {
  Args a(info, "broadcastScalar", 4);
  Storage& out = a.buffer(0, "out");
  Storage& s = a.buffer(1, "scalar");
  double scale = a.number(2, "scale");
  int64_t n = a.integer(3, "n", 0, kMaxCount);
  a.expectElements(out, "out", n, sizeof(float));
  a.expectElements(s, "scalar", 1, sizeof(float));
  a.expectDevice(s, "scalar", out.device());
  S4_DISPATCH(out.device(), broadcastScalar(out.as<float>(), s.as<float>(), static_cast<float>(scale), n));
  return info.Env().Undefined();
}

void exportPointwise(Napi::Env env, Napi::Object exports) {
  exports.Set("fill", makeFunction(env, "fill", fill));
  exports.Set("axpby", makeFunction(env, "axpby", axpby));
  exports.Set("mul", makeFunction(env, "mul", mul));
  exports.Set("sum", makeFunction(env, "sum", sum));
  exports.Set("broadcastScalar", makeFunction(env, "broadcastScalar", broadcastScalar));
}

}  // namespace

S4_REGISTER_EXPORTS(exportPointwise);

}  // namespace s4::binding
