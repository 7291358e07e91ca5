// CPU twins of the elementwise ops (spec: native/binding/pointwise.cpp).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "../common/parallel.h"

namespace s4::cpu {

constexpr int64_t kGrain = 1 << 15;

void fill(float* out, float value, int64_t n) {
  parallelFor(n, kGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) out[i] = value;
  });
}

void axpby(float* out, const float* a, float alpha, const float* b, float beta, int64_t n) {
  parallelFor(n, kGrain, [&](int64_t s, int64_t e) {
    if (b)
      for (int64_t i = s; i < e; ++i) out[i] = alpha * a[i] + beta * b[i];
    else
      for (int64_t i = s; i < e; ++i) out[i] = alpha * a[i];
  });
}

void mul(float* out, const float* a, const float* b, int64_t n) {
  parallelFor(n, kGrain, [&](int64_t s, int64_t e) {
    for (int64_t i = s; i < e; ++i) out[i] = a[i] * b[i];
  });
}

void sum(float* out, const float* a, int64_t n) {
  // Fixed chunking keeps the result independent of the thread count.
  const int64_t chunk = 1 << 14;
  int64_t chunks = (n + chunk - 1) / chunk;
  std::vector<double> partial(static_cast<size_t>(chunks), 0.0);
  parallelFor(chunks, 1, [&](int64_t s, int64_t e) {
    for (int64_t c = s; c < e; ++c) {
      double acc = 0;
      int64_t end = std::min(n, (c + 1) * chunk);
      for (int64_t i = c * chunk; i < end; ++i) acc += a[i];
      partial[c] = acc;
    }
  });
  double total = 0;
  for (double p : partial) total += p;
  out[0] = static_cast<float>(total);
}

void runningMean(float* sum, float* count, const float* x, float* mean, int64_t n) {
  parallelFor(n, kGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      sum[i] = sum[i] + x[i];
      count[i] = count[i] + 1.f;
      mean[i] = float(1.0 / double(count[i])) * sum[i];
    }
  });
}

void broadcastScalar(float* out, const float* scalar, float scale, int64_t n) {
  fill(out, scalar[0] * scale, n);
}

void expForward(const float* x, float* y, int64_t n) {
  parallelFor(n, kGrain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) y[i] = std::exp(x[i]);
  });
}

void complexFromParts(const float* re, const float* im, float* z, int64_t n) {
  parallelFor(n, kGrain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      z[2 * i] = re ? re[i] : 0.f;
      z[2 * i + 1] = im ? im[i] : 0.f;
    }
  });
}

void complexParts(const float* z, float* re, float* im, int64_t n) {
  parallelFor(n, kGrain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      if (re) re[i] = z[2 * i];
      if (im) im[i] = z[2 * i + 1];
    }
  });
}

}  // namespace s4::cpu
