// cuBLAS, opened at run time with dlopen (libcublas.so.13, .12, .11, then libcublas.so) so the
// addon loads on machines without it; only the entry points we use are declared, in our
// own code (the build machine need not have cuBLAS headers). One handle, created lazily
// on first use, bound to s4::cuda::stream(). Math mode per call: plain FP32, or TF32 tensor
// cores when sgemm's tf32 is set. S4_CUBLAS=0 disables cuBLAS (the GEMM falls back to our
// kernels).
#pragma once
#include <string>

namespace s4::cublas {

// True when the library loaded, every entry point resolved and a handle was created;
// otherwise *why says why.
bool available(std::string* why = nullptr);
// cublasGetVersion_v2, e.g. 130000; -1 when unavailable.
int version();

// Row-major strided-batched SGEMM on s4::cuda::stream():
//   C_b[M, N] = alpha * op(A_b)[M, K] op(B_b)[K, N] + beta * C_b,  b < batch,
// with the leading dimensions and element strides of the row-major matrices. Every size
// must fit in int (the caller checks). tf32: on TF32 tensor cores (inputs rounded to 10
// mantissa bits, about 1e-3 relative error), else plain FP32. Throws s4::Error on a cuBLAS
// failure; requires available().
void sgemm(bool transA, bool transB, int M, int N, int K, float alpha,
           const float* A, int lda, long long strideA,
           const float* B, int ldb, long long strideB, float beta,
           float* C, int ldc, long long strideC, int batch, bool tf32);

// Destroys the handle (call before the CUDA context goes away; optional).
void shutdown();

}  // namespace s4::cublas
