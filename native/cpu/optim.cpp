// CPU twin of the AdamW step (spec: native/binding/optim.cpp).
#include <cstdint>

#include "../common/adamw.h"
#include "../common/parallel.h"

namespace s4::cpu {

void adamwUpdate(float* param, const float* grad, float* m, float* v, int64_t n, const nn::AdamWConstants& c) {
  parallelFor(n, 16384, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) nn::adamwElement(param[i], grad[i], m[i], v[i], c);
  });
}

}  // namespace s4::cpu
