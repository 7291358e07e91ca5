// S4 convolution-kernel generation on the GPU: twin of cpu/ssm_kernel.h, with the same
// signatures, layouts and meaning (the math is written out there). All pointers are device
// pointers; complex data is interleaved complex64 passed as float*. Work is issued on
// s4::cuda::stream(). No CUDA headers here, so binding code compiles without CUDA.
#pragma once
#include <cstdint>

namespace s4::cuda {

void dplrKernel(const float* lambda, const float* p, const float* b, const float* cTilde, const float* dt, float* out,
                int64_t H, int64_t N2, int64_t L);
void dplrKernelBackward(const float* lambda, const float* p, const float* b, const float* cTilde, const float* dt,
                        const float* dK, float* gLambda, float* gP, float* gB, float* gCTilde, float* gDt, int64_t H,
                        int64_t N2, int64_t L);

void diagKernel(const float* lambda, const float* b, const float* c, const float* dt, float* out, int64_t H, int64_t N2,
                int64_t L);
void diagKernelBackward(const float* lambda, const float* b, const float* c, const float* dt, const float* dK,
                        float* gLambda, float* gB, float* gC, float* gDt, int64_t H, int64_t N2, int64_t L);

// Same flags as s4::cpu::ssmParamCheck (x3 may be null). Waits for the stream.
uint32_t ssmParamCheck(const float* lambda, const float* x1, const float* x2, const float* x3, const float* dt,
                       int64_t H, int64_t N2);

}  // namespace s4::cuda
