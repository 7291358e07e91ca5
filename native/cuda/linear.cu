// CUDA twins of the linear layers (spec: native/binding/linear.cpp), on the GEMM engine of
// gemm.cu. The bias is added by a kernel of its own after the product; bias gradients are
// column or channel sums in two fixed-order stages (kernel_common.cuh), not float atomics.
#include <algorithm>
#include <cstdint>

#include "gemm.h"
#include "kernel_common.cuh"

namespace s4::cuda {
namespace {

__global__ void addBiasKernel(float* y, const float* bias, int64_t n, int64_t inner, int64_t count) {
  // y viewed as [*, count, inner]: y[t] += bias[(t / inner) % count].
  S4_GRID_STRIDE(t, n) y[t] += bias[(t / inner) % count];
}

// y [rows, inner], rows = outer x count: y[r, :] += bias[r % count], a block per row. The
// flat form above spends most of its time on the 64-bit t / inner % count of every element
// (181 us for the 128 MB of a block's linear output at B 4, 2H 512, L 16384 on an H200,
// 27% of DRAM bandwidth); here the division is once per row.
__global__ void addBiasChannelRowsKernel(float* __restrict__ y, const float* __restrict__ bias, int64_t rows,
                                         int64_t inner, int64_t count, bool vec) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const float b = bias[r % count];
    float* row = y + r * inner;
    if (vec) {
      float4* row4 = reinterpret_cast<float4*>(row);
      for (int64_t j = threadIdx.x; j < inner / 4; j += blockDim.x) {
        float4 v = row4[j];
        v.x += b; v.y += b; v.z += b; v.w += b;
        row4[j] = v;
      }
    } else {
      for (int64_t j = threadIdx.x; j < inner; j += blockDim.x) row[j] += b;
    }
  }
}

__global__ void addBiasRowsVec4Kernel(float4* y, const float4* bias, int64_t n4, int64_t N4) {
  S4_GRID_STRIDE(q, n4) {
    float4 v = y[q];
    const float4 b = bias[q % N4];
    v.x += b.x; v.y += b.y; v.z += b.z; v.w += b.w;
    y[q] = v;
  }
}

}  // namespace

void linearForward(const float* x, const float* w, const float* bias, float* y, int64_t M, int64_t K, int64_t N) {
  gemm(linearForwardGemm(x, w, y, M, K, N));
  if (!bias) return;
  if (N % 4 == 0 && aligned16(y) && aligned16(bias)) {
    const int64_t n4 = M * N / 4;
    addBiasRowsVec4Kernel<<<gridFor(n4), kThreads, 0, stream()>>>(reinterpret_cast<float4*>(y),
                                                                   reinterpret_cast<const float4*>(bias), n4, N / 4);
  } else {
    addBiasKernel<<<gridFor(M * N), kThreads, 0, stream()>>>(y, bias, M * N, 1, N);
  }
  S4_CUDA_CHECK_LAUNCH("linearForward");
}

void linearBackward(const float* dy, const float* x, const float* w, float* dx, float* dw, float* db, int64_t M,
                    int64_t K, int64_t N) {
  if (dx) gemm(linearDxGemm(dy, w, dx, M, K, N));
  if (dw) gemm(linearDwGemm(dy, x, dw, M, K, N));
  if (db) columnSums(ColumnOf{dy, N}, M, N, db, nullptr);
}

void linearChannelsForward(const float* x, const float* w, const float* bias, float* y, int64_t B, int64_t H,
                           int64_t L, int64_t O) {
  // One position: [B, H, 1] is the row-major [B, H], and a single GEMM over the batch beats B
  // one-column products (the single-token step of a model).
  if (L == 1) return linearForward(x, w, bias, y, B, H, O);
  gemm(linearChannelsForwardGemm(x, w, y, B, H, L, O));
  if (!bias) return;
  if (L >= 32) {
    const bool vec = L % 4 == 0 && aligned16(y);
    const unsigned grid = unsigned(std::min<int64_t>(B * O, int64_t(1) << 20));
    addBiasChannelRowsKernel<<<grid, kThreads, 0, stream()>>>(y, bias, B * O, L, O, vec);
  } else {
    addBiasKernel<<<gridFor(B * O * L), kThreads, 0, stream()>>>(y, bias, B * O * L, L, O);
  }
  S4_CUDA_CHECK_LAUNCH("linearChannelsForward");
}

void linearChannelsBackward(const float* dy, const float* x, const float* w, float* dx, float* dw, float* db,
                            int64_t B, int64_t H, int64_t L, int64_t O) {
  // As in the forward, one position is the row-major linear of [B, H].
  if (L == 1) return linearBackward(dy, x, w, dx, dw, db, B, H, O);
  if (dx) gemm(linearChannelsDxGemm(dy, w, dx, B, H, L, O));
  if (dw) gemm(linearChannelsDwGemm(dy, x, dw, B, H, L, O));
  if (db) channelSums(ChannelOf{dy, O, L}, B, O, L, db, nullptr);
}

}  // namespace s4::cuda
