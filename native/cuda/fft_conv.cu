// FFT convolution on the GPU (see fft_conv.h; the CPU twin is cpu/fft_conv.cpp).
//
// Floor (H100, 3.35 TB/s) at the benchmark shape B=16, H=256, L=4096 (float32):
//   forward  reads u (67.1 MB) + k (4.2 MB), writes y (67.1 MB): 138 MB -> 41 us;
//   backward reads dy, u, k (138 MB), writes du, dk (71 MB): 210 MB -> 63 us.
// This pipeline moves more: cuFFT is loaded with dlopen, so it has no load/store callbacks
// and every stage goes through memory: pad (71 MB in, 143 MB out), r2c (143 + 143),
// product (268 + 4), c2r (134 + 134), crop (67 + 67) = about 1.17 GB forward, 350 us at
// full bandwidth; the backward moves about 1.9 GB (u and dy both transformed).
//
// Forward, 5 launches on one stream:
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
#include "fft_conv.h"

#include <climits>
#include <cstdint>

#include "context.h"
#include "cufft_api.h"

namespace s4::cuda {

int64_t fftConvSize(int64_t L) {
  // n = 2m with m >= L 7-smooth.
  for (int64_t m = L < 1 ? 1 : L;; ++m) {
    int64_t r = m;
    for (int p : {2, 3, 5, 7})
      while (r % p == 0) r /= p;
    if (r == 1) return 2 * m;
  }
}

namespace {

constexpr int kThreads = 256;

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

__device__ __forceinline__ float2 cmul(float2 a, float2 b) {
  return make_float2(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x);
}
// a * conj(b)
__device__ __forceinline__ float2 cmulConj(float2 a, float2 b) {
  return make_float2(a.x * b.x + a.y * b.y, a.y * b.x - a.x * b.y);
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

bool aligned16(const void* p) { return p == nullptr || (reinterpret_cast<uintptr_t>(p) & 15) == 0; }

int rowThreads(long long cols) {
  long long t = (cols + 31) / 32 * 32;
  return static_cast<int>(t < kThreads ? t : kThreads);
}

void checkSizes(const char* fn, int64_t rows, int64_t n) {
  if (n > INT_MAX) failRange(std::string(fn) + ": sequence length too large for cuFFT");
  if (rows > INT_MAX) failRange(std::string(fn) + ": batch * channels too large for one cuFFT plan");
}

void launchPad(const PadSources& s, float* R, long long rows, int64_t L, int64_t n, bool vec) {
  const int threads = rowThreads(vec ? n / 4 : n);
  if (vec)
    padRowsKernel<true><<<static_cast<unsigned>(rows), threads, 0, stream()>>>(s, R, (int)L, (int)n);
  else
    padRowsKernel<false><<<static_cast<unsigned>(rows), threads, 0, stream()>>>(s, R, (int)L, (int)n);
  S4_CUDA_CHECK_LAUNCH("padRowsKernel");
}

void launchCrop(const float* R, const CropJob& job, long long rows, int64_t L, int64_t n, bool vec) {
  const int threads = rowThreads(vec ? L / 4 : L);
  if (vec)
    cropRowsKernel<true><<<static_cast<unsigned>(rows), threads, 0, stream()>>>(R, job, (int)L, (int)n);
  else
    cropRowsKernel<false><<<static_cast<unsigned>(rows), threads, 0, stream()>>>(R, job, (int)L, (int)n);
  S4_CUDA_CHECK_LAUNCH("cropRowsKernel");
}

}  // namespace

void fftConv(const float* u, const float* k, const float* d, float* y, int64_t B, int64_t H,
             int64_t L) {
  if (B <= 0 || H <= 0 || L <= 0) return;
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
