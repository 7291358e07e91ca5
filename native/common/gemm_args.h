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

}  // namespace s4
