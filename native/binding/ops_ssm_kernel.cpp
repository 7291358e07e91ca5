// Exports of the S4 convolution-kernel generation (cpu/ssm_kernel.h, cuda/ssm_kernel.h):
//   dplrKernel(lambda, p, b, cTilde, dt, out, H, N2, L)
//   dplrKernelBackward(lambda, p, b, cTilde, dt, dK, gLambda, gP, gB, gCTilde, gDt, H, N2, L)
//   diagKernel(lambda, b, c, dt, out, H, N2, L)
//   diagKernelBackward(lambda, b, c, dt, dK, gLambda, gB, gC, gDt, H, N2, L)
//   ssmParamCheck(lambda, x1, x2, x3 | null, dt, H, N2) -> flags (cpu/ssm_kernel.h)
// Complex buffers (lambda, p, b, cTilde, c and their gradients) are complex64 [H, N2]; dt,
// gDt float32 [H]; out, dK float32 [H, L]. Every buffer must live on the device of the
// first one; the kernels run there. Parameter values (dt > 0, Re lambda <= 0, finite) are
// checked by the TypeScript wrappers through ssmParamCheck.
#include "../cpu/ssm_kernel.h"
#include "args.h"
#include "dispatch.h"
#include "registry.h"
#ifdef S4_WITH_CUDA
#include "../cuda/ssm_kernel.h"
#endif

namespace s4::binding {
namespace {

constexpr int64_t kMaxDim = (int64_t(1) << 31) - 1;
constexpr size_t kComplex = 2 * sizeof(float);

struct Dims {
  int64_t H, N2, L;
  int64_t hn, hl;
};

Dims readDims(const Args& a, size_t first, bool withL) {
  Dims d{};
  d.H = a.integer(first, "H", 1, kMaxDim);
  d.N2 = a.integer(first + 1, "N2", 1, kMaxDim);
  d.L = withL ? a.integer(first + 2, "L", 1, kMaxDim) : 0;
  d.hn = checkedProduct(a.fn(), "[H, N2]", {d.H, d.N2});
  d.hl = withL ? checkedProduct(a.fn(), "[H, L]", {d.H, d.L}) : 0;
  return d;
}

// Checks each buffer's size and device; returns the device.
struct Expect {
  const Args& a;
  Device dev;
  void complex(const Storage* s, const char* name, const Dims& d) const {
    if (!s) return;
    a.expectElements(*s, name, d.hn, kComplex);
    a.expectDevice(*s, name, dev);
  }
  void real(const Storage* s, const char* name, int64_t n) const {
    if (!s) return;
    a.expectElements(*s, name, n, sizeof(float));
    a.expectDevice(*s, name, dev);
  }
};

const float* cf(const Storage& s) { return s.as<float>(); }
float* f(Storage& s) { return s.as<float>(); }

Napi::Value dplrKernel(const Napi::CallbackInfo& info) {
  Args a(info, "dplrKernel", 9);
  Storage& lambda = a.buffer(0, "lambda");
  Storage& p = a.buffer(1, "p");
  Storage& b = a.buffer(2, "b");
  Storage& cTilde = a.buffer(3, "cTilde");
  Storage& dt = a.buffer(4, "dt");
  Storage& out = a.buffer(5, "out");
  const Dims d = readDims(a, 6, true);
  const Expect e{a, lambda.device()};
  e.complex(&lambda, "lambda", d);
  e.complex(&p, "p", d);
  e.complex(&b, "b", d);
  e.complex(&cTilde, "cTilde", d);
  e.real(&dt, "dt", d.H);
  e.real(&out, "out", d.hl);
  S4_DISPATCH(e.dev, dplrKernel(cf(lambda), cf(p), cf(b), cf(cTilde), cf(dt), f(out), d.H, d.N2, d.L));
  return info.Env().Undefined();
}

Napi::Value dplrKernelBackward(const Napi::CallbackInfo& info) {
  Args a(info, "dplrKernelBackward", 14);
  Storage& lambda = a.buffer(0, "lambda");
  Storage& p = a.buffer(1, "p");
  Storage& b = a.buffer(2, "b");
  Storage& cTilde = a.buffer(3, "cTilde");
  Storage& dt = a.buffer(4, "dt");
  Storage& dK = a.buffer(5, "dK");
  Storage& gLambda = a.buffer(6, "gLambda");
  Storage& gP = a.buffer(7, "gP");
  Storage& gB = a.buffer(8, "gB");
  Storage& gCTilde = a.buffer(9, "gCTilde");
  Storage& gDt = a.buffer(10, "gDt");
  const Dims d = readDims(a, 11, true);
  const Expect e{a, lambda.device()};
  e.complex(&lambda, "lambda", d);
  e.complex(&p, "p", d);
  e.complex(&b, "b", d);
  e.complex(&cTilde, "cTilde", d);
  e.real(&dt, "dt", d.H);
  e.real(&dK, "dK", d.hl);
  e.complex(&gLambda, "gLambda", d);
  e.complex(&gP, "gP", d);
  e.complex(&gB, "gB", d);
  e.complex(&gCTilde, "gCTilde", d);
  e.real(&gDt, "gDt", d.H);
  S4_DISPATCH(e.dev, dplrKernelBackward(cf(lambda), cf(p), cf(b), cf(cTilde), cf(dt), cf(dK), f(gLambda), f(gP),
                                        f(gB), f(gCTilde), f(gDt), d.H, d.N2, d.L));
  return info.Env().Undefined();
}

Napi::Value diagKernel(const Napi::CallbackInfo& info) {
  Args a(info, "diagKernel", 8);
  Storage& lambda = a.buffer(0, "lambda");
  Storage& b = a.buffer(1, "b");
  Storage& c = a.buffer(2, "c");
  Storage& dt = a.buffer(3, "dt");
  Storage& out = a.buffer(4, "out");
  const Dims d = readDims(a, 5, true);
  const Expect e{a, lambda.device()};
  e.complex(&lambda, "lambda", d);
  e.complex(&b, "b", d);
  e.complex(&c, "c", d);
  e.real(&dt, "dt", d.H);
  e.real(&out, "out", d.hl);
  S4_DISPATCH(e.dev, diagKernel(cf(lambda), cf(b), cf(c), cf(dt), f(out), d.H, d.N2, d.L));
  return info.Env().Undefined();
}

Napi::Value diagKernelBackward(const Napi::CallbackInfo& info) {
  Args a(info, "diagKernelBackward", 12);
  Storage& lambda = a.buffer(0, "lambda");
  Storage& b = a.buffer(1, "b");
  Storage& c = a.buffer(2, "c");
  Storage& dt = a.buffer(3, "dt");
  Storage& dK = a.buffer(4, "dK");
  Storage& gLambda = a.buffer(5, "gLambda");
  Storage& gB = a.buffer(6, "gB");
  Storage& gC = a.buffer(7, "gC");
  Storage& gDt = a.buffer(8, "gDt");
  const Dims d = readDims(a, 9, true);
  const Expect e{a, lambda.device()};
  e.complex(&lambda, "lambda", d);
  e.complex(&b, "b", d);
  e.complex(&c, "c", d);
  e.real(&dt, "dt", d.H);
  e.real(&dK, "dK", d.hl);
  e.complex(&gLambda, "gLambda", d);
  e.complex(&gB, "gB", d);
  e.complex(&gC, "gC", d);
  e.real(&gDt, "gDt", d.H);
  S4_DISPATCH(e.dev, diagKernelBackward(cf(lambda), cf(b), cf(c), cf(dt), cf(dK), f(gLambda), f(gB), f(gC), f(gDt),
                                        d.H, d.N2, d.L));
  return info.Env().Undefined();
}

Napi::Value ssmParamCheck(const Napi::CallbackInfo& info) {
  Args a(info, "ssmParamCheck", 7);
  Storage& lambda = a.buffer(0, "lambda");
  Storage& x1 = a.buffer(1, "x1");
  Storage& x2 = a.buffer(2, "x2");
  Storage* x3 = a.optionalBuffer(3, "x3");
  Storage& dt = a.buffer(4, "dt");
  const Dims d = readDims(a, 5, false);
  const Expect e{a, lambda.device()};
  e.complex(&lambda, "lambda", d);
  e.complex(&x1, "x1", d);
  e.complex(&x2, "x2", d);
  e.complex(x3, "x3", d);
  e.real(&dt, "dt", d.H);
  const float* x3p = x3 ? x3->as<float>() : nullptr;
  uint32_t flags;
#ifdef S4_WITH_CUDA
  if (e.dev != Device::CPU)
    flags = s4::cuda::ssmParamCheck(cf(lambda), cf(x1), cf(x2), x3p, cf(dt), d.H, d.N2);
  else
#endif
    flags = s4::cpu::ssmParamCheck(cf(lambda), cf(x1), cf(x2), x3p, cf(dt), d.H, d.N2);
  return Napi::Number::New(info.Env(), static_cast<double>(flags));
}

void exportSsmKernel(Napi::Env env, Napi::Object exports) {
  exports.Set("dplrKernel", makeFunction(env, "dplrKernel", dplrKernel));
  exports.Set("dplrKernelBackward", makeFunction(env, "dplrKernelBackward", dplrKernelBackward));
  exports.Set("diagKernel", makeFunction(env, "diagKernel", diagKernel));
  exports.Set("diagKernelBackward", makeFunction(env, "diagKernelBackward", diagKernelBackward));
  exports.Set("ssmParamCheck", makeFunction(env, "ssmParamCheck", ssmParamCheck));
}

}  // namespace

S4_REGISTER_EXPORTS(exportSsmKernel);

}  // namespace s4::binding
