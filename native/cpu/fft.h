// Real FFTs of any length n >= 1 for the CPU backend, computed in double precision.
// Power-of-two lengths use an iterative radix-2 transform; other lengths use Bluestein's
// algorithm on a power-of-two transform, so every length costs O(n log n).
// Conventions match numpy / cuFFT:
//   forward:  X[k] = sum_t x[t] exp(-2 pi i k t / n),  k = 0..n/2     (n/2+1 bins)
//   inverse:  x[t] = (1/n) sum_k X[k] exp(+2 pi i k t / n) over the full Hermitian
//             spectrum rebuilt from the n/2+1 bins; the imaginary parts of bin 0 and (n
//             even) bin n/2 are ignored, as numpy.fft.irfft does.
#pragma once
#include <complex>
#include <memory>
#include <vector>

#include "fftw_api.h"

namespace s4::cpu {

using cdouble = std::complex<double>;

class RealFFT {
 public:
  explicit RealFFT(int n);
  int size() const { return n_; }
  int bins() const { return n_ / 2 + 1; }
  // in: n reals; out: n/2+1 complex. Thread-safe (scratch is per call).
  void forward(const double* in, cdouble* out) const;
  // in: n/2+1 complex; out: n reals, normalized by 1/n.
  void inverse(const cdouble* in, double* out) const;

 private:
  struct Plan;
  int n_;
  std::shared_ptr<const Plan> plan_;
};

// Plans are cached by length; safe to call from several threads.
std::shared_ptr<const RealFFT> realFFT(int n);

// Float transforms through FFTW (fftw_api.h), cached by length; only where
// fftw::available<float>().
std::shared_ptr<const fftw::Plans<float>> floatFFT(int n);

}  // namespace s4::cpu
