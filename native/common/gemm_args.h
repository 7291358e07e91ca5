// The arguments of one GEMM, shared by the CPU engine (native/cpu/gemm.cpp), the GPU engine
// (native/cuda/gemm.cu) and the ops that call them (plain C++, no CUDA types).
//
// Row-major: C[M, N] = alpha * sum_r op(A_r)[M, K] op(B_r)[K, N] + beta * C, where
// op(X) = X or X^T. A matrix X stored row-major with leading dimension ld holds element
// (i, j) at X[i * ld + j]; op(A) = A^T means A is stored [K, M].
// batch > 1: matrices of batch b start at A + b*strideA (B, C likewise). When
// reduceBatch is true all batches are summed into the single C (strideC unused): a
// batch-reduce GEMM, e.g. dW = sum_b dY_b X_b^T. beta == 0 ignores C's old contents
// (NaNs included).
#pragma once
#include <cstdint>

namespace s4 {

struct GemmArgs {
  bool transA = false, transB = false;
  int64_t M = 0, N = 0, K = 0;
  float alpha = 1.f, beta = 0.f;
  const float* A = nullptr; int64_t lda = 0, strideA = 0;
  const float* B = nullptr; int64_t ldb = 0, strideB = 0;
  float* C = nullptr; int64_t ldc = 0, strideC = 0;
  int64_t batch = 1;
  bool reduceBatch = false;
};

// One operand of gemmOf: element (i, j) of the stored matrix at p[i * ld + j], batch b at
// p + b * stride; trans: the product uses its transpose.
struct GemmOperand {
  const float* p;
  int64_t ld;
  int64_t stride = 0;
  bool trans = false;
};

// C[M, N] = op(A)[M, K] op(B)[K, N] over `batch` batches (reduceBatch: summed into one C).
inline GemmArgs gemmOf(int64_t M, int64_t N, int64_t K, GemmOperand A, GemmOperand B, float* C, int64_t ldc,
                       int64_t strideC = 0, int64_t batch = 1, bool reduceBatch = false) {
  GemmArgs g;
  g.M = M; g.N = N; g.K = K;
  g.A = A.p; g.lda = A.ld; g.strideA = A.stride; g.transA = A.trans;
  g.B = B.p; g.ldb = B.ld; g.strideB = B.stride; g.transB = B.trans;
  g.C = C; g.ldc = ldc; g.strideC = strideC;
  g.batch = batch; g.reduceBatch = reduceBatch;
  return g;
}

// The products of the linear layers (spec: native/binding/linear.cpp), one shape for both
// backends; each backend runs them with its own gemm().

// linear, x [M, K], W [N, K]: y[M, N] = x W^T, dx[M, K] = dy[M, N] W, dW[N, K] = dy^T x.
inline GemmArgs linearForwardGemm(const float* x, const float* w, float* y, int64_t M, int64_t K, int64_t N) {
  return gemmOf(M, N, K, {x, K}, {w, K, 0, true}, y, N);
}
inline GemmArgs linearDxGemm(const float* dy, const float* w, float* dx, int64_t M, int64_t K, int64_t N) {
  return gemmOf(M, K, N, {dy, N}, {w, K}, dx, K);
}
inline GemmArgs linearDwGemm(const float* dy, const float* x, float* dw, int64_t M, int64_t K, int64_t N) {
  return gemmOf(N, K, M, {dy, N, 0, true}, {x, K}, dw, K);
}

// linearChannels, x [B, H, L], W [O, H], batched over b: y_b[O, L] = W x_b,
// dx_b[H, L] = W^T dy_b, dW[O, H] = sum_b dy_b x_b^T (a batch-reduce GEMM).
inline GemmArgs linearChannelsForwardGemm(const float* x, const float* w, float* y, int64_t B, int64_t H, int64_t L,
                                          int64_t O) {
  return gemmOf(O, L, H, {w, H}, {x, L, H * L}, y, L, O * L, B);
}
inline GemmArgs linearChannelsDxGemm(const float* dy, const float* w, float* dx, int64_t B, int64_t H, int64_t L,
                                     int64_t O) {
  return gemmOf(H, L, O, {w, H, 0, true}, {dy, L, O * L}, dx, L, H * L, B);
}
inline GemmArgs linearChannelsDwGemm(const float* dy, const float* x, float* dw, int64_t B, int64_t H, int64_t L,
                                     int64_t O) {
  return gemmOf(O, H, L, {dy, L, O * L}, {x, L, H * L, true}, dw, H, 0, B, true);
}

}  // namespace s4
