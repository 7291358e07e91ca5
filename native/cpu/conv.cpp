// CPU twins of the FFT convolution (spec: native/binding/conv.cpp). Spectra are float where
// FFTW's float library is on the system (fftw::Plans<float>, SIMD), else double
// (s4::cpu::RealFFT: FFTW's double library or the built-in transform); the same code serves
// both (a scalar type T and its transform). Work is split over rows (b, h) or channels h with
// parallelFor.
#include <complex>
#include <cstdint>
#include <vector>

#include "../common/parallel.h"
#include "fft.h"
#include "fftw_api.h"

namespace s4::cpu {
namespace {

// Transform length used for sequence length L: at least 2L, so the circular convolution is
// the linear one. The built-in FFT wants a power of two; FFTW is as fast on lengths whose
// factors are 2, 3, 5 and 7, and the smallest such length is up to ~1.3x shorter (1568
// instead of 2048 for L = 784).
int64_t fftConvSize(int64_t L, bool anySmoothLength) {
  int64_t n = 2;
  while (n < 2 * L) n <<= 1;
  if (!anySmoothLength) return n;
  auto smooth = [](int64_t m) {
    for (int64_t p : {2, 3, 5, 7})
      while (m % p == 0) m /= p;
    return m == 1;
  };
  for (int64_t m = 2 * L; m < n; ++m)
    if (smooth(m)) return m;
  return n;
}

// Spectrum of row src (L floats) zero-padded to the plan's length.
template <typename T, typename Fft>
void rowSpectrum(const Fft& fft, const float* src, int64_t L, std::vector<T>& buf, std::complex<T>* out) {
  const int64_t n = fft.size();
  for (int64_t t = 0; t < L; ++t) buf[t] = src[t];
  for (int64_t t = L; t < n; ++t) buf[t] = T(0);
  fft.forward(buf.data(), out);
}

// Kernel spectra with the skip folded in: (rfft(k[h]) + d[h]) for every h, conjugated
// when `conjugate` (correlation in the backward pass). Layout [H, bins].
template <typename T, typename Fft>
std::vector<std::complex<T>> kernelSpectra(const Fft& fft, const float* k, const float* d, int64_t H, int64_t L,
                                           bool conjugate) {
  const int64_t bins = fft.bins();
  std::vector<std::complex<T>> kf(static_cast<size_t>(H * bins));
  parallelFor(H, 1, [&](int64_t h0, int64_t h1) {
    std::vector<T> buf(fft.size());
    for (int64_t h = h0; h < h1; ++h) {
      std::complex<T>* out = kf.data() + h * bins;
      rowSpectrum(fft, k + h * L, L, buf, out);
      const T skip = d ? static_cast<T>(d[h]) : T(0);
      for (int64_t j = 0; j < bins; ++j) {
        out[j] += skip;
        if (conjugate) out[j] = std::conj(out[j]);
      }
    }
  });
  return kf;
}

template <typename T, typename Fft>
void forwardWith(const Fft& fft, const float* u, const float* k, const float* d, float* y, int64_t B, int64_t H,
                 int64_t L) {
  const int64_t n = fft.size(), bins = fft.bins();
  const std::vector<std::complex<T>> kf = kernelSpectra<T>(fft, k, d, H, L, false);
  parallelFor(B * H, 1, [&](int64_t r0, int64_t r1) {
    std::vector<T> buf(n);
    std::vector<std::complex<T>> spec(bins);
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t h = r % H;
      rowSpectrum(fft, u + r * L, L, buf, spec.data());
      const std::complex<T>* kh = kf.data() + h * bins;
      for (int64_t j = 0; j < bins; ++j) spec[j] *= kh[j];
      fft.inverse(spec.data(), buf.data());
      float* yr = y + r * L;
      for (int64_t t = 0; t < L; ++t) yr[t] = static_cast<float>(buf[t]);
    }
  });
}

template <typename T, typename Fft>
void backwardWith(const Fft& fft, const float* dy, const float* u, const float* k, const float* d, float* du, float* dk,
                  float* dd, int64_t B, int64_t H, int64_t L) {
  using C = std::complex<T>;
  const bool needDu = du != nullptr && B > 0;
  const bool needG = dk != nullptr || dd != nullptr;
  const int64_t n = fft.size(), bins = fft.bins();
  std::vector<C> kc;
  if (needDu) kc = kernelSpectra<T>(fft, k, d, H, L, true);

  auto duRow = [&](int64_t r, const C* dyf, std::vector<C>& spec, std::vector<T>& buf) {
    const C* kh = kc.data() + (r % H) * bins;
    for (int64_t j = 0; j < bins; ++j) spec[j] = dyf[j] * kh[j];
    fft.inverse(spec.data(), buf.data());
    float* dr = du + r * L;
    for (int64_t t = 0; t < L; ++t) dr[t] = static_cast<float>(buf[t]);
  };

  if (!needG) {
    parallelFor(B * H, 1, [&](int64_t r0, int64_t r1) {
      std::vector<T> buf(n);
      std::vector<C> dyf(bins), spec(bins);
      for (int64_t r = r0; r < r1; ++r) {
        rowSpectrum(fft, dy + r * L, L, buf, dyf.data());
        duRow(r, dyf.data(), spec, buf);
      }
    });
    return;
  }

  // One channel per task: the batch sum of dy_f conj(u_f) is reduced before the single
  // inverse transform of dk.
  parallelFor(H, 1, [&](int64_t h0, int64_t h1) {
    std::vector<T> buf(n);
    std::vector<C> dyf(bins), uf(bins), spec(bins), g(bins);
    for (int64_t h = h0; h < h1; ++h) {
      for (int64_t j = 0; j < bins; ++j) g[j] = T(0);
      for (int64_t b = 0; b < B; ++b) {
        const int64_t r = b * H + h;
        rowSpectrum(fft, dy + r * L, L, buf, dyf.data());
        rowSpectrum(fft, u + r * L, L, buf, uf.data());
        for (int64_t j = 0; j < bins; ++j) g[j] += dyf[j] * std::conj(uf[j]);
        if (needDu) duRow(r, dyf.data(), spec, buf);
      }
      fft.inverse(g.data(), buf.data());
      if (dk)
        for (int64_t t = 0; t < L; ++t) dk[h * L + t] = static_cast<float>(buf[t]);
      // y depends on d[h] exactly as on k[h,0], so dd[h] = dk[h,0].
      if (dd) dd[h] = static_cast<float>(buf[0]);
    }
  });
}

}  // namespace

void fftConv(const float* u, const float* k, const float* d, float* y, int64_t B, int64_t H, int64_t L) {
  if (B <= 0 || H <= 0 || L <= 0) return;
  if (fftw::available<float>()) return forwardWith<float>(*floatFFT(int(fftConvSize(L, true))), u, k, d, y, B, H, L);
  const auto fft = realFFT(int(fftConvSize(L, fftw::available<double>())));
  forwardWith<double>(*fft, u, k, d, y, B, H, L);
}

void fftConvBackward(const float* dy, const float* u, const float* k, const float* d, float* du, float* dk, float* dd,
                     int64_t B, int64_t H, int64_t L) {
  if (H <= 0 || L <= 0) return;
  if (!(du != nullptr && B > 0) && dk == nullptr && dd == nullptr) return;
  if (fftw::available<float>())
    return backwardWith<float>(*floatFFT(int(fftConvSize(L, true))), dy, u, k, d, du, dk, dd, B, H, L);
  const auto fft = realFFT(int(fftConvSize(L, fftw::available<double>())));
  backwardWith<double>(*fft, dy, u, k, d, du, dk, dd, B, H, L);
}

}  // namespace s4::cpu
