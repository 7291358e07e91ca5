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
  GemmArgs g;
  g.M = M; g.N = N; g.K = K;
  g.A = x; g.lda = K;
  g.B = w; g.ldb = K; g.transB = true;
  g.C = y; g.ldc = N;
  gemm(g);
  if (bias) {
    parallelFor(M, grainFor(N), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t c = 0; c < N; ++c) y[r * N + c] += bias[c];
    });
  }
}

void linearBackward(const float* dy, const float* x, const float* w,
                    float* dx, float* dw, float* db, int64_t M, int64_t K, int64_t N) {
  if (dx) {  // dx[M, K] = dy[M, N] W[N, K]
    GemmArgs g;
    g.M = M; g.N = K; g.K = N;
    g.A = dy; g.lda = N;
    g.B = w; g.ldb = K;
    g.C = dx; g.ldc = K;
    gemm(g);
  }
  if (dw) {  // dW[N, K] = dy^T[N, M] x[M, K]
    GemmArgs g;
    g.M = N; g.N = K; g.K = M;
    g.A = dy; g.lda = N; g.transA = true;
    g.B = x; g.ldb = K;
    g.C = dw; g.ldc = K;
    gemm(g);
  }
  if (db) {
    columnSums(M, N, [&](int64_t r, int64_t c) { return std::make_pair(double(dy[r * N + c]), 0.0); },
               db, nullptr);
  }
}

void linearChannelsForward(const float* x, const float* w, const float* bias, float* y,
                           int64_t B, int64_t H, int64_t L, int64_t O) {
  // One position: [B, H, 1] is the row-major [B, H], and a single GEMM over the batch beats B
  // one-column products (the single-token step of a model).
  if (L == 1) {
    linearForward(x, w, bias, y, B, H, O);
    return;
  }
  GemmArgs g;  // y_b[O, L] = W[O, H] x_b[H, L]
  g.M = O; g.N = L; g.K = H; g.batch = B;
  g.A = w; g.lda = H; g.strideA = 0;
  g.B = x; g.ldb = L; g.strideB = H * L;
  g.C = y; g.ldc = L; g.strideC = O * L;
  gemm(g);
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
  if (L == 1) {  // as in the forward: the row-major linear of [B, H]
    linearBackward(dy, x, w, dx, dw, db, B, H, O);
    return;
  }
  if (dx) {  // dx_b[H, L] = W^T[H, O] dy_b[O, L]
    GemmArgs g;
    g.M = H; g.N = L; g.K = O; g.batch = B;
    g.A = w; g.lda = H; g.strideA = 0; g.transA = true;
    g.B = dy; g.ldb = L; g.strideB = O * L;
    g.C = dx; g.ldc = L; g.strideC = H * L;
    gemm(g);
  }
  if (dw) {  // dW[O, H] = sum_b dy_b[O, L] x_b^T[L, H]
    GemmArgs g;
    g.M = O; g.N = H; g.K = L; g.batch = B; g.reduceBatch = true;
    g.A = dy; g.lda = L; g.strideA = O * L;
    g.B = x; g.ldb = L; g.strideB = H * L; g.transB = true;
    g.C = dw; g.ldc = H;
    gemm(g);
  }
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
