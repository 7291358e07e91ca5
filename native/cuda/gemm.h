// GEMM on the GPU with the contract of GemmArgs (native/common/gemm_args.h: row-major,
// op(A)/op(B), strided batches, batch-reduce); the CUDA twin of the gemm op. Uses cuBLAS
// when it can be loaded (cublas_api.h), otherwise a tiled shared-memory SGEMM kernel of
// our own. Plain C++ header (no CUDA types).
#pragma once
#include <string>

#include "../common/gemm_args.h"

namespace s4::cuda {

void gemm(const GemmArgs& g);

// "cublas" or "builtin" (the latter with *why set to the reason when requested).
// S4_CUBLAS=0 forces the fallback kernel; S4_TF32=1 lets cuBLAS use TF32 tensor cores.
const char* gemmBackend(std::string* why = nullptr);
// cuBLAS version (e.g. 130000) or -1 when cuBLAS is not used.
int cublasVersion();
bool gemmTf32();

// C (g.C, g.ldc; g.M x g.N) = the sum of `entries` dense [M, N] products stored back to back
// in W (device memory), in a fixed order, + beta C. The last step of a split reduction.
void reduceProducts(const GemmArgs& g, const float* W, int64_t entries, float beta);

}  // namespace s4::cuda
