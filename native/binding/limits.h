// The size limits of every native op, in one place. A size (B, H, L, N2, ...) must fit the
// 32-bit index arithmetic of the kernels' inner loops; a buffer's element count (and a flat
// count n) is held in 64 bits everywhere, and is capped well below what a byte count can
// address, so no product of checked sizes overflows.
#pragma once
#include <cstdint>

namespace s4::binding {

constexpr int64_t kMaxDim = (int64_t(1) << 31) - 1;
constexpr int64_t kMaxElements = int64_t(1) << 40;
// Integer scalars that JS holds exactly (seeds, step counters).
constexpr int64_t kMaxSafeInteger = (int64_t(1) << 53);

}  // namespace s4::binding
