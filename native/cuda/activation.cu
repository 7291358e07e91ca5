// CUDA twins of the activations (spec: native/binding/activation.cpp). Elementwise kernels
// use float4 loads when the pointers are 16-byte aligned, with a scalar tail.
#include <cstdint>

#include "../common/dropout_mask.h"
#include "../common/gelu.h"
#include "kernel_common.cuh"

namespace s4::cuda {
namespace {

// y[i] = op(x[i], i), float4 at a time when `vec` (aligned pointers), scalar tail.
template <class Op>
__global__ void mapKernel(const float* __restrict__ x, float* __restrict__ y, int64_t n, Op op, bool vec) {
  const int64_t nq = (n + 3) / 4;
  S4_GRID_STRIDE(q, nq) {
    const int64_t i = 4 * q;
    if (vec && i + 4 <= n) {
      float4 v = reinterpret_cast<const float4*>(x)[q];
      v.x = op(v.x, i); v.y = op(v.y, i + 1); v.z = op(v.z, i + 2); v.w = op(v.w, i + 3);
      reinterpret_cast<float4*>(y)[q] = v;
    } else {
      for (int64_t k = i; k < min(n, i + 4); ++k) y[k] = op(x[k], k);
    }
  }
}

// dx[i] = op(dy[i], x[i]), float4 at a time when `vec`.
template <class Op>
__global__ void map2Kernel(const float* __restrict__ g, const float* __restrict__ x, float* __restrict__ y, int64_t n,
                           Op op, bool vec) {
  const int64_t nq = (n + 3) / 4;
  S4_GRID_STRIDE(q, nq) {
    const int64_t i = 4 * q;
    if (vec && i + 4 <= n) {
      const float4 a = reinterpret_cast<const float4*>(g)[q];
      const float4 b = reinterpret_cast<const float4*>(x)[q];
      float4 v;
      v.x = op(a.x, b.x); v.y = op(a.y, b.y); v.z = op(a.z, b.z); v.w = op(a.w, b.w);
      reinterpret_cast<float4*>(y)[q] = v;
    } else {
      for (int64_t k = i; k < min(n, i + 4); ++k) y[k] = op(g[k], x[k]);
    }
  }
}

template <class Op>
void launchMap(const float* x, float* y, int64_t n, Op op, const char* name) {
  if (n <= 0) return;
  mapKernel<<<gridFor((n + 3) / 4), kThreads, 0, stream()>>>(x, y, n, op, aligned16(x) && aligned16(y));
  S4_CUDA_CHECK_LAUNCH(name);
}

template <class Op>
void launchMap2(const float* g, const float* x, float* y, int64_t n, Op op, const char* name) {
  if (n <= 0) return;
  map2Kernel<<<gridFor((n + 3) / 4), kThreads, 0, stream()>>>(g, x, y, n, op, aligned16(g) && aligned16(x) && aligned16(y));
  S4_CUDA_CHECK_LAUNCH(name);
}

struct GeluErf {
  __device__ float operator()(float v, int64_t) const { return nn::geluErf(v); }
};
struct GeluTanh {
  __device__ float operator()(float v, int64_t) const { return nn::geluTanh(v); }
};
struct GeluErfGrad {
  __device__ float operator()(float g, float v) const { return g * nn::geluErfGrad(v); }
};
struct GeluTanhGrad {
  __device__ float operator()(float g, float v) const { return g * nn::geluTanhGrad(v); }
};
// Element i of [rows, L] takes the mask value of its row i / L.
struct TiedDropout {
  float p, scale;
  uint64_t key;
  int64_t L;
  __device__ float operator()(float v, int64_t i) const { return nn::dropoutElement(v, key, uint64_t(i / L), p, scale); }
};

struct Dropout {
  float p, scale;
  uint64_t key;
  __device__ float operator()(float v, int64_t i) const { return nn::dropoutElement(v, key, uint64_t(i), p, scale); }
};

// GLU on [outer, 2 * R, ...] rows of R = half * inner: vectorized when R % 4 == 0.
__global__ void gluFwdKernel(const float* __restrict__ x, float* __restrict__ y, int64_t outer, int64_t R, bool vec) {
  if (vec) {
    const int64_t R4 = R / 4;
    S4_GRID_STRIDE(q, outer * R4) {
      const int64_t o = q / R4, j = q % R4;
      const float4 a = reinterpret_cast<const float4*>(x + o * 2 * R)[j];
      const float4 g = reinterpret_cast<const float4*>(x + o * 2 * R + R)[j];
      float4 v;
      v.x = a.x / (1.f + expf(-g.x)); v.y = a.y / (1.f + expf(-g.y));
      v.z = a.z / (1.f + expf(-g.z)); v.w = a.w / (1.f + expf(-g.w));
      reinterpret_cast<float4*>(y)[q] = v;
    }
  } else {
    S4_GRID_STRIDE(t, outer * R) {
      const int64_t o = t / R, j = t % R;
      y[t] = x[o * 2 * R + j] / (1.f + expf(-x[o * 2 * R + R + j]));
    }
  }
}

__device__ __forceinline__ void gluBwdOne(float a, float g, float d, float& da, float& dg) {
  float s, r;
  nn::sigmoidPair(g, s, r);
  da = d * s;
  dg = d * a * s * r;
}

// Four neighbours per thread (R % 4 == 0, aligned): one index division per four elements,
// 16-byte loads and stores.
__global__ void gluBwdVec4Kernel(const float4* __restrict__ dy, const float4* __restrict__ x, float4* __restrict__ dx,
                                 int64_t outer, int64_t R4) {
  S4_GRID_STRIDE(q, outer * R4) {
    const int64_t o = q / R4, j = q % R4;
    const float4 a = x[o * 2 * R4 + j], g = x[o * 2 * R4 + R4 + j], d = dy[q];
    float4 da, dg;
    gluBwdOne(a.x, g.x, d.x, da.x, dg.x);
    gluBwdOne(a.y, g.y, d.y, da.y, dg.y);
    gluBwdOne(a.z, g.z, d.z, da.z, dg.z);
    gluBwdOne(a.w, g.w, d.w, da.w, dg.w);
    dx[o * 2 * R4 + j] = da;
    dx[o * 2 * R4 + R4 + j] = dg;
  }
}

__global__ void gluBwdKernel(const float* __restrict__ dy, const float* __restrict__ x, float* __restrict__ dx,
                             int64_t outer, int64_t R) {
  S4_GRID_STRIDE(t, outer * R) {
    const int64_t o = t / R, j = t % R;
    gluBwdOne(x[o * 2 * R + j], x[o * 2 * R + R + j], dy[t], dx[o * 2 * R + j], dx[o * 2 * R + R + j]);
  }
}

}  // namespace

void geluForward(const float* x, float* y, int64_t n, bool approximateTanh) {
  if (approximateTanh) launchMap(x, y, n, GeluTanh{}, "geluForward");
  else launchMap(x, y, n, GeluErf{}, "geluForward");
}

void geluBackward(const float* dy, const float* x, float* dx, int64_t n, bool approximateTanh) {
  if (approximateTanh) launchMap2(dy, x, dx, n, GeluTanhGrad{}, "geluBackward");
  else launchMap2(dy, x, dx, n, GeluErfGrad{}, "geluBackward");
}

void gluForward(const float* x, float* y, int64_t outer, int64_t half, int64_t inner) {
  const int64_t R = half * inner;
  const bool vec = R % 4 == 0 && aligned16(x) && aligned16(y);
  gluFwdKernel<<<gridFor(vec ? outer * R / 4 : outer * R), kThreads, 0, stream()>>>(x, y, outer, R, vec);
  S4_CUDA_CHECK_LAUNCH("gluForward");
}

void gluBackward(const float* dy, const float* x, float* dx, int64_t outer, int64_t half, int64_t inner) {
  const int64_t R = half * inner;
  if (R % 4 == 0 && aligned16(dy) && aligned16(x) && aligned16(dx)) {
    gluBwdVec4Kernel<<<gridFor(outer * R / 4), kThreads, 0, stream()>>>(reinterpret_cast<const float4*>(dy),
                                                                       reinterpret_cast<const float4*>(x),
                                                                       reinterpret_cast<float4*>(dx), outer, R / 4);
  } else {
    gluBwdKernel<<<gridFor(outer * R), kThreads, 0, stream()>>>(dy, x, dx, outer, R);
  }
  S4_CUDA_CHECK_LAUNCH("gluBackward");
}

void dropout(const float* x, float* y, int64_t n, float p, float scale, uint64_t key) {
  launchMap(x, y, n, Dropout{p, scale, key}, "dropout");
}

void dropoutTied(const float* x, float* y, int64_t rows, int64_t L, float p, float scale, uint64_t key) {
  // Memory bound: the division by L per element costs less than the load it sits beside.
  launchMap(x, y, rows * L, TiedDropout{p, scale, key, L}, "dropoutTied");
}

}  // namespace s4::cuda
