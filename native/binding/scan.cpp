// The recurrent (stepping) view of an SSM layer, and the rest of a block's token after it.
// Twins: native/cpu/scan.cpp (state held in double), native/cuda/scan.cu (all T steps in
// one launch).
//
// ssmScan: T steps of the scan whose coefficients and math are in
// native/common/scan_layout.h. coef float32 [H, 10 N2 + 2]; u, y float32 [B,H,T]. state:
// complex64 [B,H,N2] (interleaved re, im), read at the start and written at the end when
// given (null: start from zero, state not kept). gelu: y holds GELU(y_t) (exact erf form),
// the activation that follows the scan in an S4 block, so that a generation step needs no
// launch of its own for it. CUDA supports N2 <= 256 (8 states per lane).
//
// stepEpilogue: the rest of a block's token after its output linear (without bias) gave
// z [B, 2H]: per row b,
//   v_h = x_h + (z_h + bias_h) sigmoid(z_{H+h} + bias_{H+h})      (GLU, residual)
//   out = normalize ? LayerNorm(v) w + lb (biased variance, eps) : v
// x, out [B, H]; bias [2H], w, lb [H] may be null (zero bias, unit weight, zero shift);
// out must not be z or x (each row is read in several passes while out is written).
#include <cstdint>
#include <limits>

#include "../common/scan_layout.h"
#include "dispatch.h"
#include "op_spec.h"

S4_TWIN(void, ssmScan,
        (const float* coef, float* state, const float* u, float* y, int64_t B, int64_t H, int64_t N2, int64_t T,
         bool gelu))
S4_TWIN(void, stepEpilogue,
        (const float* z, const float* bias, const float* x, const float* w, const float* lb, float* out, int64_t B,
         int64_t H, float eps, bool normalize))

namespace s4::binding {

// The coef extent below spells out scanCoefStride.
static_assert(scanCoefStride(1) == 10 * 1 + 2 && scanCoefStride(7) == 10 * 7 + 2, "coef extent of ssmScan");

S4_OP(ssmScan, "scan") {
  return OpSpec()
      .in("coef", {"H", "10*N2+2"})
      .optionalInOut("state", {"B", "H", "N2"}, DType::C64)
      .in("u", {"B", "H", "T"})
      .out("y", {"B", "H", "T"})
      .dim("B", 0)
      .dim("H")
      .dim("N2")
      .dim("T", 0)
      .flag("gelu")
      .run([](Call& c) {
        S4_DISPATCH(c.device(), ssmScan(c.in("coef"), c.optionalInOut("state"), c.in("u"), c.out("y"), c.dim("B"),
                                        c.dim("H"), c.dim("N2"), c.dim("T"), c.flag("gelu")));
      });
}

S4_OP(stepEpilogue, "scan") {
  return OpSpec()
      .in("z", {"B", "2*H"})
      .optionalIn("bias", {"2*H"})
      .in("x", {"B", "H"})
      .optionalIn("w", {"H"})
      .optionalIn("lb", {"H"})
      .out("out", {"B", "H"})
      .dim("B", 0)
      .dim("H")
      .number("eps", Range{0, std::numeric_limits<double>::infinity(), true, true})
      .flag("normalize")
      .distinct("out", "z")
      .distinct("out", "x")
      .run([](Call& c) {
        S4_DISPATCH(c.device(), stepEpilogue(c.in("z"), c.optionalIn("bias"), c.in("x"), c.optionalIn("w"),
                                             c.optionalIn("lb"), c.out("out"), c.dim("B"), c.dim("H"),
                                             float(c.number("eps")), c.flag("normalize")));
      });
}

}  // namespace s4::binding
