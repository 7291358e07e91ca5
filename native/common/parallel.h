// A small persistent thread pool for the CPU backend. parallelFor splits [0, n) into
// contiguous chunks of at least `grain` items and runs fn(begin, end) on each; it returns
// when all chunks are done. Calls from inside a running chunk execute serially (no
// nested fan-out), so kernels may call each other freely.
#pragma once
#include <cstdint>
#include <functional>

namespace s4::cpu {

int threadCount();
void parallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace s4::cpu
