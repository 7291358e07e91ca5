// The recurrent (stepping) view of an SSM layer.
// Twins: native/cpu/scan.cpp (state held in double), native/cuda/scan.cu (all T steps in
// one launch).
//
// ssmScan: T steps of the scan whose coefficients and math are in
// native/common/scan_layout.h. coef float32 [H, 10 N2 + 2]; u, y float32 [B,H,T]. state:
// complex64 [B,H,N2] (interleaved re, im), read at the start and written at the end when
// given (null: start from zero, state not kept). gelu: y holds GELU(y_t) (exact erf form),
// the activation that follows the scan in an S4 block, so that a generation step needs no
// launch of its own for it. CUDA supports N2 <= 256 (8 states per lane).
#include <cstdint>

#include "../common/scan_layout.h"
#include "dispatch.h"
#include "op_spec.h"

S4_TWIN(void, ssmScan,
        (const float* coef, float* state, const float* u, float* y, int64_t B, int64_t H, int64_t N2, int64_t T,
         bool gelu))

namespace s4::binding {

// The coef extent below spells out scanCoefStride.
static_assert(scanCoefStride(1) == 10 * 1 + 2 && scanCoefStride(7) == 10 * 7 + 2, "coef extent of ssmScan");

S4_OP(ssmScan, "scan") {
  return OpSpec()
      .in("coef", {"H", "10*N2+2"}).optionalInOut("state", {"B", "H", "N2"}, DType::C64).in("u", {"B", "H", "T"})
      .out("y", {"B", "H", "T"})
      .dim("B", 0).dim("H").dim("N2").dim("T", 0)
      .flag("gelu")
      .run([](Call& c) {
        S4_DISPATCH(c.device(), ssmScan(c.in("coef"), c.optionalInOut("state"), c.in("u"), c.out("y"), c.dim("B"),
                                        c.dim("H"), c.dim("N2"), c.dim("T"), c.flag("gelu")));
      });
}

}  // namespace s4::binding
