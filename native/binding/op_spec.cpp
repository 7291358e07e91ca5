// The op registry, the one argument checker of every op call, and the spec description.
#include "op_spec.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "../common/error.h"
#include "args.h"
#include "cpu_stream.h"
#include "js_function.h"

namespace s4::binding {
namespace {

struct Registered {
  const char* name;
  const char* family;
  SpecFn fn;
};

std::vector<Registered>& registered() {
  static std::vector<Registered> all;
  return all;
}

size_t bytesOf(DType t) { return t == DType::C64 ? 2 * sizeof(float) : sizeof(float); }
const char* dtypeName(DType t) { return t == DType::C64 ? "complex64" : "float32"; }

const char* kindName(ArgKind k) {
  switch (k) {
    case ArgKind::In: return "in";
    case ArgKind::Out: return "out";
    case ArgKind::InOut: return "inout";
    case ArgKind::Size: return "size";
    case ArgKind::Number: return "number";
    case ArgKind::Flag: return "flag";
    case ArgKind::Choice: return "choice";
  }
  return "?";
}

bool isBuffer(ArgKind k) { return k == ArgKind::In || k == ArgKind::Out || k == ArgKind::InOut; }

// "H", "2*H", "10*N2+2", "1".
Extent parseExtent(const OpSpec& spec, const std::string& text) {
  Extent e;
  e.text = text;
  std::string rest = text;
  auto bad = [&]() -> Extent {
    throw std::logic_error("op spec " + spec.name + ": malformed extent '" + text + "'");
  };
  if (rest.empty()) return bad();
  if (std::isdigit(static_cast<unsigned char>(rest[0]))) {
    size_t used = 0;
    int64_t n = std::stoll(rest, &used);
    if (used == rest.size()) {
      e.add = n;
      return e;
    }
    if (rest[used] != '*') return bad();
    e.mul = n;
    rest = rest.substr(used + 1);
  }
  size_t plus = rest.find('+');
  std::string dim = rest.substr(0, plus);
  if (plus != std::string::npos) e.add = std::stoll(rest.substr(plus + 1));
  e.dim = spec.indexOf(dim.c_str());
  if (e.dim < 0 || spec.args[e.dim].kind != ArgKind::Size)
    throw std::logic_error("op spec " + spec.name + ": extent '" + text + "' names no size argument");
  return e;
}

std::string fmtRange(const ArgSpec& a) {
  auto num = [](double v) {
    if (std::fabs(v) >= 1e300) return std::string(v < 0 ? "-inf" : "inf");
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return std::string(buf);
  };
  return std::string(a.range.minOpen ? "(" : "[") + num(a.range.min) + ", " + num(a.range.max) + (a.range.maxOpen ? ")" : "]");
}

}  // namespace

// ---- spec builder -------------------------------------------------------------------------------

OpSpec& OpSpec::buffer(const char* name, ArgKind kind, std::vector<std::string> shape, DType dtype, bool optional) {
  ArgSpec a{name, kind};
  a.dtype = dtype;
  a.shapeText = std::move(shape);
  a.optional = optional;
  args.push_back(std::move(a));
  return *this;
}
OpSpec& OpSpec::in(const char* n, std::vector<std::string> s, DType t) { return buffer(n, ArgKind::In, std::move(s), t, false); }
OpSpec& OpSpec::optionalIn(const char* n, std::vector<std::string> s, DType t) { return buffer(n, ArgKind::In, std::move(s), t, true); }
OpSpec& OpSpec::out(const char* n, std::vector<std::string> s, DType t) { return buffer(n, ArgKind::Out, std::move(s), t, false); }
OpSpec& OpSpec::optionalOut(const char* n, std::vector<std::string> s, DType t) { return buffer(n, ArgKind::Out, std::move(s), t, true); }
OpSpec& OpSpec::inOut(const char* n, std::vector<std::string> s, DType t) { return buffer(n, ArgKind::InOut, std::move(s), t, false); }
OpSpec& OpSpec::optionalInOut(const char* n, std::vector<std::string> s, DType t) { return buffer(n, ArgKind::InOut, std::move(s), t, true); }

OpSpec& OpSpec::scalar(const char* name, ArgKind kind, bool integer, Range range) {
  ArgSpec a{name, kind};
  a.integer = integer;
  a.range = range;
  args.push_back(std::move(a));
  return *this;
}
OpSpec& OpSpec::dim(const char* n, int64_t min, int64_t max) {
  return scalar(n, ArgKind::Size, true, Range{double(min), double(max)});
}
OpSpec& OpSpec::count(const char* name, int64_t min) { return dim(name, min, kMaxElements); }
OpSpec& OpSpec::integer(const char* n, int64_t min, int64_t max) {
  return scalar(n, ArgKind::Number, true, Range{double(min), double(max)});
}
OpSpec& OpSpec::number(const char* n, Range range) { return scalar(n, ArgKind::Number, false, range); }

OpSpec& OpSpec::flag(const char* name) {
  args.push_back(ArgSpec{name, ArgKind::Flag});
  return *this;
}

OpSpec& OpSpec::choice(const char* name, std::vector<std::string> choices) {
  ArgSpec a{name, ArgKind::Choice};
  a.choices = std::move(choices);
  args.push_back(std::move(a));
  return *this;
}

OpSpec& OpSpec::distinct(const char* a, const char* b) {
  int ia = indexOf(a), ib = indexOf(b);
  if (ia < 0 || ib < 0) throw std::logic_error("op spec " + name + ": distinct() names an unknown argument");
  distinctPairs.emplace_back(ia, ib);
  return *this;
}

OpSpec& OpSpec::returnsNumber() {
  returns = true;
  return *this;
}

OpSpec& OpSpec::run(Run f) {
  fn = std::move(f);
  return *this;
}

int OpSpec::indexOf(const char* arg) const {
  for (size_t i = 0; i < args.size(); i++)
    if (args[i].name == arg || std::strcmp(args[i].name, arg) == 0) return int(i);
  return -1;
}

void OpSpec::finish() {
  for (size_t i = 0; i < args.size(); i++) {
    for (size_t j = 0; j < i; j++)
      if (std::strcmp(args[i].name, args[j].name) == 0) throw std::logic_error("op spec " + name + ": argument '" + args[i].name + "' declared twice");
    args[i].shape.clear();
    for (const std::string& t : args[i].shapeText) args[i].shape.push_back(parseExtent(*this, t));
  }
  if (!fn) throw std::logic_error("op spec " + name + ": no run()");
  if (args.size() > kMaxOpArgs) throw std::logic_error("op spec " + name + ": more than kMaxOpArgs arguments");
}

// ---- the checker --------------------------------------------------------------------------------

Call::Call(const OpSpec& spec, const Napi::CallbackInfo& info)
    : spec_(spec) {
  const Args a(info, spec.name.c_str(), spec.args.size());
  const char* fn = spec.name.c_str();
  // Sizes and scalars first: buffer extents are computed from the sizes.
  for (size_t i = 0; i < spec.args.size(); i++) {
    const ArgSpec& s = spec.args[i];
    switch (s.kind) {
      case ArgKind::Size:
        values_[i] = double(a.integer(i, s.name, int64_t(s.range.min), int64_t(s.range.max)));
        break;
      case ArgKind::Number: {
        if (s.integer) {
          values_[i] = double(a.integer(i, s.name, int64_t(s.range.min), int64_t(s.range.max)));
          break;
        }
        const double v = a.number(i, s.name);
        const bool lowOk = s.range.minOpen ? v > s.range.min : v >= s.range.min;
        const bool highOk = s.range.maxOpen ? v < s.range.max : v <= s.range.max;
        if (!lowOk || !highOk)
          failRange(std::string(fn) + ": argument '" + s.name + "' must be in " + fmtRange(s) + " (got " +
                    info[i].ToString().Utf8Value() + ")");
        values_[i] = v;
        break;
      }
      case ArgKind::Flag: values_[i] = a.boolean(i, s.name) ? 1 : 0; break;
      case ArgKind::Choice: {
        const std::string v = a.string(i, s.name);
        int found = -1;
        std::string list;
        for (size_t c = 0; c < s.choices.size(); c++) {
          if (s.choices[c] == v) found = int(c);
          list += (c ? ", '" : "'") + s.choices[c] + "'";
        }
        if (found < 0) failRange(std::string(fn) + ": argument '" + s.name + "' must be one of " + list + " (got '" + v + "')");
        values_[i] = found;
        break;
      }
      default: break;
    }
  }
  bool haveDevice = false;
  const char* first = nullptr;
  for (size_t i = 0; i < spec.args.size(); i++) {
    const ArgSpec& s = spec.args[i];
    if (!isBuffer(s.kind)) continue;
    Storage* buf = s.optional ? a.optionalBuffer(i, s.name) : &a.buffer(i, s.name);
    if (!buf) continue;
    // Element count: the product of the extents, capped at kMaxElements. The message text
    // is built only on failure: this loop runs for every buffer of every call.
    int64_t elements = 1;
    bool tooLarge = false;
    for (const Extent& x : s.shape) {
      const int64_t n = x.dim < 0 ? x.add : x.mul * int64_t(values_[x.dim]) + x.add;
      if (n != 0 && elements > kMaxElements / n) {
        tooLarge = true;
        break;
      }
      elements *= n;
    }
    const size_t want = size_t(elements) * bytesOf(s.dtype);
    if (tooLarge || buf->bytes() != want) {
      std::string dims, sizes;
      for (size_t e = 0; e < s.shape.size(); e++) {
        const Extent& x = s.shape[e];
        dims += (e ? ", " : "") + x.text;
        sizes += (e ? ", " : "") + std::to_string(x.dim < 0 ? x.add : x.mul * int64_t(values_[x.dim]) + x.add);
      }
      if (tooLarge) failRange(std::string(fn) + ": argument '" + s.name + "' [" + dims + "] has more than 2^40 elements");
      failRange(std::string(fn) + ": argument '" + s.name + "' must hold [" + dims + "] = [" + sizes + "] " + dtypeName(s.dtype) +
                " elements (" + std::to_string(want) + " bytes), got " + std::to_string(buf->bytes()) + " bytes");
    }
    if (!haveDevice) {
      device_ = buf->device();
      haveDevice = true;
      first = s.name;
    } else if (buf->device() != device_) {
      fail(std::string(fn) + ": argument '" + s.name + "' is on " + deviceName(buf->device()) + " but '" + first + "' is on " +
           deviceName(device_) + "; move all arguments to one device");
    }
    buffers_[i] = buf;
  }
  if (!haveDevice) fail(std::string(fn) + ": no buffer arguments");
  for (auto [x, y] : spec.distinctPairs) {
    if (buffers_[x] && buffers_[x] == buffers_[y])
      failRange(std::string(fn) + ": argument '" + spec.args[x].name + "' must not be the same buffer as '" + spec.args[y].name + "'");
  }
}

int Call::index(const char* name) const {
  // Names come from string literals of the same file as the spec, so the pointer test
  // nearly always decides; strcmp covers the rest.
  const auto& args = spec_.args;
  for (size_t i = 0; i < args.size(); i++)
    if (args[i].name == name) return int(i);
  const int i = spec_.indexOf(name);
  if (i < 0) throw std::logic_error(spec_.name + ": the run function asks for an undeclared argument '" + name + "'");
  return i;
}

float* Call::buffer(const char* name, bool optional) const {
  const int i = index(name);
  if (!isBuffer(spec_.args[i].kind)) throw std::logic_error(spec_.name + ": '" + name + "' is not a buffer");
  if (spec_.args[i].optional != optional)
    throw std::logic_error(spec_.name + ": '" + name + "' is " + (optional ? "required" : "optional") + " in its spec");
  return buffers_[i] ? buffers_[i]->as<float>() : nullptr;
}

int64_t Call::dim(const char* name) const {
  const int i = index(name);
  if (!spec_.args[i].integer) throw std::logic_error(spec_.name + ": '" + name + "' is not an integer");
  return int64_t(values_[i]);
}

double Call::number(const char* name) const {
  const int i = index(name);
  if (spec_.args[i].kind != ArgKind::Number) throw std::logic_error(spec_.name + ": '" + name + "' is not a number");
  return values_[i];
}

bool Call::flag(const char* name) const {
  const int i = index(name);
  if (spec_.args[i].kind != ArgKind::Flag) throw std::logic_error(spec_.name + ": '" + name + "' is not a flag");
  return values_[i] != 0;
}

int Call::choice(const char* name) const {
  const int i = index(name);
  if (spec_.args[i].kind != ArgKind::Choice) throw std::logic_error(spec_.name + ": '" + name + "' is not a choice");
  return int(values_[i]);
}

// ---- registry and export ------------------------------------------------------------------------

OpRegistrar::OpRegistrar(const char* name, const char* family, SpecFn fn) { registered().push_back({name, family, fn}); }

namespace {

std::vector<OpSpec>& specs() {
  static std::vector<OpSpec> all;
  return all;
}

Napi::Object describe(Napi::Env env, const OpSpec& s) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", s.name);
  o.Set("family", s.family);
  Napi::Array args = Napi::Array::New(env, s.args.size());
  for (size_t i = 0; i < s.args.size(); i++) {
    const ArgSpec& a = s.args[i];
    Napi::Object d = Napi::Object::New(env);
    d.Set("name", a.name);
    d.Set("kind", kindName(a.kind));
    if (isBuffer(a.kind)) {
      d.Set("dtype", dtypeName(a.dtype));
      Napi::Array shape = Napi::Array::New(env, a.shapeText.size());
      for (size_t e = 0; e < a.shapeText.size(); e++) shape.Set(uint32_t(e), a.shapeText[e]);
      d.Set("shape", shape);
      d.Set("optional", a.optional);
    }
    if (a.kind == ArgKind::Size || a.kind == ArgKind::Number) {
      d.Set("integer", a.integer);
      d.Set("range", fmtRange(a));
    }
    if (a.kind == ArgKind::Choice) {
      Napi::Array c = Napi::Array::New(env, a.choices.size());
      for (size_t k = 0; k < a.choices.size(); k++) c.Set(uint32_t(k), a.choices[k]);
      d.Set("choices", c);
    }
    args.Set(uint32_t(i), d);
  }
  o.Set("args", args);
  Napi::Array distinct = Napi::Array::New(env, s.distinctPairs.size());
  for (size_t i = 0; i < s.distinctPairs.size(); i++) {
    Napi::Array p = Napi::Array::New(env, 2);
    p.Set(0u, s.args[s.distinctPairs[i].first].name);
    p.Set(1u, s.args[s.distinctPairs[i].second].name);
    distinct.Set(uint32_t(i), p);
  }
  o.Set("distinct", distinct);
  o.Set("returns", s.returns ? "number" : "void");
  return o;
}

}  // namespace

void exportOps(Napi::Env env, Napi::Object exports) {
  std::vector<OpSpec>& all = specs();
  if (all.empty()) {
    for (const Registered& r : registered()) {
      OpSpec s = r.fn();
      s.name = r.name;
      s.family = r.family;
      s.finish();
      all.push_back(std::move(s));
    }
    // Registration order follows the link order; the description is sorted by name.
    std::sort(all.begin(), all.end(), [](const OpSpec& a, const OpSpec& b) { return a.name < b.name; });
  }
  for (size_t i = 0; i < all.size(); i++) {
    const OpSpec* spec = &all[i];
    exports.Set(spec->name, makeFunction(env, spec->name.c_str(), [spec](const Napi::CallbackInfo& info) -> Napi::Value {
                  Call call(*spec, info);
                  // CPU work inside an async call is recorded and runs later on the CPU
                  // stream; outside, it waits for the jobs issued before it (cpu_stream.h).
                  if (CpuProgram* p = recordingProgram()) {
                    if (call.device() == Device::CPU) {
                      if (spec->returns)
                        fail(spec->name + ": answers a number, which cannot be read inside an async call (forwardAsync, stepAsync)");
                      recordOp(*spec, call, info);
                      return info.Env().Undefined();
                    }
                    p->usedCuda = true;
                  } else if (call.device() == Device::CPU) {
                    cpuStream().drain();
                  }
                  spec->fn(call);
                  if (spec->returns) return Napi::Number::New(info.Env(), call.resultValue());
                  return info.Env().Undefined();
                }));
  }
  exports.Set("opSpecs", makeFunction(env, "opSpecs", [](const Napi::CallbackInfo& info) -> Napi::Value {
                const std::vector<OpSpec>& all = specs();
                Napi::Array out = Napi::Array::New(info.Env(), all.size());
                for (size_t i = 0; i < all.size(); i++) out.Set(uint32_t(i), describe(info.Env(), all[i]));
                return out;
              }));
}

}  // namespace s4::binding
