// CPU twins of the losses and predictions (spec: native/binding/loss.cpp). Reductions into
// one loss value use a split that depends only on the shape (never on the thread count)
// and add the partials in a fixed order, so results are deterministic run to run.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "../common/error.h"
#include "../common/parallel.h"

namespace s4::cpu {
namespace {

int64_t grainFor(int64_t itemCost) { return std::max<int64_t>(1, 32768 / std::max<int64_t>(1, itemCost)); }

// Sum of f(i) for i in [0, n) in double with fixed blocks.
template <class F>
double sumDeterministic(int64_t n, F f) {
  const int64_t blocks = std::max<int64_t>(1, std::min<int64_t>(256, n / 4096));
  std::vector<double> part(size_t(blocks), 0.0);
  parallelFor(blocks, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t blk = b0; blk < b1; ++blk) {
      const int64_t i0 = n * blk / blocks, i1 = n * (blk + 1) / blocks;
      double s = 0;
      for (int64_t i = i0; i < i1; ++i) s += f(i);
      part[size_t(blk)] = s;
    }
  });
  double s = 0;
  for (double v : part) s += v;
  return s;
}

bool isIndex(float v, int64_t limit) { return v >= 0.f && v < float(limit) && v == std::floor(v); }

std::string numberText(float v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", double(v));
  return buf;
}

}  // namespace

void crossEntropyForward(const float* logits, const float* labels, float* loss, float* probs, int64_t M, int64_t C,
                         bool check) {
  for (int64_t r = 0; r < M && check; ++r)
    if (!isIndex(labels[r], C))
      failRange("crossEntropy: argument 'labels' must hold integer class indices in [0, " + std::to_string(C) +
                ") (got " + numberText(labels[r]) + " at row " + std::to_string(r) + ")");
  std::vector<double> rowLoss(static_cast<size_t>(M));
  // A +Infinity logit has no softmax (inf - inf); its row is flagged and the op throws.
  std::vector<char> infRow(static_cast<size_t>(M), 0);
  parallelFor(M, grainFor(3 * C), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* z = logits + r * C;
      float mx = z[0];
      for (int64_t c = 1; c < C; ++c) mx = std::max(mx, z[c]);
      if (mx == INFINITY) infRow[size_t(r)] = 1;
      double s = 0;
      for (int64_t c = 0; c < C; ++c) s += std::exp(double(z[c]) - double(mx));
      const double inv = 1.0 / s;
      float* pr = probs + r * C;
      for (int64_t c = 0; c < C; ++c) pr[c] = float(std::exp(double(z[c]) - double(mx)) * inv);
      // Unchecked, a label that is not a class index makes the loss NaN (never a read out of the row).
      rowLoss[size_t(r)] = isIndex(labels[r], C) ? std::log(s) + double(mx) - double(z[int64_t(labels[r])]) : NAN;
    }
  });
  for (int64_t r = 0; r < M && check; ++r)
    if (infRow[size_t(r)])
      failNonFinite("crossEntropy: argument 'logits' holds +Infinity at row " + std::to_string(r) +
                    " (softmax is undefined there; -Infinity masks a class, NaN gives a NaN loss)");
  double total = 0;
  for (double v : rowLoss) total += v;
  loss[0] = float(total / double(M));
}

void crossEntropyBackward(const float* probs, const float* labels, const float* gradLoss, float* dlogits, int64_t M,
                          int64_t C) {
  const float scale = float(double(gradLoss[0]) / double(M));
  parallelFor(M, grainFor(C), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* pr = probs + r * C;
      float* dr = dlogits + r * C;
      const float lf = labels[r];
      const int64_t lab = isIndex(lf, C) ? int64_t(lf) : -1;
      for (int64_t c = 0; c < C; ++c) dr[c] = scale * (pr[c] - (c == lab ? 1.f : 0.f));
    }
  });
}

void mseForward(const float* a, const float* b, float* loss, int64_t n) {
  const double s = sumDeterministic(n, [&](int64_t i) {
    const double d = double(a[i]) - double(b[i]);
    return d * d;
  });
  loss[0] = float(s / double(n));
}

void mseBackward(const float* a, const float* b, const float* gradLoss, float* da, float* db, int64_t n) {
  const float scale = float(2.0 * double(gradLoss[0]) / double(n));
  parallelFor(n, 16384, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const float d = scale * (a[i] - b[i]);
      if (da) da[i] = d;
      if (db) db[i] = -d;
    }
  });
}

void argmaxChannels(const float* x, float* out, int64_t B, int64_t C, int64_t L) {
  // A task is one batch row and a chunk of positions: the loop over c streams through
  // contiguous rows of x while the running maxima of the chunk stay in cache.
  constexpr int64_t LC = 256;
  const int64_t chunks = (L + LC - 1) / LC;
  parallelFor(B * chunks, grainFor(C * std::min(L, LC)), [&](int64_t t0, int64_t t1) {
    float bestV[LC];
    int64_t best[LC];
    bool nan[LC];
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t bi = t / chunks, l0 = (t % chunks) * LC, n = std::min(LC, L - l0);
      const float* xb = x + bi * C * L + l0;
      for (int64_t l = 0; l < n; ++l) {
        bestV[l] = -INFINITY;
        best[l] = 0;
        nan[l] = false;
      }
      for (int64_t c = 0; c < C; ++c) {
        const float* row = xb + c * L;
        for (int64_t l = 0; l < n; ++l) {
          const float v = row[l];
          if (std::isnan(v)) nan[l] = true;
          if (v > bestV[l]) {  // strict: an equal value later never replaces the first
            bestV[l] = v;
            best[l] = c;
          }
        }
      }
      float* ob = out + bi * L + l0;
      for (int64_t l = 0; l < n; ++l) ob[l] = nan[l] ? -1.f : float(best[l]);
    }
  });
}

}  // namespace s4::cpu
