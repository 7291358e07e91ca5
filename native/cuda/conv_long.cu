// FFT convolution of long rows (8192 < L <= 65536) in shared memory, two passes over
// DRAM per transform. test/helpers/fft_four_step.ts is the float64 model of these kernels,
// index for index, and test/fft_four_step.test.ts checks it against the direct sums.
//
// A row x (L reals, zero-padded to n = 2M) is packed as z[m] = x[2m] + i x[2m+1], M = 2^logM
// complex points, and transformed by the radix-2 decimation-in-frequency FFT of size M that
// conv.cu's one-block kernel runs, with its stages split at M = M1 M2 (M1 = 2^floor(logM/2)):
//   pass A (columns): the log M1 stages of half >= M2. They mix only points with equal
//     m mod M2, so a block takes C columns of all M1 positions (4096 points), reading u
//     straight from the row (the zero padding is implicit), and writes the row's M
//     points to the workspace;
//   pass B (rows): the log M2 stages of half < M2, within rows of M2 points, then the
//     product of the real spectrum with (K + d) / n, then the inverse (decimation-in-
//     time) stages of half < M2; back to the workspace in place;
//   pass C (columns): the inverse stages of half >= M2, then the crop to L.
// Between the passes position e holds Z[bitrev_logM(e)], so bins k and M - k, which the
// real-input product needs together, sit in rows p and p' with bitrev(p) = k1 and
// bitrev(p') = -k1 mod M1 (k1 = k mod M1): a pass-B block takes whole units of two such
// rows ({0, M1/2} is unit 0). The kernel spectrum is made by passes A and B over the rows
// of k and kept in the same position order: X[k] at k's position, (X[0], X[M]) (both real)
// at position 0, so pass B reads it with no reordering. The skip d folds into it.
//
// The backward with dk runs pass A over [dy | k | u] (the dy and u rows of one (b, h) in
// neighbouring blocks, which also add up dd = sum dy u directly, in double); pass B for one
// channel's units walks a chunk of the batch in order: G += DY conj(U) (dk's spectrum) and,
// when du is wanted, dy's rows become du's (times conj(K + d) / n). The chunks (several only
// when H alone gives too few blocks) are added in order by longGradKernel, which runs G / n
// through the inverse row stages into the k rows: dk is the same bit for bit on every run,
// without atomics. Pass C crops du and dk. Without dk, du is the correlation (the forward's
// passes) and dd a channel sum.
//
// Traffic per row (float32): pass A reads L and writes 2L (M complex points = n floats);
// pass B reads and writes 2L; pass C reads 2L and writes L: 10 L floats forward, 0.67 GB at
// (4, 256, 16384) where the cuFFT pipeline moves about 1.17 GB in 5 launches; the backward
// with all gradients about 15 L (1.0 GB).
#include <climits>
#include <mutex>

#include "conv_long.h"
#include "conv_long_kernels.cuh"
#include "kernel_common.cuh"

namespace s4::cuda {
namespace {

// Shared memory of the kernels for geometry g.
size_t colSmem(const Geom& g) { return sizeof(float2) * ((size_t(1) << g.logM1) << g.logC); }
size_t rowSmem(const Geom& g) {
  const size_t points = size_t(2 * g.G) << g.logM2;
  return sizeof(float2) * (points + points / 8);
}

dim3 colGrid(long long rows, const Geom& g) {
  return dim3(static_cast<unsigned>(rows), static_cast<unsigned>((1 << g.logM2) >> g.logC));
}
dim3 unitGrid(long long rows, const Geom& g) {
  return dim3(static_cast<unsigned>(rows), static_cast<unsigned>(((1 << g.logM1) / 2) / g.G));
}

void launchPassA(const ForwardRows& s, float2* ws, long long rows, int64_t L, const float2* tw, const Geom& g) {
  longPassAKernel<<<colGrid(rows, g), kLongThreads, colSmem(g), stream()>>>(s, ws, static_cast<int>(L), tw, g);
  S4_CUDA_CHECK_LAUNCH("longPassAKernel");
}

void launchPassC(const float2* ws, const CropRows& job, long long rows, int64_t L, const float2* tw, const Geom& g) {
  longPassCKernel<<<colGrid(rows, g), kLongThreads, colSmem(g), stream()>>>(ws, job, static_cast<int>(L), tw, g);
  S4_CUDA_CHECK_LAUNCH("longPassCKernel");
}

// f(b, h, l) adds dy u at [b, h, l] (channelSums): dd without dk.
struct DyTimesU {
  const float* dy;
  const float* u;
  int64_t H, L;
  __device__ void operator()(int64_t b, int64_t h, int64_t l, double& a0, double&) const {
    const int64_t i = (b * H + h) * L + l;
    a0 += double(dy[i]) * u[i];
  }
};

void launchSpectrum(float2* kRows, int64_t H, const float2* tw, const Geom& g) {
  longSpectrumKernel<<<unitGrid(H, g), kLongThreads, rowSmem(g), stream()>>>(kRows, tw, g);
  S4_CUDA_CHECK_LAUNCH("longSpectrumKernel");
}

}  // namespace

bool longConvFits(int64_t B, int64_t H, int64_t L) {
  // grid.x counts rows (B*H + H in the forward, H + 2 B*H in the backward's pass A)
  return L > 0 && L <= kLongConvMaxL && 2 * B * H + H <= INT_MAX;
}

void longConv(const float* u, const float* k, const float* d, float* y, int64_t B, int64_t H, int64_t L, bool corr) {
  const Geom g = longGeom(L);
  const float2* tw = fftTwiddles(1 << g.logM);
  const long long bh = B * H, rows = bh + H;
  Workspace work(static_cast<size_t>(rows << g.logM) * sizeof(float2));
  float2* ws = work.as<float2>();
  float2* kRows = ws + (bh << g.logM);
  launchPassA(ForwardRows{u, k, bh}, ws, rows, L, tw, g);
  launchSpectrum(kRows, H, tw, g);
  if (corr) longProductKernel<true><<<unitGrid(bh, g), kLongThreads, rowSmem(g), stream()>>>(ws, kRows, d, static_cast<int>(H), tw, g);
  else longProductKernel<false><<<unitGrid(bh, g), kLongThreads, rowSmem(g), stream()>>>(ws, kRows, d, static_cast<int>(H), tw, g);
  S4_CUDA_CHECK_LAUNCH("longProductKernel");
  launchPassC(ws, CropRows{y, bh, nullptr}, bh, L, tw, g);
}

void longConvBackward(const float* dy, const float* u, const float* k, const float* d, float* du, float* dk, float* dd,
                      int64_t B, int64_t H, int64_t L) {
  if (!dk) {  // du (the correlation) and dd (a direct sum) need no transform of u
    if (du) longConv(dy, k, d, du, B, H, L, true);
    if (dd) channelSums(DyTimesU{dy, u, H, L}, B, H, L, dd, nullptr);
    return;
  }
  const Geom g = longGeom(L);
  const float2* tw = fftTwiddles(1 << g.logM);
  const long long bh = B * H, rows = 2 * bh + H;
  Workspace work(static_cast<size_t>(rows << g.logM) * sizeof(float2));
  float2* ws = work.as<float2>();
  float2* kRows = ws + (bh << g.logM);        // rows [bh, bh + H): k, then dk
  float2* uRows = ws + ((bh + H) << g.logM);  // rows [bh + H, 2 bh + H): u
  const dim3 colBlocks = colGrid(rows, g);
  Workspace ddPart(dd ? sizeof(double) * static_cast<size_t>(bh) * colBlocks.y : 0);
  longBackwardPassAKernel<<<colBlocks, kLongThreads, colSmem(g), stream()>>>(
      BackwardRows{dy, u, k, bh}, ws, ddPart.as<double>(), static_cast<int>(H), static_cast<int>(L), tw, g);
  S4_CUDA_CHECK_LAUNCH("longBackwardPassAKernel");
  const size_t smem = 3 * rowSmem(g);
  static std::once_flag attr;
  std::call_once(attr, [] {
    // the largest geometry's need (2 G rows of M2 points = 4096, three padded buffers)
    const int most = static_cast<int>(3 * sizeof(float2) * (kBlockPoints + kBlockPoints / 8));
    S4_CUDA_CHECK(cudaFuncSetAttribute(longBackwardKernel<true>, cudaFuncAttributeMaxDynamicSharedMemorySize, most));
    S4_CUDA_CHECK(cudaFuncSetAttribute(longBackwardKernel<false>, cudaFuncAttributeMaxDynamicSharedMemorySize, most));
  });
  int chunks = longBackwardChunks(B, H, g);
  const int perChunk = static_cast<int>((B + chunks - 1) / chunks);
  chunks = static_cast<int>((B + perChunk - 1) / perChunk);  // none empty
  Workspace gPart(sizeof(float2) * static_cast<size_t>(chunks * H) << g.logM);
  const dim3 grid(static_cast<unsigned>(H), unitGrid(H, g).y, static_cast<unsigned>(chunks));
  if (du) {
    launchSpectrum(kRows, H, tw, g);
    longBackwardKernel<true><<<grid, kLongThreads, smem, stream()>>>(ws, uRows, kRows, d, static_cast<int>(B),
                                                                       static_cast<int>(H), perChunk,
                                                                       gPart.as<float2>(), tw, g);
  } else {
    longBackwardKernel<false><<<grid, kLongThreads, smem, stream()>>>(ws, uRows, kRows, d, static_cast<int>(B),
                                                                        static_cast<int>(H), perChunk,
                                                                        gPart.as<float2>(), tw, g);
  }
  S4_CUDA_CHECK_LAUNCH("longBackwardKernel");
  longGradKernel<<<unitGrid(H, g), kLongThreads, rowSmem(g), stream()>>>(gPart.as<float2>(), chunks, kRows,
                                                                         static_cast<int>(H), tw, g);
  S4_CUDA_CHECK_LAUNCH("longGradKernel");
  // du rows then the dk rows, adjacent in the workspace: one pass C (or the dk rows alone)
  if (du) launchPassC(ws, CropRows{du, bh, dk}, bh + H, L, tw, g);
  else launchPassC(kRows, CropRows{nullptr, 0, dk}, H, L, tw, g);
  if (dd) {
    longDdKernel<<<blocksFor(H, kThreads), kThreads, 0, stream()>>>(ddPart.as<double>(), dd, B, static_cast<int>(H),
                                                                    static_cast<int>(colBlocks.y));
    S4_CUDA_CHECK_LAUNCH("longDdKernel");
  }
}

}  // namespace s4::cuda
