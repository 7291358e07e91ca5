// GEMM on the GPU with the contract of s4::cpu::gemm (row-major, op(A)/op(B), strided
// batches, batch-reduce). Uses cuBLAS when it can be loaded (cublas_api.h), otherwise a
// tiled shared-memory SGEMM kernel of our own. Plain C++ header (no CUDA types).
#pragma once
#include <string>

#include "../cpu/nn_ops.h"

namespace s4::cuda {

void gemm(const s4::cpu::GemmArgs& g);

// "cublas" or "builtin" (the latter with *why set to the reason when requested).
// S4_CUBLAS=0 forces the fallback kernel; S4_TF32=1 lets cuBLAS use TF32 tensor cores.
const char* gemmBackend(std::string* why = nullptr);
// cuBLAS version (e.g. 130000) or -1 when cuBLAS is not used.
int cublasVersion();
bool gemmTf32();

}  // namespace s4::cuda
