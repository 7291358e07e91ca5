// makeFunction: wraps a C++ callable as a JS function whose s4::Error and std::exception
// become JS errors of the matching class (TypeError, RangeError, Error with a code for
// non-finite values), the message unchanged. Every export of the addon goes through it.
#pragma once
#include <napi.h>

#include <exception>
#include <new>
#include <utility>

#include "../common/error.h"

namespace s4::binding {

// The JS error of an s4::Error (common/error.h): the class by its kind, the message as is.
inline Napi::Error jsError(Napi::Env env, ErrorKind kind, const char* message) {
  switch (kind) {
    case ErrorKind::Type: return Napi::TypeError::New(env, message);
    case ErrorKind::Range: return Napi::RangeError::New(env, message);
    case ErrorKind::NonFinite: {
      Napi::Error err = Napi::RangeError::New(env, message);
      err.Set("code", "S4_NON_FINITE");
      return err;
    }
    default: return Napi::Error::New(env, message);
  }
}

inline void throwAsJs(Napi::Env env, const s4::Error& e) { throw jsError(env, e.kind, e.what()); }

template <typename F>
Napi::Function makeFunction(Napi::Env env, const char* name, F&& f) {
  return Napi::Function::New(
      env,
      [f = std::forward<F>(f)](const Napi::CallbackInfo& info) -> Napi::Value {
        try {
          return f(info);
        } catch (const Napi::Error&) {
          throw;
        } catch (const s4::Error& e) {
          throwAsJs(info.Env(), e);
        } catch (const std::bad_alloc&) {
          throw Napi::RangeError::New(info.Env(), "out of host memory");
        } catch (const std::exception& e) {
          throw Napi::Error::New(info.Env(), e.what());
        }
        return info.Env().Undefined();
      },
      name);
}

}  // namespace s4::binding
