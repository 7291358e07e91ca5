// FFTW through dlopen (see fftw_api.h).
#include "fftw_api.h"

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>

#include "../common/dl_library.h"

namespace s4::cpu::fftw {
namespace {

// The subset of fftw3.h we use, declared from the FFTW 3 manual.
using fftw_plan = void*;
using fftw_complex = double[2];
constexpr unsigned FFTW_ESTIMATE = 1U << 6;
constexpr unsigned FFTW_DESTROY_INPUT = 1U << 0;

struct Api {
  DlLibrary dl;
  bool disabled = false;
  fftw_plan (*planR2c)(int, double*, fftw_complex*, unsigned) = nullptr;
  fftw_plan (*planC2r)(int, fftw_complex*, double*, unsigned) = nullptr;
  void (*execR2c)(const fftw_plan, double*, fftw_complex*) = nullptr;
  void (*execC2r)(const fftw_plan, fftw_complex*, double*) = nullptr;
  void (*destroy)(fftw_plan) = nullptr;
  void* (*malloc)(size_t) = nullptr;
  void (*free)(void*) = nullptr;
  int (*alignmentOf)(double*) = nullptr;
  const char* version = nullptr;
};

const Api& api() {
  static std::once_flag once;
  static Api a;
  std::call_once(once, [] {
    const char* env = std::getenv("S4_FFTW");
    if (env && std::strcmp(env, "0") == 0) {
      a.disabled = true;
      return;
    }
    DlLibrary& dl = a.dl;
    if (!dl.open("FFTW", {"libfftw3.so.3", "libfftw3.so"}, "; install it (apt-get install libfftw3-double3) for faster CPU FFTs"))
      return;
    const char* ver = nullptr;  // fftw_version is a char array: its address is the string
    if (!dl.resolve(a.planR2c, "fftw_plan_dft_r2c_1d") || !dl.resolve(a.planC2r, "fftw_plan_dft_c2r_1d") ||
        !dl.resolve(a.execR2c, "fftw_execute_dft_r2c") || !dl.resolve(a.execC2r, "fftw_execute_dft_c2r") ||
        !dl.resolve(a.destroy, "fftw_destroy_plan") || !dl.resolve(a.malloc, "fftw_malloc") ||
        !dl.resolve(a.free, "fftw_free") || !dl.resolve(a.alignmentOf, "fftw_alignment_of") ||
        !dl.resolve(ver, "fftw_version"))
      return;
    a.version = ver;
  });
  return a;
}

std::mutex& plannerLock() {
  static std::mutex mu;
  return mu;
}

// Scratch of this thread, aligned as FFTW's SIMD code wants (fftw_malloc), grown on demand.
struct Scratch {
  double* real = nullptr;
  fftw_complex* spec = nullptr;
  size_t realCap = 0, specCap = 0;
  ~Scratch() {
    if (const Api& a = api(); a.free) {
      a.free(real);
      a.free(spec);
    }
  }
  double* reals(size_t n) {
    if (n > realCap) {
      api().free(real);
      real = static_cast<double*>(api().malloc(n * sizeof(double)));
      if (!real) throw std::bad_alloc();
      realCap = n;
    }
    return real;
  }
  fftw_complex* bins(size_t n) {
    if (n > specCap) {
      api().free(spec);
      spec = static_cast<fftw_complex*>(api().malloc(n * sizeof(fftw_complex)));
      if (!spec) throw std::bad_alloc();
      specCap = n;
    }
    return spec;
  }
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

}  // namespace

bool available(std::string* why) {
  const Api& a = api();
  if (a.disabled) {
    if (why) *why = "S4_FFTW=0";
    return false;
  }
  if (!a.dl.lib) {
    if (why) *why = a.dl.error;
    return false;
  }
  return true;
}

std::string version() { return available() ? api().version : ""; }

Plans::Plans(int n) : n_(n) {
  const Api& a = api();
  std::lock_guard<std::mutex> lock(plannerLock());
  // Planned on fftw_malloc'd arrays: executing needs arrays of the same alignment, which
  // forward()/inverse() check (and copy through aligned scratch when they differ).
  double* re = static_cast<double*>(a.malloc(sizeof(double) * size_t(n)));
  auto* sp = static_cast<fftw_complex*>(a.malloc(sizeof(fftw_complex) * size_t(n / 2 + 1)));
  if (re && sp) {
    r2c_ = a.planR2c(n, re, sp, FFTW_ESTIMATE);
    c2r_ = a.planC2r(n, sp, re, FFTW_ESTIMATE | FFTW_DESTROY_INPUT);
  }
  a.free(re);
  a.free(sp);
  if (!r2c_ || !c2r_) {
    if (r2c_) a.destroy(r2c_);
    if (c2r_) a.destroy(c2r_);
    throw std::runtime_error("FFTW could not plan a real transform of length " + std::to_string(n));
  }
}

Plans::~Plans() {
  const Api& a = api();
  std::lock_guard<std::mutex> lock(plannerLock());
  a.destroy(r2c_);
  a.destroy(c2r_);
}

void Plans::forward(const double* in, std::complex<double>* out) const {
  const Api& a = api();
  const size_t bins = size_t(n_ / 2 + 1);
  auto* o = reinterpret_cast<fftw_complex*>(out);
  double* i = const_cast<double*>(in);  // r2c leaves its input as it was (not DESTROY_INPUT)
  const bool alignedIn = a.alignmentOf(i) == 0, alignedOut = a.alignmentOf(reinterpret_cast<double*>(o)) == 0;
  if (!alignedIn) {
    i = scratch().reals(size_t(n_));
    std::memcpy(i, in, sizeof(double) * size_t(n_));
  }
  if (alignedOut) {
    a.execR2c(r2c_, i, o);
    return;
  }
  fftw_complex* tmp = scratch().bins(bins);
  a.execR2c(r2c_, i, tmp);
  std::memcpy(o, tmp, sizeof(fftw_complex) * bins);
}

void Plans::inverse(const std::complex<double>* in, double* out) const {
  const Api& a = api();
  const size_t bins = size_t(n_ / 2 + 1);
  // c2r overwrites its input: it always works on this thread's copy.
  fftw_complex* spec = scratch().bins(bins);
  std::memcpy(spec, in, sizeof(fftw_complex) * bins);
  spec[0][1] = 0.0;
  if (n_ % 2 == 0) spec[bins - 1][1] = 0.0;
  const bool alignedOut = a.alignmentOf(out) == 0;
  double* o = alignedOut ? out : scratch().reals(size_t(n_));
  a.execC2r(c2r_, spec, o);
  const double scale = 1.0 / n_;
  for (int t = 0; t < n_; ++t) out[t] = o[t] * scale;
}

}  // namespace s4::cpu::fftw
