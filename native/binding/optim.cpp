// The fused AdamW step (decoupled weight decay, PyTorch order), in place on n floats:
//   p *= 1 - lr*wd;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
//   p -= lr * (m / bc1) / (sqrt(v / bc2) + eps),  bc1 = 1 - b1^step, bc2 = 1 - b2^step.
// The constants are computed once here in double (native/common/adamw.h) and every element
// goes through nn::adamwElement on both backends. Twins: native/cpu/optim.cpp,
// native/cuda/optim.cu.
#include <limits>

#include "../common/adamw.h"
#include "dispatch.h"
#include "op_spec.h"

S4_TWIN(void, adamwUpdate, (float* param, const float* grad, float* m, float* v, int64_t n, const nn::AdamWConstants& c))

namespace s4::binding {

namespace {
constexpr double kMaxFinite = std::numeric_limits<double>::max();
}  // namespace

S4_OP(adamwUpdate, "optim") {
  return OpSpec()
      .inOut("param", {"n"}).in("grad", {"n"}).inOut("m", {"n"}).inOut("v", {"n"})
      .count("n")
      .number("lr", Range{0, kMaxFinite})
      .number("beta1", Range{0, 1, false, true}).number("beta2", Range{0, 1, false, true})
      .number("eps", Range{0, kMaxFinite, true, false})
      .number("weightDecay", Range{0, kMaxFinite})
      .integer("step", 1, kMaxSafeInteger)
      .run([](Call& c) {
        const nn::AdamWConstants k = nn::adamwConstants(c.number("lr"), c.number("beta1"), c.number("beta2"),
                                                        c.number("eps"), c.number("weightDecay"),
                                                        double(c.integer("step")));
        S4_DISPATCH(c.device(), adamwUpdate(c.inOut("param"), c.in("grad"), c.inOut("m"), c.inOut("v"), c.dim("n"), k));
      });
}

}  // namespace s4::binding
