// CPU twin of the recurrent scan (spec: native/binding/scan.cpp;
// coefficient layout and math: native/common/scan_layout.h). The scan runs one task per
// (b, h) and holds the state in double.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "../common/gelu.h"
#include "../common/parallel.h"
#include "../common/scan_layout.h"

namespace s4::cpu {

void ssmScan(const float* coef, float* state, const float* u, float* y, int64_t B, int64_t H,
             int64_t N2, int64_t T, bool gelu) {
  if (B <= 0 || H <= 0) return;
  const int64_t stride = scanCoefStride(N2);
  // Waking the pool costs tens of microseconds: a single token of a small layer (the
  // generation loop) must run on the calling thread. Chunks get ~64k state updates.
  const int64_t perRow = N2 * (T > 0 ? T : 1);
  const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 16) / perRow);
  parallelFor(B * H, grain, [&](int64_t r0, int64_t r1) {
    std::vector<double> xr(N2), xi(N2);
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t h = r % H;
      const float* c = coef + h * stride;
      const double cg = c[10 * N2], cu = c[10 * N2 + 1];
      float* st = state ? state + r * N2 * 2 : nullptr;
      for (int64_t n = 0; n < N2; ++n) {
        xr[n] = st ? st[2 * n] : 0.0;
        xi[n] = st ? st[2 * n + 1] : 0.0;
      }
      const float* ur = u + r * T;
      float* yr = y + r * T;
      const float* a = c + scanCoefOffset(kScanA, N2);
      const float* w = c + scanCoefOffset(kScanW, N2);
      const float* g = c + scanCoefOffset(kScanG, N2);
      const float* bb = c + scanCoefOffset(kScanBb, N2);
      const float* ca = c + scanCoefOffset(kScanCa, N2);
      for (int64_t t = 0; t < T; ++t) {
        const double ut = ur[t];
        double s = 0.0, o = 0.0;
        for (int64_t n = 0; n < N2; ++n) {
          s += w[2 * n] * xr[n] - w[2 * n + 1] * xi[n];    // Re(w x)
          o += ca[2 * n] * xr[n] - ca[2 * n + 1] * xi[n];  // Re(ca x)
        }
        s *= 2.0;
        o *= 2.0;
        const float yt = static_cast<float>(o - cg * s + cu * ut);
        yr[t] = gelu ? nn::geluErf(yt) : yt;
        for (int64_t n = 0; n < N2; ++n) {
          const double re = a[2 * n] * xr[n] - a[2 * n + 1] * xi[n] - g[2 * n] * s + bb[2 * n] * ut;
          const double im = a[2 * n] * xi[n] + a[2 * n + 1] * xr[n] - g[2 * n + 1] * s + bb[2 * n + 1] * ut;
          xr[n] = re;
          xi[n] = im;
        }
      }
      if (st)
        for (int64_t n = 0; n < N2; ++n) {
          st[2 * n] = static_cast<float>(xr[n]);
          st[2 * n + 1] = static_cast<float>(xi[n]);
        }
    }
  });
}

}  // namespace s4::cpu
