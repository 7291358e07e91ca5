// CPU twins of the pooling ops (spec: native/binding/pool.cpp).
#include <algorithm>
#include <cstdint>

#include "../common/parallel.h"

namespace s4::cpu {
namespace {

int64_t grainFor(int64_t itemCost) { return std::max<int64_t>(1, 32768 / std::max<int64_t>(1, itemCost)); }

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

}  // namespace s4::cpu
