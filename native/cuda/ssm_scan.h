// Recurrent scan on the GPU; twin of cpu/ssm_scan.h (coefficient layout and semantics
// there). One launch runs all T steps; the state of each (b, h) stays in registers of a
// group of min(32, pow2 >= N2) lanes, the two 2 Re sums per step are shuffle reductions.
// Device pointers, stream s4::cuda::stream(); no CUDA headers here.
#pragma once
#include <cstdint>

namespace s4::cuda {

// Largest state half-size N2 the kernel supports (8 states per lane).
constexpr int64_t kScanMaxN2 = 256;

void ssmScan(const float* coef, float* state, const float* u, float* y, int64_t B, int64_t H,
             int64_t N2, int64_t T, bool gelu = false);
// The GLU + residual (+ LayerNorm) after a block's output linear: cpu::stepEpilogue.
void stepEpilogue(const float* z, const float* bias, const float* x, const float* w, const float* lb,
                  float* out, int64_t B, int64_t H, float eps, bool normalize);

}  // namespace s4::cuda
