// CPU twins of the embedding ops (spec: native/binding/embedding.cpp).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>

#include "../common/error.h"
#include "../common/parallel.h"

namespace s4::cpu {
namespace {

int64_t grainFor(int64_t itemCost) { return std::max<int64_t>(1, 32768 / std::max<int64_t>(1, itemCost)); }

bool isIndex(float v, int64_t limit) { return v >= 0.f && v < float(limit) && v == std::floor(v); }

std::string numberText(float v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", double(v));
  return buf;
}

void checkIndices(const float* idx, int64_t M, int64_t V) {
  for (int64_t m = 0; m < M; ++m)
    if (!isIndex(idx[m], V))
      failRange("embedding: argument 'indices' must hold integer row indices in [0, " + std::to_string(V) + ") (got " +
                numberText(idx[m]) + " at position " + std::to_string(m) + ")");
}

}  // namespace

void embeddingForward(const float* idx, const float* table, float* out, int64_t M, int64_t V, int64_t D) {
  checkIndices(idx, M, V);
  parallelFor(M, grainFor(D), [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; ++m) {
      const float* src = table + int64_t(idx[m]) * D;
      std::copy(src, src + D, out + m * D);
    }
  });
}

void embeddingBackward(const float* idx, const float* dy, float* dtable, int64_t M, int64_t V, int64_t D) {
  checkIndices(idx, M, V);
  // Each task owns a range of table rows and scans all indices in order: deterministic.
  parallelFor(V, std::max<int64_t>(1, V / 64), [&](int64_t v0, int64_t v1) {
    std::fill(dtable + v0 * D, dtable + v1 * D, 0.f);
    for (int64_t m = 0; m < M; ++m) {
      const int64_t v = int64_t(idx[m]);
      if (v < v0 || v >= v1) continue;
      float* dst = dtable + v * D;
      const float* src = dy + m * D;
      for (int64_t d = 0; d < D; ++d) dst[d] += src[d];
    }
  });
}

}  // namespace s4::cpu
