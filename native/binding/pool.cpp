// Pooling over the last dimension: the mean of each row, or its last element (the causal
// summary of a sequence). Twins: native/cpu/pool.cpp, native/cuda/pool.cu.
#include "dispatch.h"
#include "op_spec.h"

// x [B, H, L] -> y [B, H] (mean over L); backward spreads dy / L.
S4_TWIN(void, meanPoolForward, (const float* x, float* y, int64_t B, int64_t H, int64_t L))
S4_TWIN(void, meanPoolBackward, (const float* dy, float* dx, int64_t B, int64_t H, int64_t L))
// x [rows, L] -> y [rows] = x[:, L-1]; backward: dx zero except dx[r, L-1] = dy[r].
S4_TWIN(void, lastPoolForward, (const float* x, float* y, int64_t rows, int64_t L))
S4_TWIN(void, lastPoolBackward, (const float* dy, float* dx, int64_t rows, int64_t L))

namespace s4::binding {

S4_OP(meanPoolForward, "pool") {
  return OpSpec().in("x", {"B", "H", "L"}).out("out", {"B", "H"}).dim("B").dim("H").dim("L").run([](Call& c) {
    S4_DISPATCH(c.device(), meanPoolForward(c.in("x"), c.out("out"), c.dim("B"), c.dim("H"), c.dim("L")));
  });
}

S4_OP(meanPoolBackward, "pool") {
  return OpSpec().in("gradOut", {"B", "H"}).out("gradX", {"B", "H", "L"}).dim("B").dim("H").dim("L").run([](Call& c) {
    S4_DISPATCH(c.device(), meanPoolBackward(c.in("gradOut"), c.out("gradX"), c.dim("B"), c.dim("H"), c.dim("L")));
  });
}

S4_OP(lastPoolForward, "pool") {
  return OpSpec().in("x", {"rows", "L"}).out("out", {"rows"}).dim("rows").dim("L").run([](Call& c) {
    S4_DISPATCH(c.device(), lastPoolForward(c.in("x"), c.out("out"), c.dim("rows"), c.dim("L")));
  });
}

S4_OP(lastPoolBackward, "pool") {
  return OpSpec().in("gradOut", {"rows"}).out("gradX", {"rows", "L"}).dim("rows").dim("L").run([](Call& c) {
    S4_DISPATCH(c.device(), lastPoolBackward(c.in("gradOut"), c.out("gradX"), c.dim("rows"), c.dim("L")));
  });
}

}  // namespace s4::binding
