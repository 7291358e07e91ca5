// CPU twins of the pooling ops (spec: native/binding/pool.cpp).
#include <algorithm>
#include <cstdint>

#include "../common/parallel.h"

namespace s4::cpu {
namespace {

int64_t grainFor(int64_t itemCost) { return std::max<int64_t>(1, 32768 / std::max<int64_t>(1, itemCost)); }

// The valid length of a row as the spec reads it: trunc(v) clamped to [0, L], NaN as 0.
int64_t validLength(float v, int64_t L) {
  if (!(v > 0.f)) return 0;
  return v >= float(L) ? L : int64_t(v);
}

}  // namespace

void meanPoolForward(const float* x, float* y, int64_t B, int64_t H, int64_t L) {
  parallelFor(B * H, grainFor(L), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      double s = 0;
      for (int64_t l = 0; l < L; ++l) s += x[r * L + l];
      y[r] = float(s / double(L));
    }
  });
}

void meanPoolBackward(const float* dy, float* dx, int64_t B, int64_t H, int64_t L) {
  const float inv = float(1.0 / double(L));
  parallelFor(B * H, grainFor(L), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float g = dy[r] * inv;
      for (int64_t l = 0; l < L; ++l) dx[r * L + l] = g;
    }
  });
}

void lastPoolForward(const float* x, float* y, int64_t rows, int64_t L) {
  for (int64_t r = 0; r < rows; ++r) y[r] = x[r * L + L - 1];
}

void lastPoolBackward(const float* dy, float* dx, int64_t rows, int64_t L) {
  parallelFor(rows, grainFor(L), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      std::fill(dx + r * L, dx + r * L + L - 1, 0.f);
      dx[r * L + L - 1] = dy[r];
    }
  });
}

void lengthMask(const float* x, const float* lengths, float* y, int64_t B, int64_t H, int64_t L) {
  parallelFor(B * H, grainFor(L), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t n = validLength(lengths[r / H], L);
      if (y != x) std::copy(x + r * L, x + r * L + n, y + r * L);
      std::fill(y + r * L + n, y + (r + 1) * L, 0.f);
    }
  });
}

void maskedMeanPoolForward(const float* x, const float* lengths, float* y, int64_t B, int64_t H, int64_t L) {
  parallelFor(B * H, grainFor(L), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t n = validLength(lengths[r / H], L);
      double s = 0;
      for (int64_t l = 0; l < n; ++l) s += x[r * L + l];
      y[r] = n > 0 ? float(s / double(n)) : 0.f;
    }
  });
}

void maskedMeanPoolBackward(const float* dy, const float* lengths, float* dx, int64_t B, int64_t H, int64_t L) {
  parallelFor(B * H, grainFor(L), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t n = validLength(lengths[r / H], L);
      const float g = n > 0 ? float(double(dy[r]) / double(n)) : 0.f;
      std::fill(dx + r * L, dx + r * L + n, g);
      std::fill(dx + r * L + n, dx + (r + 1) * L, 0.f);
    }
  });
}

void maskedLastPoolForward(const float* x, const float* lengths, float* y, int64_t B, int64_t H, int64_t L) {
  for (int64_t r = 0; r < B * H; ++r) {
    const int64_t n = validLength(lengths[r / H], L);
    y[r] = n > 0 ? x[r * L + n - 1] : 0.f;
  }
}

void maskedLastPoolBackward(const float* dy, const float* lengths, float* dx, int64_t B, int64_t H, int64_t L) {
  parallelFor(B * H, grainFor(L), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t n = validLength(lengths[r / H], L);
      std::fill(dx + r * L, dx + (r + 1) * L, 0.f);
      if (n > 0) dx[r * L + n - 1] = dy[r];
    }
  });
}

}  // namespace s4::cpu
