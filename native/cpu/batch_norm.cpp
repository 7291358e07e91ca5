// CPU twins of batch normalization over (B, L) per channel of [B, H, L] data (spec:
// native/binding/batch_norm.cpp). Each channel is one task: its B rows of L values are
// summed in double, in order, two passes (the variance of x - mean, no cancellation), so
// results do not depend on the thread count and a large mean loses nothing. The output is
// formed in double from the double mean, rounded once.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "../common/parallel.h"

namespace s4::cpu {
namespace {

int64_t grainFor(int64_t itemCost) { return std::max<int64_t>(1, 32768 / std::max<int64_t>(1, itemCost)); }

// The saved statistics of channel c: the mean as hi + lo, rstd.
struct Saved {
  const float* s;
  int64_t H;
  double mean(int64_t c) const { return double(s[c]) + double(s[H + c]); }
  double rstd(int64_t c) const { return double(s[2 * H + c]); }
};

void save(float* saved, int64_t H, int64_t c, double mean, double rstd) {
  const float hi = float(mean);
  saved[c] = hi;
  saved[H + c] = float(mean - double(hi));
  saved[2 * H + c] = float(rstd);
}

}  // namespace

void batchNormForward(const float* x, const float* w, const float* b, float* runningMean, float* runningVar,
                      float* numBatchesTracked, float* y, float* saved, int64_t B, int64_t H, int64_t L, float momentum,
                      float eps, bool training) {
  const int64_t n = B * L;
  parallelFor(H, grainFor(3 * n), [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      double mean, rstd;
      if (training) {
        double s = 0;
        for (int64_t bi = 0; bi < B; ++bi) {
          const float* row = x + (bi * H + c) * L;
          for (int64_t l = 0; l < L; ++l) s += row[l];
        }
        mean = s / double(n);
        double q = 0;
        for (int64_t bi = 0; bi < B; ++bi) {
          const float* row = x + (bi * H + c) * L;
          for (int64_t l = 0; l < L; ++l) {
            const double d = double(row[l]) - mean;
            q += d * d;
          }
        }
        const double var = q / double(n);
        rstd = 1.0 / std::sqrt(var + double(eps));
        if (runningMean) {
          const double m = double(momentum);
          runningMean[c] = float((1.0 - m) * double(runningMean[c]) + m * mean);
          runningVar[c] = float((1.0 - m) * double(runningVar[c]) + m * (q / double(n - 1)));
        }
      } else {
        mean = double(runningMean[c]);
        rstd = 1.0 / std::sqrt(double(runningVar[c]) + double(eps));
      }
      if (saved) save(saved, H, c, mean, rstd);
      const double scale = rstd * (w ? double(w[c]) : 1.0);
      const double shift = b ? double(b[c]) : 0.0;
      for (int64_t bi = 0; bi < B; ++bi) {
        const float* row = x + (bi * H + c) * L;
        float* out = y + (bi * H + c) * L;
        for (int64_t l = 0; l < L; ++l) out[l] = float((double(row[l]) - mean) * scale + shift);
      }
    }
  });
  if (training && numBatchesTracked) numBatchesTracked[0] += 1.f;
}

void batchNormBackward(const float* dy, const float* x, const float* w, const float* saved, float* dx, float* dw,
                       float* db, int64_t B, int64_t H, int64_t L, bool training) {
  const int64_t n = B * L;
  const Saved st{saved, H};
  parallelFor(H, grainFor(4 * n), [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const double mean = st.mean(c), rstd = st.rstd(c);
      // Sums of dy and dy xhat over the channel: the parameter gradients, and in training
      // mode the two means the input gradient subtracts.
      double sg = 0, sgx = 0;
      if (dw || db || (dx && training)) {
        for (int64_t bi = 0; bi < B; ++bi) {
          const int64_t off = (bi * H + c) * L;
          for (int64_t l = 0; l < L; ++l) {
            const double g = dy[off + l];
            sg += g;
            sgx += g * ((double(x[off + l]) - mean) * rstd);
          }
        }
      }
      if (dw) dw[c] = float(sgx);
      if (db) db[c] = float(sg);
      if (!dx) continue;
      const double k = rstd * (w ? double(w[c]) : 1.0);
      const double mg = training ? sg / double(n) : 0.0, mgx = training ? sgx / double(n) : 0.0;
      for (int64_t bi = 0; bi < B; ++bi) {
        const int64_t off = (bi * H + c) * L;
        for (int64_t l = 0; l < L; ++l) {
          const double xh = (double(x[off + l]) - mean) * rstd;
          dx[off + l] = float(k * (double(dy[off + l]) - mg - xh * mgx));
        }
      }
    }
  });
}

}  // namespace s4::cpu
