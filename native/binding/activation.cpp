// Activations: GELU (exact erf or tanh form), GLU over a split dimension, and dropout with
// a counter-based mask (native/common/dropout_mask.h) that the backward recomputes instead
// of storing. Twins: native/cpu/activation.cpp, native/cuda/activation.cu.
#include <string>

#include "../common/dropout_mask.h"
#include "dispatch.h"
#include "dropout_args.h"
#include "op_spec.h"

// approximateTanh false: x * Phi(x) (exact erf, PyTorch's default); true: the tanh form.
S4_TWIN(void, geluForward, (const float* x, float* y, int64_t n, bool approximateTanh))
S4_TWIN(void, geluBackward, (const float* dy, const float* x, float* dx, int64_t n, bool approximateTanh))
// GLU on x viewed as [outer, 2*half, inner]: y[o, i, j] = a * sigmoid(b) with
// a = x[o, i, j], b = x[o, half + i, j]; y is [outer, half, inner].
S4_TWIN(void, gluForward, (const float* x, float* y, int64_t outer, int64_t half, int64_t inner))
S4_TWIN(void, gluBackward, (const float* dy, const float* x, float* dx, int64_t outer, int64_t half, int64_t inner))
// Element i is kept iff nn::dropoutUniform(key, i) >= p, kept values multiplied by scale
// (= 1/(1-p)). The same call applied to dy is the backward.
S4_TWIN(void, dropout, (const float* x, float* y, int64_t n, float p, float scale, uint64_t key))
// Tied dropout of rows x [rows, L]: one mask value per row, shared by its L elements (row r
// kept iff nn::dropoutUniform(key, r) >= p), as torch.nn.Dropout1d drops whole channels of
// [B, H, L]; the mask of row r equals element r of the untied mask.
S4_TWIN(void, dropoutTied, (const float* x, float* y, int64_t rows, int64_t L, float p, float scale, uint64_t key))

namespace s4::binding {

namespace {

// GELU's element count and form.
OpSpec& geluArgs(OpSpec& s) { return s.count("n").choice("approximate", {"none", "tanh"}); }

// GLU over [outer, 2 half, inner] -> [outer, half, inner].
OpSpec& gluSizes(OpSpec& s) { return s.dim("outer").dim("half").dim("inner"); }

}  // namespace

S4_OP(geluForward, "activation") {
  return OpSpec().in("x", {"n"}).out("out", {"n"}).with(geluArgs).run([](Call& c) {
    S4_DISPATCH(c.device(), geluForward(c.in("x"), c.out("out"), c.dim("n"), c.choice("approximate") == 1));
  });
}

S4_OP(geluBackward, "activation") {
  return OpSpec().in("gradOut", {"n"}).in("x", {"n"}).out("gradX", {"n"}).with(geluArgs).run([](Call& c) {
    S4_DISPATCH(c.device(),
                geluBackward(c.in("gradOut"), c.in("x"), c.out("gradX"), c.dim("n"), c.choice("approximate") == 1));
  });
}

S4_OP(gluForward, "activation") {
  return OpSpec()
      .in("x", {"outer", "2*half", "inner"}).out("out", {"outer", "half", "inner"})
      .with(gluSizes)
      .run([](Call& c) {
        S4_DISPATCH(c.device(), gluForward(c.in("x"), c.out("out"), c.dim("outer"), c.dim("half"), c.dim("inner")));
      });
}

S4_OP(gluBackward, "activation") {
  return OpSpec()
      .in("gradOut", {"outer", "half", "inner"}).in("x", {"outer", "2*half", "inner"})
      .out("gradX", {"outer", "2*half", "inner"})
      .with(gluSizes)
      .run([](Call& c) {
        S4_DISPATCH(c.device(), gluBackward(c.in("gradOut"), c.in("x"), c.out("gradX"), c.dim("outer"), c.dim("half"),
                                            c.dim("inner")));
      });
}

// y = x * mask / (1 - p), the mask fixed by (seed, step); the backward is the same call on dy.
S4_OP(dropout, "activation") {
  return OpSpec().in("x", {"n"}).out("out", {"n"}).count("n").with(dropoutArgs).run([](Call& c) {
    const DropoutDraw d = dropoutDraw(c);
    S4_DISPATCH(c.device(), dropout(c.in("x"), c.out("out"), c.dim("n"), d.p, d.scale, d.key));
  });
}

// The same with one mask value per row of [rows, L]; the backward is the same call on dy.
S4_OP(dropoutTied, "activation") {
  return OpSpec().in("x", {"rows", "L"}).out("out", {"rows", "L"}).dim("rows").dim("L").with(dropoutArgs).run([](Call& c) {
    const DropoutDraw d = dropoutDraw(c);
    S4_DISPATCH(c.device(), dropoutTied(c.in("x"), c.out("out"), c.dim("rows"), c.dim("L"), d.p, d.scale, d.key));
  });
}

}  // namespace s4::binding
