// CPU twins of the layout ops (spec: native/binding/layout.cpp).
#include <algorithm>
#include <cstdint>

#include "../common/parallel.h"

namespace s4::cpu {
namespace {

int64_t grainFor(int64_t itemCost) { return std::max<int64_t>(1, 32768 / std::max<int64_t>(1, itemCost)); }

}  // namespace

void transpose12(const float* x, float* y, int64_t B, int64_t M, int64_t N) {
  // 32 x 32 tiles keep both the reads and the writes within a few cache lines.
  constexpr int64_t T = 32;
  const int64_t tm = (M + T - 1) / T, tn = (N + T - 1) / T;
  parallelFor(B * tm * tn, grainFor(T * T), [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t b = t / (tm * tn), i0 = (t / tn % tm) * T, j0 = t % tn * T;
      const float* xb = x + b * M * N;
      float* yb = y + b * M * N;
      const int64_t i1 = std::min(M, i0 + T), j1 = std::min(N, j0 + T);
      for (int64_t j = j0; j < j1; ++j)
        for (int64_t i = i0; i < i1; ++i) yb[j * M + i] = xb[i * N + j];
    }
  });
}

void flipLast(const float* x, float* y, int64_t rows, int64_t L) {
  parallelFor(rows, grainFor(L), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t l = 0; l < L; ++l) y[r * L + l] = x[r * L + L - 1 - l];
  });
}

void sliceLast(const float* x, float* y, int64_t rows, int64_t L, int64_t start, int64_t len) {
  parallelFor(rows, grainFor(len), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) std::copy(x + r * L + start, x + r * L + start + len, y + r * len);
  });
}

void sliceLastBackward(const float* dy, float* dx, int64_t rows, int64_t L, int64_t start, int64_t len) {
  parallelFor(rows, grainFor(L), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      float* d = dx + r * L;
      std::fill(d, d + start, 0.f);
      std::copy(dy + r * len, dy + r * len + len, d + start);
      std::fill(d + start + len, d + L, 0.f);
    }
  });
}

void repeatMid(const float* x, float* y, int64_t outer, int64_t reps, int64_t inner) {
  parallelFor(outer * reps, grainFor(inner), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* src = x + (r / reps) * inner;
      std::copy(src, src + inner, y + r * inner);
    }
  });
}

void repeatMidBackward(const float* dy, float* dx, int64_t outer, int64_t reps, int64_t inner) {
  // Chunks of columns fixed by the shape; each column sums its copies in order.
  constexpr int64_t kCols = 1024;
  const int64_t chunks = (inner + kCols - 1) / kCols;
  parallelFor(outer * chunks, grainFor(kCols * reps), [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t o = t / chunks, i0 = (t % chunks) * kCols, i1 = std::min(inner, i0 + kCols);
      const float* g = dy + o * reps * inner;
      for (int64_t i = i0; i < i1; ++i) {
        double s = 0;
        for (int64_t r = 0; r < reps; ++r) s += g[r * inner + i];
        dx[o * inner + i] = float(s);
      }
    }
  });
}

}  // namespace s4::cpu
