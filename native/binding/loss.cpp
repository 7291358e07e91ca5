// Losses and predictions: softmax cross-entropy against class labels, mean squared error,
// and the argmax over channels that scores classification outputs on the device.
// Twins: native/cpu/loss.cpp, native/cuda/loss.cu.
#include "dispatch.h"
#include "op_spec.h"

// logits [M, C], labels [M] (float32 holding class indices). loss[0] = mean over rows of
// -log softmax(logits)[label]; probs [M, C] gets the softmax (saved for backward).
// With `check`, throws RangeError naming 'labels' when a label is not an integer in [0, C),
// and a non-finite RangeError naming 'logits' for a +Infinity logit (softmax is undefined
// there), which on CUDA waits for the kernel. Without it nothing waits: such rows make the
// loss NaN (for callers that checked the labels on the host and read the loss anyway).
// -Infinity logits mask their class, NaN logits give a NaN loss.
S4_TWIN(void, crossEntropyForward,
        (const float* logits, const float* labels, float* loss, float* probs, int64_t M, int64_t C, bool check))
// dlogits = gradLoss[0] / M * (probs - onehot(labels)).
S4_TWIN(void, crossEntropyBackward,
        (const float* probs, const float* labels, const float* gradLoss, float* dlogits, int64_t M, int64_t C))
// loss[0] = mean((a - b)^2) over n; backward: da = 2 g (a - b) / n, db = -da (either null).
S4_TWIN(void, mseForward, (const float* a, const float* b, float* loss, int64_t n))
S4_TWIN(void, mseBackward, (const float* a, const float* b, const float* gradLoss, float* da, float* db, int64_t n))
// out[b, l] = the index c of the largest x[b, c, l] over the channels, as a float32 (exact:
// the spec keeps C <= 2^24); x [B, C, L], out [B, L]. Classification outputs [B, C] are the
// case L = 1. Follows the host scorer (lib/train/metrics.ts argmax) exactly, so accuracy is
// the same from either path: ties (values that compare equal, +0 and -0 included) go to the
// smallest index, a column of -inf gives 0, and a column holding any NaN gives -1 (a NaN
// output is never a correct prediction). Not differentiable; there is no backward.
S4_TWIN(void, argmaxChannels, (const float* x, float* out, int64_t B, int64_t C, int64_t L))

namespace s4::binding {

// Indices are returned as float32, which holds every integer up to 2^24 exactly.
constexpr int64_t kMaxArgmaxChannels = int64_t(1) << 24;

S4_OP(crossEntropyForward, "loss") {
  return OpSpec()
      .in("logits", {"M", "C"}).in("labels", {"M"})
      .out("loss", {"1"}).out("probs", {"M", "C"})
      .dim("M").dim("C")
      .flag("check")
      .run([](Call& c) {
        S4_DISPATCH(c.device(), crossEntropyForward(c.in("logits"), c.in("labels"), c.out("loss"), c.out("probs"),
                                                    c.dim("M"), c.dim("C"), c.flag("check")));
      });
}

S4_OP(crossEntropyBackward, "loss") {
  return OpSpec()
      .in("probs", {"M", "C"}).in("labels", {"M"}).in("gradOut", {"1"})
      .out("gradLogits", {"M", "C"})
      .dim("M").dim("C")
      .run([](Call& c) {
        S4_DISPATCH(c.device(), crossEntropyBackward(c.in("probs"), c.in("labels"), c.in("gradOut"),
                                                     c.out("gradLogits"), c.dim("M"), c.dim("C")));
      });
}

S4_OP(mseForward, "loss") {
  return OpSpec().in("a", {"n"}).in("b", {"n"}).out("loss", {"1"}).count("n").run([](Call& c) {
    S4_DISPATCH(c.device(), mseForward(c.in("a"), c.in("b"), c.out("loss"), c.dim("n")));
  });
}

S4_OP(mseBackward, "loss") {
  return OpSpec()
      .in("a", {"n"}).in("b", {"n"}).in("gradOut", {"1"})
      .optionalOut("gradA", {"n"}).optionalOut("gradB", {"n"})
      .count("n")
      .run([](Call& c) {
        S4_DISPATCH(c.device(), mseBackward(c.in("a"), c.in("b"), c.in("gradOut"), c.optionalOut("gradA"),
                                            c.optionalOut("gradB"), c.dim("n")));
      });
}

S4_OP(argmaxChannels, "loss") {
  return OpSpec()
      .in("x", {"B", "C", "L"}).out("out", {"B", "L"})
      .dim("B").dim("C", 1, kMaxArgmaxChannels).dim("L")
      .distinct("out", "x")
      .run([](Call& c) {
        S4_DISPATCH(c.device(), argmaxChannels(c.in("x"), c.out("out"), c.dim("B"), c.dim("C"), c.dim("L")));
      });
}

}  // namespace s4::binding
