// The CPU GEMM engine (gemm.cpp): the contract of GemmArgs (native/common/gemm_args.h).
// It is also the CPU twin of the gemm op (spec: native/binding/linear.cpp).
#pragma once
#include "../common/gemm_args.h"

namespace s4::cpu {

void gemm(const GemmArgs& g);
// Which micro-kernel gemm uses on this machine ("avx2" or "generic").
const char* gemmKernelName();

}  // namespace s4::cpu
