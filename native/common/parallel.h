// A small persistent thread pool for the CPU backend. parallelFor splits [0, n) into
// contiguous chunks of at least `grain` items and runs fn(begin, end) on each; it returns
// when all chunks are done. Calls from inside a running chunk execute serially (no
// nested fan-out), so kernels may call each other freely.
#pragma once
#include <algorithm>
#include <cstdint>
#include <functional>
#include <vector>

namespace s4::cpu {

int threadCount();
void parallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

// out0[c] = sum_r f(r, c).first, out1[c] = sum_r f(r, c).second over a [rows, cols] domain,
// in double, deterministically (row blocks fixed by the shape, added in order). out1 may be
// null. Parameter gradients (bias, layer-norm weight) are such sums.
template <class F>
void columnSums(int64_t rows, int64_t cols, F f, float* out0, float* out1) {
  if (cols <= 0) return;
  const int64_t blocks = std::max<int64_t>(1, std::min<int64_t>(64, rows / 256));
  std::vector<double> p0(size_t(blocks * cols), 0.0), p1(out1 ? size_t(blocks * cols) : 0, 0.0);
  parallelFor(blocks, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t blk = b0; blk < b1; ++blk) {
      const int64_t r0 = rows * blk / blocks, r1 = rows * (blk + 1) / blocks;
      double* a0 = p0.data() + blk * cols;
      double* a1 = out1 ? p1.data() + blk * cols : nullptr;
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t c = 0; c < cols; ++c) {
          auto v = f(r, c);
          a0[c] += v.first;
          if (a1) a1[c] += v.second;
        }
    }
  });
  for (int64_t c = 0; c < cols; ++c) {
    double s0 = 0, s1 = 0;
    for (int64_t blk = 0; blk < blocks; ++blk) {
      s0 += p0[size_t(blk * cols + c)];
      if (out1) s1 += p1[size_t(blk * cols + c)];
    }
    out0[c] = float(s0);
    if (out1) out1[c] = float(s1);
  }
}

}  // namespace s4::cpu
