// CPU twins of the activations (spec: native/binding/activation.cpp).
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "../common/dropout_mask.h"
#include "../common/gelu.h"
#include "../common/parallel.h"
#include "vec_math.h"

namespace s4::cpu {
namespace {

int64_t grainFor(int64_t itemCost) { return std::max<int64_t>(1, 32768 / std::max<int64_t>(1, itemCost)); }

}  // namespace

// The loops below are plain so that the compiler vectorizes them (vec_math.h): the exact
// GELU as 0.5 v erfc(-v / sqrt 2), its tanh form and the GLU's sigmoid from expFast.
namespace {

S4_VECTOR_CLONES void geluErfRange(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = 0.5f * x[i] * vec::erfcFast(-x[i] * float(nn::kInvSqrt2));
}

S4_VECTOR_CLONES void geluTanhRange(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    y[i] = 0.5f * v * (1.f + vec::tanhFast(float(nn::kSqrt2OverPi) * (v + nn::kGeluTanhC * v * v * v)));
  }
}

S4_VECTOR_CLONES void geluErfGradRange(const float* dy, const float* x, float* dx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    const float cdf = 0.5f * vec::erfcFast(-v * float(nn::kInvSqrt2));
    const float pdf = float(nn::kInvSqrt2Pi) * vec::expFast(-0.5f * v * v);
    dx[i] = dy[i] * (cdf + v * pdf);
  }
}

S4_VECTOR_CLONES void geluTanhGradRange(const float* dy, const float* x, float* dx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    const float t = vec::tanhFast(float(nn::kSqrt2OverPi) * (v + nn::kGeluTanhC * v * v * v));
    const float du = float(nn::kSqrt2OverPi) * (1.f + 3.f * nn::kGeluTanhC * v * v);
    dx[i] = dy[i] * (0.5f * (1.f + t) + 0.5f * v * (1.f - t * t) * du);
  }
}

S4_VECTOR_CLONES void gluRow(const float* a, const float* g, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] * vec::sigmoidFast(g[i]);
}

S4_VECTOR_CLONES void gluGradRow(const float* d, const float* a, const float* g, float* da, float* dg, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    // 1 - s as e^-g s where s is near 1: the subtraction would keep only a few bits there.
    const float e = vec::expFast(-g[i]);
    const float s = 1.f / (1.f + e);
    const float r = g[i] > 0.f ? e * s : 1.f - s;
    da[i] = d[i] * s;
    dg[i] = d[i] * a[i] * s * r;
  }
}

}  // namespace

void geluForward(const float* x, float* y, int64_t n, bool approximateTanh) {
  parallelFor(n, 8192, [&](int64_t i0, int64_t i1) {
    if (approximateTanh) geluTanhRange(x + i0, y + i0, i1 - i0);
    else geluErfRange(x + i0, y + i0, i1 - i0);
  });
}

void geluBackward(const float* dy, const float* x, float* dx, int64_t n, bool approximateTanh) {
  parallelFor(n, 8192, [&](int64_t i0, int64_t i1) {
    if (approximateTanh) geluTanhGradRange(dy + i0, x + i0, dx + i0, i1 - i0);
    else geluErfGradRange(dy + i0, x + i0, dx + i0, i1 - i0);
  });
}

void gluForward(const float* x, float* y, int64_t outer, int64_t half, int64_t inner) {
  const int64_t rowLen = half * inner;
  parallelFor(outer, grainFor(rowLen * 8), [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o) {
      const float* a = x + o * 2 * rowLen;
      gluRow(a, a + rowLen, y + o * rowLen, rowLen);
    }
  });
}

void gluBackward(const float* dy, const float* x, float* dx, int64_t outer, int64_t half, int64_t inner) {
  const int64_t rowLen = half * inner;
  parallelFor(outer, grainFor(rowLen * 8), [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o) {
      const float* a = x + o * 2 * rowLen;
      float* da = dx + o * 2 * rowLen;
      gluGradRow(dy + o * rowLen, a, a + rowLen, da, da + rowLen, rowLen);
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
