// Real FFT of any length (see fft.h). The complex core is an iterative radix-2 FFT with
// precomputed twiddles; other lengths go through Bluestein's chirp-z identity
//   X[k] = conj(c[k]) * sum_t (x[t] conj(c[t])) c[k - t],  c[m] = exp(i pi m^2 / n),
// evaluated as one circular convolution of power-of-two length M >= 2n - 1.
// Where the system has FFTW (fftw_api.h), every length goes through it instead.
#include "fft.h"

#include <cmath>
#include <map>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "fftw_api.h"

namespace s4::cpu {
namespace {

constexpr double kPi = 3.14159265358979323846;

bool isPowerOfTwo(int n) { return n > 0 && (n & (n - 1)) == 0; }

// In-place radix-2 FFT of power-of-two length m; sign -1 forward, +1 inverse (unscaled).
class Radix2 {
 public:
  explicit Radix2(int m) : m_(m), twiddle_(m / 2), rev_(m) {
    for (int k = 0; k < m / 2; ++k) twiddle_[k] = std::polar(1.0, -2.0 * kPi * k / m);
    int bits = 0;
    while ((1 << bits) < m) ++bits;
    for (int i = 0; i < m; ++i) {
      int r = 0;
      for (int b = 0; b < bits; ++b) r |= ((i >> b) & 1) << (bits - 1 - b);
      rev_[i] = r;
    }
  }
  void run(cdouble* a, bool inverse) const {
    for (int i = 0; i < m_; ++i)
      if (i < rev_[i]) std::swap(a[i], a[rev_[i]]);
    for (int len = 2; len <= m_; len <<= 1) {
      int half = len / 2, step = m_ / len;
      for (int i = 0; i < m_; i += len) {
        for (int k = 0; k < half; ++k) {
          cdouble w = twiddle_[k * step];
          if (inverse) w = std::conj(w);
          cdouble u = a[i + k], v = a[i + k + half] * w;
          a[i + k] = u + v;
          a[i + k + half] = u - v;
        }
      }
    }
  }
  int size() const { return m_; }

 private:
  int m_;
  std::vector<cdouble> twiddle_;
  std::vector<int> rev_;
};

}  // namespace

struct RealFFT::Plan {
  int n;
  std::unique_ptr<fftw::Plans<double>> fftw;  // FFTW in use: the other members stay empty
  std::unique_ptr<Radix2> direct;     // n is a power of two
  std::unique_ptr<Radix2> conv;       // Bluestein convolution length
  std::vector<cdouble> chirp;         // c[t] = exp(-i pi t^2 / n), t < n
  std::vector<cdouble> chirpSpectrum; // FFT of the conjugate chirp, wrapped to conv length

  explicit Plan(int len) : n(len) {
    if (fftw::available()) {
      fftw = std::make_unique<fftw::Plans<double>>(n);
      return;
    }
    if (isPowerOfTwo(n)) {
      direct = std::make_unique<Radix2>(n);
      return;
    }
    int m = 1;
    while (m < 2 * n - 1) m <<= 1;
    conv = std::make_unique<Radix2>(m);
    chirp.resize(n);
    for (int t = 0; t < n; ++t) {
      // t^2 mod 2n keeps the angle small, so the chirp stays exact for long n.
      long long t2 = (static_cast<long long>(t) * t) % (2LL * n);
      chirp[t] = std::polar(1.0, -kPi * static_cast<double>(t2) / n);
    }
    chirpSpectrum.assign(m, cdouble(0, 0));
    for (int t = 0; t < n; ++t) {
      chirpSpectrum[t] = std::conj(chirp[t]);
      if (t > 0) chirpSpectrum[m - t] = std::conj(chirp[t]);
    }
    conv->run(chirpSpectrum.data(), false);
  }

  // Full complex DFT of length n, in place; inverse is unscaled.
  void complexDft(std::vector<cdouble>& a, bool inverse) const {
    if (direct) {
      direct->run(a.data(), inverse);
      return;
    }
    // Inverse DFT = conj(forward DFT(conj(a))).
    if (inverse)
      for (auto& v : a) v = std::conj(v);
    int m = conv->size();
    std::vector<cdouble> work(m, cdouble(0, 0));
    for (int t = 0; t < n; ++t) work[t] = a[t] * chirp[t];
    conv->run(work.data(), false);
    for (int i = 0; i < m; ++i) work[i] *= chirpSpectrum[i];
    conv->run(work.data(), true);
    double scale = 1.0 / m;
    for (int k = 0; k < n; ++k) a[k] = work[k] * scale * chirp[k];
    if (inverse)
      for (auto& v : a) v = std::conj(v);
  }
};

RealFFT::RealFFT(int n) : n_(n) {
  if (n < 1) throw std::invalid_argument("RealFFT: length must be >= 1");
  plan_ = std::make_shared<Plan>(n);
}

void RealFFT::forward(const double* in, cdouble* out) const {
  if (plan_->fftw) return plan_->fftw->forward(in, out);
  std::vector<cdouble> a(n_);
  for (int t = 0; t < n_; ++t) a[t] = cdouble(in[t], 0.0);
  plan_->complexDft(a, false);
  for (int k = 0; k < bins(); ++k) out[k] = a[k];
}

void RealFFT::inverse(const cdouble* in, double* out) const {
  if (plan_->fftw) return plan_->fftw->inverse(in, out);
  std::vector<cdouble> a(n_);
  int nb = bins();
  for (int k = 0; k < nb; ++k) a[k] = in[k];
  a[0] = cdouble(in[0].real(), 0.0);
  if (n_ % 2 == 0) a[n_ / 2] = cdouble(in[n_ / 2].real(), 0.0);
  for (int k = nb; k < n_; ++k) a[k] = std::conj(in[n_ - k]);
  plan_->complexDft(a, true);
  double scale = 1.0 / n_;
  for (int t = 0; t < n_; ++t) out[t] = a[t].real() * scale;
}

namespace {

// The plan of length n of type P, made once and shared (safe to call from several threads).
template <typename P>
std::shared_ptr<const P> cachedPlan(int n) {
  static std::mutex mu;
  static std::map<int, std::shared_ptr<const P>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(n);
  if (it != cache.end()) return it->second;
  auto plan = std::make_shared<const P>(n);
  cache.emplace(n, plan);
  return plan;
}

}  // namespace

std::shared_ptr<const RealFFT> realFFT(int n) { return cachedPlan<RealFFT>(n); }

std::shared_ptr<const fftw::Plans<float>> floatFFT(int n) { return cachedPlan<fftw::Plans<float>>(n); }

}  // namespace s4::cpu
