// One tensor of a multi-tensor AdamW step (native/binding/adamw_multi.cpp): its four
// buffers of n floats and its constants, computed on the host exactly as the one-tensor op
// computes them (nn::adamwConstants), so that every element goes through nn::adamwElement
// with the same floats as a call of adamwUpdate on that tensor alone.
#pragma once
#include <cstdint>

#include "adamw.h"

namespace s4::nn {

struct AdamWTensor {
  float* param;
  const float* grad;
  float* m;
  float* v;
  int64_t n;
  AdamWConstants c;
};

}  // namespace s4::nn
