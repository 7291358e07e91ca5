// Dense products: the raw GEMM and the linear layers built on it, row-major
// (linear: x [M, K] -> [M, N]) and channel-major (linearChannels: x [B, H, L] -> [B, O, L],
// the position-wise linear of an S4 block). Twins: native/cpu/linear.cpp and
// native/cuda/linear.cu; the gemm op's twins are the GEMM engines themselves
// (native/cpu/gemm.cpp, native/cuda/gemm.cu). Which engine a device uses: nnInfo
// (native/binding/addon.cpp).
#include <string>

#include "../common/error.h"
#include "../common/gemm_args.h"
#include "dispatch.h"
#include "op_spec.h"

// C = alpha * op(A) op(B) + beta * C over a batch, or its batch-reduce (GemmArgs).
S4_TWIN(void, gemm, (const GemmArgs& g))
// y [M, N] = x [M, K] W^T + bias, W [N, K], bias [N] (may be null).
S4_TWIN(void, linearForward, (const float* x, const float* w, const float* bias, float* y, int64_t M, int64_t K, int64_t N))
// Any of dx [M, K], dw [N, K], db [N] may be null (not wanted). Outputs are overwritten.
S4_TWIN(void, linearBackward,
        (const float* dy, const float* x, const float* w, float* dx, float* dw, float* db, int64_t M, int64_t K, int64_t N))
// y[b, o, l] = sum_h W[o, h] x[b, h, l] + bias[o]: x [B, H, L], W [O, H], bias [O] (may be
// null), y [B, O, L].
S4_TWIN(void, linearChannelsForward,
        (const float* x, const float* w, const float* bias, float* y, int64_t B, int64_t H, int64_t L, int64_t O))
// Any of dx [B, H, L], dw [O, H], db [O] may be null. Outputs are overwritten.
S4_TWIN(void, linearChannelsBackward,
        (const float* dy, const float* x, const float* w, float* dx, float* dw, float* db, int64_t B, int64_t H,
         int64_t L, int64_t O))

namespace s4::binding {

namespace {

// The product's output must not be one of its operands (it is written while they are read).
OpSpec& forwardDistinct(OpSpec& s) { return s.distinct("out", "x").distinct("out", "weight"); }
OpSpec& backwardDistinct(OpSpec& s) {
  return s.distinct("gradX", "gradOut").distinct("gradX", "weight").distinct("gradWeight", "gradOut")
      .distinct("gradWeight", "x");
}

}  // namespace

// Dense row-major matrices, `batch` of each back to back: A holds [M, K] per batch ([K, M]
// when transA), B [K, N] ([N, K] when transB), C [M, N]. cBatch = batch: one product per
// batch; cBatch = 1: the sum of the products of all batches (a batch-reduce GEMM, e.g.
// dW = sum_b dY_b X_b^T). beta = 0 ignores C's old contents.
S4_OP(gemm, "linear") {
  return OpSpec()
      .in("A", {"batch", "M", "K"}).in("B", {"batch", "K", "N"}).inOut("C", {"cBatch", "M", "N"})
      .flag("transA").flag("transB")
      .dim("M").dim("N").dim("K")
      .number("alpha").number("beta")
      .dim("batch").dim("cBatch")
      .distinct("C", "A").distinct("C", "B")
      .run([](Call& c) {
        const int64_t M = c.dim("M"), N = c.dim("N"), K = c.dim("K");
        const int64_t batch = c.dim("batch"), cBatch = c.dim("cBatch");
        if (cBatch != batch && cBatch != 1)
          failRange("gemm: argument 'cBatch' must be 'batch' (" + std::to_string(batch) +
                    ", one product per batch) or 1 (their sum) (got " + std::to_string(cBatch) + ")");
        GemmArgs g;
        g.transA = c.flag("transA");
        g.transB = c.flag("transB");
        g.M = M; g.N = N; g.K = K;
        g.alpha = float(c.number("alpha"));
        g.beta = float(c.number("beta"));
        g.A = c.in("A"); g.lda = g.transA ? M : K; g.strideA = M * K;
        g.B = c.in("B"); g.ldb = g.transB ? K : N; g.strideB = K * N;
        g.C = c.inOut("C"); g.ldc = N; g.strideC = M * N;
        g.batch = batch;
        g.reduceBatch = cBatch == 1 && batch > 1;
        S4_DISPATCH(c.device(), gemm(g));
      });
}

S4_OP(linearForward, "linear") {
  return OpSpec()
      .in("x", {"M", "K"}).in("weight", {"N", "K"}).optionalIn("bias", {"N"})
      .out("out", {"M", "N"})
      .dim("M").dim("K").dim("N")
      .with(forwardDistinct)
      .run([](Call& c) {
        S4_DISPATCH(c.device(), linearForward(c.in("x"), c.in("weight"), c.optionalIn("bias"), c.out("out"), c.dim("M"),
                                              c.dim("K"), c.dim("N")));
      });
}

S4_OP(linearBackward, "linear") {
  return OpSpec()
      .in("gradOut", {"M", "N"}).in("x", {"M", "K"}).in("weight", {"N", "K"})
      .optionalOut("gradX", {"M", "K"}).optionalOut("gradWeight", {"N", "K"}).optionalOut("gradBias", {"N"})
      .dim("M").dim("K").dim("N")
      .with(backwardDistinct)
      .run([](Call& c) {
        S4_DISPATCH(c.device(), linearBackward(c.in("gradOut"), c.in("x"), c.in("weight"), c.optionalOut("gradX"),
                                               c.optionalOut("gradWeight"), c.optionalOut("gradBias"), c.dim("M"),
                                               c.dim("K"), c.dim("N")));
      });
}

S4_OP(linearChannelsForward, "linear") {
  return OpSpec()
      .in("x", {"B", "H", "L"}).in("weight", {"O", "H"}).optionalIn("bias", {"O"})
      .out("out", {"B", "O", "L"})
      .dim("B").dim("H").dim("L").dim("O")
      .with(forwardDistinct)
      .run([](Call& c) {
        S4_DISPATCH(c.device(), linearChannelsForward(c.in("x"), c.in("weight"), c.optionalIn("bias"), c.out("out"),
                                                      c.dim("B"), c.dim("H"), c.dim("L"), c.dim("O")));
      });
}

S4_OP(linearChannelsBackward, "linear") {
  return OpSpec()
      .in("gradOut", {"B", "O", "L"}).in("x", {"B", "H", "L"}).in("weight", {"O", "H"})
      .optionalOut("gradX", {"B", "H", "L"}).optionalOut("gradWeight", {"O", "H"}).optionalOut("gradBias", {"O"})
      .dim("B").dim("H").dim("L").dim("O")
      .with(backwardDistinct)
      .run([](Call& c) {
        S4_DISPATCH(c.device(), linearChannelsBackward(c.in("gradOut"), c.in("x"), c.in("weight"), c.optionalOut("gradX"),
                                                       c.optionalOut("gradWeight"), c.optionalOut("gradBias"), c.dim("B"),
                                                       c.dim("H"), c.dim("L"), c.dim("O")));
      });
}

}  // namespace s4::binding
