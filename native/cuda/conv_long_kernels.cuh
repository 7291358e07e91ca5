// The kernels of the long-row FFT convolution (native/cuda/conv_long.cu, which describes
// the passes and launches them) and their geometry. Device code only, besides longGeom and
// longBackwardChunks: test/conv_long_emulated.test.ts compiles this file as host C++ (one thread per block,
// test/helpers/conv_long_emulation.cpp) to check the kernels' index arithmetic without a GPU.
#pragma once
#include <algorithm>
#include <type_traits>

#include "fft_radix.cuh"

namespace s4::cuda {
namespace {

constexpr int kLongThreads = 256;
// Blocks per SM the register budget of passes A, B (forward) and C is set for: their 32 to
// 37 KB of shared memory lets 6 reside, and 3 keep 768 threads per SM in flight.
constexpr int kLongBlocksPerSm = 3;
// Points one block holds in passes A, B and C (16 per thread and radix-16 pass).
constexpr int kBlockPoints = 4096;
constexpr int kMaxRadixLog = 4;

// The transform geometry, passed to every kernel by value.
struct Geom {
  int logM, logM1, logM2;
  int logC;  // columns per pass-A / pass-C block: C = min(M2, 4096 / M1)
  int G;     // units (two rows) per pass-B block: min(M1 / 2, 2048 / M2)
};

Geom longGeom(int64_t L) {
  Geom g{};
  g.logM = 4;
  while ((int64_t(1) << g.logM) < L) ++g.logM;
  g.logM1 = g.logM / 2;
  g.logM2 = g.logM - g.logM1;
  const int M1 = 1 << g.logM1, M2 = 1 << g.logM2;
  const int C = std::min(M2, kBlockPoints / M1);
  while ((1 << g.logC) < C) ++g.logC;
  g.G = std::min(M1 / 2, kBlockPoints / (2 * M2));
  return g;
}

// Batch chunks of the backward's pass B: enough blocks (H x unit blocks x chunks, about
// 1024) to fill the GPU when H is small; 1 when the channels alone give that many.
int longBackwardChunks(int64_t B, int64_t H, const Geom& g) {
  const int64_t blocks = H * (((int64_t(1) << g.logM1) / 2) / g.G);
  const int64_t want = (1024 + blocks - 1) / blocks;
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>({want, B, 65535})));
}

// Where a column pass reads and writes: shared memory, a real row (packed), a complex row.
enum Io { kShared, kReal, kComplex };

struct ColIo {
  const float* x;      // real row in (pass A)
  const float2* zin;   // complex row in (pass C)
  float2* zout;        // complex row out (pass A)
  int L;
};

// One radix-2^R pass of the column stages: group t of the block is column c = t mod C and
// group gp of that column's M1-point transform; point p of column c is position
// e = p M2 + c0 + c and shared index p C + c. Size-M offset of the group: i M2 + c0 + c
// within the half 2^(logS + logM2).
template <int R, bool INV, Io IN, Io OUT>
__device__ __forceinline__ void colPass(float2* sh, int logS, const float2* __restrict__ tw, const Geom& g, int c0,
                                        const ColIo& io) {
  constexpr int P = 1 << R;
  const int groups = (1 << (g.logM1 - R)) << g.logC;
  const int cMask = (1 << g.logC) - 1, sMask = (1 << logS) - 1;
  for (int t = threadIdx.x; t < groups; t += blockDim.x) {
    const int c = t & cMask, gp = t >> g.logC;
    const int i = gp & sMask;
    const int base = ((gp >> logS) << (logS + R)) + i;
    const int col = c0 + c;
    float2 v[P];
#pragma unroll
    for (int m = 0; m < P; ++m) {
      const int p = base + (m << logS);
      const int e = (p << g.logM2) + col;
      v[m] = IN == kReal ? loadPacked(io.x, io.L, e) : IN == kComplex ? io.zin[e] : sh[(p << g.logC) + c];
    }
    const int iFull = (i << g.logM2) + col;
    fftButterflies<R, INV>(v, __ldg(tw + (iFull << (g.logM + 1 - R - logS - g.logM2))));
#pragma unroll
    for (int m = 0; m < P; ++m) {
      const int p = base + (m << logS);
      if (OUT == kComplex) io.zout[(p << g.logM2) + col] = v[m];
      else sh[(p << g.logC) + c] = v[m];
    }
  }
  __syncthreads();
}

template <bool INV, Io IN, Io OUT>
__device__ __forceinline__ void colPassR(int r, bool first, bool last, float2* sh, int logS,
                                         const float2* __restrict__ tw, const Geom& g, int c0, const ColIo& io) {
  auto run = [&](auto rc) {
    constexpr int R = decltype(rc)::value;
    if (first && last) colPass<R, INV, IN, OUT>(sh, logS, tw, g, c0, io);
    else if (first) colPass<R, INV, IN, kShared>(sh, logS, tw, g, c0, io);
    else if (last) colPass<R, INV, kShared, OUT>(sh, logS, tw, g, c0, io);
    else colPass<R, INV, kShared, kShared>(sh, logS, tw, g, c0, io);
  };
  if (r == 4) run(std::integral_constant<int, 4>());
  else if (r == 3) run(std::integral_constant<int, 3>());
  else if (r == 2) run(std::integral_constant<int, 2>());
  else run(std::integral_constant<int, 1>());
}

// The log M1 column stages: DIF (halves falling) or DIT (rising), radix 16 first.
template <bool INV, Io IN, Io OUT>
__device__ void colTransform(float2* sh, const float2* __restrict__ tw, const Geom& g, int c0, const ColIo& io) {
  int left = g.logM1, logS = INV ? 0 : g.logM1;
  bool first = true;
  while (left > 0) {
    const int r = left >= kMaxRadixLog ? kMaxRadixLog : left;
    if (!INV) logS -= r;
    colPassR<INV, IN, OUT>(r, first, left == r, sh, logS, tw, g, c0, io);
    if (INV) logS += r;
    left -= r;
    first = false;
  }
}

// The rows of the forward's pass A: the workspace holds the bh rows of x (u, or dy for the
// correlation) and then the H rows of k.
struct ForwardRows {
  const float* x;
  const float* k;
  long long bh;
};

// Pass A of the forward: block (row, column block) -> the row's M points of the workspace.
__global__ void __launch_bounds__(kLongThreads, kLongBlocksPerSm) longPassAKernel(ForwardRows s,
                                                                                  float2* __restrict__ ws, int L,
                                                                                  const float2* __restrict__ tw, Geom g) {
  extern __shared__ float2 sh[];
  const long long row = blockIdx.x;
  const float* src = row < s.bh ? s.x + row * L : s.k + (row - s.bh) * L;
  const ColIo io{src, nullptr, ws + (row << g.logM), L};
  colTransform<false, kReal, kComplex>(sh, tw, g, static_cast<int>(blockIdx.y) << g.logC, io);
}

// The rows of the backward's pass A: the workspace holds dy rows [0, bh), k rows
// [bh, bh + H), u rows [bh + H, 2 bh + H).
struct BackwardRows {
  const float* dy;
  const float* u;
  const float* k;
  long long bh;
};

// Pass A of the backward. Block x < 2 bh transforms dy row x / 2 (x even) or u row x / 2
// (x odd), so the two rows of one (b, h) are read at about the same time; the others the
// k rows. With ddPart, a dy block also sums dy u over its points in double (u then comes
// from L2, where its neighbour block reads it): one partial per (row, column block),
// added in a fixed order by longDdKernel. dd so is the direct sum, not dk[h, 0], whose
// error is dk's (a sum of FFT outputs) relative to a value that may be much smaller.
__global__ void __launch_bounds__(kLongThreads, kLongBlocksPerSm) longBackwardPassAKernel(
    BackwardRows s, float2* __restrict__ ws, double* __restrict__ ddPart, int H, int L, const float2* __restrict__ tw,
    Geom g) {
  extern __shared__ float2 sh[];
  const long long x = blockIdx.x, r = x >> 1;
  const bool pair = x < 2 * s.bh, isDy = pair && (x & 1) == 0;
  const float* src = !pair ? s.k + (x - 2 * s.bh) * L : isDy ? s.dy + r * L : s.u + r * L;
  const long long wsRow = !pair ? s.bh + (x - 2 * s.bh) : isDy ? r : s.bh + H + r;
  const int c0 = static_cast<int>(blockIdx.y) << g.logC;
  colTransform<false, kReal, kComplex>(sh, tw, g, c0, ColIo{src, nullptr, ws + (wsRow << g.logM), L});
  if (!isDy || !ddPart) return;  // uniform over the block
  const float* ur = s.u + r * L;
  const int points = (1 << g.logM1) << g.logC, cMask = (1 << g.logC) - 1;
  double acc = 0;
  for (int t = threadIdx.x; t < points; t += blockDim.x) {
    const int e = ((t >> g.logC) << g.logM2) + c0 + (t & cMask);
    if (2 * e < L) acc += double(__ldg(src + 2 * e)) * __ldg(ur + 2 * e);
    if (2 * e + 1 < L) acc += double(__ldg(src + 2 * e + 1)) * __ldg(ur + 2 * e + 1);
  }
  // a tree over the block in a fixed order; the transform is done with the shared buffer
  double* red = reinterpret_cast<double*>(sh);
  red[threadIdx.x] = acc;
  __syncthreads();
  for (int half = blockDim.x / 2; half > 0; half >>= 1) {
    if (static_cast<int>(threadIdx.x) < half) red[threadIdx.x] += red[threadIdx.x + half];
    __syncthreads();
  }
  if (threadIdx.x == 0) ddPart[r * gridDim.y + blockIdx.y] = red[0];
}

// dd[h] = the partials of longBackwardPassAKernel for rows b H + h, b = 0 .. B-1, each
// over its column blocks, added in that order.
__global__ void longDdKernel(const double* __restrict__ part, float* __restrict__ dd, long long B, int H, int blocks) {
  const long long h = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x;
  if (h >= H) return;
  double a = 0;
  for (long long b = 0; b < B; ++b) {
    const double* p = part + (b * H + h) * blocks;
    for (int y = 0; y < blocks; ++y) a += p[y];
  }
  dd[h] = static_cast<float>(a);
}

// Where pass C writes: rows [0, rows0) to dst0, the others to dst1 (may be null). Rows are
// L floats.
struct CropRows {
  float* dst0;
  long long rows0;
  float* dst1;
};

// Pass C: block (row, column block) -> the first L reals of the row.
__global__ void __launch_bounds__(kLongThreads, kLongBlocksPerSm) longPassCKernel(const float2* __restrict__ ws,
                                                                                  CropRows job, int L,
                                                                                  const float2* __restrict__ tw, Geom g) {
  extern __shared__ float2 sh[];
  const long long row = blockIdx.x;
  const bool second = row >= job.rows0;
  const long long local = second ? row - job.rows0 : row;
  float* y = second ? job.dst1 + local * L : job.dst0 + local * L;
  const int c0 = static_cast<int>(blockIdx.y) << g.logC;
  const ColIo io{nullptr, ws + (row << g.logM), nullptr, L};
  colTransform<true, kComplex, kShared>(sh, tw, g, c0, io);
  const int points = (1 << g.logM1) << g.logC, cMask = (1 << g.logC) - 1;
  for (int t = threadIdx.x; t < points; t += blockDim.x) {
    const int p = t >> g.logC, c = t & cMask;
    storePacked(y, L, (p << g.logM2) + c0 + c, sh[t]);
  }
}

// ---- pass B: rows of M2 points, whole bin-pair units per block ----

// Position row of local row lr of the block whose first unit is u0: unit u holds
// k1 = u and M1 - u (unit 0: 0 and M1 / 2), at rows bitrev(k1).
__device__ __forceinline__ int unitRow(const Geom& g, int u0, int lr) {
  const int unit = u0 + (lr >> 1), M1 = 1 << g.logM1;
  const int k1 = (lr & 1) == 0 ? unit : unit == 0 ? M1 / 2 : M1 - unit;
  return static_cast<int>(__brev(static_cast<unsigned>(k1)) >> (32 - g.logM1));
}

// One radix-2^R pass of the row stages over the block's 2G rows (local index lr M2 + q,
// padded in shared memory). IN / OUT global: the first DIF pass reads, the last DIT pass
// writes the row z of the workspace (positions unitRow(lr) M2 + q).
template <int R, bool INV, bool IN_GLOBAL, bool OUT_GLOBAL>
__device__ __forceinline__ void rowPass(float2* sh, float2* z, int logS, const float2* __restrict__ tw, const Geom& g,
                                        int u0) {
  constexpr int P = 1 << R;
  const int perRow = 1 << (g.logM2 - R);
  const int groups = 2 * g.G * perRow, sMask = (1 << logS) - 1;
  for (int t = threadIdx.x; t < groups; t += blockDim.x) {
    const int lr = t >> (g.logM2 - R), gq = t & (perRow - 1);
    const int i = gq & sMask;
    const int base = ((gq >> logS) << (logS + R)) + i;
    const int local = lr << g.logM2;
    const int global = (IN_GLOBAL || OUT_GLOBAL) ? unitRow(g, u0, lr) << g.logM2 : 0;
    float2 v[P];
#pragma unroll
    for (int m = 0; m < P; ++m) {
      const int q = base + (m << logS);
      v[m] = IN_GLOBAL ? z[global + q] : sh[padIdx(local + q)];
    }
    fftButterflies<R, INV>(v, __ldg(tw + (i << (g.logM + 1 - R - logS))));
#pragma unroll
    for (int m = 0; m < P; ++m) {
      const int q = base + (m << logS);
      if (OUT_GLOBAL) z[global + q] = v[m];
      else sh[padIdx(local + q)] = v[m];
    }
  }
  __syncthreads();
}

template <bool INV, bool IN_GLOBAL, bool OUT_GLOBAL>
__device__ __forceinline__ void rowPassR(int r, bool first, bool last, float2* sh, float2* z, int logS,
                                         const float2* __restrict__ tw, const Geom& g, int u0) {
  auto run = [&](auto rc) {
    constexpr int R = decltype(rc)::value;
    if (first && last) rowPass<R, INV, IN_GLOBAL, OUT_GLOBAL>(sh, z, logS, tw, g, u0);
    else if (first) rowPass<R, INV, IN_GLOBAL, false>(sh, z, logS, tw, g, u0);
    else if (last) rowPass<R, INV, false, OUT_GLOBAL>(sh, z, logS, tw, g, u0);
    else rowPass<R, INV, false, false>(sh, z, logS, tw, g, u0);
  };
  if (r == 4) run(std::integral_constant<int, 4>());
  else if (r == 3) run(std::integral_constant<int, 3>());
  else if (r == 2) run(std::integral_constant<int, 2>());
  else run(std::integral_constant<int, 1>());
}

// The log M2 row stages: DIF (IN_GLOBAL: load the rows of z) or DIT (OUT_GLOBAL: store
// them); ends with the block synchronized.
template <bool INV, bool IN_GLOBAL, bool OUT_GLOBAL>
__device__ void rowTransform(float2* sh, float2* z, const float2* __restrict__ tw, const Geom& g, int u0) {
  int left = g.logM2, logS = INV ? 0 : g.logM2;
  bool first = true;
  while (left > 0) {
    const int r = left >= kMaxRadixLog ? kMaxRadixLog : left;
    if (!INV) logS -= r;
    rowPassR<INV, IN_GLOBAL, OUT_GLOBAL>(r, first, left == r, sh, z, logS, tw, g, u0);
    if (INV) logS += r;
    left -= r;
    first = false;
  }
}

// The bin pair of local index li: false when its bin k is above M / 2 (its partner's
// thread handles it); else k, the positions of k and M - k, and the partner's local index
// (li itself for k = 0 and k = M / 2).
struct BinPair {
  int k, pos, posM, li, lm;
};

__device__ __forceinline__ bool binPair(const Geom& g, int u0, int li, BinPair& b) {
  const int lr = li >> g.logM2, q = li & ((1 << g.logM2) - 1);
  const int M = 1 << g.logM, M1 = 1 << g.logM1;
  b.pos = (unitRow(g, u0, lr) << g.logM2) + q;
  b.k = static_cast<int>(__brev(static_cast<unsigned>(b.pos)) >> (32 - g.logM));
  if (b.k > M / 2) return false;
  b.posM = static_cast<int>(__brev(static_cast<unsigned>((M - b.k) & (M - 1))) >> (32 - g.logM));
  const int k1 = b.k & (M1 - 1), k1m = (M1 - k1) & (M1 - 1);
  const int lrm = k1m == k1 ? lr : lr ^ 1;
  b.li = li;
  b.lm = (lrm << g.logM2) + (b.posM & ((1 << g.logM2) - 1));
  return true;
}

__device__ __forceinline__ int unitPoints(const Geom& g) { return (2 * g.G) << g.logM2; }

// Pass B of the kernel rows: the real spectrum by position, in place (see the top).
__global__ void __launch_bounds__(kLongThreads, kLongBlocksPerSm) longSpectrumKernel(float2* __restrict__ ws,
                                                                   const float2* __restrict__ tw, Geom g) {
  extern __shared__ float2 sh[];
  const int u0 = static_cast<int>(blockIdx.y) * g.G;
  float2* z = ws + (static_cast<long long>(blockIdx.x) << g.logM);
  rowTransform<false, true, false>(sh, z, tw, g, u0);
  for (int li = threadIdx.x; li < unitPoints(g); li += blockDim.x) {
    BinPair b;
    if (!binPair(g, u0, li, b)) continue;
    const float2 zk = sh[padIdx(li)];
    if (b.k == 0) {
      z[0] = make_float2(zk.x + zk.y, zk.x - zk.y);  // X[0], X[M]
      continue;
    }
    float2 xk, xm;
    xPair(zk, sh[padIdx(b.lm)], __ldg(tw + b.k), xk, xm);
    z[b.pos] = xk;
    z[b.posM] = xm;
  }
}

// (K + d) / n at a bin of a spectrum row (conjugated for the correlation).
template <bool CONJ>
__device__ __forceinline__ float2 kernelFactor(float2 v, float skip, float scale) {
  return make_float2((v.x + skip) * scale, (CONJ ? -v.y : v.y) * scale);
}

// The packed spectrum Z'[k], Z'[M-k] of y from X (= the row's spectrum by xPair) and
// the kernel factors at k and M - k, written into sh; bins 0 and M from Z[0].
template <bool CONJ>
__device__ __forceinline__ void productPair(float2* sh, const BinPair& b, const float2* __restrict__ kh, float skip,
                                            float scale, const float2* __restrict__ tw) {
  const float2 z = sh[padIdx(b.li)];
  if (b.k == 0) {
    const float2 k0 = __ldg(kh);  // (K[0], K[M])
    const float y0 = (z.x + z.y) * (k0.x + skip) * scale, yM = (z.x - z.y) * (k0.y + skip) * scale;
    sh[0] = make_float2(y0 + yM, y0 - yM);
    return;
  }
  const float2 wk = __ldg(tw + b.k);
  float2 xk, xm;
  xPair(z, sh[padIdx(b.lm)], wk, xk, xm);
  const float2 yk = cmul(xk, kernelFactor<CONJ>(__ldg(kh + b.pos), skip, scale));
  const float2 ym = cmul(xm, kernelFactor<CONJ>(__ldg(kh + b.posM), skip, scale));
  sh[padIdx(b.li)] = inversePack(yk, ym, wk);
  sh[padIdx(b.lm)] = inversePack(ym, yk, make_float2(-wk.x, wk.y));  // W^(M-k) = -conj(W^k)
}

// Pass B of the convolution: block (row b H + h, unit block); spec: the H kernel rows.
template <bool CONJ>
__global__ void __launch_bounds__(kLongThreads, kLongBlocksPerSm) longProductKernel(float2* __restrict__ ws,
                                                                  const float2* __restrict__ spec,
                                                                  const float* __restrict__ d, int H,
                                                                  const float2* __restrict__ tw, Geom g) {
  extern __shared__ float2 sh[];
  const long long row = blockIdx.x;
  const int h = static_cast<int>(row % H);
  const int u0 = static_cast<int>(blockIdx.y) * g.G;
  float2* z = ws + (row << g.logM);
  const float2* kh = spec + (static_cast<long long>(h) << g.logM);
  const float skip = d ? __ldg(d + h) : 0.f;
  const float scale = 1.0f / static_cast<float>(2 << g.logM);
  rowTransform<false, true, false>(sh, z, tw, g, u0);
  for (int li = threadIdx.x; li < unitPoints(g); li += blockDim.x) {
    BinPair b;
    if (binPair(g, u0, li, b)) productPair<CONJ>(sh, b, kh, skip, scale, tw);
  }
  __syncthreads();
  rowTransform<true, false, true>(sh, z, tw, g, u0);
}

// Pass B of the backward: block (channel h, unit block, batch chunk z) walks its rows
// b = z perChunk, ... in order. dy: B*H rows (become du's when WANT_DU), u: B*H rows, spec:
// H kernel rows (read when WANT_DU). The block's sums G = sum_b DY conj(U) (by position;
// (G[0], G[M]) at bin 0's) go to row z H + h of gPart; longGradKernel adds the chunks.
template <bool WANT_DU>
__global__ void __launch_bounds__(kLongThreads) longBackwardKernel(float2* __restrict__ dy,
                                                                   const float2* __restrict__ u,
                                                                   const float2* __restrict__ spec,
                                                                   const float* __restrict__ d, int B, int H,
                                                                   int perChunk, float2* __restrict__ gPart,
                                                                   const float2* __restrict__ tw, Geom g) {
  extern __shared__ float2 smem[];
  const int padded = padIdx(unitPoints(g));
  float2* shD = smem;
  float2* shU = smem + padded;
  float2* shG = smem + 2 * padded;
  const int h = static_cast<int>(blockIdx.x);
  const int u0 = static_cast<int>(blockIdx.y) * g.G;
  const int b0 = static_cast<int>(blockIdx.z) * perChunk, b1 = B - b0 < perChunk ? B : b0 + perChunk;
  const float2* kh = spec + (static_cast<long long>(h) << g.logM);
  const float skip = d ? __ldg(d + h) : 0.f;
  const float scale = 1.0f / static_cast<float>(2 << g.logM);
  for (int li = threadIdx.x; li < unitPoints(g); li += blockDim.x) shG[padIdx(li)] = make_float2(0.f, 0.f);
  for (int b = b0; b < b1; ++b) {
    const long long row = static_cast<long long>(b) * H + h;
    float2* zd = dy + (row << g.logM);
    rowTransform<false, true, false>(shD, zd, tw, g, u0);
    // u is only read; the row stages take a writable pointer for their (unused) stores
    rowTransform<false, true, false>(shU, const_cast<float2*>(u + (row << g.logM)), tw, g, u0);
    for (int li = threadIdx.x; li < unitPoints(g); li += blockDim.x) {
      BinPair p;
      if (!binPair(g, u0, li, p)) continue;
      const int a = padIdx(li), am = padIdx(p.lm);
      if (p.k == 0) {
        const float2 vd = shD[a], vu = shU[a];
        shG[a].x += (vd.x + vd.y) * (vu.x + vu.y);
        shG[a].y += (vd.x - vd.y) * (vu.x - vu.y);
      } else {
        const float2 wk = __ldg(tw + p.k);
        float2 xdk, xdm, xuk, xum;
        xPair(shD[a], shD[am], wk, xdk, xdm);
        xPair(shU[a], shU[am], wk, xuk, xum);
        shG[a] = cadd(shG[a], cmulConj(xdk, xuk));
        if (am != a) shG[am] = cadd(shG[am], cmulConj(xdm, xum));
      }
      if (WANT_DU) productPair<true>(shD, p, kh, skip, scale, tw);
    }
    __syncthreads();
    if (WANT_DU) rowTransform<true, false, true>(shD, zd, tw, g, u0);
  }
  // each thread stores the entries it summed (no barrier needed)
  float2* gp = gPart + ((static_cast<long long>(blockIdx.z) * H + h) << g.logM);
  for (int li = threadIdx.x; li < unitPoints(g); li += blockDim.x) {
    BinPair p;
    if (!binPair(g, u0, li, p)) continue;
    gp[p.pos] = shG[padIdx(li)];
    if (p.lm != li) gp[p.posM] = shG[padIdx(p.lm)];
  }
}

// dk's rows: block (channel h, unit block) adds the chunks' G in chunk order, packs G / n
// (bins 0 and M real) and runs the inverse row stages into row h of spec (k's spectrum,
// no longer needed).
__global__ void __launch_bounds__(kLongThreads, kLongBlocksPerSm) longGradKernel(const float2* __restrict__ gPart,
                                                                                 int chunks, float2* __restrict__ spec,
                                                                                 int H, const float2* __restrict__ tw,
                                                                                 Geom g) {
  extern __shared__ float2 sh[];
  const int h = static_cast<int>(blockIdx.x);
  const int u0 = static_cast<int>(blockIdx.y) * g.G;
  const float scale = 1.0f / static_cast<float>(2 << g.logM);
  const long long chunkStep = static_cast<long long>(H) << g.logM;
  const float2* gh = gPart + (static_cast<long long>(h) << g.logM);
  for (int li = threadIdx.x; li < unitPoints(g); li += blockDim.x) {
    const int pos = (unitRow(g, u0, li >> g.logM2) << g.logM2) + (li & ((1 << g.logM2) - 1));
    float2 a = gh[pos];
    for (int z = 1; z < chunks; ++z) a = cadd(a, gh[z * chunkStep + pos]);
    sh[padIdx(li)] = a;
  }
  __syncthreads();
  for (int li = threadIdx.x; li < unitPoints(g); li += blockDim.x) {
    BinPair p;
    if (!binPair(g, u0, li, p)) continue;
    const int a = padIdx(li), am = padIdx(p.lm);
    if (p.k == 0) {
      const float y0 = sh[a].x * scale, yM = sh[a].y * scale;
      sh[a] = make_float2(y0 + yM, y0 - yM);
      continue;
    }
    const float2 wk = __ldg(tw + p.k);
    const float2 yk = make_float2(sh[a].x * scale, sh[a].y * scale);
    const float2 ym = make_float2(sh[am].x * scale, sh[am].y * scale);
    sh[a] = inversePack(yk, ym, wk);  // the pair's two entries are this thread's alone
    sh[am] = inversePack(ym, yk, make_float2(-wk.x, wk.y));
  }
  __syncthreads();
  rowTransform<true, false, true>(sh, spec + (static_cast<long long>(h) << g.logM), tw, g, u0);
}

}  // namespace
}  // namespace s4::cuda
