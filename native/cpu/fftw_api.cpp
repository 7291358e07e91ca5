// FFTW through dlopen (see fftw_api.h), for both precisions: the same entry points with the
// prefix fftw_ (double) or fftwf_ (float).
#include "fftw_api.h"

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <stdexcept>
#include <type_traits>

#include "../common/dl_library.h"

namespace s4::cpu::fftw {
namespace {

// The subset of fftw3.h we use, declared from the FFTW 3 manual.
using Plan = void*;
constexpr unsigned FFTW_ESTIMATE = 1U << 6;
constexpr unsigned FFTW_DESTROY_INPUT = 1U << 0;

template <typename T>
struct Names;
template <>
struct Names<double> {
  static constexpr const char* what = "FFTW";
  static constexpr const char* package = "libfftw3-double3";
  static constexpr const char* libs[2] = {"libfftw3.so.3", "libfftw3.so"};
  static constexpr const char* prefix = "fftw_";
};
template <>
struct Names<float> {
  static constexpr const char* what = "FFTW (float)";
  static constexpr const char* package = "libfftw3-single3";
  static constexpr const char* libs[2] = {"libfftw3f.so.3", "libfftw3f.so"};
  static constexpr const char* prefix = "fftwf_";
};

template <typename T>
struct Api {
  using Complex = T[2];
  DlLibrary dl;
  bool disabled = false;
  Plan (*planR2c)(int, T*, Complex*, unsigned) = nullptr;
  Plan (*planC2r)(int, Complex*, T*, unsigned) = nullptr;
  void (*execR2c)(const Plan, T*, Complex*) = nullptr;
  void (*execC2r)(const Plan, Complex*, T*) = nullptr;
  void (*destroy)(Plan) = nullptr;
  void* (*malloc)(size_t) = nullptr;
  void (*free)(void*) = nullptr;
  int (*alignmentOf)(T*) = nullptr;
  const char* version = nullptr;
};

template <typename T>
const Api<T>& api() {
  static std::once_flag once;
  static Api<T> a;
  std::call_once(once, [] {
    // S4_FFTW=0: no FFTW; S4_FFTW=double: the double library only (the convolution then
    // runs in double, as without the float library).
    const char* env = std::getenv("S4_FFTW");
    if (env && (std::strcmp(env, "0") == 0 || (std::is_same_v<T, float> && std::strcmp(env, "double") == 0))) {
      a.disabled = true;
      return;
    }
    using N = Names<T>;
    DlLibrary& dl = a.dl;
    const std::string hint = std::string("; install it (apt-get install ") + N::package + ") for faster CPU FFTs";
    if (!dl.open(N::what, {N::libs[0], N::libs[1]}, hint.c_str())) return;
    const std::string p = N::prefix;
    const char* ver = nullptr;  // fftw_version is a char array: its address is the string
    if (!dl.resolve(a.planR2c, (p + "plan_dft_r2c_1d").c_str()) || !dl.resolve(a.planC2r, (p + "plan_dft_c2r_1d").c_str()) ||
        !dl.resolve(a.execR2c, (p + "execute_dft_r2c").c_str()) || !dl.resolve(a.execC2r, (p + "execute_dft_c2r").c_str()) ||
        !dl.resolve(a.destroy, (p + "destroy_plan").c_str()) || !dl.resolve(a.malloc, (p + "malloc").c_str()) ||
        !dl.resolve(a.free, (p + "free").c_str()) || !dl.resolve(a.alignmentOf, (p + "alignment_of").c_str()) ||
        !dl.resolve(ver, (p + "version").c_str()))
      return;
    a.version = ver;
  });
  return a;
}

std::mutex& plannerLock() {
  static std::mutex mu;  // one lock: the two libraries may share planner state
  return mu;
}

// Scratch of this thread, aligned as FFTW's SIMD code wants (fftw_malloc), grown on demand:
// reals(n) holds n values of T, bins(n) n complex values.
template <typename T>
struct Scratch {
  void* slot[2] = {nullptr, nullptr};
  size_t cap[2] = {0, 0};
  ~Scratch() {
    if (const Api<T>& a = api<T>(); a.free) {
      a.free(slot[0]);
      a.free(slot[1]);
    }
  }
  void* get(int which, size_t bytes) {
    if (bytes > cap[which]) {
      api<T>().free(slot[which]);
      slot[which] = api<T>().malloc(bytes);
      if (!slot[which]) throw std::bad_alloc();
      cap[which] = bytes;
    }
    return slot[which];
  }
  T* reals(size_t n) { return static_cast<T*>(get(0, n * sizeof(T))); }
  typename Api<T>::Complex* bins(size_t n) { return static_cast<typename Api<T>::Complex*>(get(1, n * 2 * sizeof(T))); }
};

template <typename T>
Scratch<T>& scratch() {
  thread_local Scratch<T> s;
  return s;
}

}  // namespace

template <typename T>
bool available(std::string* why) {
  const Api<T>& a = api<T>();
  if (a.disabled) {
    if (why) *why = std::string("S4_FFTW=") + std::getenv("S4_FFTW");
    return false;
  }
  if (!a.dl.lib) {
    if (why) *why = a.dl.error;
    return false;
  }
  return true;
}
template bool available<double>(std::string*);
template bool available<float>(std::string*);

std::string version() { return available<double>() ? api<double>().version : ""; }

template <typename T>
Plans<T>::Plans(int n) : n_(n) {
  using Complex = typename Api<T>::Complex;
  const Api<T>& a = api<T>();
  std::lock_guard<std::mutex> lock(plannerLock());
  // Planned on fftw_malloc'd arrays: executing needs arrays of the same alignment, which
  // forward()/inverse() check (and copy through aligned scratch when they differ).
  T* re = static_cast<T*>(a.malloc(sizeof(T) * size_t(n)));
  auto* sp = static_cast<Complex*>(a.malloc(sizeof(Complex) * size_t(n / 2 + 1)));
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

template <typename T>
Plans<T>::~Plans() {
  const Api<T>& a = api<T>();
  std::lock_guard<std::mutex> lock(plannerLock());
  a.destroy(r2c_);
  a.destroy(c2r_);
}

template <typename T>
void Plans<T>::forward(const T* in, std::complex<T>* out) const {
  using Complex = typename Api<T>::Complex;
  const Api<T>& a = api<T>();
  const size_t nb = size_t(bins());
  auto* o = reinterpret_cast<Complex*>(out);
  T* i = const_cast<T*>(in);  // r2c leaves its input as it was (not DESTROY_INPUT)
  if (a.alignmentOf(i) != 0) {
    i = scratch<T>().reals(size_t(n_));
    std::memcpy(i, in, sizeof(T) * size_t(n_));
  }
  if (a.alignmentOf(reinterpret_cast<T*>(o)) == 0) {
    a.execR2c(r2c_, i, o);
    return;
  }
  Complex* tmp = scratch<T>().bins(nb);
  a.execR2c(r2c_, i, tmp);
  std::memcpy(o, tmp, sizeof(Complex) * nb);
}

template <typename T>
void Plans<T>::inverse(const std::complex<T>* in, T* out) const {
  using Complex = typename Api<T>::Complex;
  const Api<T>& a = api<T>();
  const size_t nb = size_t(bins());
  // c2r overwrites its input: it always works on this thread's copy.
  Complex* spec = scratch<T>().bins(nb);
  std::memcpy(spec, in, sizeof(Complex) * nb);
  spec[0][1] = 0;
  if (n_ % 2 == 0) spec[nb - 1][1] = 0;
  T* o = a.alignmentOf(out) == 0 ? out : scratch<T>().reals(size_t(n_));
  a.execC2r(c2r_, spec, o);
  const T scale = T(1) / T(n_);
  for (int t = 0; t < n_; ++t) out[t] = o[t] * scale;
}

template class Plans<double>;
template class Plans<float>;

}  // namespace s4::cpu::fftw
