// FFTW (double precision, libfftw3.so.3) opened at run time: when the system has it, the CPU
// real FFTs (fft.cpp) run through it; when it does not, or S4_FFTW=0, the built-in transform
// does. Only the 1-D real transforms this backend needs, with plans made by FFTW_ESTIMATE
// (a plan depends only on the length, so results do not vary from run to run).
#pragma once
#include <complex>
#include <string>

namespace s4::cpu::fftw {

// Whether FFTW is in use; when not, why (for nnInfo).
bool available(std::string* why = nullptr);
// FFTW's version string ("fftw-3.3.10-..."), or "" when it is not in use.
std::string version();

// A length-n plan pair. Thread-safe to execute; made and destroyed under one lock (the
// FFTW planner is not thread-safe).
class Plans {
 public:
  explicit Plans(int n);  // requires available()
  ~Plans();
  Plans(const Plans&) = delete;
  Plans& operator=(const Plans&) = delete;
  // out[0..n/2] = rfft(in[0..n)).
  void forward(const double* in, std::complex<double>* out) const;
  // out[0..n) = irfft(in[0..n/2]) (normalized by 1/n; the imaginary parts of bin 0 and
  // bin n/2 ignored). `in` is not modified.
  void inverse(const std::complex<double>* in, double* out) const;

 private:
  int n_;
  void* r2c_ = nullptr;
  void* c2r_ = nullptr;
};

}  // namespace s4::cpu::fftw
