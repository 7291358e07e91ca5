// The outcome of work on a worker thread (an N-API async work's Execute), kept as the
// error's kind and message and turned into a JS error on the JS thread: async calls
// (async.cpp) and the NCCL communicator's set-up and waits (nccl.cpp).
#pragma once
#include <exception>
#include <new>
#include <string>
#include <utility>

#include "../common/error.h"

namespace s4::binding {

struct WorkerFailure {
  bool failed = false;
  ErrorKind kind = ErrorKind::Generic;
  std::string message;

  // Runs f, keeping the first error it throws.
  template <typename F>
  void run(F&& f) {
    try {
      f();
    } catch (const s4::Error& e) {
      set(e.kind, e.what());
    } catch (const std::bad_alloc&) {
      set(ErrorKind::Range, "out of host memory");
    } catch (const std::exception& e) {
      set(ErrorKind::Generic, e.what());
    }
  }
  // Keeps the first failure: a later one is usually a consequence of it.
  void set(ErrorKind k, std::string m) {
    if (failed) return;
    failed = true;
    kind = k;
    message = std::move(m);
  }
};

}  // namespace s4::binding
