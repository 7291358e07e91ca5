// CUDA twins of batch normalization over (B, L) per channel of [B, H, L] data (spec:
// native/binding/batch_norm.cpp).
//
// A channel's B L values lie in B rows of L floats, H L apart. The reductions are two-stage
// and of fixed shape: a grid (H, splits) where block (c, s) sums a fixed contiguous range of
// the channel's flattened (b, l) positions in double (rows read coalesced; the split count
// depends only on the shape, so results do not change from run to run), then one thread per
// channel adds its splits in order. The statistics are taken in one pass over x - pivot, the
// pivot being the channel's first value: in double, with the shift, the variance loses
// nothing to a large mean. The elementwise passes of training mode (normalize, dx) work in
// double around the batch mean held as a float pair (hi + lo), so the output of a channel
// whose mean is large against its spread is as exact as that of a centred one (eval mode's
// running mean is a float: plain float math is exact enough there); float4 loads when rows
// hold a multiple of 4 values. Forward: 3 launches (stats, finish, apply), reading x twice;
// eval: 1. Backward: 3 (sums, finish, dx), or 2 without dx.
#include <algorithm>
#include <cstdint>

#include "kernel_common.cuh"

namespace s4::cuda {
namespace {

// Positions of a channel per block at least, and about how many blocks a reduction wants
// in all (enough to fill an H100 several times over).
constexpr int64_t kMinPerSplit = 4096;
constexpr int64_t kTargetBlocks = 2048;

int64_t splitsFor(int64_t n, int64_t H) {
  const int64_t byWork = (n + kMinPerSplit - 1) / kMinPerSplit;
  const int64_t byGrid = std::max<int64_t>(1, (kTargetBlocks + H - 1) / H);
  return std::max<int64_t>(1, std::min<int64_t>({byWork, byGrid, 65535}));
}

// Block (c, s) of a (H, splits) grid: positions [j0, j1) of the channel's n = B L, flattened
// as j = b L + l; f(o, c, a0, a1) adds the terms of element o = (b H + c) L + l to a0, a1.
// Each thread walks j by blockDim.x, keeping (b, l) without a division per element.
template <class F>
__global__ void channelRangeSumsKernel(F f, int64_t H, int64_t L, int64_t n, int64_t perSplit, double* p0,
                                       double* p1) {
  const int64_t c = blockIdx.x, s = blockIdx.y;
  const int64_t j0 = s * perSplit, j1 = min(n, j0 + perSplit);
  double a0 = 0, a1 = 0;
  int64_t j = j0 + threadIdx.x;
  if (j < j1) {
    int64_t b = j / L, l = j - b * L;
    const int64_t db = blockDim.x / L, dl = blockDim.x - db * L;
    for (; j < j1; j += blockDim.x) {
      f((b * H + c) * L + l, c, a0, a1);
      b += db;
      l += dl;
      if (l >= L) {
        l -= L;
        ++b;
      }
    }
  }
  a0 = blockSumDouble(a0);
  a1 = blockSumDouble(a1);
  if (threadIdx.x == 0) {
    p0[c * gridDim.y + s] = a0;
    p1[c * gridDim.y + s] = a1;
  }
}

// The per-channel partial sums of f in a workspace: p0, p1 [H, splits].
struct RangeSums {
  Workspace ws;
  double* p0;
  double* p1;
  int64_t splits;

  template <class F>
  RangeSums(F f, int64_t H, int64_t L, int64_t n)
      : ws(sizeof(double) * size_t(2 * H * splitsFor(n, H))), splits(splitsFor(n, H)) {
    p0 = ws.as<double>();
    p1 = p0 + H * splits;
    const int64_t perSplit = (n + splits - 1) / splits;
    channelRangeSumsKernel<<<dim3(unsigned(H), unsigned(splits)), kThreads, 0, stream()>>>(f, H, L, n, perSplit, p0,
                                                                                           p1);
    S4_CUDA_CHECK_LAUNCH("batchNorm (channel sums)");
  }
};

// (x - pivot, (x - pivot)^2), pivot = the channel's first value x[0, c, 0].
struct ShiftedMoments {
  const float* __restrict__ x;
  int64_t L;
  __device__ void operator()(int64_t o, int64_t c, double& a0, double& a1) const {
    const double d = double(x[o]) - double(x[c * L]);
    a0 += d;
    a1 += d * d;
  }
};

// (dy, dy xhat), xhat from the saved statistics.
struct GradSums {
  const float* __restrict__ dy;
  const float* __restrict__ x;
  const float* __restrict__ saved;
  int64_t H;
  __device__ void operator()(int64_t o, int64_t c, double& a0, double& a1) const {
    const double mean = double(saved[c]) + double(saved[H + c]);
    const double g = dy[o];
    a0 += g;
    a1 += g * ((double(x[o]) - mean) * double(saved[2 * H + c]));
  }
};

__device__ void saveStats(float* saved, int64_t H, int64_t c, double mean, double rstd) {
  const float hi = float(mean);
  saved[c] = hi;
  saved[H + c] = float(mean - double(hi));
  saved[2 * H + c] = float(rstd);
}

// One thread per channel: mean and variance from the shifted sums, saved statistics, the
// running update; thread 0 counts the batch.
__global__ void batchStatsFinishKernel(const double* p0, const double* p1, int64_t splits, const float* x, int64_t L,
                                       int64_t n, int64_t H, float* runningMean, float* runningVar,
                                       float* numBatchesTracked, float* saved, float momentum, float eps) {
  const int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (c == 0 && numBatchesTracked) numBatchesTracked[0] += 1.f;
  if (c >= H) return;
  double s1 = 0, s2 = 0;
  for (int64_t s = 0; s < splits; ++s) {
    s1 += p0[c * splits + s];
    s2 += p1[c * splits + s];
  }
  const double shift = s1 / double(n);
  // Sum of (x - mean)^2, clamped at 0 against rounding; written as a select, not fmax,
  // which would turn a NaN (a NaN in the channel) into 0.
  const double q0 = s2 - shift * s1;
  const double q = q0 < 0.0 ? 0.0 : q0;
  const double mean = double(x[c * L]) + shift;
  saveStats(saved, H, c, mean, 1.0 / sqrt(q / double(n) + double(eps)));
  if (runningMean) {
    const double m = double(momentum);
    runningMean[c] = float((1.0 - m) * double(runningMean[c]) + m * mean);
    runningVar[c] = float((1.0 - m) * double(runningVar[c]) + m * (q / double(n - 1)));
  }
}

// Eval mode in one pass. The running mean is a float, so x - mean needs no extended
// precision: each element takes its channel's coefficients itself (rsqrtf), and element o
// < H also saves channel o's statistics when asked (hi = the running mean, lo = 0, rstd),
// which the backward reads. A generation step is then one launch and no workspace.
struct EvalNormalize {
  const float* __restrict__ runningMean;
  const float* __restrict__ runningVar;
  const float* __restrict__ w;
  const float* __restrict__ b;
  float* __restrict__ saved;
  int64_t H;
  float eps;
  __device__ float operator()(float v, int64_t c, int64_t o) const {
    if (saved && o < H) saveStats(saved, H, o, double(runningMean[o]), 1.0 / sqrt(double(runningVar[o]) + double(eps)));
    const float k = rsqrtf(runningVar[c] + eps) * (w ? w[c] : 1.f);
    return (v - runningMean[c]) * k + (b ? b[c] : 0.f);
  }
};

// y = (x - mean) rstd w + b for element o of channel c, in double around hi + lo.
struct Normalize {
  const float* __restrict__ saved;
  const float* __restrict__ w;
  const float* __restrict__ b;
  int64_t H;
  __device__ float operator()(float v, int64_t c) const {
    const double d = double(v) - double(saved[c]) - double(saved[H + c]);
    const double k = double(saved[2 * H + c]) * (w ? double(w[c]) : 1.0);
    return float(d * k + (b ? double(b[c]) : 0.0));
  }
};

// dx = w rstd (dy - mg - xhat mgx), coef [2H] holding (mg, mgx) per channel (null: eval, 0).
struct InputGrad {
  const float* __restrict__ dy;
  const float* __restrict__ saved;
  const float* __restrict__ w;
  const double* __restrict__ coef;
  int64_t H;
  __device__ float operator()(float v, int64_t c, int64_t o) const {
    const double rstd = double(saved[2 * H + c]);
    const double k = rstd * (w ? double(w[c]) : 1.0);
    const double g = dy[o];
    if (!coef) return float(k * g);
    const double xh = (double(v) - double(saved[c]) - double(saved[H + c])) * rstd;
    return float(k * (g - coef[c] - xh * coef[H + c]));
  }
};

// out[o] = f(x[o], channel of o, o) over [B, H, L]: float4 when L % 4 == 0 and the buffers
// are 16-byte aligned (4 consecutive values then share a channel). out may be x. The
// channel of an index takes a division; in 32 bits (Narrow, when B H L < 2^32) it costs a
// fraction of the 64-bit one, which would bound the scalar map by arithmetic, not memory.
template <bool Narrow>
__device__ __forceinline__ int64_t channelOf(int64_t o, int64_t H, int64_t L) {
  if (Narrow) return int64_t((uint32_t(o) / uint32_t(L)) % uint32_t(H));
  return (o / L) % H;
}

template <bool Narrow, class F>
__global__ void channelMapKernel(F f, const float* x, float* out, int64_t total, int64_t H, int64_t L) {
  S4_GRID_STRIDE(o, total) out[o] = f(x[o], channelOf<Narrow>(o, H, L), o);
}

template <bool Narrow, class F>
__global__ void channelMapKernel4(F f, const float4* x, float4* out, int64_t total4, int64_t H, int64_t L) {
  S4_GRID_STRIDE(q, total4) {
    const int64_t o = 4 * q, c = channelOf<Narrow>(o, H, L);
    const float4 v = x[q];
    out[q] = make_float4(f(v.x, c, o), f(v.y, c, o + 1), f(v.z, c, o + 2), f(v.w, c, o + 3));
  }
}

template <bool Narrow, class F>
void channelMapAs(F f, const float* x, float* out, int64_t total, int64_t H, int64_t L) {
  if (L % 4 == 0 && aligned16(x) && aligned16(out)) {
    channelMapKernel4<Narrow><<<gridFor(total / 4), kThreads, 0, stream()>>>(
        f, reinterpret_cast<const float4*>(x), reinterpret_cast<float4*>(out), total / 4, H, L);
  } else {
    channelMapKernel<Narrow><<<gridFor(total), kThreads, 0, stream()>>>(f, x, out, total, H, L);
  }
}

template <class F>
void channelMap(F f, const float* x, float* out, int64_t B, int64_t H, int64_t L, const char* what) {
  const int64_t total = B * H * L;
  if (total <= int64_t(UINT32_MAX)) channelMapAs<true>(f, x, out, total, H, L);
  else channelMapAs<false>(f, x, out, total, H, L);
  S4_CUDA_CHECK_LAUNCH(what);
}

// Adapters of the map: the forward's f ignores the index.
struct NormalizeAt {
  Normalize f;
  __device__ float operator()(float v, int64_t c, int64_t) const { return f(v, c); }
};

// dw, db and the means of dx from the gradient sums (one thread per channel).
__global__ void gradFinishKernel(const double* p0, const double* p1, int64_t splits, int64_t H, int64_t n, float* dw,
                                 float* db, double* coef) {
  const int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (c >= H) return;
  double sg = 0, sgx = 0;
  for (int64_t s = 0; s < splits; ++s) {
    sg += p0[c * splits + s];
    sgx += p1[c * splits + s];
  }
  if (dw) dw[c] = float(sgx);
  if (db) db[c] = float(sg);
  if (coef) {
    coef[c] = sg / double(n);
    coef[H + c] = sgx / double(n);
  }
}

}  // namespace

void batchNormForward(const float* x, const float* w, const float* b, float* runningMean, float* runningVar,
                      float* numBatchesTracked, float* y, float* saved, int64_t B, int64_t H, int64_t L, float momentum,
                      float eps, bool training) {
  if (!training) {
    channelMap(EvalNormalize{runningMean, runningVar, w, b, saved, H, eps}, x, y, B, H, L, "batchNormForward (eval)");
    return;
  }
  // Without a saved buffer the statistics still pass through one, in a workspace.
  Workspace own(saved ? 0 : sizeof(float) * size_t(3 * H));
  float* st = saved ? saved : own.as<float>();
  const int64_t n = B * L;
  const RangeSums sums(ShiftedMoments{x, L}, H, L, n);
  batchStatsFinishKernel<<<gridFor(H), kThreads, 0, stream()>>>(sums.p0, sums.p1, sums.splits, x, L, n, H, runningMean,
                                                                 runningVar, numBatchesTracked, st, momentum, eps);
  S4_CUDA_CHECK_LAUNCH("batchNormForward (statistics)");
  channelMap(NormalizeAt{Normalize{st, w, b, H}}, x, y, B, H, L, "batchNormForward (normalize)");
}

void batchNormBackward(const float* dy, const float* x, const float* w, const float* saved, float* dx, float* dw,
                       float* db, int64_t B, int64_t H, int64_t L, bool training) {
  const int64_t n = B * L;
  const bool sums = dw || db || (dx && training);
  Workspace coefSpace(dx && training ? sizeof(double) * size_t(2 * H) : 0);
  double* coef = dx && training ? coefSpace.as<double>() : nullptr;
  if (sums) {
    const RangeSums s(GradSums{dy, x, saved, H}, H, L, n);
    gradFinishKernel<<<gridFor(H), kThreads, 0, stream()>>>(s.p0, s.p1, s.splits, H, n, dw, db, coef);
    S4_CUDA_CHECK_LAUNCH("batchNormBackward (sums)");
  }
  if (dx) channelMap(InputGrad{dy, saved, w, coef, H}, x, dx, B, H, L, "batchNormBackward (input gradient)");
}

}  // namespace s4::cuda
