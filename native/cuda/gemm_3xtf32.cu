// 3xTF32 GEMM (see gemm_3xtf32.h): mma.sync m16n8k8 TF32 tensor-core products with the
// error-compensating split, FP32 accumulators.
//
// Block tile 128 x 128 x 32, 256 threads = 8 warps as 2 (M) x 4 (N), each warp 64 x 32 =
// 4 x 4 MMA tiles of 16 x 8. Tiles travel global -> shared with cp.async in a 3-stage ring
// (16-byte copies where the four floats are in bounds and aligned, else four 4-byte copies
// that zero-fill what lies outside the matrix), then shared -> registers, where each value
// is split into its big and small TF32 parts just before the MMAs.
//
// Shared layout of an operand tile, chosen so that the copy from global memory keeps the
// stored matrix's contiguous direction and the fragment reads are free of bank conflicts:
// when k is contiguous in memory (A not transposed, B transposed) element (x, k) sits at
// x * 36 + k (a fragment read touches rows g = 0..7 and columns t = 0..3: banks 4 g + t,
// all different mod 32); otherwise at k * (128 + 8) + x (banks 8 t + g). Row strides are
// multiples of 16 bytes, as the 16-byte copies need.
//
// The reduction of each block walks a range of "k tiles" numbered over (reduction batch,
// K slice): all slices of its output batch, or for a batch-reduce the slices of every batch
// in order, so the reduction continues across batches as one long K loop.
#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdint>

#include "context.h"
#include "device_info.h"
#include "gemm.h"
#include "gemm_3xtf32.h"

namespace s4::cuda {
namespace {

constexpr int kBM = 128, kBN = 128, kBK = 32, kStages = 3, kThreads = 256;
constexpr int kWarpM = 64, kWarpN = 32, kWarpsN = kBN / kWarpN;
constexpr int kMmaM = kWarpM / 16, kMmaN = kWarpN / 8;
static_assert((kBM / kWarpM) * kWarpsN * 32 == kThreads, "one warp per warp tile");
// Tensor cores truncate their FP32 accumulator after each MMA (measured up to the A100 by
// Fasi et al., "Numerical behavior of NVIDIA tensor cores", 2021), a bias that grows with the
// length of the chain of MMAs on one accumulator (about K units of 2^-24 relative over a long
// K, against sqrt(K) for round-to-nearest FP32 adds). So the MMA accumulators run over
// kPromote k tiles (64 values of K, 24 MMAs) and are then added into a second set of
// registers with ordinary FP32 adds, which keeps the error that of FP32. The two sets (128
// registers) leave room for one block of 256 threads per SM.
constexpr int kPromote = 2;

// Where element (x, k) of an operand tile (x along M for A, along N for B) lives in shared
// memory: k contiguous (stride kBK + 4) or x contiguous (stride X + 8); see the file comment.
template <bool KContig, int X>
struct TileLayout {
  static constexpr int kStride = KContig ? kBK + 4 : X + 8;
  static constexpr int kFloats = KContig ? X * kStride : kBK * kStride;
  __device__ __forceinline__ static int at(int x, int k) { return KContig ? x * kStride + k : k * kStride + x; }
};

struct Params {
  int M, N, K;
  float alpha, beta;
  const float* A; int64_t lda, strideA;
  const float* B; int64_t ldb, strideB;
  float* C; int64_t ldc, strideC;
  int64_t batchBase;     // first output batch of this launch (grid.z is relative); unused when split
  bool reduceBatch;      // one output, the sum over all `batch` batches
  int64_t batch;
  int splits;            // > 1: grid.z is the part; part z writes alpha * (its share) to partial + z M N
  int tilesPerSplit;
  float* partial;
  bool vecA, vecB;       // 16-byte copies allowed (base, leading dimension and batch stride aligned)
};

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800

__device__ __forceinline__ void cpAsync16(float* smem, const float* gmem) {
  const unsigned s = unsigned(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(s), "l"(gmem));
}

// Copies one float, or writes 0 when !inBounds (src-size 0: nothing is read from gmem).
__device__ __forceinline__ void cpAsync4(float* smem, const float* gmem, bool inBounds) {
  const unsigned s = unsigned(__cvta_generic_to_shared(smem));
  const int bytes = inBounds ? 4 : 0;
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(s), "l"(gmem), "r"(bytes));
}

__device__ __forceinline__ void cpAsyncCommit() { asm volatile("cp.async.commit_group;\n" ::); }

template <int N>
__device__ __forceinline__ void cpAsyncWait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

// x = big + small with big = tf32(x) (round to nearest, ties away) and small = tf32(x - big).
// A NaN x gives NaN parts (its row or column of the product is NaN, as in FP32); an
// infinite x gives small = inf - inf = NaN, so its outputs are NaN where FP32 gives inf. A
// guard for that would add about a third to the instructions of every split, the largest
// share of the inner loop's work besides the MMAs, for inputs a linear layer should never see.
__device__ __forceinline__ void splitTf32(float x, uint32_t& big, uint32_t& small) {
  uint32_t b, s;
  asm("cvt.rna.tf32.f32 %0, %1;\n" : "=r"(b) : "f"(x));
  const float rest = x - __uint_as_float(b);
  asm("cvt.rna.tf32.f32 %0, %1;\n" : "=r"(s) : "f"(rest));
  big = b;
  small = s;
}

// d += a b for one 16 x 8 x 8 tile. Fragments (PTX ISA, mma.m16n8k8 .tf32), with g = lane / 4,
// t = lane % 4: a0..a3 = A(g, t), A(g + 8, t), A(g, t + 4), A(g + 8, t + 4); b0, b1 =
// B(k = t, n = g), B(k = t + 4, n = g); d0..d3 = D(g, 2t), D(g, 2t + 1), D(g + 8, 2t), D(g + 8, 2t + 1).
__device__ __forceinline__ void mmaTf32(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
  asm("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

// Queues the copy of one X x kBK operand tile: element (x, k) of the tile is op(P)(x0 + x,
// k0 + k), stored at P[(x0 + x) ld + k0 + k] when KContig, else at P[(k0 + k) ld + x0 + x];
// zeros outside [0, xMax) x [0, K). Each thread copies runs of four floats that are
// contiguous both in memory and in the shared tile.
template <bool KContig, int X>
__device__ __forceinline__ void loadTile(float* s, const float* P, int64_t ld, int x0, int xMax, int k0, int K,
                                         bool vec, int tid) {
  using L = TileLayout<KContig, X>;
  constexpr int kRuns = X * kBK / 4;
  static_assert(kRuns % kThreads == 0, "whole runs per thread");
#pragma unroll
  for (int e = 0; e < kRuns / kThreads; ++e) {
    const int c = tid + e * kThreads;
    const int x = KContig ? c / (kBK / 4) : (c % (X / 4)) * 4;
    const int k = KContig ? (c % (kBK / 4)) * 4 : c / (X / 4);
    float* dst = s + L::at(x, k);
    const int gx = x0 + x, gk = k0 + k;
    const bool full = KContig ? gx < xMax && gk + 3 < K : gx + 3 < xMax && gk < K;
    if (vec && full) {
      cpAsync16(dst, P + (KContig ? int64_t(gx) * ld + gk : int64_t(gk) * ld + gx));
    } else {
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const int ex = KContig ? gx : gx + i, ek = KContig ? gk + i : gk;
        const bool in = ex < xMax && ek < K;
        cpAsync4(dst + i, in ? P + (KContig ? int64_t(ex) * ld + ek : int64_t(ek) * ld + ex) : P, in);
      }
    }
  }
}

// C(row, col) and C(row, col + 1) = alpha (v0, v1) + beta C (beta = 0: C is not read), the
// pair in one 8-byte access when pair8 (C and ldc allow it, col is even) and both are inside.
__device__ __forceinline__ void storePair(float* C, int64_t ldc, int row, int col, int M, int N, float v0, float v1,
                                          float alpha, float beta, bool pair8) {
  if (row >= M || col >= N) return;
  float* c = C + int64_t(row) * ldc + col;
  if (pair8 && col + 1 < N) {
    float2 out = make_float2(alpha * v0, alpha * v1);
    if (beta != 0.f) {
      const float2 old = *reinterpret_cast<const float2*>(c);
      out.x += beta * old.x;
      out.y += beta * old.y;
    }
    *reinterpret_cast<float2*>(c) = out;
    return;
  }
  c[0] = beta == 0.f ? alpha * v0 : alpha * v0 + beta * c[0];
  if (col + 1 < N) c[1] = beta == 0.f ? alpha * v1 : alpha * v1 + beta * c[1];
}

#endif  // __CUDA_ARCH__ >= 800

template <bool TA, bool TB>
__global__ void __launch_bounds__(kThreads, 1) gemm3xTf32Kernel(Params p) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  using LA = TileLayout<!TA, kBM>;
  using LB = TileLayout<TB, kBN>;
  constexpr int kStageFloats = LA::kFloats + LB::kFloats;
  extern __shared__ __align__(16) float smem[];

  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  const int wm = warp / kWarpsN, wn = warp % kWarpsN;
  const int g = lane / 4, t = lane % 4;
  const int m0 = int(blockIdx.y) * kBM, n0 = int(blockIdx.x) * kBN;
  const int slices = (p.K + kBK - 1) / kBK;

  // The k tiles this block sums, [first, first + total) over (reduction batch, slice), and
  // where its result goes (the host checked that their count fits in int).
  int64_t firstBatch = 0;
  int first = 0, total;
  float* C;
  int64_t ldc;
  float beta;
  if (p.splits > 1) {
    const int all = int(p.reduceBatch ? p.batch : 1) * slices;
    first = int(blockIdx.z) * p.tilesPerSplit;
    total = min(p.tilesPerSplit, all - first);
    C = p.partial + int64_t(blockIdx.z) * p.M * p.N;
    ldc = p.N;
    beta = 0.f;
  } else if (p.reduceBatch) {
    total = int(p.batch) * slices;
    C = p.C;
    ldc = p.ldc;
    beta = p.beta;
  } else {
    firstBatch = p.batchBase + blockIdx.z;
    total = slices;
    C = p.C + firstBatch * p.strideC;
    ldc = p.ldc;
    beta = p.beta;
  }

  // The next k tile to load: reduction batch and K offset, advanced one slice per issue.
  int loadBatch = int(firstBatch) + first / slices;
  int loadK = int(first % slices) * kBK;
  auto issue = [&](int stage) {
    float* sA = smem + stage * kStageFloats;
    loadTile<!TA, kBM>(sA, p.A + loadBatch * p.strideA, p.lda, m0, p.M, loadK, p.K, p.vecA, tid);
    loadTile<TB, kBN>(sA + LA::kFloats, p.B + loadBatch * p.strideB, p.ldb, n0, p.N, loadK, p.K, p.vecB, tid);
    loadK += kBK;
    if (loadK >= p.K) {
      loadK = 0;
      ++loadBatch;
    }
  };

#pragma unroll
  for (int s = 0; s < kStages - 1; ++s) {
    if (s < total) issue(s);
    cpAsyncCommit();
  }

  // acc: the MMA accumulators of the last few k tiles; sum: the running total, to which acc
  // is added (with round-to-nearest FP32 adds) every kPromote tiles.
  float acc[kMmaM][kMmaN][4], sum[kMmaM][kMmaN][4];
#pragma unroll
  for (int i = 0; i < kMmaM; ++i)
#pragma unroll
    for (int j = 0; j < kMmaN; ++j)
#pragma unroll
      for (int r = 0; r < 4; ++r) acc[i][j][r] = sum[i][j][r] = 0.f;
  int sincePromote = 0;

  const int rowBase = wm * kWarpM + g, colBase = wn * kWarpN + g;
  int stage = 0;
  for (int it = 0; it < total; ++it) {
    // Tile `it` has landed (at most kStages - 2 younger groups pending) and every thread is
    // done with the stage the next copy overwrites (it was read in iteration it - 1).
    cpAsyncWait<kStages - 2>();
    __syncthreads();
    if (it + kStages - 1 < total) issue(stage == 0 ? kStages - 1 : stage - 1);
    cpAsyncCommit();

    const float* sA = smem + stage * kStageFloats;
    const float* sB = sA + LA::kFloats;
#pragma unroll
    for (int kk = 0; kk < kBK; kk += 8) {
      uint32_t bBig[kMmaN][2], bSmall[kMmaN][2];
#pragma unroll
      for (int j = 0; j < kMmaN; ++j) {
        const int n = colBase + j * 8;
        splitTf32(sB[LB::at(n, kk + t)], bBig[j][0], bSmall[j][0]);
        splitTf32(sB[LB::at(n, kk + t + 4)], bBig[j][1], bSmall[j][1]);
      }
#pragma unroll
      for (int i = 0; i < kMmaM; ++i) {
        const int r = rowBase + i * 16;
        uint32_t aBig[4], aSmall[4];
        splitTf32(sA[LA::at(r, kk + t)], aBig[0], aSmall[0]);
        splitTf32(sA[LA::at(r + 8, kk + t)], aBig[1], aSmall[1]);
        splitTf32(sA[LA::at(r, kk + t + 4)], aBig[2], aSmall[2]);
        splitTf32(sA[LA::at(r + 8, kk + t + 4)], aBig[3], aSmall[3]);
        // Per accumulator the small corrections come first and the big product last, so
        // the large terms do not absorb the small ones while they accumulate; the j loops
        // put four independent MMAs between two that update the same accumulator.
#pragma unroll
        for (int j = 0; j < kMmaN; ++j) mmaTf32(acc[i][j], aSmall, bBig[j]);
#pragma unroll
        for (int j = 0; j < kMmaN; ++j) mmaTf32(acc[i][j], aBig, bSmall[j]);
#pragma unroll
        for (int j = 0; j < kMmaN; ++j) mmaTf32(acc[i][j], aBig, bBig[j]);
      }
    }
    stage = stage + 1 == kStages ? 0 : stage + 1;
    if (++sincePromote == kPromote) {
      sincePromote = 0;
#pragma unroll
      for (int i = 0; i < kMmaM; ++i)
#pragma unroll
        for (int j = 0; j < kMmaN; ++j)
#pragma unroll
          for (int r = 0; r < 4; ++r) {
            sum[i][j][r] += acc[i][j][r];
            acc[i][j][r] = 0.f;
          }
    }
  }
  cpAsyncWait<0>();

  // Each thread holds pairs of neighbours in a row (d0, d1 and d2, d3): 8-byte accesses
  // where C's base and ldc keep them aligned.
  const bool pair8 = ldc % 2 == 0 && reinterpret_cast<uintptr_t>(C) % 8 == 0;
#pragma unroll
  for (int i = 0; i < kMmaM; ++i) {
    const int row = m0 + wm * kWarpM + i * 16 + g;
#pragma unroll
    for (int j = 0; j < kMmaN; ++j) {
      const int col = n0 + wn * kWarpN + j * 8 + 2 * t;
      const float* a = acc[i][j];
      const float* s = sum[i][j];
      storePair(C, ldc, row, col, p.M, p.N, s[0] + a[0], s[1] + a[1], p.alpha, beta, pair8);
      storePair(C, ldc, row + 8, col, p.M, p.N, s[2] + a[2], s[3] + a[3], p.alpha, beta, pair8);
    }
  }
#endif  // __CUDA_ARCH__ >= 800
}

// The kernel's dynamic shared memory: kStages stages of the A and B tiles.
template <bool TA, bool TB>
constexpr int smemBytes() {
  return kStages * (TileLayout<!TA, kBM>::kFloats + TileLayout<TB, kBN>::kFloats) * int(sizeof(float));
}

// Raises the kernel's dynamic shared-memory limit above the 48 KiB default, once per device.
template <bool TA, bool TB>
void allowSmem() {
  static std::atomic<unsigned long long> done{0};
  int dev = 0;
  S4_CUDA_CHECK(cudaGetDevice(&dev));
  const unsigned long long bit = 1ull << (dev & 63);
  if (done.load() & bit) return;
  S4_CUDA_CHECK(cudaFuncSetAttribute(gemm3xTf32Kernel<TA, TB>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                     smemBytes<TA, TB>()));
  done.fetch_or(bit);
}

template <bool TA, bool TB>
void launch(dim3 grid, const Params& p) {
  allowSmem<TA, TB>();
  gemm3xTf32Kernel<TA, TB><<<grid, kThreads, smemBytes<TA, TB>(), stream()>>>(p);
  S4_CUDA_CHECK_LAUNCH("gemm (3xTF32)");
}

void launchAny(bool ta, bool tb, dim3 grid, const Params& p) {
  if (ta) tb ? launch<true, true>(grid, p) : launch<true, false>(grid, p);
  else tb ? launch<false, true>(grid, p) : launch<false, false>(grid, p);
}

bool aligned16(const float* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

constexpr int64_t kMaxSize = int64_t(INT_MAX) - 256;
// Partial products of a split reduction: at most this many floats of workspace.
constexpr int64_t kMaxPartialFloats = int64_t(1) << 26;

}  // namespace

bool gemm3xTf32Applicable(const GemmArgs& g, std::string* why) {
  const DeviceInfo info = probe();
  auto no = [&](const char* reason) {
    if (why) *why = reason;
    return false;
  };
  if (!info.usable) {
    if (why) *why = "no usable GPU: " + info.reason;
    return false;
  }
  if (info.major < 8) return no("3xTF32 needs compute capability 8.0 or newer");
  // sm_86 and sm_89 GPUs run the sm_80 code but allow at most 99 KiB of shared memory a block.
  int dev = 0, optin = 0;
  S4_CUDA_CHECK(cudaGetDevice(&dev));
  S4_CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
  const int need = std::max(std::max(smemBytes<false, false>(), smemBytes<false, true>()),
                            std::max(smemBytes<true, false>(), smemBytes<true, true>()));
  if (optin < need) return no("the GPU allows too little shared memory per block for the 3xTF32 kernel");
  if (g.M > kMaxSize || g.N > kMaxSize || g.K > kMaxSize) return no("a size is too large for the 3xTF32 kernel");
  if ((g.M + kBM - 1) / kBM > 65535) return no("too many row tiles for the 3xTF32 kernel");
  if (g.batch > INT_MAX || (g.reduceBatch ? g.batch : 1) * ((g.K + kBK - 1) / kBK) > INT_MAX)
    return no("too many batches or too long a reduction for the 3xTF32 kernel");
  return true;
}

void gemm3xTf32(const GemmArgs& g) {
  if (g.M <= 0 || g.N <= 0 || g.batch <= 0) return;
  Params p;
  p.M = int(g.M); p.N = int(g.N); p.K = int(g.K);
  p.alpha = g.alpha; p.beta = g.beta;
  p.A = g.A; p.lda = g.lda; p.strideA = g.strideA;
  p.B = g.B; p.ldb = g.ldb; p.strideB = g.strideB;
  p.C = g.C; p.ldc = g.ldc; p.strideC = g.strideC;
  p.batch = g.batch;
  p.batchBase = 0;
  p.reduceBatch = g.reduceBatch && g.batch > 1;
  p.splits = 1;
  p.tilesPerSplit = 0;
  p.partial = nullptr;
  const bool batched = g.batch > 1;
  p.vecA = aligned16(g.A) && g.lda % 4 == 0 && (!batched || g.strideA % 4 == 0);
  p.vecB = aligned16(g.B) && g.ldb % 4 == 0 && (!batched || g.strideB % 4 == 0);

  const int64_t gridX = (g.N + kBN - 1) / kBN, gridY = (g.M + kBM - 1) / kBM;
  const int64_t outBatches = p.reduceBatch ? 1 : g.batch;
  const int64_t slices = (g.K + kBK - 1) / kBK;
  const int64_t kTiles = (p.reduceBatch ? g.batch : 1) * slices;

  // One output with too few tiles to fill the GPU and a long reduction (e.g. dW[512, 256] =
  // sum_b dY_b X_b^T: 8 tiles, each walking B L): split the reduction into parts of at least
  // 8 k tiles, at most one block per SM in all (one wave: a block fills an SM), and sum the
  // parts in a fixed order. Short
  // reductions (K < 1024) and products queued while a CUDA graph is being captured (where
  // the allocator refuses the workspace) run unsplit.
  const int64_t tiles = gridX * gridY;
  const int64_t sms = std::max(1, probe().multiprocessors);
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  S4_CUDA_CHECK(cudaStreamIsCapturing(stream(), &capture));
  if (outBatches == 1 && tiles < sms && kTiles * kBK >= 1024 && capture == cudaStreamCaptureStatusNone) {
    int64_t splits = std::min(sms / tiles, kTiles / 8);
    splits = std::min(splits, kMaxPartialFloats / (g.M * g.N));
    if (splits >= 2 && splits <= 65535) {
      const int64_t per = (kTiles + splits - 1) / splits;
      splits = (kTiles + per - 1) / per;
      Workspace ws(sizeof(float) * size_t(splits * g.M * g.N));
      p.splits = int(splits);
      p.tilesPerSplit = int(per);
      p.partial = ws.as<float>();
      launchAny(g.transA, g.transB, dim3(unsigned(gridX), unsigned(gridY), unsigned(splits)), p);
      reduceProducts(g, ws.as<float>(), splits, g.beta);
      return;
    }
  }
  for (int64_t b0 = 0; b0 < outBatches; b0 += 65535) {
    p.batchBase = b0;
    launchAny(g.transA, g.transB, dim3(unsigned(gridX), unsigned(gridY), unsigned(std::min<int64_t>(65535, outBatches - b0))), p);
  }
}

}  // namespace s4::cuda
