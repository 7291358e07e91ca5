// Pooling over the last dimension: the mean of each row, or its last element (the causal
// summary of a sequence); and their padding-aware forms for batches of sequences of
// different true lengths (padded to the batch's longest): the padding mask, the mean over
// the valid positions, and the last valid position. Twins: native/cpu/pool.cpp,
// native/cuda/pool.cu.
//
// lengths [B] holds the true length of each sequence as a float32 integer. Both twins read
// a value as n = clamp(trunc(v), 0, L) (NaN as 0), so junk never reads outside x; the TS
// layer (SequenceModel, lib/nn/lengths.ts) checks lengths are integers in [1, L] first.
#include "dispatch.h"
#include "op_spec.h"

// x [B, H, L] -> y [B, H] (mean over L); backward spreads dy / L.
S4_TWIN(void, meanPoolForward, (const float* x, float* y, int64_t B, int64_t H, int64_t L))
S4_TWIN(void, meanPoolBackward, (const float* dy, float* dx, int64_t B, int64_t H, int64_t L))
// x [rows, L] -> y [rows] = x[:, L-1]; backward: dx zero except dx[r, L-1] = dy[r].
S4_TWIN(void, lastPoolForward, (const float* x, float* y, int64_t rows, int64_t L))
S4_TWIN(void, lastPoolBackward, (const float* dy, float* dx, int64_t rows, int64_t L))

// x [B, H, L] -> y with y[b, h, l] = l < n_b ? x[b, h, l] : 0. The backward is the same
// map applied to the gradient. y may be x (in place).
S4_TWIN(void, lengthMask, (const float* x, const float* lengths, float* y, int64_t B, int64_t H, int64_t L))
// x [B, H, L] -> y [B, H] = mean of x[b, h, :n_b] (0 when n_b = 0); backward dx = dy / n_b
// on the valid positions, 0 on the padding.
S4_TWIN(void, maskedMeanPoolForward, (const float* x, const float* lengths, float* y, int64_t B, int64_t H, int64_t L))
S4_TWIN(void, maskedMeanPoolBackward, (const float* dy, const float* lengths, float* dx, int64_t B, int64_t H, int64_t L))
// x [B, H, L] -> y [B, H] = x[b, h, n_b - 1] (0 when n_b = 0); backward: dx zero except there.
S4_TWIN(void, maskedLastPoolForward, (const float* x, const float* lengths, float* y, int64_t B, int64_t H, int64_t L))
S4_TWIN(void, maskedLastPoolBackward, (const float* dy, const float* lengths, float* dx, int64_t B, int64_t H, int64_t L))

namespace s4::binding {
namespace {

// The arguments every padding-aware op shares, in one order.
OpSpec& lengthSizes(OpSpec& s) { return s.dim("B").dim("H").dim("L"); }

}  // namespace

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

S4_OP(lengthMask, "pool") {
  return OpSpec()
      .in("x", {"B", "H", "L"}).in("lengths", {"B"}).out("out", {"B", "H", "L"})
      .with(lengthSizes)
      .distinct("out", "lengths")
      .run([](Call& c) {
        S4_DISPATCH(c.device(), lengthMask(c.in("x"), c.in("lengths"), c.out("out"), c.dim("B"), c.dim("H"), c.dim("L")));
      });
}

S4_OP(maskedMeanPoolForward, "pool") {
  return OpSpec()
      .in("x", {"B", "H", "L"}).in("lengths", {"B"}).out("out", {"B", "H"})
      .with(lengthSizes)
      .distinct("out", "x").distinct("out", "lengths")
      .run([](Call& c) {
        S4_DISPATCH(c.device(), maskedMeanPoolForward(c.in("x"), c.in("lengths"), c.out("out"), c.dim("B"), c.dim("H"), c.dim("L")));
      });
}

S4_OP(maskedMeanPoolBackward, "pool") {
  return OpSpec()
      .in("gradOut", {"B", "H"}).in("lengths", {"B"}).out("gradX", {"B", "H", "L"})
      .with(lengthSizes)
      .distinct("gradX", "gradOut").distinct("gradX", "lengths")
      .run([](Call& c) {
        S4_DISPATCH(c.device(), maskedMeanPoolBackward(c.in("gradOut"), c.in("lengths"), c.out("gradX"), c.dim("B"), c.dim("H"), c.dim("L")));
      });
}

S4_OP(maskedLastPoolForward, "pool") {
  return OpSpec()
      .in("x", {"B", "H", "L"}).in("lengths", {"B"}).out("out", {"B", "H"})
      .with(lengthSizes)
      .distinct("out", "x").distinct("out", "lengths")
      .run([](Call& c) {
        S4_DISPATCH(c.device(), maskedLastPoolForward(c.in("x"), c.in("lengths"), c.out("out"), c.dim("B"), c.dim("H"), c.dim("L")));
      });
}

S4_OP(maskedLastPoolBackward, "pool") {
  return OpSpec()
      .in("gradOut", {"B", "H"}).in("lengths", {"B"}).out("gradX", {"B", "H", "L"})
      .with(lengthSizes)
      .distinct("gradX", "gradOut").distinct("gradX", "lengths")
      .run([](Call& c) {
        S4_DISPATCH(c.device(), maskedLastPoolBackward(c.in("gradOut"), c.in("lengths"), c.out("gradX"), c.dim("B"), c.dim("H"), c.dim("L")));
      });
}

}  // namespace s4::binding
