// Cache-blocked, threaded SGEMM for the CPU backend (contract: GemmArgs in
// native/common/gemm_args.h).
//
// Layout: C is cut into tiles of MC x NC; each tile is one parallel task that walks the
// reduction (the K dimension, and for a batch-reduce GEMM also the batch) in blocks of
// KC, packing op(A) into MR-row strips and op(B) into NR-column strips (zero padded) and
// running an MR x NR register-blocked micro-kernel written with GCC vector extensions.
// On x86-64 an AVX2 build of the same kernel is picked at run time (no -march needed);
// FMA is deliberately not enabled, so both kernels round identically and results do not
// depend on the machine. When C has too few tiles to keep the threads busy, the
// reduction is split into a fixed (shape-dependent, thread-count-independent) number of
// slices whose partial products are added in a fixed order: deterministic results.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "../common/parallel.h"
#include "gemm.h"

#if defined(__GNUC__) || defined(__clang__)
#define S4_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define S4_ALWAYS_INLINE inline
#endif

namespace s4::cpu {
namespace {

constexpr int MR = 6;
constexpr int64_t KC = 256;
constexpr int64_t MC = 96;   // multiple of MR
constexpr int64_t NC = 256;  // multiple of NR (8 and 16)

template <int VW> struct VecT;
template <> struct VecT<4> { typedef float v __attribute__((vector_size(16))); };
template <> struct VecT<8> { typedef float v __attribute__((vector_size(32))); };

struct AlignedFree {
  void operator()(float* p) const { std::free(p); }
};

// Per-thread packing buffers, sized for the largest block.
struct PackBuffers {
  std::unique_ptr<float, AlignedFree> a, b;
  PackBuffers() {
    a.reset(static_cast<float*>(std::aligned_alloc(64, sizeof(float) * MC * KC)));
    b.reset(static_cast<float*>(std::aligned_alloc(64, sizeof(float) * KC * NC)));
    if (!a || !b) throw std::bad_alloc();
  }
};
PackBuffers& packBuffers() {
  thread_local PackBuffers buffers;
  return buffers;
}

// A block of op(A) (strips along M, W = MR) or op(B) (strips along N, W = NR) packed into
// zero-padded W-wide strips, as the micro-kernel reads them: strip s holds, for each k in
// [p0, p0+kc), the elements i0+s .. i0+s+W-1 of the strip dimension, at Xp[s*kc + k*W + r].
// X stores element (i, k) at X[i*ld + k], or at X[k*ld + i] when kMajor (transA for A,
// !transB for B).
template <int W>
void packStrips(const float* X, int64_t ld, bool kMajor, int64_t i0, int64_t count, int64_t p0, int64_t kc,
                float* Xp) {
  for (int64_t s = 0; s < count; s += W) {
    const int64_t n = std::min<int64_t>(W, count - s);
    float* dst = Xp + s * kc;
    if (kMajor) {
      for (int64_t k = 0; k < kc; ++k) {
        const float* src = X + (p0 + k) * ld + i0 + s;
        float* d = dst + k * W;
        int64_t r = 0;
        for (; r < n; ++r) d[r] = src[r];
        for (; r < W; ++r) d[r] = 0.f;
      }
    } else {
      for (int64_t r = 0; r < n; ++r) {
        const float* src = X + (i0 + s + r) * ld + p0;
        for (int64_t k = 0; k < kc; ++k) dst[k * W + r] = src[k];
      }
      for (int64_t r = n; r < W; ++r)
        for (int64_t k = 0; k < kc; ++k) dst[k * W + r] = 0.f;
    }
  }
}

// acc[MR][NR] = sum_k Ap[k][r] * Bp[k][c]  (two vectors of VW floats per row).
template <int VW>
S4_ALWAYS_INLINE void microKernel(int64_t kc, const float* __restrict Ap,
                                  const float* __restrict Bp, float* __restrict acc) {
  typedef typename VecT<VW>::v vf;
  constexpr int NR = 2 * VW;
  vf c00 = {}, c01 = {}, c10 = {}, c11 = {}, c20 = {}, c21 = {};
  vf c30 = {}, c31 = {}, c40 = {}, c41 = {}, c50 = {}, c51 = {};
  for (int64_t k = 0; k < kc; ++k) {
    const vf b0 = *reinterpret_cast<const vf*>(Bp);
    const vf b1 = *reinterpret_cast<const vf*>(Bp + VW);
    float a;
    a = Ap[0]; c00 += a * b0; c01 += a * b1;
    a = Ap[1]; c10 += a * b0; c11 += a * b1;
    a = Ap[2]; c20 += a * b0; c21 += a * b1;
    a = Ap[3]; c30 += a * b0; c31 += a * b1;
    a = Ap[4]; c40 += a * b0; c41 += a * b1;
    a = Ap[5]; c50 += a * b0; c51 += a * b1;
    Ap += MR;
    Bp += NR;
  }
  vf* out = reinterpret_cast<vf*>(acc);
  out[0] = c00; out[1] = c01; out[2] = c10; out[3] = c11; out[4] = c20; out[5] = c21;
  out[6] = c30; out[7] = c31; out[8] = c40; out[9] = c41; out[10] = c50; out[11] = c51;
}

struct TileJob {
  int64_t outBatch;      // which C (0 when reduceBatch)
  int64_t i0, mc, j0, nc;
  int64_t q0, q1;        // reduction blocks [q0, q1): q -> (batch, k block)
  float* C;              // destination of this job (C itself or a slice buffer)
  int64_t ldc;
  bool applyBeta;        // first block writes alpha*acc + beta*C (else alpha*acc)
};

template <int VW>
S4_ALWAYS_INLINE void runTileImpl(const GemmArgs& g, const TileJob& job) {
  constexpr int NR = 2 * VW;
  PackBuffers& pb = packBuffers();
  float* Ap = pb.a.get();
  float* Bp = pb.b.get();
  alignas(64) float acc[MR * NR];
  const int64_t kBlocks = (g.K + KC - 1) / KC;
  for (int64_t q = job.q0; q < job.q1; ++q) {
    const int64_t rb = g.reduceBatch ? q / kBlocks : job.outBatch;
    const int64_t p0 = (q % kBlocks) * KC;
    const int64_t kc = std::min(KC, g.K - p0);
    const float* A = g.A + rb * g.strideA;
    const float* B = g.B + rb * g.strideB;
    packStrips<MR>(A, g.lda, g.transA, job.i0, job.mc, p0, kc, Ap);
    packStrips<NR>(B, g.ldb, !g.transB, job.j0, job.nc, p0, kc, Bp);
    const bool first = q == job.q0;
    for (int64_t js = 0; js < job.nc; js += NR) {
      const int64_t cols = std::min<int64_t>(NR, job.nc - js);
      for (int64_t is = 0; is < job.mc; is += MR) {
        const int64_t rows = std::min<int64_t>(MR, job.mc - is);
        microKernel<VW>(kc, Ap + is * kc, Bp + js * kc, acc);
        float* c = job.C + (job.i0 + is) * job.ldc + job.j0 + js;
        for (int64_t r = 0; r < rows; ++r) {
          float* cr = c + r * job.ldc;
          const float* ar = acc + r * NR;
          if (!first) {
            for (int64_t j = 0; j < cols; ++j) cr[j] += g.alpha * ar[j];
          } else if (job.applyBeta && g.beta != 0.f) {
            for (int64_t j = 0; j < cols; ++j) cr[j] = g.alpha * ar[j] + g.beta * cr[j];
          } else {
            for (int64_t j = 0; j < cols; ++j) cr[j] = g.alpha * ar[j];
          }
        }
      }
    }
  }
}

void runTileGeneric(const GemmArgs& g, const TileJob& job) { runTileImpl<4>(g, job); }

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx2"))) void runTileAvx2(const GemmArgs& g, const TileJob& job) {
  runTileImpl<8>(g, job);
}
bool useAvx2() {
  static const bool use = [] {
    const char* env = std::getenv("S4_GEMM_KERNEL");
    if (env && std::string(env) == "generic") return false;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
  }();
  return use;
}
#else
bool useAvx2() { return false; }
void runTileAvx2(const GemmArgs& g, const TileJob& job) { runTileGeneric(g, job); }
#endif

void runTile(const GemmArgs& g, const TileJob& job) {
  if (useAvx2()) runTileAvx2(g, job);
  else runTileGeneric(g, job);
}

}  // namespace

const char* gemmKernelName() { return useAvx2() ? "avx2" : "generic"; }

void gemm(const GemmArgs& g) {
  if (g.M <= 0 || g.N <= 0 || g.batch <= 0) return;
  const int64_t outBatches = g.reduceBatch ? 1 : g.batch;
  if (g.K <= 0) {  // empty reduction: C = beta * C
    for (int64_t b = 0; b < outBatches; ++b) {
      float* C = g.C + b * g.strideC;
      for (int64_t i = 0; i < g.M; ++i)
        for (int64_t j = 0; j < g.N; ++j)
          C[i * g.ldc + j] = g.beta == 0.f ? 0.f : g.beta * C[i * g.ldc + j];
    }
    return;
  }
  const int64_t mBlocks = (g.M + MC - 1) / MC;
  const int64_t nBlocks = (g.N + NC - 1) / NC;
  const int64_t kBlocks = (g.K + KC - 1) / KC;
  const int64_t qTotal = kBlocks * (g.reduceBatch ? g.batch : 1);
  const int64_t tiles = outBatches * mBlocks * nBlocks;
  // Split the reduction when there are few tiles (fixed by shape, not by thread count).
  int64_t slices = 1;
  if (tiles < 16) slices = std::min<int64_t>(qTotal, std::min<int64_t>(8, (16 + tiles - 1) / tiles));
  std::vector<float> partial;  // slice s >= 1 of outBatch b: ((s-1)*outBatches + b) * M*N
  if (slices > 1) partial.resize(static_cast<size_t>((slices - 1) * outBatches * g.M * g.N));

  std::vector<TileJob> jobs;
  jobs.reserve(static_cast<size_t>(tiles * slices));
  for (int64_t s = 0; s < slices; ++s) {
    const int64_t q0 = qTotal * s / slices, q1 = qTotal * (s + 1) / slices;
    for (int64_t b = 0; b < outBatches; ++b)
      for (int64_t mb = 0; mb < mBlocks; ++mb)
        for (int64_t nb = 0; nb < nBlocks; ++nb) {
          TileJob j;
          j.outBatch = b;
          j.i0 = mb * MC;
          j.mc = std::min(MC, g.M - j.i0);
          j.j0 = nb * NC;
          j.nc = std::min(NC, g.N - j.j0);
          j.q0 = q0;
          j.q1 = q1;
          if (s == 0) {
            j.C = g.C + b * g.strideC;
            j.ldc = g.ldc;
            j.applyBeta = true;
          } else {
            j.C = partial.data() + ((s - 1) * outBatches + b) * g.M * g.N;
            j.ldc = g.N;
            j.applyBeta = false;
          }
          jobs.push_back(j);
        }
  }
  const double flops = 2.0 * double(g.M) * double(g.N) * double(g.K) * double(g.batch);
  const int64_t grain = flops < 2e5 ? int64_t(jobs.size()) : 1;
  parallelFor(int64_t(jobs.size()), grain, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) runTile(g, jobs[size_t(t)]);
  });
  if (slices > 1) {
    const int64_t rowsTotal = outBatches * g.M;
    parallelFor(rowsTotal, std::max<int64_t>(1, 16384 / g.N), [&](int64_t begin, int64_t end) {
      for (int64_t rowIdx = begin; rowIdx < end; ++rowIdx) {
        const int64_t b = rowIdx / g.M, i = rowIdx % g.M;
        float* c = g.C + b * g.strideC + i * g.ldc;
        for (int64_t s = 1; s < slices; ++s) {
          const float* p = partial.data() + ((s - 1) * outBatches + b) * g.M * g.N + i * g.N;
          for (int64_t j = 0; j < g.N; ++j) c[j] += p[j];  // already scaled by alpha
        }
      }
    });
  }
}

}  // namespace s4::cpu
