// GEMM on the GPU with the contract of GemmArgs (native/common/gemm_args.h: row-major,
// op(A)/op(B), strided batches, batch-reduce); the CUDA twin of the gemm op. Uses the engine
// the GEMM mode names (below): cuBLAS when it can be loaded (cublas_api.h), the 3xTF32
// tensor-core kernel (gemm_3xtf32.h), or a tiled shared-memory SGEMM kernel of our own.
// Plain C++ header (no CUDA types).
#pragma once
#include <string>

#include "../common/gemm_args.h"

namespace s4::cuda {

void gemm(const GemmArgs& g);

// The GEMM mode, one per process, read from S4_GEMM at first use and changed by
// setGemmMode:
//   "cublas"   cuBLAS in FP32 (the default; S4_CUBLAS=0 or no cuBLAS: the SIMT kernels below)
//   "3xtf32"   the 3xTF32 tensor-core kernel (gemm_3xtf32.h), about FP32 accuracy; products
//              it cannot run (a GPU older than sm_80, sizes past its limits) or that are
//              too small to gain (under 2^18 multiply-adds per output) take the "cublas" path
//   "tf32"     cuBLAS on TF32 tensor cores: fast, about 1e-3 relative error (S4_TF32=1
//              alone also selects it)
//   "builtin"  the SIMT kernels of gemm.cu
// setGemmMode returns false (and changes nothing) for any other name; gemmModeList names
// them for error messages.
bool setGemmMode(const std::string& name);
const char* gemmMode();
std::string gemmModeList();

// The engine ordinary products use under the mode: "cublas", "3xtf32" or "builtin"; *why
// (when given) says why it is not the one the mode asks for.
const char* gemmBackend(std::string* why = nullptr);
// cuBLAS version (e.g. 130000) or -1 when cuBLAS is not used.
int cublasVersion();
// True when cuBLAS runs on TF32 tensor cores (mode "tf32").
bool gemmTf32();

// C (g.C, g.ldc; g.M x g.N) = the sum of `entries` dense [M, N] products stored back to back
// in W (device memory), in a fixed order, + beta C. The last step of a split reduction.
void reduceProducts(const GemmArgs& g, const float* W, int64_t entries, float beta);

}  // namespace s4::cuda
