// GEMM on the GPU (see gemm.h): the engine the GEMM mode asks for (cuBLAS FP32 by default,
// cuBLAS TF32, the 3xTF32 kernel of gemm_3xtf32.cu), with per-call fallbacks, else a tiled
// SGEMM kernel.
#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdlib>
#include <string>

#include "context.h"
#include "cublas_api.h"
#include "device_info.h"
#include "gemm.h"
#include "gemm_3xtf32.h"

namespace s4::cuda {
namespace {

// ---- fallback: 64 x 64 output tile per block, 16-deep K slices, 256 threads, 4 x 4
// outputs per thread (rows ty + 16 i, columns tx + 16 j). Handles op(A)/op(B), any
// leading dimension, edges (zero padding in shared memory) and batch-reduce (the
// reduction walks the batches of A and B too).
constexpr int TM = 64, TN = 64, TK = 16, kGemmThreads = 256;

struct GemmParams {
  int64_t M, N, K;
  float alpha, beta;
  const float* A; int64_t lda, strideA;
  const float* B; int64_t ldb, strideB;
  float* C; int64_t ldc, strideC;
  int64_t batch;       // total batches
  int64_t batchBase;   // first output batch of this launch (grid.z is relative)
  bool reduceBatch;
};

// acc = 0, unrolled (the accumulators stay in registers).
template <int R>
__device__ __forceinline__ void zeroAcc(float (&acc)[R][R]) {
#pragma unroll
  for (int i = 0; i < R; ++i)
#pragma unroll
    for (int j = 0; j < R; ++j) acc[i][j] = 0.f;
}

template <bool TA, bool TB>
__global__ void __launch_bounds__(kGemmThreads) sgemmKernel(GemmParams p) {
  __shared__ float As[TK][TM + 4];
  __shared__ float Bs[TK][TN + 4];
  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const int64_t m0 = int64_t(blockIdx.y) * TM, n0 = int64_t(blockIdx.x) * TN;
  const int64_t outBatch = p.batchBase + blockIdx.z;
  float acc[4][4];
  zeroAcc(acc);

  const int64_t r0 = p.reduceBatch ? 0 : outBatch;
  const int64_t r1 = p.reduceBatch ? p.batch : outBatch + 1;
  for (int64_t rb = r0; rb < r1; ++rb) {
    const float* A = p.A + rb * p.strideA;
    const float* B = p.B + rb * p.strideB;
    for (int64_t k0 = 0; k0 < p.K; k0 += TK) {
#pragma unroll
      for (int e = 0; e < (TM * TK) / kGemmThreads; ++e) {
        const int idx = tid + e * kGemmThreads;
        // Map consecutive threads to consecutive addresses of the stored matrix.
        const int i = TA ? idx % TM : idx / TK;
        const int k = TA ? idx / TM : idx % TK;
        const int64_t gi = m0 + i, gk = k0 + k;
        float v = 0.f;
        if (gi < p.M && gk < p.K) v = TA ? A[gk * p.lda + gi] : A[gi * p.lda + gk];
        As[k][i] = v;
      }
#pragma unroll
      for (int e = 0; e < (TN * TK) / kGemmThreads; ++e) {
        const int idx = tid + e * kGemmThreads;
        const int j = TB ? idx / TK : idx % TN;
        const int k = TB ? idx % TK : idx / TN;
        const int64_t gj = n0 + j, gk = k0 + k;
        float v = 0.f;
        if (gj < p.N && gk < p.K) v = TB ? B[gj * p.ldb + gk] : B[gk * p.ldb + gj];
        Bs[k][j] = v;
      }
      __syncthreads();
#pragma unroll
      for (int kk = 0; kk < TK; ++kk) {
        float a[4], b[4];
#pragma unroll
        for (int i = 0; i < 4; ++i) a[i] = As[kk][ty + 16 * i];
#pragma unroll
        for (int j = 0; j < 4; ++j) b[j] = Bs[kk][tx + 16 * j];
#pragma unroll
        for (int i = 0; i < 4; ++i)
#pragma unroll
          for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
      }
      __syncthreads();
    }
  }
  float* C = p.C + (p.reduceBatch ? 0 : outBatch * p.strideC);
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int64_t gi = m0 + ty + 16 * i;
    if (gi >= p.M) continue;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int64_t gj = n0 + tx + 16 * j;
      if (gj >= p.N) continue;
      float* c = C + gi * p.ldc + gj;
      *c = p.beta == 0.f ? p.alpha * acc[i][j] : p.alpha * acc[i][j] + p.beta * *c;
    }
  }
}

// ---- large fallback: 128 x 128 output tile, 8-deep K slices, 256 threads with 8 x 8
// outputs each (rows 4 ty + {0..3} and 64 + 4 ty + {0..3}, columns likewise with tx), read
// from shared memory as float4; the next K slice is fetched into registers while the
// current one is multiplied.
constexpr int BM = 128, BN = 128, BK = 8;

template <bool TA, bool TB>
__global__ void __launch_bounds__(kGemmThreads) sgemm128Kernel(GemmParams p) {
  __shared__ __align__(16) float As[BK][BM];
  __shared__ __align__(16) float Bs[BK][BN];
  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const int64_t m0 = int64_t(blockIdx.y) * BM, n0 = int64_t(blockIdx.x) * BN;
  const int64_t outBatch = p.batchBase + blockIdx.z;
  float acc[8][8];
  zeroAcc(acc);

  // Element e of this thread's share of a tile: (row/col within the tile, k within the slice),
  // consecutive threads on consecutive addresses of the stored matrix.
  auto aCoord = [&](int e, int& i, int& k) {
    const int idx = tid + e * kGemmThreads;
    i = TA ? idx % BM : idx / BK;
    k = TA ? idx / BM : idx % BK;
  };
  auto bCoord = [&](int e, int& j, int& k) {
    const int idx = tid + e * kGemmThreads;
    j = TB ? idx / BK : idx % BN;
    k = TB ? idx % BK : idx / BN;
  };
  float ra[4], rb[4];
  const int64_t r0 = p.reduceBatch ? 0 : outBatch;
  const int64_t r1 = p.reduceBatch ? p.batch : outBatch + 1;
  const int64_t slices = (p.K + BK - 1) / BK;
  const int64_t total = (r1 - r0) * slices;
  auto fetch = [&](int64_t t) {
    const int64_t rbatch = r0 + t / slices, k0 = (t % slices) * BK;
    const float* A = p.A + rbatch * p.strideA;
    const float* B = p.B + rbatch * p.strideB;
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      int i, k;
      aCoord(e, i, k);
      const int64_t gi = m0 + i, gk = k0 + k;
      ra[e] = gi < p.M && gk < p.K ? (TA ? A[gk * p.lda + gi] : A[gi * p.lda + gk]) : 0.f;
      int j, kb;
      bCoord(e, j, kb);
      const int64_t gj = n0 + j, gkb = k0 + kb;
      rb[e] = gj < p.N && gkb < p.K ? (TB ? B[gj * p.ldb + gkb] : B[gkb * p.ldb + gj]) : 0.f;
    }
  };
  auto store = [&]() {
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      int i, k;
      aCoord(e, i, k);
      As[k][i] = ra[e];
      int j, kb;
      bCoord(e, j, kb);
      Bs[kb][j] = rb[e];
    }
  };
  if (total > 0) {
    fetch(0);
    store();
  }
  __syncthreads();
  for (int64_t t = 0; t < total; ++t) {
    if (t + 1 < total) fetch(t + 1);
#pragma unroll
    for (int kk = 0; kk < BK; ++kk) {
      const float4 a0 = *reinterpret_cast<const float4*>(&As[kk][4 * ty]);
      const float4 a1 = *reinterpret_cast<const float4*>(&As[kk][64 + 4 * ty]);
      const float4 b0 = *reinterpret_cast<const float4*>(&Bs[kk][4 * tx]);
      const float4 b1 = *reinterpret_cast<const float4*>(&Bs[kk][64 + 4 * tx]);
      const float a[8] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
      const float b[8] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
#pragma unroll
      for (int i = 0; i < 8; ++i)
#pragma unroll
        for (int j = 0; j < 8; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
    __syncthreads();
    if (t + 1 < total) {
      store();
      __syncthreads();
    }
  }
  float* C = p.C + (p.reduceBatch ? 0 : outBatch * p.strideC);
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    const int64_t gi = m0 + (i < 4 ? 4 * ty + i : 64 + 4 * ty + i - 4);
    if (gi >= p.M) continue;
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      const int64_t gj = n0 + (j < 4 ? 4 * tx + j : 64 + 4 * tx + j - 4);
      if (gj >= p.N) continue;
      float* c = C + gi * p.ldc + gj;
      *c = p.beta == 0.f ? p.alpha * acc[i][j] : p.alpha * acc[i][j] + p.beta * *c;
    }
  }
}

void fallbackGemm(const GemmArgs& g) {
  GemmParams p;
  p.M = g.M; p.N = g.N; p.K = g.K;
  p.alpha = g.alpha; p.beta = g.beta;
  p.A = g.A; p.lda = g.lda; p.strideA = g.strideA;
  p.B = g.B; p.ldb = g.ldb; p.strideB = g.strideB;
  p.C = g.C; p.ldc = g.ldc; p.strideC = g.strideC;
  p.batch = g.batch;
  p.reduceBatch = g.reduceBatch;
  // Outputs with enough 128 x 128 tiles to fill the GPU take them (twice the work per
  // loaded value); smaller ones the 64 x 64 tiles, which keep more blocks busy.
  const bool large = ((g.M + BM - 1) / BM) * ((g.N + BN - 1) / BN) * (g.reduceBatch ? 1 : g.batch) >= 256;
  const int64_t tm = large ? BM : TM, tn = large ? BN : TN;
  const int64_t gridX = (g.N + tn - 1) / tn, gridY = (g.M + tm - 1) / tm;
  if (gridX > INT_MAX || gridY > 65535) throw s4::Error("gemm: matrix too large for the fallback GEMM kernel", ErrorKind::Range);
  const int64_t outBatches = g.reduceBatch ? 1 : g.batch;
  for (int64_t b0 = 0; b0 < outBatches; b0 += 65535) {
    p.batchBase = b0;
    dim3 grid(unsigned(gridX), unsigned(gridY), unsigned(std::min<int64_t>(65535, outBatches - b0)));
    auto launch = [&](auto kernel) { kernel<<<grid, kGemmThreads, 0, stream()>>>(p); };
    if (large) {
      if (g.transA) g.transB ? launch(sgemm128Kernel<true, true>) : launch(sgemm128Kernel<true, false>);
      else g.transB ? launch(sgemm128Kernel<false, true>) : launch(sgemm128Kernel<false, false>);
    } else {
      if (g.transA) g.transB ? launch(sgemmKernel<true, true>) : launch(sgemmKernel<true, false>);
      else g.transB ? launch(sgemmKernel<false, true>) : launch(sgemmKernel<false, false>);
    }
    S4_CUDA_CHECK_LAUNCH("gemm");
  }
}

// C[M, N] (ldc) = sum_b W[b] (dense [M, N] each) + beta * C, in a fixed order.
__global__ void reduceBatchesKernel(float* C, int64_t ldc, const float* W, int64_t batches, int64_t M,
                                    int64_t N, float beta) {
  const int64_t total = M * N;
  for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < total; t += int64_t(gridDim.x) * blockDim.x) {
    float s = 0.f;
    for (int64_t b = 0; b < batches; ++b) s += W[b * total + t];
    const int64_t i = t / N, j = t % N;
    float* c = C + i * ldc + j;
    *c = beta == 0.f ? s : s + beta * *c;
  }
}

bool fitsInt(const GemmArgs& g) {
  const int64_t lim = INT_MAX;
  return g.M <= lim && g.N <= lim && g.K <= lim && g.lda <= lim && g.ldb <= lim && g.ldc <= lim;
}

struct Choice {
  bool cublas = false;
  std::string why;
};

// The GEMM mode: which engine the products use (gemm.h, setGemmMode). -1 until first use,
// when S4_GEMM (or S4_TF32=1) decides.
enum class Mode { Cublas, Tf32, ThreeTf32, Builtin };
constexpr const char* kModeNames[] = {"cublas", "tf32", "3xtf32", "builtin"};
std::atomic<int> gMode{-1};

bool parseMode(const std::string& name, Mode* out) {
  for (int i = 0; i < 4; ++i) {
    if (name == kModeNames[i]) {
      *out = Mode(i);
      return true;
    }
  }
  return false;
}

Mode modeFromEnv() {
  const char* env = std::getenv("S4_GEMM");
  if (env && *env) {
    Mode m;
    if (!parseMode(env, &m)) failType("S4_GEMM must be " + gemmModeList() + " (got '" + env + "')");
    return m;
  }
  const char* tf = std::getenv("S4_TF32");
  return tf && std::string(tf) == "1" ? Mode::Tf32 : Mode::Cublas;
}

Mode mode() {
  int m = gMode.load();
  if (m < 0) {
    int unset = -1;
    gMode.compare_exchange_strong(unset, int(modeFromEnv()));
    m = gMode.load();
  }
  return Mode(m);
}

// Products below this many multiply-adds per output batch run on cuBLAS FP32 (or the SIMT
// kernels) in 3xtf32 mode: a 128 x 128 tile would sit mostly idle and launch time dominates
// (a token of a recurrent step, a classifier head on a small batch).
constexpr int64_t kMin3xTf32Work = int64_t(1) << 18;

bool worth3xTf32(const GemmArgs& g) {
  const int64_t reduced = g.reduceBatch ? g.batch : 1;
  return double(g.M) * double(g.N) * double(g.K) * double(reduced) >= double(kMin3xTf32Work);
}

// Decided once: cuBLAS when the GPU is usable and the library loads.
const Choice& choice() {
  static const Choice c = [] {
    Choice r;
    DeviceInfo info = probe();
    if (!info.usable) {
      r.why = "no usable GPU: " + info.reason;
      return r;
    }
    r.cublas = s4::cublas::available(&r.why);
    return r;
  }();
  return c;
}

bool useCublas(std::string* why) {
  const Choice& c = choice();
  if (!c.cublas && why) *why = c.why;
  return c.cublas;
}

// Batch-reduce with few output tiles and a long K, e.g. dW[512, 256] = sum_b dY_b X_b^T
// over L = 16384 at B = 4: one product per batch gives B x 8 blocks of 128 x 128 for 132
// SMs, each walking all of K. Each batch's product is split along K into S slices, the
// slices of a batch are one strided-batched call (a slice starts Ks further along K in A
// and B), and the B x S partial products are summed in a fixed order. It costs one call
// per batch, so it is taken only for a few batches that leave most SMs idle (measured on
// an H200: 1.19 -> 0.95 ms for the block's linear backward at B 4, L 16384; at B 16, L 4096
// sixteen calls made it slower, 0.83 -> 1.34 ms). False when not taken; gemm() goes on.
bool splitKReduce(const GemmArgs& g, bool tf32) {
  const int64_t tiles = ((g.M + 127) / 128) * ((g.N + 127) / 128);
  const int64_t sms = std::max(1, probe().multiprocessors), want = 4 * sms;
  if (g.K < 2048 || g.batch > 8 || tiles * g.batch >= sms) return false;
  int64_t S = std::min<int64_t>((want + tiles * g.batch - 1) / (tiles * g.batch), g.K / 512);
  // Prefer a slice count that divides K into multiples of 64 (one call per batch, no rest).
  for (int64_t s = S; s >= std::max<int64_t>(2, S / 2); --s) {
    if (g.K % s == 0 && (g.K / s) % 64 == 0) {
      S = s;
      break;
    }
  }
  if (S < 2) return false;
  const int64_t Ks = (g.K + S - 1) / S;
  const int64_t full = g.K / Ks, rem = g.K - full * Ks;
  const int64_t perBatch = full + (rem > 0 ? 1 : 0);
  const int64_t per = g.M * g.N, entries = g.batch * perBatch;
  if (entries * per > (int64_t(1) << 26) || Ks > INT_MAX) return false;
  Workspace ws(sizeof(float) * size_t(entries * per));
  // Elements between the starts of consecutive K slices in A and in B.
  const int64_t stepA = g.transA ? Ks * g.lda : Ks, stepB = g.transB ? Ks : Ks * g.ldb;
  for (int64_t b = 0; b < g.batch; ++b) {
    const float* A = g.A + b * g.strideA;
    const float* B = g.B + b * g.strideB;
    float* W = ws.as<float>() + b * perBatch * per;
    s4::cublas::sgemm(g.transA, g.transB, int(g.M), int(g.N), int(Ks), g.alpha, A, int(g.lda), stepA, B, int(g.ldb),
                      stepB, 0.f, W, int(g.N), per, int(full), tf32);
    if (rem > 0) {
      s4::cublas::sgemm(g.transA, g.transB, int(g.M), int(g.N), int(rem), g.alpha, A + full * stepA, int(g.lda), 0,
                        B + full * stepB, int(g.ldb), 0, 0.f, W + full * per, int(g.N), per, 1, tf32);
    }
  }
  reduceProducts(g, ws.as<float>(), entries, g.beta);
  return true;
}

}  // namespace

void reduceProducts(const GemmArgs& g, const float* W, int64_t entries, float beta) {
  const int64_t per = g.M * g.N;
  const int64_t blocks = std::min<int64_t>((per + 255) / 256, 65535 * 4);
  reduceBatchesKernel<<<unsigned(blocks), 256, 0, stream()>>>(g.C, g.ldc, W, entries, g.M, g.N, beta);
  S4_CUDA_CHECK_LAUNCH("gemm reduce");
}

std::string gemmModeList() { return "'cublas', '3xtf32', 'tf32' or 'builtin'"; }

bool setGemmMode(const std::string& name) {
  Mode m;
  if (!parseMode(name, &m)) return false;
  gMode.store(int(m));
  return true;
}

const char* gemmMode() { return kModeNames[int(mode())]; }

const char* gemmBackend(std::string* why) {
  const Mode m = mode();
  if (m == Mode::Builtin) {
    if (why) *why = "the builtin kernels were chosen (S4_GEMM or setGemmBackend)";
    return "builtin";
  }
  std::string not3x;
  if (m == Mode::ThreeTf32) {
    GemmArgs large;
    large.M = large.N = large.K = 1024;
    if (gemm3xTf32Applicable(large, &not3x)) return "3xtf32";
  }
  std::string noCublas;
  const bool cublas = useCublas(&noCublas);
  if (why) {
    // Without a GPU both reasons are the probe's: say it once.
    if (!not3x.empty()) *why = not3x + (cublas || noCublas == not3x ? "" : "; " + noCublas);
    else if (!cublas) *why = noCublas;
  }
  return cublas ? "cublas" : "builtin";
}

int cublasVersion() { return useCublas(nullptr) ? s4::cublas::version() : -1; }
bool gemmTf32() { return mode() == Mode::Tf32 && useCublas(nullptr); }

void gemm(const GemmArgs& g) {
  if (g.M <= 0 || g.N <= 0 || g.batch <= 0) return;
  const Mode m = mode();
  if (m == Mode::ThreeTf32 && worth3xTf32(g) && gemm3xTf32Applicable(g)) {
    gemm3xTf32(g);
    return;
  }
  if (m == Mode::Builtin || !useCublas(nullptr) || !fitsInt(g)) {
    fallbackGemm(g);
    return;
  }
  const bool tf32 = m == Mode::Tf32;
  if (!g.reduceBatch || g.batch == 1) {
    const int64_t outBatches = g.batch;
    for (int64_t b0 = 0; b0 < outBatches; b0 += INT_MAX) {
      const int n = int(std::min<int64_t>(INT_MAX, outBatches - b0));
      s4::cublas::sgemm(g.transA, g.transB, int(g.M), int(g.N), int(g.K), g.alpha, g.A + b0 * g.strideA, int(g.lda),
                        g.strideA, g.B + b0 * g.strideB, int(g.ldb), g.strideB, g.beta, g.C + b0 * g.strideC,
                        int(g.ldc), g.strideC, n, tf32);
    }
    return;
  }
  // Batch-reduce: strided-batched products into a workspace, then a fixed-order sum
  // (deterministic, unlike accumulating with atomics). Chunked to bound the workspace.
  if (splitKReduce(g, tf32)) return;
  const int64_t per = g.M * g.N;
  const int64_t chunk = std::max<int64_t>(1, std::min<int64_t>(g.batch, (int64_t(1) << 26) / per));
  Workspace ws(sizeof(float) * size_t(chunk * per));
  for (int64_t b0 = 0; b0 < g.batch; b0 += chunk) {
    const int64_t n = std::min(chunk, g.batch - b0);
    s4::cublas::sgemm(g.transA, g.transB, int(g.M), int(g.N), int(g.K), g.alpha, g.A + b0 * g.strideA, int(g.lda),
                      g.strideA, g.B + b0 * g.strideB, int(g.ldb), g.strideB, 0.f, ws.as<float>(), int(g.N), per,
                      int(n), tf32);
    reduceProducts(g, ws.as<float>(), n, b0 == 0 ? g.beta : 1.f);
  }
}

}  // namespace s4::cuda
