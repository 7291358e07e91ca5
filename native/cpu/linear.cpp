// CPU twins of the linear layers (spec: native/binding/linear.cpp), on the GEMM engine of
// gemm.cpp. Bias gradients are column sums in a split fixed by the shape, added in order,
// so results do not depend on the thread count.
#include <algorithm>
#include <cstdint>
#include <utility>

#include "../common/parallel.h"
#include "gemm.h"

namespace s4::cpu {
namespace {

int64_t grainFor(int64_t itemCost) { return std::max<int64_t>(1, 32768 / std::max<int64_t>(1, itemCost)); }

}  // namespace

void linearForward(const float* x, const float* w, const float* bias, float* y,
                   int64_t M, int64_t K, int64_t N) {
  gemm(linearForwardGemm(x, w, y, M, K, N));
  if (bias) {
    parallelFor(M, grainFor(N), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t c = 0; c < N; ++c) y[r * N + c] += bias[c];
    });
  }
}

void linearBackward(const float* dy, const float* x, const float* w,
                    float* dx, float* dw, float* db, int64_t M, int64_t K, int64_t N) {
  if (dx) gemm(linearDxGemm(dy, w, dx, M, K, N));
  if (dw) gemm(linearDwGemm(dy, x, dw, M, K, N));
  if (db) {
    columnSums(M, N, [&](int64_t r, int64_t c) { return std::make_pair(double(dy[r * N + c]), 0.0); },
               db, nullptr);
  }
}

void linearChannelsForward(const float* x, const float* w, const float* bias, float* y,
                           int64_t B, int64_t H, int64_t L, int64_t O) {
  // One position: [B, H, 1] is the row-major [B, H], and a single GEMM over the batch beats B
  // one-column products (the single-token step of a model).
  if (L == 1) return linearForward(x, w, bias, y, B, H, O);
  gemm(linearChannelsForwardGemm(x, w, y, B, H, L, O));
  if (bias) {
    parallelFor(B * O, grainFor(L), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const float bo = bias[r % O];
        float* yr = y + r * L;
        for (int64_t l = 0; l < L; ++l) yr[l] += bo;
      }
    });
  }
}

void linearChannelsBackward(const float* dy, const float* x, const float* w,
                            float* dx, float* dw, float* db,
                            int64_t B, int64_t H, int64_t L, int64_t O) {
  // As in the forward, one position is the row-major linear of [B, H].
  if (L == 1) return linearBackward(dy, x, w, dx, dw, db, B, H, O);
  if (dx) gemm(linearChannelsDxGemm(dy, w, dx, B, H, L, O));
  if (dw) gemm(linearChannelsDwGemm(dy, x, dw, B, H, L, O));
  if (db) {  // db[o] = sum_{b, l} dy[b, o, l]
    parallelFor(O, grainFor(B * L), [&](int64_t o0, int64_t o1) {
      for (int64_t o = o0; o < o1; ++o) {
        double s = 0;
        for (int64_t b = 0; b < B; ++b) {
          const float* r = dy + (b * O + o) * L;
          for (int64_t l = 0; l < L; ++l) s += r[l];
        }
        db[o] = float(s);
      }
    });
  }
}

}  // namespace s4::cpu
