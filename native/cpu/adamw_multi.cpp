// CPU twin of the multi-tensor AdamW step (spec: native/binding/adamw_multi.cpp). The work
// is cut into chunks of at most kChunk floats of one tensor, fixed by the sizes alone; each
// element is independent, so the result does not depend on the thread count either way.
#include <cstdint>
#include <vector>

#include "../common/adamw_multi.h"
#include "../common/parallel.h"

namespace s4::cpu {
namespace {

constexpr int64_t kChunk = 16384;  // the grain of the one-tensor twin (native/cpu/optim.cpp)

struct Chunk {
  const nn::AdamWTensor* t;
  int64_t begin, end;
};

}  // namespace

void adamwMultiUpdate(const nn::AdamWTensor* tensors, int64_t count) {
  std::vector<Chunk> chunks;
  for (int64_t k = 0; k < count; ++k) {
    const nn::AdamWTensor& t = tensors[k];
    for (int64_t b = 0; b < t.n; b += kChunk) chunks.push_back({&t, b, b + kChunk < t.n ? b + kChunk : t.n});
  }
  parallelFor(int64_t(chunks.size()), 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const nn::AdamWTensor& t = *chunks[c].t;
      for (int64_t i = chunks[c].begin; i < chunks[c].end; ++i) nn::adamwElement(t.param[i], t.grad[i], t.m[i], t.v[i], t.c);
    }
  });
}

}  // namespace s4::cpu
