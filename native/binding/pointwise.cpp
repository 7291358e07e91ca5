// Elementwise ops on flat float arrays (autograd's gradient sums and seeds, scalar losses,
// parameter transforms). Counts are in floats: a complex64 tensor of n elements is 2n.
// Twins: native/cpu/pointwise.cpp, native/cuda/pointwise.cu.
#include "dispatch.h"
#include "op_spec.h"

S4_TWIN(void, fill, (float* out, float value, int64_t n))
// out = alpha * a + beta * b (b may be null: out = alpha * a). out may alias a or b.
S4_TWIN(void, axpby, (float* out, const float* a, float alpha, const float* b, float beta, int64_t n))
S4_TWIN(void, mul, (float* out, const float* a, const float* b, int64_t n))
// out[0] = sum of a (accumulated in double on the CPU, in a fixed-order tree on the GPU).
S4_TWIN(void, sum, (float* out, const float* a, int64_t n))
// out[i] = scalar[0] * scale
S4_TWIN(void, broadcastScalar, (float* out, const float* scalar, float scale, int64_t n))
// The running mean of a token stream, one token per call: sum += x, count += 1 and
// mean = sum * (1 / count) with 1 / count rounded once to float (as a scale of 1 / count
// passed to axpby is). count is a float per element, exact to 2^24 tokens; keeping it on
// the device lets a captured graph step the mean with no argument that changes per token.
S4_TWIN(void, runningMean, (float* sum, float* count, const float* x, float* mean, int64_t n))
// y = exp(x) (its backward dy * y is a mul).
S4_TWIN(void, expForward, (const float* x, float* y, int64_t n))
// z (complex64, 2n floats) from float parts; a null part is zero. Backward: complexParts.
S4_TWIN(void, complexFromParts, (const float* re, const float* im, float* z, int64_t n))
// Real and imaginary parts of z (either output may be null). Backward: complexFromParts.
S4_TWIN(void, complexParts, (const float* z, float* re, float* im, int64_t n))

namespace s4::binding {

S4_OP(fill, "pointwise") {
  return OpSpec().out("out", {"n"}).number("value").count("n", 0).run([](Call& c) {
    S4_DISPATCH(c.device(), fill(c.out("out"), float(c.number("value")), c.dim("n")));
  });
}

S4_OP(axpby, "pointwise") {
  return OpSpec()
      .out("out", {"n"})
      .in("a", {"n"})
      .number("alpha")
      .optionalIn("b", {"n"})
      .number("beta")
      .count("n", 0)
      .run([](Call& c) {
        S4_DISPATCH(c.device(), axpby(c.out("out"), c.in("a"), float(c.number("alpha")), c.optionalIn("b"),
                                      float(c.number("beta")), c.dim("n")));
      });
}

S4_OP(mul, "pointwise") {
  return OpSpec().out("out", {"n"}).in("a", {"n"}).in("b", {"n"}).count("n", 0).run([](Call& c) {
    S4_DISPATCH(c.device(), mul(c.out("out"), c.in("a"), c.in("b"), c.dim("n")));
  });
}

S4_OP(sum, "pointwise") {
  return OpSpec().out("out", {"1"}).in("a", {"n"}).count("n", 0).run([](Call& c) {
    S4_DISPATCH(c.device(), sum(c.out("out"), c.in("a"), c.dim("n")));
  });
}

S4_OP(runningMean, "pointwise") {
  return OpSpec()
      .inOut("sum", {"n"})
      .inOut("count", {"n"})
      .in("x", {"n"})
      .out("mean", {"n"})
      .count("n", 0)
      .run([](Call& c) {
        S4_DISPATCH(c.device(), runningMean(c.inOut("sum"), c.inOut("count"), c.in("x"), c.out("mean"), c.dim("n")));
      });
}

S4_OP(broadcastScalar, "pointwise") {
  return OpSpec().out("out", {"n"}).in("scalar", {"1"}).number("scale").count("n", 0).run([](Call& c) {
    S4_DISPATCH(c.device(), broadcastScalar(c.out("out"), c.in("scalar"), float(c.number("scale")), c.dim("n")));
  });
}

S4_OP(expForward, "pointwise") {
  return OpSpec().in("x", {"n"}).out("out", {"n"}).count("n").run([](Call& c) {
    S4_DISPATCH(c.device(), expForward(c.in("x"), c.out("out"), c.dim("n")));
  });
}

S4_OP(complexFromParts, "pointwise") {
  return OpSpec()
      .optionalIn("re", {"n"})
      .optionalIn("im", {"n"})
      .out("out", {"n"}, DType::C64)
      .count("n")
      .run([](Call& c) {
        S4_DISPATCH(c.device(), complexFromParts(c.optionalIn("re"), c.optionalIn("im"), c.out("out"), c.dim("n")));
      });
}

S4_OP(complexParts, "pointwise") {
  return OpSpec()
      .in("z", {"n"}, DType::C64)
      .optionalOut("re", {"n"})
      .optionalOut("im", {"n"})
      .count("n")
      .run([](Call& c) {
        S4_DISPATCH(c.device(), complexParts(c.in("z"), c.optionalOut("re"), c.optionalOut("im"), c.dim("n")));
      });
}

}  // namespace s4::binding
