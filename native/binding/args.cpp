#include "args.h"

#include <cmath>
#include <limits>
#include <string>

#include "../common/error.h"
#include "buffer.h"

namespace s4::binding {
namespace {

std::string describe(const Napi::Value& v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsNumber()) return "number " + v.ToString().Utf8Value();
  if (v.IsString()) return "string '" + v.As<Napi::String>().Utf8Value() + "'";
  if (v.IsBoolean()) return "boolean";
  if (v.IsArray()) return "array";
  if (v.IsTypedArray()) return "typed array";
  if (v.IsFunction()) return "function";
  return "object";
}

}  // namespace

Args::Args(const Napi::CallbackInfo& info, const char* fn, size_t count) : info_(info), fn_(fn) {
  if (info.Length() < count)
    failType(std::string(fn) + ": expected " + std::to_string(count) + " arguments, got " + std::to_string(info.Length()));
}

StoragePtr Args::bufferPtr(size_t i, const char* name) const {
  BufferHandle* h = BufferHandle::unwrap(info_[i]);
  if (!h) failType(std::string(fn_) + ": argument '" + name + "' must be a native buffer (got " + describe(info_[i]) + ")");
  if (!h->storage()) fail(std::string(fn_) + ": argument '" + name + "' has been disposed");
  return h->storage();
}

Storage& Args::buffer(size_t i, const char* name) const { return *bufferPtr(i, name); }

Storage* Args::optionalBuffer(size_t i, const char* name) const {
  if (i >= info_.Length() || info_[i].IsNull() || info_[i].IsUndefined()) return nullptr;
  return &buffer(i, name);
}

double Args::number(size_t i, const char* name) const {
  if (!info_[i].IsNumber())
    failType(std::string(fn_) + ": argument '" + name + "' must be a number (got " + describe(info_[i]) + ")");
  double v = info_[i].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(v)) failNonFinite(std::string(fn_) + ": argument '" + name + "' must be finite (got " + std::to_string(v) + ")");
  return v;
}

int64_t Args::integer(size_t i, const char* name, int64_t min, int64_t max) const {
  double v = number(i, name);
  if (v != std::floor(v))
    failRange(std::string(fn_) + ": argument '" + name + "' must be an integer (got " + info_[i].ToString().Utf8Value() + ")");
  if (v < static_cast<double>(min) || v > static_cast<double>(max))
    failRange(std::string(fn_) + ": argument '" + name + "' must be in [" + std::to_string(min) + ", " +
              std::to_string(max) + "] (got " + info_[i].ToString().Utf8Value() + ")");
  return static_cast<int64_t>(v);
}

bool Args::boolean(size_t i, const char* name) const {
  if (!info_[i].IsBoolean())
    failType(std::string(fn_) + ": argument '" + name + "' must be a boolean (got " + describe(info_[i]) + ")");
  return info_[i].As<Napi::Boolean>().Value();
}

std::string Args::string(size_t i, const char* name) const {
  if (!info_[i].IsString())
    failType(std::string(fn_) + ": argument '" + name + "' must be a string (got " + describe(info_[i]) + ")");
  return info_[i].As<Napi::String>().Utf8Value();
}

Device Args::device(size_t i, const char* name) const {
  std::string s = info_[i].IsString() ? info_[i].As<Napi::String>().Utf8Value() : "";
  if (s == "cpu") return Device::CPU;
  if (s == "cuda") return Device::CUDA;
  failType(std::string(fn_) + ": argument '" + name + "' must be 'cpu' or 'cuda' (got " + describe(info_[i]) + ")");
}

void Args::expectElements(const Storage& buf, const char* name, int64_t elements, size_t elementBytes) const {
  size_t want = static_cast<size_t>(elements) * elementBytes;
  if (buf.bytes() != want)
    failRange(std::string(fn_) + ": argument '" + name + "' must hold " + std::to_string(elements) + " elements (" +
              std::to_string(want) + " bytes), got " + std::to_string(buf.bytes()) + " bytes");
}

void Args::expectDevice(const Storage& buf, const char* name, Device device) const {
  if (buf.device() != device)
    fail(std::string(fn_) + ": argument '" + name + "' is on " + deviceName(buf.device()) + " but the operation runs on " +
         deviceName(device) + "; move all arguments to one device");
}

int64_t checkedProduct(const char* fn, const char* what, std::initializer_list<int64_t> sizes) {
  // Keep sizes well inside what a byte count (8 bytes per complex element) can address.
  const int64_t limit = std::numeric_limits<int64_t>::max() / 16;
  int64_t p = 1;
  for (int64_t s : sizes) {
    if (s < 0) failRange(std::string(fn) + ": " + what + " has a negative size");
    if (s != 0 && p > limit / s) failRange(std::string(fn) + ": " + what + " is too large (its byte count overflows)");
    p *= s;
  }
  return p;
}

}  // namespace s4::binding
