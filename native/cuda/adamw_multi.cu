// CUDA twin of the multi-tensor AdamW step (spec: native/binding/adamw_multi.cpp): up to
// kMaxTensors tensors per launch, their pointers, sizes and constants passed by value in the
// kernel's parameters (no table to copy, so a launch can be captured in a graph). Each
// tensor gets its own run of blocks, as many as its size asks for up to kMaxBlocksPerTensor
// (a grid-stride loop covers the rest), so small and large tensors share one grid. A block
// finds its tensor by a binary search of the first blocks. Each thread does what a thread of
// the one-tensor kernel (native/cuda/optim.cu) does, through the same adamwQuad
// (adamw_quad.cuh), so the floats equal those of adamwUpdate on each tensor alone.
#include <algorithm>
#include <cstdint>

#include "../common/adamw_multi.h"
#include "adamw_quad.cuh"
#include "kernel_common.cuh"

namespace s4::cuda {
namespace {

// A tensor of one launch: 64 bytes. The constants shared by the launch live in Launch.
struct Entry {
  float* p;
  const float* g;
  float* m;
  float* v;
  int64_t n;
  float decay, stepSize, invSqrtBc2;
  int32_t firstBlock;
  int32_t vec;  // all four buffers are 16-byte aligned
};

constexpr int kMaxTensors = 56;
// Blocks of a tensor: one per kThreads * 16 floats (four quads per thread), at most this
// many; 1024 blocks of 256 threads fill an H100 (132 SMs x 2048 threads) on their own.
constexpr int64_t kFloatsPerBlock = int64_t(kThreads) * 16;
constexpr int64_t kMaxBlocksPerTensor = 1024;

struct Launch {
  Entry e[kMaxTensors];
  int32_t count;
  float beta1, beta2, oneMinusBeta1, oneMinusBeta2, eps;
};
// Kernel parameters are limited to 4 KB on every architecture this is built for.
static_assert(sizeof(Launch) <= 4096, "adamwMulti: the launch parameters must fit 4 KB");

__global__ void __launch_bounds__(kThreads) adamwMultiKernel(const __grid_constant__ Launch L) {
  const int32_t b = int32_t(blockIdx.x);
  int lo = 0, hi = L.count - 1;
  while (lo < hi) {
    const int mid = (lo + hi + 1) / 2;
    if (L.e[mid].firstBlock <= b) lo = mid;
    else hi = mid - 1;
  }
  const Entry& e = L.e[lo];
  const int32_t blocks = (lo + 1 < L.count ? L.e[lo + 1].firstBlock : int32_t(gridDim.x)) - e.firstBlock;
  const nn::AdamWConstants c{e.decay, L.beta1, L.beta2, L.oneMinusBeta1, L.oneMinusBeta2, e.stepSize, e.invSqrtBc2, L.eps};
  float* __restrict__ p = e.p;
  const float* __restrict__ g = e.g;
  float* __restrict__ m = e.m;
  float* __restrict__ v = e.v;
  const int64_t n = e.n;
  const int64_t nq = (n + 3) / 4;
  const int64_t stride = int64_t(blocks) * blockDim.x;
  for (int64_t q = int64_t(b - e.firstBlock) * blockDim.x + threadIdx.x; q < nq; q += stride) {
    adamwQuad(p, g, m, v, n, q, e.vec, c);
  }
}

bool sameShared(const Launch& L, const nn::AdamWConstants& c) {
  return L.beta1 == c.beta1 && L.beta2 == c.beta2 && L.oneMinusBeta1 == c.oneMinusBeta1 &&
         L.oneMinusBeta2 == c.oneMinusBeta2 && L.eps == c.eps;
}

}  // namespace

void adamwMultiUpdate(const nn::AdamWTensor* tensors, int64_t count) {
  Launch L{};
  int32_t blocks = 0;
  auto flush = [&] {
    if (L.count == 0) return;
    adamwMultiKernel<<<unsigned(blocks), kThreads, 0, stream()>>>(L);
    S4_CUDA_CHECK_LAUNCH("adamwMulti");
    L.count = 0;
    blocks = 0;
  };
  for (int64_t k = 0; k < count; ++k) {
    const nn::AdamWTensor& t = tensors[k];
    if (t.n <= 0) continue;
    // A launch holds tensors whose shared constants agree (the binding passes one beta1,
    // beta2 and eps for all; other callers still get the right answer).
    if (L.count == kMaxTensors || (L.count > 0 && !sameShared(L, t.c))) flush();
    if (L.count == 0) {
      L.beta1 = t.c.beta1;
      L.beta2 = t.c.beta2;
      L.oneMinusBeta1 = t.c.oneMinusBeta1;
      L.oneMinusBeta2 = t.c.oneMinusBeta2;
      L.eps = t.c.eps;
    }
    Entry& e = L.e[L.count++];
    e.p = t.param;
    e.g = t.grad;
    e.m = t.m;
    e.v = t.v;
    e.n = t.n;
    e.decay = t.c.decay;
    e.stepSize = t.c.stepSize;
    e.invSqrtBc2 = t.c.invSqrtBc2;
    e.firstBlock = blocks;
    e.vec = aligned16(t.param) && aligned16(t.grad) && aligned16(t.m) && aligned16(t.v);
    blocks += int32_t(std::min(kMaxBlocksPerTensor, (t.n + kFloatsPerBlock - 1) / kFloatsPerBlock));
  }
  flush();
}

}  // namespace s4::cuda
