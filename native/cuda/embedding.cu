// CUDA twins of the embedding ops (spec: native/binding/embedding.cpp). Bad indices are
// flagged on the device (an atomic off the data path) and reported as RangeError after the
// stream has finished the check. The table gradient sums each row's positions in a fixed
// order (a stable sort of the indices) rather than with float atomics.
#include <cub/cub.cuh>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <string>

#include "kernel_common.cuh"

namespace s4::cuda {
namespace {

// out [M, D] = table rows; a bad index flags its position and writes zeros.
__global__ void embeddingFwdKernel(const float* __restrict__ idx, const float* __restrict__ table,
                                   float* __restrict__ out, unsigned long long* bad, int64_t M, int64_t V, int64_t D,
                                   bool vec) {
  const int64_t per = vec ? D / 4 : D;
  S4_GRID_STRIDE(t, M * per) {
    const int64_t m = t / per, j = t % per;
    const float f = idx[m];
    const bool ok = isIndex(f, V);
    if (!ok && j == 0) atomicMin(bad, (unsigned long long)m);
    const int64_t v = ok ? int64_t(f) : 0;
    if (vec) {
      const float4 z = make_float4(0.f, 0.f, 0.f, 0.f);
      reinterpret_cast<float4*>(out + m * D)[j] = ok ? reinterpret_cast<const float4*>(table + v * D)[j] : z;
    } else {
      out[t] = ok ? table[v * D + j] : 0.f;
    }
  }
}

__global__ void embeddingKeysKernel(const float* idx, int* keys, int* positions, unsigned long long* bad, int64_t M,
                                    int64_t V) {
  S4_GRID_STRIDE(m, M) {
    const float f = idx[m];
    const bool ok = isIndex(f, V);
    if (!ok) atomicMin(bad, (unsigned long long)m);
    keys[m] = ok ? int(f) : 0;
    positions[m] = int(m);
  }
}

__device__ __forceinline__ int64_t lowerBound(const int* keys, int64_t n, int v) {
  int64_t lo = 0, hi = n;
  while (lo < hi) {
    const int64_t mid = (lo + hi) >> 1;
    if (keys[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// dtable[v, d] = sum of dy[m, d] over the positions m with index v, in increasing m (the
// keys were sorted stably, so each row's positions are contiguous and in order).
__global__ void embeddingBwdKernel(const int* sortedKeys, const int* sortedPos, const float* __restrict__ dy,
                                   float* __restrict__ dtable, int64_t M, int64_t V, int64_t D) {
  S4_GRID_STRIDE(t, V * D) {
    const int64_t v = t / D, d = t % D;
    const int64_t k0 = lowerBound(sortedKeys, M, int(v)), k1 = lowerBound(sortedKeys, M, int(v) + 1);
    float s = 0.f;
    for (int64_t k = k0; k < k1; ++k) s += dy[int64_t(sortedPos[k]) * D + d];
    dtable[t] = s;
  }
}

}  // namespace

void embeddingForward(const float* idx, const float* table, float* out, int64_t M, int64_t V, int64_t D) {
  BadFlag bad;
  const bool vec = D % 4 == 0 && aligned16(table) && aligned16(out);
  embeddingFwdKernel<<<gridFor(vec ? M * D / 4 : M * D), kThreads, 0, stream()>>>(idx, table, out, bad.device(), M,
                                                                                    V, D, vec);
  S4_CUDA_CHECK_LAUNCH("embedding");
  const int64_t m = bad.first();
  if (m >= 0)
    failRange("embedding: argument 'indices' must hold integer row indices in [0, " + std::to_string(V) + ") (got " +
              numberText(readDeviceFloat(idx + m)) + " at position " + std::to_string(m) + ")");
}

void embeddingBackward(const float* idx, const float* dy, float* dtable, int64_t M, int64_t V, int64_t D) {
  if (M > INT_MAX || V > INT_MAX) throw s4::Error("embedding: too many indices for the GPU sort", ErrorKind::Range);
  BadFlag bad;
  Workspace keys(sizeof(int) * size_t(4 * M));
  int* keysIn = keys.as<int>();
  int* posIn = keysIn + M;
  int* keysOut = posIn + M;
  int* posOut = keysOut + M;
  embeddingKeysKernel<<<gridFor(M), kThreads, 0, stream()>>>(idx, keysIn, posIn, bad.device(), M, V);
  S4_CUDA_CHECK_LAUNCH("embeddingBackward");
  const int64_t m = bad.first();
  if (m >= 0)
    failRange("embedding: argument 'indices' must hold integer row indices in [0, " + std::to_string(V) + ") (got " +
              numberText(readDeviceFloat(idx + m)) + " at position " + std::to_string(m) + ")");
  int endBit = 1;
  while (endBit < 31 && (int64_t(1) << endBit) < V) ++endBit;
  // A stable radix sort of (index, position): each table row's positions end up
  // contiguous and in increasing order, so the sums below have a fixed order.
  size_t tempBytes = 0;
  S4_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, tempBytes, keysIn, keysOut, posIn, posOut, int(M), 0, endBit,
                                                stream()));
  Workspace temp(std::max<size_t>(tempBytes, 1));
  S4_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(temp.as<void>(), tempBytes, keysIn, keysOut, posIn, posOut, int(M), 0,
                                                endBit, stream()));
  embeddingBwdKernel<<<gridFor(V * D), kThreads, 0, stream()>>>(keysOut, posOut, dy, dtable, M, V, D);
  S4_CUDA_CHECK_LAUNCH("embeddingBackward");
}

}  // namespace s4::cuda
