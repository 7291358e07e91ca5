// CUDA twins of the FFT convolution (spec: native/binding/conv.cpp; the CPU twin is
// native/cpu/conv.cpp).
//
// Floor (H100, 3.35 TB/s) at the benchmark shape B=16, H=256, L=4096 (float32):
//   forward  reads u (67.1 MB) + k (4.2 MB), writes y (67.1 MB): 138 MB -> 41 us;
//   backward reads dy, u, k (138 MB), writes du, dk (71 MB): 210 MB -> 63 us.
// For L <= 8192 the forward and the backward run as one fused kernel per row (below): HBM
// then sees u, y (dy, du) and the kernel spectra (from L2), about the floor; the
// shared-memory FFT passes bound it instead (forward 0.28 ms measured on an H100 at that
// shape, backward with du, dk, dd 0.47 ms). dk sums over the batch with float atomics on
// its spectrum, then one cuFFT c2r over the H rows. Rows up to kLongConvMaxL = 65536 run
// the two-pass shared-memory transform of conv_long.cu; longer rows, and every length
// when the switch says 'cufft' (S4_FFTCONV, core.setFftConvPath; conv_long.h), use the
// cuFFT pipeline, which moves more: cuFFT is loaded with dlopen, so it has no load/store callbacks and
// every stage goes through memory: pad (71 MB in, 143 MB out), r2c (143 + 143), product (268 + 4), c2r (134 + 134),
// crop (67 + 67) = about 1.17 GB forward, 350 us at full bandwidth (0.46 ms measured);
// the backward moves about 1.9 GB (u and dy both transformed; 0.67 ms measured).
//
// cuFFT pipeline. Forward, 5 launches on one stream:
//   pad    rows [u (B*H) | k (H)] -> zero-padded reals R, n per row (one launch)
//   r2c    all B*H + H rows in one batched cuFFT call -> spectra S
//   prod   S_u[b,h] *= (S_k[h] + d[h]) / n   (skip folded into the kernel spectrum; one
//          thread per (h, bin) walks the batch, so each kernel bin is read once)
//   c2r    B*H rows -> R
//   crop   y = first L reals of each row
// Backward, the same shape with rows [u (B*H, if dk|dd) | dy (B*H) | k (H)]:
//   prod   S_dy[b,h] *= conj(S_k[h] + d[h]) / n  (du = corr(dy, k) + d dy), and
//          S_k[h] <- sum_b S_dy[b,h] conj(S_u[b,h]) / n  (dk: reduced over the batch in
//          the frequency domain, before the one inverse transform)
//   c2r    the dy and k rows (contiguous) in one batched call
//   crop   du, dk and dd[h] = dk[h,0] (y depends on d[h] exactly as on k[h,0]).
#include <algorithm>
#include <climits>
#include <cstdint>
#include <mutex>

#include "context.h"
#include "conv_long.h"
#include "cufft_api.h"
#include "fft_radix.cuh"
#include "kernel_common.cuh"

namespace s4::cuda {
namespace {

// Transform length used for sequence length L: the smallest even n >= 2L whose prime
// factors are 2, 3, 5, 7 (cuFFT's fast sizes).
int64_t fftConvSize(int64_t L) {
  // n = 2m with m >= L 7-smooth.
  for (int64_t m = L < 1 ? 1 : L;; ++m) {
    int64_t r = m;
    for (int p : {2, 3, 5, 7})
      while (r % p == 0) r /= p;
    if (r == 1) return 2 * m;
  }
}

// Up to three row sources stacked into one padded buffer: rows [0, end[0]) come from
// src[0], [end[0], end[1]) from src[1], [end[1], end[2]) from src[2]; each row is L floats.
struct PadSources {
  const float* src[3];
  long long end[3];
};

template <bool VEC>
__global__ void padRowsKernel(PadSources s, float* __restrict__ out, int L, int n) {
  const long long row = blockIdx.x;
  const float* src;
  long long local;
  if (row < s.end[0]) {
    src = s.src[0];
    local = row;
  } else if (row < s.end[1]) {
    src = s.src[1];
    local = row - s.end[0];
  } else {
    src = s.src[2];
    local = row - s.end[1];
  }
  const float* in = src + local * L;
  float* o = out + row * n;
  if (VEC) {
    const float4* in4 = reinterpret_cast<const float4*>(in);
    float4* o4 = reinterpret_cast<float4*>(o);
    const int L4 = L / 4, n4 = n / 4;
    for (int c = threadIdx.x; c < n4; c += blockDim.x)
      o4[c] = c < L4 ? __ldg(in4 + c) : make_float4(0.f, 0.f, 0.f, 0.f);
  } else {
    for (int c = threadIdx.x; c < n; c += blockDim.x) o[c] = c < L ? __ldg(in + c) : 0.f;
  }
}

// Forward product. spec holds B*H input rows followed by H kernel rows, `bins` each.
__global__ void convProductKernel(float2* __restrict__ spec, const float* __restrict__ d,
                                  int B, int H, int bins, int chunks, float scale) {
  const int h = blockIdx.x / chunks;
  const int j = (blockIdx.x % chunks) * blockDim.x + threadIdx.x;
  if (j >= bins) return;
  const long long bh = static_cast<long long>(B) * H;
  float2 kv = spec[(bh + h) * bins + j];
  if (d) kv.x += __ldg(d + h);
  kv.x *= scale;
  kv.y *= scale;
  const long long step = static_cast<long long>(H) * bins;
  float2* p = spec + static_cast<long long>(h) * bins + j;
  int b = 0;
  for (; b + 4 <= B; b += 4) {  // four loads in flight before the stores
    float2 v0 = p[0], v1 = p[step], v2 = p[2 * step], v3 = p[3 * step];
    p[0] = cmul(v0, kv);
    p[step] = cmul(v1, kv);
    p[2 * step] = cmul(v2, kv);
    p[3 * step] = cmul(v3, kv);
    p += 4 * step;
  }
  for (; b < B; ++b, p += step) *p = cmul(*p, kv);
}

// Backward product. sU: B*H rows of rfft(u) (null when dk/dd are not needed), sDy: B*H
// rows of rfft(dy) followed by H rows of rfft(k). Writes du's spectrum over sDy (when
// wantDu) and dk's spectrum over the k rows (when sU).
__global__ void convBackwardProductKernel(const float2* __restrict__ sU, float2* __restrict__ sDy,
                                          const float* __restrict__ d, int B, int H, int bins,
                                          int chunks, float scale, bool wantDu) {
  const int h = blockIdx.x / chunks;
  const int j = (blockIdx.x % chunks) * blockDim.x + threadIdx.x;
  if (j >= bins) return;
  const long long bh = static_cast<long long>(B) * H;
  float2* kp = sDy + (bh + h) * bins + j;
  float2 kc = *kp;  // conj(K + d) / n
  if (d) kc.x += __ldg(d + h);
  kc.x *= scale;
  kc.y *= -scale;
  const long long step = static_cast<long long>(H) * bins;
  const long long base = static_cast<long long>(h) * bins + j;
  float2 g = make_float2(0.f, 0.f);
  int b = 0;
  for (; b + 2 <= B; b += 2) {
    const long long i0 = base + b * step, i1 = i0 + step;
    const float2 y0 = sDy[i0], y1 = sDy[i1];
    if (sU) {
      const float2 u0 = sU[i0], u1 = sU[i1];
      const float2 p0 = cmulConj(y0, u0), p1 = cmulConj(y1, u1);
      g.x += p0.x + p1.x;
      g.y += p0.y + p1.y;
    }
    if (wantDu) {
      sDy[i0] = cmul(y0, kc);
      sDy[i1] = cmul(y1, kc);
    }
  }
  for (; b < B; ++b) {
    const long long i0 = base + b * step;
    const float2 y0 = sDy[i0];
    if (sU) {
      const float2 p0 = cmulConj(y0, sU[i0]);
      g.x += p0.x;
      g.y += p0.y;
    }
    if (wantDu) sDy[i0] = cmul(y0, kc);
  }
  if (sU) *kp = make_float2(g.x * scale, g.y * scale);
}

// First L reals of padded rows. Rows [0, rows0) go to dst0 from source rows srcRow0 + r;
// rows [rows0, rows0 + rows1) to dst1 (may be null) from srcRow1 + r, with dd[r] = the
// row's first value when dd is given.
struct CropJob {
  float* dst0;
  long long srcRow0, rows0;
  float* dst1;
  float* dd;
  long long srcRow1;
};

template <bool VEC>
__global__ void cropRowsKernel(const float* __restrict__ R, CropJob job, int L, int n) {
  const long long row = blockIdx.x;
  const float* src;
  float* dst;
  if (row < job.rows0) {
    src = R + (job.srcRow0 + row) * n;
    dst = job.dst0 + row * L;
  } else {
    const long long h = row - job.rows0;
    src = R + (job.srcRow1 + h) * n;
    if (job.dd && threadIdx.x == 0) job.dd[h] = src[0];
    if (!job.dst1) return;
    dst = job.dst1 + h * L;
  }
  if (VEC) {
    const float4* s4 = reinterpret_cast<const float4*>(src);
    float4* d4 = reinterpret_cast<float4*>(dst);
    for (int c = threadIdx.x; c < L / 4; c += blockDim.x) d4[c] = s4[c];
  } else {
    for (int c = threadIdx.x; c < L; c += blockDim.x) dst[c] = src[c];
  }
}

int rowThreads(long long cols) {
  long long t = (cols + 31) / 32 * 32;
  return static_cast<int>(t < kThreads ? t : kThreads);
}

void checkSizes(const char* fn, int64_t rows, int64_t n) {
  if (n > INT_MAX) failRange(std::string(fn) + ": sequence length too large for cuFFT");
  if (rows > INT_MAX) failRange(std::string(fn) + ": batch * channels too large for one cuFFT plan");
}

// A row kernel over `rows` rows of `cols` floats: launch(V, blocks, threads) with V =
// vec (float4 access, as a std::bool_constant) and a block of rowThreads per row.
template <class Launch>
void launchRows(const char* what, long long rows, int64_t cols, bool vec, Launch launch) {
  const int threads = rowThreads(vec ? cols / 4 : cols);
  if (vec) launch(std::true_type(), static_cast<unsigned>(rows), threads);
  else launch(std::false_type(), static_cast<unsigned>(rows), threads);
  S4_CUDA_CHECK_LAUNCH(what);
}

void launchPad(const PadSources& s, float* R, long long rows, int64_t L, int64_t n, bool vec) {
  launchRows("padRowsKernel", rows, n, vec, [&](auto v, unsigned blocks, int threads) {
    padRowsKernel<decltype(v)::value><<<blocks, threads, 0, stream()>>>(s, R, (int)L, (int)n);
  });
}

void launchCrop(const float* R, const CropJob& job, long long rows, int64_t L, int64_t n, bool vec) {
  launchRows("cropRowsKernel", rows, L, vec, [&](auto v, unsigned blocks, int threads) {
    cropRowsKernel<decltype(v)::value><<<blocks, threads, 0, stream()>>>(R, job, (int)L, (int)n);
  });
}


// ---- fused forward for power-of-two transforms (L <= kFusedMaxL) ----
//
// One block per row (b, h) does the whole convolution in shared memory, so HBM sees only
// u, y and (from L2) the kernel spectrum. The real signal of length n = 2M (u zero-padded)
// is packed as M complex values z[m] = x[2m] + i x[2m+1]:
//   DIF radix-2^R passes, natural order in -> Z = DFT_M(z) in bit-reversed order;
//   per pair (k, M-k): X[k] = E + W^k O with E = (Z[k] + conj Z[M-k]) / 2,
//     O = -i (Z[k] - conj Z[M-k]) / 2, W = exp(-2 pi i / n);  Y = X (K + d) / n;
//     Z'[k] = (Y[k] + conj Y[M-k]) + i W^-k (Y[k] - conj Y[M-k])   (Z'[M-k] alike);
//   DIT passes with conjugate twiddles, bit-reversed in -> natural out:
//     z'[m] = y[2m] + i y[2m+1].
// No reordering pass is needed: DIF leaves and DIT takes bit-reversed order.
constexpr int64_t kFusedMaxL = 8192;
constexpr int kFusedThreads = 256;

// Where a pass reads its inputs or writes its outputs: shared memory, or (first DIF pass
// / last DIT pass) the row of u / y in global memory, packed as z[m] = (x[2m], x[2m+1]).
enum class Io { Shared, Global };

struct RowIo {
  const float* in;  // u row (first DIF pass)
  float* out;       // y row (last DIT pass)
  int L;
};

// One pass of R radix-2 stages over buf[M] (M = 2^logM), s = 2^logS. DIF (INV false)
// covers the halves s 2^(R-1), ..., s; DIT (INV true) covers s, ..., s 2^(R-1).
// The twiddle of stage half hh = s d at offset j = i + q s (i < s, q < d) factors as
//   exp(-2 pi i j / 2hh) = b^(P / 2d) * exp(-2 pi i q / 2d),   b = exp(-2 pi i i / P s),
// so one table load per group (b, from tw[k] = exp(-2 pi i k / 2M)), squarings, and
// compile-time rotations: the L1 sees one twiddle load per P elements.
template <int R, bool INV, Io IN, Io OUT>
__device__ __forceinline__ void fftPass(float2* buf, int logM, int logS, const float2* __restrict__ tw,
                                        const RowIo& io) {
  constexpr int P = 1 << R;
  const int groups = 1 << (logM - R);
  const int sMask = (1 << logS) - 1;
  for (int g = threadIdx.x; g < groups; g += blockDim.x) {
    const int i = g & sMask;
    const int base = ((g >> logS) << (logS + R)) + i;
    float2 v[P];
#pragma unroll
    for (int m = 0; m < P; ++m) {
      const int e = base + (m << logS);
      v[m] = IN == Io::Global ? loadPacked(io.in, io.L, e) : buf[padIdx(e)];
    }
    fftButterflies<R, INV>(v, __ldg(tw + (i << (logM + 1 - R - logS))));
#pragma unroll
    for (int m = 0; m < P; ++m) {
      const int e = base + (m << logS);
      if (OUT == Io::Global) storePacked(io.out, io.L, e, v[m]);
      else buf[padIdx(e)] = v[m];
    }
  }
  if (OUT == Io::Shared) __syncthreads();
}

constexpr int kMaxRadixLog = 4;

template <bool INV, Io IN, Io OUT>
__device__ __forceinline__ void fftPassR(int r, float2* buf, int logM, int logS, const float2* __restrict__ tw,
                                         const RowIo& io) {
  if (r == 4) fftPass<4, INV, IN, OUT>(buf, logM, logS, tw, io);
  else if (r == 3) fftPass<3, INV, IN, OUT>(buf, logM, logS, tw, io);
  else if (r == 2) fftPass<2, INV, IN, OUT>(buf, logM, logS, tw, io);
  else fftPass<1, INV, IN, OUT>(buf, logM, logS, tw, io);
}

// Forward DIF: the first pass reads the u row from global memory.
__device__ void fftForward(float2* buf, int logM, const float2* __restrict__ tw, const RowIo& io) {
  int logS = logM, left = logM;
  bool first = true;
  while (left > 0) {
    const int r = left >= kMaxRadixLog ? kMaxRadixLog : left;
    logS -= r;
    if (first) fftPassR<false, Io::Global, Io::Shared>(r, buf, logM, logS, tw, io);
    else fftPassR<false, Io::Shared, Io::Shared>(r, buf, logM, logS, tw, io);
    first = false;
    left -= r;
  }
}

// Inverse DIT: the last pass writes the y row to global memory.
__device__ void fftInverse(float2* buf, int logM, const float2* __restrict__ tw, const RowIo& io) {
  int logS = 0, left = logM;
  while (left > 0) {
    const int r = left >= kMaxRadixLog ? kMaxRadixLog : left;
    if (left == r) fftPassR<true, Io::Shared, Io::Global>(r, buf, logM, logS, tw, io);
    else fftPassR<true, Io::Shared, Io::Shared>(r, buf, logM, logS, tw, io);
    logS += r;
    left -= r;
  }
}

__device__ __forceinline__ void spectrumPair(float2 zk, float2 zmk, float2 wk, float2 kk, float2 kmk,
                                             float2& yk, float2& ymk) {
  float2 xk, xmk;
  xPair(zk, zmk, wk, xk, xmk);
  yk = cmul(xk, kk);
  ymk = cmul(xmk, kmk);
}

// spec: [H, M+1] rfft(k, n) (unscaled); CONJ: correlation (du of the backward pass).
template <bool CONJ>
__global__ void __launch_bounds__(kFusedThreads, 3) fusedConvKernel(const float* __restrict__ u,
                                                               const float2* __restrict__ spec,
                                                               const float* __restrict__ d,
                                                               const float2* __restrict__ tw,
                                                               float* __restrict__ y, int H, int L,
                                                               int M, int logM) {
  extern __shared__ float2 buf[];
  const long long row = blockIdx.x;
  const int h = static_cast<int>(row % H);
  const float* ur = u + row * L;
  float* yr = y + row * L;
  const RowIo io{ur, yr, L};
  fftForward(buf, logM, tw, io);

  const float2* kh = spec + static_cast<long long>(h) * (M + 1);
  const float skip = d ? __ldg(d + h) : 0.f;
  const float scale = 1.0f / static_cast<float>(2 * M);
  const int shift = 32 - logM;
  auto kernelAt = [&](int k) {
    float2 v = __ldg(kh + k);
    v.x = (v.x + skip) * scale;
    v.y = (CONJ ? -v.y : v.y) * scale;
    return v;
  };
  for (int k = threadIdx.x; k <= M / 2; k += blockDim.x) {
    if (k == 0) {
      // X[0] = Re Z0 + Im Z0, X[M] = Re Z0 - Im Z0 (both real).
      const float2 z0 = buf[0];  // padIdx(0) = 0
      const float y0 = (z0.x + z0.y) * kernelAt(0).x;
      const float yM = (z0.x - z0.y) * kernelAt(M).x;
      // Z'[0] = (Y0 + YM) + i (Y0 - YM)
      buf[0] = make_float2(y0 + yM, y0 - yM);
      continue;
    }
    const int pk = padIdx(static_cast<int>(__brev(static_cast<unsigned>(k)) >> shift));
    const int pm = padIdx(static_cast<int>(__brev(static_cast<unsigned>(M - k)) >> shift));
    const float2 wk = __ldg(tw + k);
    float2 yk, ymk;
    spectrumPair(buf[pk], buf[pm], wk, kernelAt(k), kernelAt(M - k), yk, ymk);
    const float2 zk = inversePack(yk, ymk, wk);
    // W^(M-k) = -conj(W^k)
    const float2 zm = inversePack(ymk, yk, make_float2(-wk.x, wk.y));
    buf[pk] = zk;
    buf[pm] = zm;
  }
  __syncthreads();
  fftInverse(buf, logM, tw, io);
}

// Backward of one row (b, h) in one block: the spectra of dy and u in shared memory;
//   du = irfft(DY conj(K + d) / n)   (when du), and
//   G[h] += DY conj(U) / n           (float atomics over the batch; dk = irfft(G), dd = dk[0]
//                                     follow through cuFFT on the H rows of G).
__global__ void __launch_bounds__(kFusedThreads, 2) fusedBackwardKernel(
    const float* __restrict__ dy, const float* __restrict__ u, const float2* __restrict__ spec,
    const float* __restrict__ d, const float2* __restrict__ tw, float* __restrict__ du,
    float2* __restrict__ G, int H, int L, int M, int logM) {
  extern __shared__ float2 smem[];
  float2* bufD = smem;
  float2* bufU = smem + (M + M / 8);
  const long long row = blockIdx.x;
  const int h = static_cast<int>(row % H);
  const RowIo ioD{dy + row * L, du ? du + row * L : nullptr, L};
  const RowIo ioU{u + row * L, nullptr, L};
  fftForward(bufD, logM, tw, ioD);
  fftForward(bufU, logM, tw, ioU);

  const float2* kh = spec + static_cast<long long>(h) * (M + 1);
  float2* gh = G + static_cast<long long>(h) * (M + 1);
  const float skip = d ? __ldg(d + h) : 0.f;
  const float scale = 1.0f / static_cast<float>(2 * M);
  const int shift = 32 - logM;
  auto kernelConj = [&](int k) {
    const float2 v = __ldg(kh + k);
    return make_float2((v.x + skip) * scale, -v.y * scale);
  };
  auto accumulate = [&](int k, float2 xd, float2 xu) {
    const float2 g = cmulConj(xd, xu);
    atomicAdd(&gh[k].x, g.x * scale);
    atomicAdd(&gh[k].y, g.y * scale);
  };
  for (int k = threadIdx.x; k <= M / 2; k += blockDim.x) {
    if (k == 0) {
      const float2 zd = bufD[0], zu = bufU[0];
      const float xd0 = zd.x + zd.y, xdM = zd.x - zd.y;
      accumulate(0, make_float2(xd0, 0.f), make_float2(zu.x + zu.y, 0.f));
      accumulate(M, make_float2(xdM, 0.f), make_float2(zu.x - zu.y, 0.f));
      const float y0 = xd0 * kernelConj(0).x, yM = xdM * kernelConj(M).x;
      bufD[0] = make_float2(y0 + yM, y0 - yM);
      continue;
    }
    const int pk = padIdx(static_cast<int>(__brev(static_cast<unsigned>(k)) >> shift));
    const int pm = padIdx(static_cast<int>(__brev(static_cast<unsigned>(M - k)) >> shift));
    const float2 wk = __ldg(tw + k);
    float2 xdk, xdm, xuk, xum;
    xPair(bufD[pk], bufD[pm], wk, xdk, xdm);
    xPair(bufU[pk], bufU[pm], wk, xuk, xum);
    accumulate(k, xdk, xuk);
    if (M - k != k) accumulate(M - k, xdm, xum);
    const float2 yk = cmul(xdk, kernelConj(k)), ymk = cmul(xdm, kernelConj(M - k));
    bufD[pk] = inversePack(yk, ymk, wk);
    bufD[pm] = inversePack(ymk, yk, make_float2(-wk.x, wk.y));
  }
  if (!du) return;  // uniform over the block
  __syncthreads();
  fftInverse(bufD, logM, tw, ioD);
}

// The transform of the fused kernels for length L: M = the power of two >= max(L, 8),
// n = 2M reals, M + 1 bins; one radix-16 group (16 values) per thread and pass, so short
// rows get fewer threads and small blocks pack more rows per SM.
struct FusedSize {
  int M = 8, n, logM = 0, threads;
  int64_t bins;
  explicit FusedSize(int64_t L) {
    while (M < L) M <<= 1;
    n = 2 * M;
    while ((1 << logM) < M) ++logM;
    bins = M + 1;
    threads = std::min(kFusedThreads, std::max(32, M / 16));
  }
};

// The spectra of the H kernel rows k [H, L]: padded to n into real [H, n], one batched
// r2c into spec [H, bins].
struct KernelSpectra {
  Workspace real, spec;
  KernelSpectra(const float* k, int64_t H, int64_t L, const FusedSize& f, bool vec)
      : real(static_cast<size_t>(H * f.n) * sizeof(float)), spec(static_cast<size_t>(H * f.bins) * sizeof(float2)) {
    launchPad(PadSources{{k, k, k}, {H, H, H}}, real.as<float>(), H, L, f.n, vec);
    cufft::r2c(f.n, static_cast<int>(H), real.as<float>(), f.n, spec.as<float2>(), f.bins);
  }
};

// y = conv(u, k) + d u (or the correlation, CONJ) through the fused kernel.
template <bool CONJ>
void fusedConv(const float* u, const float* k, const float* d, float* y, int64_t B, int64_t H, int64_t L) {
  const FusedSize f(L);
  const KernelSpectra ks(k, H, L, f, L % 4 == 0 && aligned16(k));
  const float2* tw = fftTwiddles(f.M);
  const size_t smem = sizeof(float2) * (f.M + f.M / 8);
  static std::once_flag attr;
  std::call_once(attr, [] {
    S4_CUDA_CHECK(cudaFuncSetAttribute(fusedConvKernel<false>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                       static_cast<int>(sizeof(float2) * (kFusedMaxL + kFusedMaxL / 8))));
    S4_CUDA_CHECK(cudaFuncSetAttribute(fusedConvKernel<true>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                       static_cast<int>(sizeof(float2) * (kFusedMaxL + kFusedMaxL / 8))));
  });
  fusedConvKernel<CONJ><<<static_cast<unsigned>(B * H), f.threads, smem, stream()>>>(
      u, ks.spec.as<float2>(), d, tw, y, static_cast<int>(H), static_cast<int>(L), f.M, f.logM);
  S4_CUDA_CHECK_LAUNCH("fusedConvKernel");
}


// Backward with dk and/or dd through the fused kernel (du too when asked for).
void fusedBackward(const float* dy, const float* u, const float* k, const float* d, float* du, float* dk,
                   float* dd, int64_t B, int64_t H, int64_t L) {
  const FusedSize f(L);
  const bool vec = L % 4 == 0 && aligned16(k) && aligned16(dk);
  const KernelSpectra ks(k, H, L, f, vec);
  Workspace grad(static_cast<size_t>(H * f.bins) * sizeof(float2));
  S4_CUDA_CHECK(cudaMemsetAsync(grad.as<void>(), 0, sizeof(float2) * H * f.bins, stream()));
  const float2* tw = fftTwiddles(f.M);
  const size_t smem = 2 * sizeof(float2) * (f.M + f.M / 8);
  static std::once_flag attr;
  std::call_once(attr, [] {
    S4_CUDA_CHECK(cudaFuncSetAttribute(fusedBackwardKernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                       static_cast<int>(2 * sizeof(float2) * (kFusedMaxL + kFusedMaxL / 8))));
  });
  fusedBackwardKernel<<<static_cast<unsigned>(B * H), f.threads, smem, stream()>>>(
      dy, u, ks.spec.as<float2>(), d, tw, du, grad.as<float2>(), static_cast<int>(H), static_cast<int>(L), f.M, f.logM);
  S4_CUDA_CHECK_LAUNCH("fusedBackwardKernel");
  // dk = irfft(G, n)[:L], dd = dk[:, 0]; the padded kernel rows are no longer needed.
  float* real = ks.real.as<float>();
  cufft::c2r(f.n, static_cast<int>(H), grad.as<float2>(), f.bins, real, f.n);
  launchCrop(real, CropJob{nullptr, 0, 0, dk, dd, 0}, H, L, f.n, vec);
}
}  // namespace

void fftConv(const float* u, const float* k, const float* d, float* y, int64_t B, int64_t H,
             int64_t L) {
  if (B <= 0 || H <= 0 || L <= 0) return;
  const bool fused = fftConvPath() == FftConvPath::Fused;
  if (fused && L <= kFusedMaxL && B * H <= INT_MAX) {
    fusedConv<false>(u, k, d, y, B, H, L);
    return;
  }
  if (fused && longConvFits(B, H, L)) {
    longConv(u, k, d, y, B, H, L, false);
    return;
  }
  const int64_t n = fftConvSize(L), bins = n / 2 + 1;
  const int64_t bh = B * H, rows = bh + H;
  checkSizes("fftConv", rows, n);
  const bool vec = L % 4 == 0 && n % 4 == 0 && aligned16(u) && aligned16(k) && aligned16(y);

  Workspace real(static_cast<size_t>(rows * n) * sizeof(float));
  Workspace spec(static_cast<size_t>(rows * bins) * sizeof(float2));
  float* R = real.as<float>();
  float2* S = spec.as<float2>();

  launchPad(PadSources{{u, k, k}, {bh, rows, rows}}, R, rows, L, n, vec);
  cufft::r2c(static_cast<int>(n), static_cast<int>(rows), R, n, S, bins);

  const int chunks = static_cast<int>((bins + kThreads - 1) / kThreads);
  convProductKernel<<<static_cast<unsigned>(H * chunks), kThreads, 0, stream()>>>(
      S, d, static_cast<int>(B), static_cast<int>(H), static_cast<int>(bins), chunks,
      1.0f / static_cast<float>(n));
  S4_CUDA_CHECK_LAUNCH("convProductKernel");

  cufft::c2r(static_cast<int>(n), static_cast<int>(bh), S, bins, R, n);
  launchCrop(R, CropJob{y, 0, bh, nullptr, nullptr, 0}, bh, L, n, vec);
}

void fftConvBackward(const float* dy, const float* u, const float* k, const float* d, float* du,
                     float* dk, float* dd, int64_t B, int64_t H, int64_t L) {
  if (H <= 0 || L <= 0) return;
  const bool needDu = du != nullptr && B > 0;
  const bool needG = dk != nullptr || dd != nullptr;
  if (B <= 0) {  // no data: the parameter gradients are zero
    if (dk) S4_CUDA_CHECK(cudaMemsetAsync(dk, 0, sizeof(float) * H * L, stream()));
    if (dd) S4_CUDA_CHECK(cudaMemsetAsync(dd, 0, sizeof(float) * H, stream()));
    return;
  }
  if (!needDu && !needG) return;
  const bool fused = fftConvPath() == FftConvPath::Fused;
  if (fused && L <= kFusedMaxL && B * H <= INT_MAX) {
    if (needG) fusedBackward(dy, u, k, d, needDu ? du : nullptr, dk, dd, B, H, L);
    else fusedConv<true>(dy, k, d, du, B, H, L);  // du = corr(dy, k) + d dy alone
    return;
  }
  if (fused && longConvFits(B, H, L)) {
    if (needG) longConvBackward(dy, u, k, d, needDu ? du : nullptr, dk, dd, B, H, L);
    else longConv(dy, k, d, du, B, H, L, true);
    return;
  }
  const int64_t n = fftConvSize(L), bins = n / 2 + 1;
  const int64_t bh = B * H;
  const int64_t uRows = needG ? bh : 0;      // rows [0, uRows): u
  const int64_t dyRow = uRows;               // rows [dyRow, dyRow + bh): dy
  const int64_t kRow = uRows + bh;           // rows [kRow, kRow + H): k
  const int64_t rows = kRow + H;
  checkSizes("fftConvBackward", rows, n);
  const bool vec = L % 4 == 0 && n % 4 == 0 && aligned16(u) && aligned16(k) && aligned16(dy) &&
                   aligned16(du) && aligned16(dk);

  Workspace real(static_cast<size_t>(rows * n) * sizeof(float));
  Workspace spec(static_cast<size_t>(rows * bins) * sizeof(float2));
  float* R = real.as<float>();
  float2* S = spec.as<float2>();

  PadSources src = needG ? PadSources{{u, dy, k}, {bh, 2 * bh, rows}}
                         : PadSources{{dy, k, k}, {bh, rows, rows}};
  launchPad(src, R, rows, L, n, vec);
  cufft::r2c(static_cast<int>(n), static_cast<int>(rows), R, n, S, bins);

  const int chunks = static_cast<int>((bins + kThreads - 1) / kThreads);
  convBackwardProductKernel<<<static_cast<unsigned>(H * chunks), kThreads, 0, stream()>>>(
      needG ? S : nullptr, S + dyRow * bins, d, static_cast<int>(B), static_cast<int>(H),
      static_cast<int>(bins), chunks, 1.0f / static_cast<float>(n), needDu);
  S4_CUDA_CHECK_LAUNCH("convBackwardProductKernel");

  // Inverse transforms: the dy rows and/or the k rows (adjacent, so one call for both).
  const int64_t first = needDu ? dyRow : kRow;
  const int64_t count = (needDu ? bh : 0) + (needG ? H : 0);
  cufft::c2r(static_cast<int>(n), static_cast<int>(count), S + first * bins, bins, R + first * n, n);

  CropJob job{du, dyRow, needDu ? bh : 0, dk, dd, kRow};
  launchCrop(R, job, count, L, n, vec);
}

}  // namespace s4::cuda
