// Argument reading for exported functions. Every check throws s4::Error (TypeError or
// RangeError) whose message starts with the function name and names the argument, e.g.
//   "dplrKernel: argument 'lambda' must be a live native buffer (got undefined)".
// Shapes are validated again here (not only in TypeScript) so that a direct call to the
// raw addon with bad arguments throws instead of crashing.
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>

#include "../common/device.h"
#include "../common/storage.h"

namespace s4::binding {

class Args {
 public:
  // Throws TypeError when fewer than `count` arguments were passed.
  Args(const Napi::CallbackInfo& info, const char* fn, size_t count);

  const char* fn() const { return fn_; }
  Napi::Env env() const { return info_.Env(); }

  // A live buffer handle (created by alloc/upload, not freed).
  Storage& buffer(size_t i, const char* name) const;
  StoragePtr bufferPtr(size_t i, const char* name) const;
  // null or undefined -> nullptr, else as buffer().
  Storage* optionalBuffer(size_t i, const char* name) const;
  // A finite integer in [min, max].
  int64_t integer(size_t i, const char* name, int64_t min, int64_t max) const;
  // A finite number.
  double number(size_t i, const char* name) const;
  bool boolean(size_t i, const char* name) const;
  std::string string(size_t i, const char* name) const;
  Device device(size_t i, const char* name) const;  // "cpu" | "cuda"

  // RangeError unless buf holds exactly `elements` items of `elementBytes` each.
  void expectElements(const Storage& buf, const char* name, int64_t elements, size_t elementBytes) const;
  // Error unless buf lives on `device`.
  void expectDevice(const Storage& buf, const char* name, Device device) const;

 private:
  const Napi::CallbackInfo& info_;
  const char* fn_;
};

// Multiplies sizes, throwing RangeError naming `what` if the product overflows or the
// byte count would exceed what can be allocated.
int64_t checkedProduct(const char* fn, const char* what, std::initializer_list<int64_t> sizes);

}  // namespace s4::binding
