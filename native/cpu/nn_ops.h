// Neural-network ops for the CPU backend (float32 data, plain pointers, row-major).
// Every function here has a CUDA twin in native/cuda/nn_ops.h with the same meaning;
// the binding validates sizes before calling, so these assume consistent arguments.
// Work is spread over s4::cpu::parallelFor; reductions that feed a single output are
// done in a fixed order so results are deterministic run to run.
#pragma once
#include <cmath>
#include <cstdint>

// Helpers shared with the CUDA twin (native/cuda/nn_ops.cu includes this header), so the
// two backends compute the dropout mask and the AdamW step with the very same code.
#ifdef __CUDACC__
#define S4_NN_HD __host__ __device__ __forceinline__
#else
#define S4_NN_HD inline
#endif

namespace s4::nn {

// splitmix64 finalizer: a bijective 64-bit mixer.
S4_NN_HD uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
// Key of one dropout mask from a user seed and a step counter.
S4_NN_HD uint64_t dropoutKey(uint64_t seed, uint64_t step) {
  return mix64(mix64(seed + 0x9e3779b97f4a7c15ULL) ^ (step * 0xd1b54a32d192ed03ULL + 0x632be59bd9b4e019ULL));
}
// Uniform in [0, 1) with 24 random bits (exact in float32), a pure function of (key, i).
S4_NN_HD float dropoutUniform(uint64_t key, uint64_t i) {
  return float(mix64(key + (i + 1) * 0x9e3779b97f4a7c15ULL) >> 40) * (1.0f / 16777216.0f);
}

// AdamW constants computed once on the host (double, then rounded to float).
struct AdamWConstants {
  float decay;        // 1 - lr * weightDecay
  float beta1, beta2;
  float oneMinusBeta1, oneMinusBeta2;  // from double: 1 - float(0.999) would be off by 5e-5
  float stepSize;     // lr / (1 - beta1^step)
  float invSqrtBc2;   // 1 / sqrt(1 - beta2^step)
  float eps;
};
inline AdamWConstants adamwConstants(double lr, double beta1, double beta2, double eps,
                                     double weightDecay, double step) {
  AdamWConstants c;
  c.decay = float(1.0 - lr * weightDecay);
  c.beta1 = float(beta1);
  c.beta2 = float(beta2);
  c.oneMinusBeta1 = float(1.0 - beta1);
  c.oneMinusBeta2 = float(1.0 - beta2);
  c.stepSize = float(lr / (1.0 - std::pow(beta1, step)));
  c.invSqrtBc2 = float(1.0 / std::sqrt(1.0 - std::pow(beta2, step)));
  c.eps = float(eps);
  return c;
}
S4_NN_HD void adamwElement(float& p, float g, float& m, float& v, const AdamWConstants& c) {
  p *= c.decay;
  m = c.beta1 * m + c.oneMinusBeta1 * g;
  v = c.beta2 * v + c.oneMinusBeta2 * g * g;
  const float denom = sqrtf(v) * c.invSqrtBc2 + c.eps;
  p -= c.stepSize * (m / denom);
}

}  // namespace s4::nn

namespace s4::cpu {

// ---- GEMM -----------------------------------------------------------------------------
// Row-major: C[M, N] = alpha * sum_r op(A_r)[M, K] op(B_r)[K, N] + beta * C, where
// op(X) = X or X^T. A matrix X stored row-major with leading dimension ld holds element
// (i, j) at X[i * ld + j]; op(A) = A^T means A is stored [K, M].
// batch > 1: matrices of batch b start at A + b*strideA (B, C likewise). When
// reduceBatch is true all batches are summed into the single C (strideC unused): a
// batch-reduce GEMM, e.g. dW = sum_b dY_b X_b^T. beta == 0 ignores C's old contents
// (NaNs included).
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
void gemm(const GemmArgs& g);
// Which micro-kernel gemm uses on this machine ("avx2" or "generic").
const char* gemmKernelName();

// ---- linear: y[M, N] = x[M, K] W^T + bias, W [N, K] ------------------------------------
void linearForward(const float* x, const float* w, const float* bias, float* y,
                   int64_t M, int64_t K, int64_t N);
// Any of dx [M, K], dw [N, K], db [N] may be null (not wanted). Outputs are overwritten.
void linearBackward(const float* dy, const float* x, const float* w,
                    float* dx, float* dw, float* db, int64_t M, int64_t K, int64_t N);

// ---- linearChannels: y[b, o, l] = sum_h W[o, h] x[b, h, l] + bias[o] -------------------
// x [B, H, L], W [O, H], bias [O] (may be null), y [B, O, L].
void linearChannelsForward(const float* x, const float* w, const float* bias, float* y,
                           int64_t B, int64_t H, int64_t L, int64_t O);
void linearChannelsBackward(const float* dy, const float* x, const float* w,
                            float* dx, float* dw, float* db,
                            int64_t B, int64_t H, int64_t L, int64_t O);

// ---- layer norm -----------------------------------------------------------------------
// Over the last dimension: x [rows, D]; mean, rstd [rows] are saved for backward.
// weight, bias [D] may be null (identity / zero).
void layerNormForward(const float* x, const float* w, const float* b, float* y,
                      float* mean, float* rstd, int64_t rows, int64_t D, float eps);
void layerNormBackward(const float* dy, const float* x, const float* w,
                       const float* mean, const float* rstd,
                       float* dx, float* dw, float* db, int64_t rows, int64_t D);
// Over the channel dimension of x [B, H, L]: statistics per (b, l); mean, rstd [B, L].
void layerNormChannelsForward(const float* x, const float* w, const float* b, float* y,
                              float* mean, float* rstd, int64_t B, int64_t H, int64_t L,
                              float eps);
void layerNormChannelsBackward(const float* dy, const float* x, const float* w,
                               const float* mean, const float* rstd,
                               float* dx, float* dw, float* db,
                               int64_t B, int64_t H, int64_t L);

// ---- pointwise activations ------------------------------------------------------------
// approximateTanh false: x * Phi(x) (exact erf, PyTorch's default); true: tanh form.
void geluForward(const float* x, float* y, int64_t n, bool approximateTanh);
void geluBackward(const float* dy, const float* x, float* dx, int64_t n, bool approximateTanh);

// GLU on x viewed as [outer, 2*half, inner]: y[o, i, j] = a * sigmoid(b) with
// a = x[o, i, j], b = x[o, half + i, j]; y is [outer, half, inner].
void gluForward(const float* x, float* y, int64_t outer, int64_t half, int64_t inner);
void gluBackward(const float* dy, const float* x, float* dx, int64_t outer, int64_t half,
                 int64_t inner);

// Dropout with a counter-based mask: element i is kept iff nn::dropoutUniform(key, i) >= p,
// kept values multiplied by scale (= 1/(1-p)). The same call applied to dy is the backward.
void dropoutApply(const float* x, float* y, int64_t n, float p, float scale, uint64_t key);

// ---- pooling, losses, embedding ---------------------------------------------------------
// x [B, H, L] -> y [B, H] (mean over L); backward spreads dy / L.
void meanPoolForward(const float* x, float* y, int64_t B, int64_t H, int64_t L);
void meanPoolBackward(const float* dy, float* dx, int64_t B, int64_t H, int64_t L);

// logits [M, C], labels [M] (float32 holding class indices). loss[0] = mean over rows of
// -log softmax(logits)[label]; probs [M, C] gets the softmax (saved for backward).
// Throws RangeError naming 'labels' when a label is not an integer in [0, C).
void crossEntropyForward(const float* logits, const float* labels, float* loss, float* probs,
                         int64_t M, int64_t C);
// dlogits = gradLoss[0] / M * (probs - onehot(labels)).
void crossEntropyBackward(const float* probs, const float* labels, const float* gradLoss,
                          float* dlogits, int64_t M, int64_t C);

// loss[0] = mean((a - b)^2) over n; backward: da = 2 g (a - b) / n, db = -da (either null).
void mseForward(const float* a, const float* b, float* loss, int64_t n);
void mseBackward(const float* a, const float* b, const float* gradLoss, float* da, float* db,
                 int64_t n);

// idx [M] (float32 holding row indices), table [V, D] -> out [M, D]. Throws RangeError
// naming 'indices' on an index that is not an integer in [0, V).
void embeddingForward(const float* idx, const float* table, float* out, int64_t M, int64_t V,
                      int64_t D);
// dtable [V, D] = scatter-add of dy [M, D] rows (overwritten, deterministic order).
void embeddingBackward(const float* idx, const float* dy, float* dtable, int64_t M, int64_t V,
                       int64_t D);

// ---- predictions ------------------------------------------------------------------------
// out[b, l] = the index c of the largest x[b, c, l] over the channels, as a float32 (exact:
// the binding keeps C <= 2^24); x [B, C, L], out [B, L]. Classification outputs [B, C] are
// the case L = 1. Follows the host scorer (lib/train/metrics.ts argmax) exactly, so accuracy
// is the same from either path: ties (values that compare equal, +0 and -0 included) go to
// the smallest index, a column of -inf gives 0, and a column holding any NaN gives -1 (a
// NaN output is never a correct prediction). Not differentiable; there is no backward.
void argmaxChannels(const float* x, float* out, int64_t B, int64_t C, int64_t L);

// ---- layout and elementwise ops used by the layers -------------------------------------
// lastPool: x [rows, L] -> y [rows] = x[:, L-1]; backward: dx zero except dx[r, L-1] = dy[r].
void lastPoolForward(const float* x, float* y, int64_t rows, int64_t L);
void lastPoolBackward(const float* dy, float* dx, int64_t rows, int64_t L);
// Batched transpose: x [B, M, N] -> y [B, N, M] (its own backward with M and N swapped).
void transpose12(const float* x, float* y, int64_t B, int64_t M, int64_t N);
// Reverse the last dimension: y[r, l] = x[r, L-1-l] (its own backward).
void flipLast(const float* x, float* y, int64_t rows, int64_t L);

// ---- reductions and optimizer -----------------------------------------------------------
// Fused AdamW (decoupled weight decay, PyTorch order), in place on n floats:
//   p *= 1 - lr*wd;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
//   p -= lr * (m / bc1) / (sqrt(v / bc2) + eps),  bc1 = 1 - b1^step, bc2 = 1 - b2^step.
// (nn::adamwElement; constants from nn::adamwConstants in the binding.)
void adamwUpdate(float* param, const float* grad, float* m, float* v, int64_t n,
                 const nn::AdamWConstants& c);

}  // namespace s4::cpu
