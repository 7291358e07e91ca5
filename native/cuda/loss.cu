// CUDA twins of the losses and predictions (spec: native/binding/loss.cpp).
//
// Softmax cross-entropy gives one warp to a row when it is short and one block when it is
// long; the per-row losses and the squared differences are summed in double by trees of
// fixed shape, so results do not change from run to run. Bad class labels are flagged on
// the device (an atomic off the data path) and reported as RangeError after the stream has
// finished the check; an unchecked call (labels checked on the host) skips that wait.
#include <math_constants.h>

#include <climits>
#include <cstdint>
#include <string>

#include "kernel_common.cuh"

namespace s4::cuda {
namespace {

// Softmax cross-entropy, one group per row: probabilities and the row's loss (double).
template <int G>
__global__ void crossEntropyRowKernel(const float* __restrict__ logits, const float* __restrict__ labels,
                                      float* __restrict__ probs, double* rowLoss, unsigned long long* bad,
                                      unsigned long long* infRow, int64_t M, int C) {
  __shared__ float scratch[kThreads / 32];
  const int lane = threadIdx.x % G;
  const int64_t row = groupRow<G>();
  if (row >= M) return;
  const float* z = logits + row * C;
  float mx = -INFINITY;
  for (int c = lane; c < C; c += G) mx = fmaxf(mx, z[c]);
  mx = groupMax<G>(mx, scratch);
  float s = 0.f;
  for (int c = lane; c < C; c += G) s += expf(z[c] - mx);
  s = groupSum<G>(s, scratch);
  const float inv = 1.f / s;
  float* pr = probs + row * C;
  for (int c = lane; c < C; c += G) pr[c] = expf(z[c] - mx) * inv;
  if (lane == 0) {
    if (mx == INFINITY) atomicMin(infRow, (unsigned long long)row);
    const float lf = labels[row];
    if (!isIndex(lf, C)) {
      atomicMin(bad, (unsigned long long)row);
      rowLoss[row] = CUDART_NAN;  // the loss of an unchecked call is NaN; a checked one throws
    } else {
      rowLoss[row] = log(double(s)) + double(mx) - double(z[int64_t(lf)]);
    }
  }
}

// out[0] = scale * sum of v[0..n) (double), one block of kThreads, fixed order.
__global__ void sumDoublesKernel(const double* v, int64_t n, double scale, float* out) {
  double s = 0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += v[i];
  s = blockSumDouble(s);
  if (threadIdx.x == 0) out[0] = float(s * scale);
}

__global__ void crossEntropyBwdKernel(const float* __restrict__ probs, const float* __restrict__ labels,
                                      const float* gradLoss, float* __restrict__ dl, int64_t M, int64_t C) {
  const float scale = float(double(gradLoss[0]) / double(M));
  S4_GRID_STRIDE(t, M * C) {
    const int64_t r = t / C, c = t % C;
    const float lf = labels[r];
    const int64_t lab = isIndex(lf, C) ? int64_t(lf) : -1;
    dl[t] = scale * (probs[t] - (c == lab ? 1.f : 0.f));
  }
}

// Squared differences summed per block (double), then sumDoublesKernel.
__global__ void msePartialKernel(const float* a, const float* b, int64_t n, double* partial) {
  double s = 0;
  S4_GRID_STRIDE(i, n) {
    const double d = double(a[i]) - double(b[i]);
    s += d * d;
  }
  s = blockSumDouble(s);
  if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

__global__ void mseBwdKernel(const float* a, const float* b, const float* gradLoss, float* da, float* db, int64_t n) {
  const float scale = float(2.0 * double(gradLoss[0]) / double(n));
  S4_GRID_STRIDE(i, n) {
    const float d = scale * (a[i] - b[i]);
    if (da) da[i] = d;
    if (db) db[i] = -d;
  }
}

// ---- argmax over channels -----------------------------------------------------------------------
// The rule of the CPU twin (native/cpu/loss.cpp): the first index of the maximum, -1 when
// the column holds a NaN. Both are exact, so the backends give identical indices.

// One thread per column (b, l): consecutive threads take consecutive l, so every step of
// the loop over c reads a contiguous run of x (coalesced once L >= 32).
__global__ void argmaxColumnKernel(const float* __restrict__ x, float* __restrict__ out, int64_t n, int64_t C,
                                   int64_t L) {
  S4_GRID_STRIDE(i, n) {
    const int64_t b = i / L, l = i - b * L;
    const float* p = x + b * C * L + l;
    float bestV = -INFINITY;
    int64_t best = 0;
    bool nan = false;
#pragma unroll 4
    for (int64_t c = 0; c < C; ++c) {
      const float v = p[c * L];
      nan |= isnan(v);
      if (v > bestV) {  // strict: an equal value later never replaces the first
        bestV = v;
        best = c;
      }
    }
    out[i] = nan ? -1.f : float(best);
  }
}

// One warp per column, for short L with many channels (classification logits are L = 1),
// where a thread per column would leave most of the GPU idle and read x with stride C.
// Each lane keeps the first maximum of its channels c = lane, lane + 32, ...; the merge
// keeps the larger value, or between equal values the smaller index, which is again the
// first maximum of the whole column.
__global__ void argmaxWarpKernel(const float* __restrict__ x, float* __restrict__ out, int64_t n, int64_t C,
                                 int64_t L) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = int64_t(gridDim.x) * (blockDim.x >> 5);
  // i is the same for the 32 lanes of a warp, so the shuffles below see full warps.
  for (int64_t i = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) >> 5; i < n; i += warps) {
    const int64_t b = i / L, l = i - b * L;
    const float* p = x + b * C * L + l;
    float bestV = -INFINITY;
    int best = -1;  // -1: no channel seen yet (C <= 2^24, see the spec)
    bool nan = false;
    for (int c = lane; c < C; c += 32) {
      const float v = p[int64_t(c) * L];
      nan |= isnan(v);
      if (best < 0 || v > bestV) {
        bestV = v;
        best = c;
      }
    }
    if (best < 0) best = INT_MAX;  // a lane without channels loses every tie below
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
      const float ov = __shfl_xor_sync(0xffffffffu, bestV, o);
      const int oi = __shfl_xor_sync(0xffffffffu, best, o);
      if (ov > bestV || (ov == bestV && oi < best)) {
        bestV = ov;
        best = oi;
      }
    }
    nan = __any_sync(0xffffffffu, nan);
    if (lane == 0) out[i] = nan ? -1.f : float(best);
  }
}

}  // namespace

void crossEntropyForward(const float* logits, const float* labels, float* loss, float* probs, int64_t M, int64_t C,
                         bool check) {
  BadFlag bad, infRow;
  Workspace rowLoss(sizeof(double) * size_t(M));
  byRowLength(C, [&](auto gc) {
    constexpr int G = decltype(gc)::value;
    crossEntropyRowKernel<G><<<rowsGrid<G>(M), kThreads, 0, stream()>>>(logits, labels, probs, rowLoss.as<double>(),
                                                                         bad.device(), infRow.device(), M, int(C));
  });
  S4_CUDA_CHECK_LAUNCH("crossEntropy");
  sumDoublesKernel<<<1, kThreads, 0, stream()>>>(rowLoss.as<double>(), M, 1.0 / double(M), loss);
  S4_CUDA_CHECK_LAUNCH("crossEntropy");
  // The checks read the flags back, which waits for the kernel; unchecked calls return at once.
  if (!check) return;
  const int64_t inf = infRow.first();
  if (inf >= 0)
    failNonFinite("crossEntropy: argument 'logits' holds +Infinity at row " + std::to_string(inf) +
                  " (softmax is undefined there; -Infinity masks a class, NaN gives a NaN loss)");
  const int64_t r = bad.first();
  if (r >= 0)
    failRange("crossEntropy: argument 'labels' must hold integer class indices in [0, " + std::to_string(C) +
              ") (got " + numberText(readDeviceFloat(labels + r)) + " at row " + std::to_string(r) + ")");
}

void crossEntropyBackward(const float* probs, const float* labels, const float* gradLoss, float* dlogits, int64_t M,
                          int64_t C) {
  crossEntropyBwdKernel<<<gridFor(M * C), kThreads, 0, stream()>>>(probs, labels, gradLoss, dlogits, M, C);
  S4_CUDA_CHECK_LAUNCH("crossEntropyBackward");
}

void mseForward(const float* a, const float* b, float* loss, int64_t n) {
  const int blocks = int(std::min<int64_t>(1024, (n + kThreads - 1) / kThreads));
  Workspace partial(sizeof(double) * size_t(blocks));
  msePartialKernel<<<blocks, kThreads, 0, stream()>>>(a, b, n, partial.as<double>());
  S4_CUDA_CHECK_LAUNCH("mse");
  sumDoublesKernel<<<1, kThreads, 0, stream()>>>(partial.as<double>(), blocks, 1.0 / double(n), loss);
  S4_CUDA_CHECK_LAUNCH("mse");
}

void mseBackward(const float* a, const float* b, const float* gradLoss, float* da, float* db, int64_t n) {
  mseBwdKernel<<<gridFor(n), kThreads, 0, stream()>>>(a, b, gradLoss, da, db, n);
  S4_CUDA_CHECK_LAUNCH("mseBackward");
}

void argmaxChannels(const float* x, float* out, int64_t B, int64_t C, int64_t L) {
  const int64_t n = B * L;
  if (L < 32 && C >= 64) {
    argmaxWarpKernel<<<gridFor(n * 32), kThreads, 0, stream()>>>(x, out, n, C, L);
  } else {
    argmaxColumnKernel<<<gridFor(n), kThreads, 0, stream()>>>(x, out, n, C, L);
  }
  S4_CUDA_CHECK_LAUNCH("argmaxChannels");
}

}  // namespace s4::cuda
