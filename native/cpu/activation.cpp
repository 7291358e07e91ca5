// CPU twins of the activations (spec: native/binding/activation.cpp).
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "../common/dropout_mask.h"
#include "../common/gelu.h"
#include "../common/parallel.h"

namespace s4::cpu {
namespace {

int64_t grainFor(int64_t itemCost) { return std::max<int64_t>(1, 32768 / std::max<int64_t>(1, itemCost)); }

}  // namespace

void geluForward(const float* x, float* y, int64_t n, bool approximateTanh) {
  parallelFor(n, 8192, [&](int64_t i0, int64_t i1) {
    if (approximateTanh) {
      for (int64_t i = i0; i < i1; ++i) y[i] = nn::geluTanh(x[i]);
    } else {
      for (int64_t i = i0; i < i1; ++i) y[i] = nn::geluErf(x[i]);
    }
  });
}

void geluBackward(const float* dy, const float* x, float* dx, int64_t n, bool approximateTanh) {
  parallelFor(n, 8192, [&](int64_t i0, int64_t i1) {
    if (approximateTanh) {
      for (int64_t i = i0; i < i1; ++i) dx[i] = dy[i] * nn::geluTanhGrad(x[i]);
    } else {
      for (int64_t i = i0; i < i1; ++i) dx[i] = dy[i] * nn::geluErfGrad(x[i]);
    }
  });
}

void gluForward(const float* x, float* y, int64_t outer, int64_t half, int64_t inner) {
  const int64_t rowLen = half * inner;
  parallelFor(outer, grainFor(rowLen * 8), [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o) {
      const float* a = x + o * 2 * rowLen;
      const float* g = a + rowLen;
      float* yo = y + o * rowLen;
      for (int64_t i = 0; i < rowLen; ++i) yo[i] = a[i] / (1.f + std::exp(-g[i]));
    }
  });
}

void gluBackward(const float* dy, const float* x, float* dx, int64_t outer, int64_t half, int64_t inner) {
  const int64_t rowLen = half * inner;
  parallelFor(outer, grainFor(rowLen * 8), [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o) {
      const float* a = x + o * 2 * rowLen;
      const float* g = a + rowLen;
      const float* d = dy + o * rowLen;
      float* da = dx + o * 2 * rowLen;
      float* dg = da + rowLen;
      for (int64_t i = 0; i < rowLen; ++i) {
        const float s = 1.f / (1.f + std::exp(-g[i]));
        da[i] = d[i] * s;
        dg[i] = d[i] * a[i] * s * (1.f - s);
      }
    }
  });
}

void dropout(const float* x, float* y, int64_t n, float p, float scale, uint64_t key) {
  parallelFor(n, 16384, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) y[i] = nn::dropoutElement(x[i], key, uint64_t(i), p, scale);
  });
}

void dropoutTied(const float* x, float* y, int64_t rows, int64_t L, float p, float scale, uint64_t key) {
  parallelFor(rows, std::max<int64_t>(1, 16384 / L), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float m = nn::dropoutElement(1.f, key, uint64_t(r), p, scale);  // 0 or 1 / (1 - p)
      for (int64_t l = 0; l < L; ++l) y[r * L + l] = x[r * L + l] * m;
    }
  });
}

}  // namespace s4::cpu
