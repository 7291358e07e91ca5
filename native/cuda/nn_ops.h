// CUDA twins of the neural-network ops in native/cpu/nn_ops.h: same names, same
// arguments, same meaning (device pointers instead of host pointers). Plain C++ header
// (no CUDA types) so binding code compiles without CUDA headers. All work is queued on
// s4::cuda::stream(); functions that must report bad data (class labels, embedding
// indices) wait for the stream to finish the check and throw RangeError.
#pragma once
#include <cstdint>

#include "../cpu/nn_ops.h"  // GemmArgs, nn::AdamWConstants (plain C++)
#include "gemm.h"

namespace s4::cuda {

void linearForward(const float* x, const float* w, const float* bias, float* y,
                   int64_t M, int64_t K, int64_t N);
void linearBackward(const float* dy, const float* x, const float* w,
                    float* dx, float* dw, float* db, int64_t M, int64_t K, int64_t N);
void linearChannelsForward(const float* x, const float* w, const float* bias, float* y,
                           int64_t B, int64_t H, int64_t L, int64_t O);
void linearChannelsBackward(const float* dy, const float* x, const float* w,
                            float* dx, float* dw, float* db,
                            int64_t B, int64_t H, int64_t L, int64_t O);

void layerNormForward(const float* x, const float* w, const float* b, float* y,
                      float* mean, float* rstd, int64_t rows, int64_t D, float eps);
void layerNormBackward(const float* dy, const float* x, const float* w,
                       const float* mean, const float* rstd,
                       float* dx, float* dw, float* db, int64_t rows, int64_t D);
void layerNormChannelsForward(const float* x, const float* w, const float* b, float* y,
                              float* mean, float* rstd, int64_t B, int64_t H, int64_t L,
                              float eps);
void layerNormChannelsBackward(const float* dy, const float* x, const float* w,
                               const float* mean, const float* rstd,
                               float* dx, float* dw, float* db,
                               int64_t B, int64_t H, int64_t L);

void geluForward(const float* x, float* y, int64_t n, bool approximateTanh);
void geluBackward(const float* dy, const float* x, float* dx, int64_t n, bool approximateTanh);
void gluForward(const float* x, float* y, int64_t outer, int64_t half, int64_t inner);
void gluBackward(const float* dy, const float* x, float* dx, int64_t outer, int64_t half,
                 int64_t inner);
void dropoutApply(const float* x, float* y, int64_t n, float p, float scale, uint64_t key);

void meanPoolForward(const float* x, float* y, int64_t B, int64_t H, int64_t L);
void meanPoolBackward(const float* dy, float* dx, int64_t B, int64_t H, int64_t L);
void crossEntropyForward(const float* logits, const float* labels, float* loss, float* probs,
                         int64_t M, int64_t C);
void crossEntropyBackward(const float* probs, const float* labels, const float* gradLoss,
                          float* dlogits, int64_t M, int64_t C);
void mseForward(const float* a, const float* b, float* loss, int64_t n);
void mseBackward(const float* a, const float* b, const float* gradLoss, float* da, float* db,
                 int64_t n);
void embeddingForward(const float* idx, const float* table, float* out, int64_t M, int64_t V,
                      int64_t D);
void embeddingBackward(const float* idx, const float* dy, float* dtable, int64_t M, int64_t V,
                       int64_t D);

void argmaxChannels(const float* x, float* out, int64_t B, int64_t C, int64_t L);

void lastPoolForward(const float* x, float* y, int64_t rows, int64_t L);
void lastPoolBackward(const float* dy, float* dx, int64_t rows, int64_t L);
void transpose12(const float* x, float* y, int64_t B, int64_t M, int64_t N);
void flipLast(const float* x, float* y, int64_t rows, int64_t L);

void adamwUpdate(float* param, const float* grad, float* m, float* v, int64_t n,
                 const nn::AdamWConstants& c);

}  // namespace s4::cuda
