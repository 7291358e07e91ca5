// adamwMulti(params, grads, ms, vs, lr, weightDecay, step, beta1, beta2, eps): the AdamW step
// of adamwUpdate (native/binding/optim.cpp) on many tensors in one call. A list of buffers
// does not fit an op spec (fixed named buffers), so this is a core export with its own
// checks, the same as the spec's: params, grads, ms, vs are arrays of equal length of live
// float32 buffers, all on one device; tensor k updates params[k] (n floats, n >= 1) in place
// from grads[k], with ms[k] and vs[k], all of n floats; lr, weightDecay and step are
// Float64Arrays of one number per tensor; beta1, beta2 and eps are shared. Every buffer
// written (params, ms, vs) appears once in the call and is no tensor's grad. The constants
// of each tensor are those adamwUpdate computes (nn::adamwConstants), so the floats are the
// same as one adamwUpdate per tensor. Twins: native/cpu/adamw_multi.cpp, native/cuda/adamw_multi.cu.
#include <napi.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "../common/adamw_multi.h"
#include "../common/error.h"
#include "args.h"
#include "buffer.h"
#include "cpu_stream.h"
#include "dispatch.h"
#include "js_function.h"
#include "limits.h"
#include "op_spec.h"  // S4_TWIN

S4_TWIN(void, adamwMultiUpdate, (const nn::AdamWTensor* tensors, int64_t count))

namespace s4::binding {

void exportAdamwMulti(Napi::Env env, Napi::Object exports);

namespace {

constexpr const char* kFn = "adamwMulti";
constexpr double kMaxFinite = std::numeric_limits<double>::max();

std::string arg(const char* list, uint32_t k) { return std::string(list) + "[" + std::to_string(k) + "]"; }

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

Napi::Array list(const Napi::CallbackInfo& info, size_t i, const char* name, const char* what) {
  if (!info[i].IsArray()) failType(std::string(kFn) + ": argument '" + name + "' must be an array of " + what);
  return info[i].As<Napi::Array>();
}

// A finite number (non-finite: RangeError with code S4_NON_FINITE, as the op checker).
double finite(const Napi::Value& x, const char* name) {
  if (!x.IsNumber()) failType(std::string(kFn) + ": argument '" + name + "' must be a number");
  const double v = x.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(v)) failNonFinite(std::string(kFn) + ": argument '" + name + "' must be finite (got " + fmt(v) + ")");
  return v;
}

// A number in [lo, hi] (open at the ends where asked), as OpSpec::number checks it.
double inRange(const Napi::Value& x, const char* name, double lo, double hi, bool loOpen, bool hiOpen) {
  const double v = finite(x, name);
  if (!(loOpen ? v > lo : v >= lo) || !(hiOpen ? v < hi : v <= hi))
    failRange(std::string(kFn) + ": argument '" + name + "' must be in " + (loOpen ? "(" : "[") + fmt(lo) + ", " +
              (hi == kMaxFinite ? std::string("inf") : fmt(hi)) + (hiOpen ? ")" : "]") + " (got " + fmt(v) + ")");
  return v;
}

BufferHandle& handleAt(const Napi::Array& arr, uint32_t k, const char* listName) {
  BufferHandle* h = BufferHandle::unwrap(arr.Get(k));
  if (!h) failType(std::string(kFn) + ": argument '" + arg(listName, k) + "' must be a native buffer");
  if (!h->storage()) fail(std::string(kFn) + ": argument '" + arg(listName, k) + "' has been disposed");
  return *h;
}

// A Float64Array of `count` numbers, one per tensor (read in one call, not one per number).
const double* perTensor(const Napi::CallbackInfo& info, size_t i, const char* name, uint32_t count) {
  if (!info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    failType(std::string(kFn) + ": argument '" + name + "' must be a Float64Array with one number per tensor");
  auto arr = info[i].As<Napi::Float64Array>();
  if (arr.ElementLength() != count)
    failRange(std::string(kFn) + ": argument '" + name + "' must have " + std::to_string(count) + " entries like 'params' (got " +
              std::to_string(arr.ElementLength()) + ")");
  return arr.Data();
}

// A number of a per-tensor list: finite (else S4_NON_FINITE) and in [0, max finite].
double nonNegative(double v, const char* list, uint32_t k) {
  if (!std::isfinite(v)) failNonFinite(std::string(kFn) + ": argument '" + arg(list, k) + "' must be finite (got " + fmt(v) + ")");
  if (v < 0) failRange(std::string(kFn) + ": argument '" + arg(list, k) + "' must be in [0, inf] (got " + fmt(v) + ")");
  return v;
}

Napi::Value adamwMulti(const Napi::CallbackInfo& info) {
  const Args a(info, kFn, 10);
  const char* names[4] = {"params", "grads", "ms", "vs"};
  Napi::Array bufs[4];
  for (int j = 0; j < 4; j++) bufs[j] = list(info, size_t(j), names[j], "native buffers");
  const uint32_t count = bufs[0].Length();
  for (int j = 1; j < 4; j++)
    if (bufs[j].Length() != count)
      failRange(std::string(kFn) + ": argument '" + names[j] + "' must have " + std::to_string(count) +
                " entries like 'params' (got " + std::to_string(bufs[j].Length()) + ")");
  const double* lrs = perTensor(info, 4, "lr", count);
  const double* wds = perTensor(info, 5, "weightDecay", count);
  const double* steps = perTensor(info, 6, "step", count);
  // The shared scalars, with adamwUpdate's ranges.
  const double beta1 = inRange(info[7], "beta1", 0, 1, false, true);
  const double beta2 = inRange(info[8], "beta2", 0, 1, false, true);
  const double eps = inRange(info[9], "eps", 0, kMaxFinite, true, false);

  std::vector<nn::AdamWTensor> tensors(count);
  // The handles, four per tensor in list order (they outlive the call; recorded work takes
  // references to their storage).
  std::vector<BufferHandle*> handles(size_t(count) * 4);
  // Every written buffer and where it was given: 4 * tensor + list (0 params, 2 ms, 3 vs).
  std::vector<std::pair<const Storage*, uint32_t>> written;
  written.reserve(size_t(count) * 3);
  Device device = Device::CPU;
  for (uint32_t k = 0; k < count; k++) {
    const double lr = nonNegative(lrs[k], "lr", k);
    const double wd = nonNegative(wds[k], "weightDecay", k);
    const double step = steps[k];
    if (!std::isfinite(step)) failNonFinite(std::string(kFn) + ": argument '" + arg("step", k) + "' must be finite (got " + fmt(step) + ")");
    if (step != std::floor(step) || step < 1 || step > double(kMaxSafeInteger))
      failRange(std::string(kFn) + ": argument '" + arg("step", k) + "' must be an integer in [1, " +
                std::to_string(kMaxSafeInteger) + "] (got " + fmt(step) + ")");

    Storage* s[4];
    for (int j = 0; j < 4; j++) {
      BufferHandle& h = handleAt(bufs[j], k, names[j]);
      handles[size_t(k) * 4 + j] = &h;
      s[j] = h.storage().get();
    }
    const size_t bytes = s[0]->bytes();
    if (bytes == 0 || bytes % sizeof(float) != 0 || bytes / sizeof(float) > size_t(kMaxElements))
      failRange(std::string(kFn) + ": argument '" + arg("params", k) + "' must hold 1 to 2^40 float32 values (got " +
                std::to_string(bytes) + " bytes)");
    const int64_t n = int64_t(bytes / sizeof(float));
    if (k == 0) device = s[0]->device();
    for (int j = 0; j < 4; j++) {
      if (j > 0 && s[j]->bytes() != bytes) {
        const size_t got = s[j]->bytes();
        failRange(std::string(kFn) + ": argument '" + arg(names[j], k) + "' must hold " + std::to_string(n) + " floats like '" +
                  arg("params", k) + "' (got " +
                  (got % sizeof(float) == 0 ? std::to_string(got / sizeof(float)) : std::to_string(got) + " bytes") + ")");
      }
      if (s[j]->device() != device)
        fail(std::string(kFn) + ": argument '" + arg(names[j], k) + "' is on " + deviceName(s[j]->device()) +
             " but 'params[0]' is on " + deviceName(device) + "; move all arguments to one device");
    }
    for (int j : {0, 2, 3}) written.emplace_back(s[j], 4 * k + uint32_t(j));
    tensors[k] = {s[0]->as<float>(), s[1]->as<float>(), s[2]->as<float>(), s[3]->as<float>(), n,
                  nn::adamwConstants(lr, beta1, beta2, eps, wd, step)};
  }
  // The kernels read grads while writing params, ms and vs, in parallel and in any order:
  // a written buffer may appear once, and no grad may be one of them.
  auto writtenName = [&](uint32_t at) { return arg(names[at % 4], at / 4); };
  std::sort(written.begin(), written.end());
  for (size_t i = 1; i < written.size(); i++)
    if (written[i].first == written[i - 1].first)
      failRange(std::string(kFn) + ": argument '" + writtenName(written[i].second) + "' must not be the same buffer as '" +
                writtenName(written[i - 1].second) + "'");
  for (uint32_t k = 0; k < count; k++) {
    const Storage* g = handles[size_t(k) * 4 + 1]->storage().get();
    auto at = std::lower_bound(written.begin(), written.end(), std::make_pair(g, uint32_t(0)));
    if (at != written.end() && at->first == g)
      failRange(std::string(kFn) + ": argument '" + arg("grads", k) + "' must not be the same buffer as '" +
                writtenName(at->second) + "'");
  }
  if (count == 0) return info.Env().Undefined();

  // As an op: inside an async call CPU work is recorded and runs later on the CPU stream;
  // outside, it waits for the jobs issued before it (cpu_stream.h).
  if (CpuProgram* p = recordingProgram()) {
    if (device == Device::CPU) {
      for (BufferHandle* h : handles) p->keep.push_back(h->storage());
      p->tasks.push_back([t = std::move(tensors)] { cpu::adamwMultiUpdate(t.data(), int64_t(t.size())); });
      return info.Env().Undefined();
    }
    p->usedCuda = true;
  } else if (device == Device::CPU) {
    cpuStream().drain();
  }
  S4_DISPATCH(device, adamwMultiUpdate(tensors.data(), int64_t(tensors.size())));
  return info.Env().Undefined();
}

}  // namespace

void exportAdamwMulti(Napi::Env env, Napi::Object exports) { exports.Set(kFn, makeFunction(env, kFn, adamwMulti)); }

}  // namespace s4::binding
