// FFTW opened at run time: libfftw3.so.3 (double) and libfftw3f.so.3 (float). When the
// system has them, the CPU real FFTs run through them (fft.cpp in double; the FFT
// convolution, conv.cpp, in float); when it does not, or S4_FFTW=0, the built-in double
// transform does. Only the 1-D real transforms this backend needs, with plans made by
// FFTW_ESTIMATE (a plan depends only on the length, so results do not vary from run to run).
#pragma once
#include <complex>
#include <string>

namespace s4::cpu::fftw {

// Whether FFTW of precision T (double or float) is in use; when not, why (for nnInfo).
template <typename T>
bool available(std::string* why = nullptr);
inline bool available(std::string* why = nullptr) { return available<double>(why); }
// FFTW's version string ("fftw-3.3.10-..."), or "" when it is not in use.
std::string version();

// A length-n plan pair of precision T. Thread-safe to execute; made and destroyed under one
// lock (the FFTW planner is not thread-safe).
template <typename T>
class Plans {
 public:
  explicit Plans(int n);  // requires available<T>()
  ~Plans();
  Plans(const Plans&) = delete;
  Plans& operator=(const Plans&) = delete;
  int size() const { return n_; }
  int bins() const { return n_ / 2 + 1; }
  // out[0..n/2] = rfft(in[0..n)).
  void forward(const T* in, std::complex<T>* out) const;
  // out[0..n) = irfft(in[0..n/2]) (normalized by 1/n; the imaginary parts of bin 0 and
  // bin n/2 ignored). `in` is not modified.
  void inverse(const std::complex<T>* in, T* out) const;

 private:
  int n_;
  void* r2c_ = nullptr;
  void* c2r_ = nullptr;
};

extern template class Plans<double>;
extern template class Plans<float>;

}  // namespace s4::cpu::fftw
