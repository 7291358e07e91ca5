// Error-compensated 3xTF32 GEMM on tensor cores (sm_80 and newer), with the contract of
// GemmArgs (native/common/gemm_args.h). Each FP32 operand x is split into big = tf32(x) and
// small = tf32(x - big); the products small*big + big*small + big*big, accumulated in FP32,
// give about FP32 accuracy at tensor-core speed (small*small, below 2^-22 relative, is
// dropped). NaN inputs give NaN outputs as in FP32; an infinite input gives NaN (not inf)
// in the outputs it reaches (its small part is inf - inf). One of the engines gemm.cu chooses from (S4_GEMM=3xtf32).
// Plain C++ header.
#pragma once
#include <string>

#include "../common/gemm_args.h"

namespace s4::cuda {

// True when gemm3xTf32 can run g on the current GPU: compute capability 8.0 or newer, every
// size below INT_MAX - 256, at most 65535 row tiles of 128, and the batches and the k tiles
// of 32 it reduces over each fit in int. Otherwise *why says why.
bool gemm3xTf32Applicable(const GemmArgs& g, std::string* why = nullptr);

// C = alpha op(A) op(B) + beta C as GemmArgs describes; requires gemm3xTf32Applicable(g).
// A batch-reduce (or one long product) with few output tiles splits its reduction into
// parts summed in a fixed order, so results do not vary between runs.
void gemm3xTf32(const GemmArgs& g);

}  // namespace s4::cuda
