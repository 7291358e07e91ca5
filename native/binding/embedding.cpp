// Embedding: rows of a table picked by indices (float32 holding integers), and the
// gradient to the table as a deterministic scatter-add. Twins: native/cpu/embedding.cpp,
// native/cuda/embedding.cu.
#include "dispatch.h"
#include "op_spec.h"

// idx [M] (float32 holding row indices), table [V, D] -> out [M, D]. Throws RangeError
// naming 'indices' on an index that is not an integer in [0, V).
S4_TWIN(void, embeddingForward, (const float* idx, const float* table, float* out, int64_t M, int64_t V, int64_t D))
// dtable [V, D] = scatter-add of dy [M, D] rows (overwritten, deterministic order).
S4_TWIN(void, embeddingBackward, (const float* idx, const float* dy, float* dtable, int64_t M, int64_t V, int64_t D))

namespace s4::binding {

namespace {

// M indices into a table of V rows of D.
OpSpec& embeddingSizes(OpSpec& s) { return s.dim("M").dim("V").dim("D"); }

}  // namespace

S4_OP(embeddingForward, "embedding") {
  return OpSpec()
      .in("indices", {"M"}).in("table", {"V", "D"}).out("out", {"M", "D"})
      .with(embeddingSizes)
      .run([](Call& c) {
        S4_DISPATCH(c.device(),
                    embeddingForward(c.in("indices"), c.in("table"), c.out("out"), c.dim("M"), c.dim("V"), c.dim("D")));
      });
}

S4_OP(embeddingBackward, "embedding") {
  return OpSpec()
      .in("indices", {"M"}).in("gradOut", {"M", "D"}).out("gradTable", {"V", "D"})
      .with(embeddingSizes)
      .run([](Call& c) {
        S4_DISPATCH(c.device(), embeddingBackward(c.in("indices"), c.in("gradOut"), c.out("gradTable"), c.dim("M"),
                                                  c.dim("V"), c.dim("D")));
      });
}

}  // namespace s4::binding
