// The arguments of an op that applies a dropout mask (native/common/dropout_mask.h): the rate
// p in [0, 1), the (seed, step) that fix the mask and the mask index of element 0 (`offset`:
// 0 for a whole tensor, the first element's index when the tensor is a slice of a larger
// one), declared and read the same way by every such op (dropout, residualNorm).
#pragma once
#include <cstdint>

#include "../common/dropout_mask.h"
#include "op_spec.h"

namespace s4::binding {

inline OpSpec& dropoutArgs(OpSpec& s) {
  return s.number("p", Range{0, 1, false, true}).integer("seed", 0, kMaxSafeInteger).integer("step", 0, kMaxSafeInteger)
      .integer("offset", 0, kMaxSafeInteger);
}

struct DropoutDraw {
  float p, scale;
  uint64_t key;
};

inline DropoutDraw dropoutDraw(const Call& c) {
  const float p = float(c.number("p"));
  // 1 / (1 - p) of the float p the mask compares against.
  return {p, float(1.0 / (1.0 - double(p))),
          nn::dropoutShiftKey(nn::dropoutKey(uint64_t(c.integer("seed")), uint64_t(c.integer("step"))),
                              uint64_t(c.integer("offset")))};
}

}  // namespace s4::binding
