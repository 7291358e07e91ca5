// CPU twin of the multi-tensor AdamW step (spec: native/binding/adamw_multi.cpp). The
// tensors are laid end to end in one index space of floats, cut into chunks of kChunk floats
// (fixed by the sizes alone), so that many small tensors make one task and a large one many.
// Each element is independent, so the result does not depend on the chunks or the thread
// count either way.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "../common/adamw_multi.h"
#include "../common/parallel.h"

namespace s4::cpu {
namespace {

constexpr int64_t kChunk = 16384;  // the grain of the one-tensor twin (native/cpu/optim.cpp)

}  // namespace

void adamwMultiUpdate(const nn::AdamWTensor* tensors, int64_t count) {
  // start[k]: the index of tensor k's first float in the joined index space.
  std::vector<int64_t> start(size_t(count) + 1, 0);
  for (int64_t k = 0; k < count; ++k) start[k + 1] = start[k] + std::max<int64_t>(tensors[k].n, 0);
  const int64_t total = start[count];
  parallelFor((total + kChunk - 1) / kChunk, 1, [&](int64_t c0, int64_t c1) {
    const int64_t lo = c0 * kChunk, hi = std::min(total, c1 * kChunk);
    // The tensor holding index lo: the last whose start is <= lo.
    int64_t k = int64_t(std::upper_bound(start.begin(), start.end(), lo) - start.begin()) - 1;
    for (int64_t at = lo; at < hi; ++k) {
      const nn::AdamWTensor& t = tensors[k];
      const int64_t end = std::min(hi, start[k + 1]);
      for (int64_t i = at - start[k]; i < end - start[k]; ++i) nn::adamwElement(t.param[i], t.grad[i], t.m[i], t.v[i], t.c);
      at = end;
    }
  });
}

}  // namespace s4::cpu
