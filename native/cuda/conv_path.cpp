// The switch between the fused FFT convolution kernels and the cuFFT pipeline
// (conv_long.h). Ops are queued from the JS thread and from the worker of an async call,
// so the choice is an atomic; S4_FFTCONV gives its first value.
#include <atomic>
#include <cstdlib>
#include <mutex>

#include "../common/error.h"
#include "conv_long.h"

namespace s4::cuda {
namespace {

std::atomic<int> chosen{-1};  // -1: not read from the environment yet

}  // namespace

const char* fftConvPathName(FftConvPath path) { return path == FftConvPath::Cufft ? "cufft" : "fused"; }

FftConvPath parseFftConvPath(const std::string& name, const char* what) {
  if (name == "fused") return FftConvPath::Fused;
  if (name == "cufft") return FftConvPath::Cufft;
  failRange(std::string(what) + " must be 'fused' or 'cufft' (got '" + name + "')");
}

FftConvPath fftConvPath() {
  int v = chosen.load(std::memory_order_relaxed);
  if (v < 0) {
    static std::once_flag once;
    static int fromEnv = 0;
    static std::string error;
    std::call_once(once, [] {
      const char* env = std::getenv("S4_FFTCONV");
      try {
        fromEnv = env && *env ? static_cast<int>(parseFftConvPath(env, "S4_FFTCONV")) : 0;
      } catch (const Error& e) {
        error = e.what();
      }
    });
    if (!error.empty()) failRange(error);
    int expected = -1;
    chosen.compare_exchange_strong(expected, fromEnv);
    v = chosen.load(std::memory_order_relaxed);
  }
  return static_cast<FftConvPath>(v);
}

void setFftConvPath(FftConvPath path) { chosen.store(static_cast<int>(path), std::memory_order_relaxed); }

}  // namespace s4::cuda
