// Each binding/ops_*.cpp file adds its exports with S4_REGISTER_EXPORTS(fn); addon.cpp
// calls every registered function at module init. New op families add a file, not edits.
#pragma once
#include <napi.h>

namespace s4::binding {

using ExportFn = void (*)(Napi::Env, Napi::Object);

struct Registrar {
  explicit Registrar(ExportFn fn);
};
void registerAll(Napi::Env env, Napi::Object exports);

// Wraps a C++ callable so that s4::Error and std::exception become JS errors of the
// matching class. Use for every exported function.
template <typename F>
Napi::Function makeFunction(Napi::Env env, const char* name, F&& f);

}  // namespace s4::binding

#define S4_REGISTER_EXPORTS_CAT2(a, b) a##b
#define S4_REGISTER_EXPORTS_CAT(a, b) S4_REGISTER_EXPORTS_CAT2(a, b)
#define S4_REGISTER_EXPORTS(fn) \
  static ::s4::binding::Registrar S4_REGISTER_EXPORTS_CAT(s4_registrar_, __LINE__)(fn)

#include "registry_impl.h"
