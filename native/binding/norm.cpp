// Layer normalization: over the last dimension (layerNorm, x [rows, D]), over the channels
// of channel-major data (layerNormChannels, x [B, H, L], statistics per (b, l)), and the
// fused tail of a residual S4 block (residualNorm: the bias of the block's linear, GLU,
// dropout, residual add, layer norm over channels, in one pass). The biased variance and eps inside the square root, as
// PyTorch's LayerNorm. mean and rstd (1 / sqrt(var + eps)) are saved by the forward for the
// backward. Twins: native/cpu/norm.cpp, native/cuda/norm.cu.
#include <cstdint>

#include "../common/dropout_mask.h"
#include "../common/error.h"
#include "dispatch.h"
#include "dropout_args.h"
#include "op_spec.h"

// x [rows, D]; weight, bias [D] may be null (identity / zero); mean, rstd [rows] are written
// when not null (the backward needs them).
S4_TWIN(void, layerNormForward,
        (const float* x, const float* w, const float* b, float* y, float* mean, float* rstd, int64_t rows, int64_t D,
         float eps))
// Any of dx [rows, D], dw, db [D] may be null (not wanted). Outputs are overwritten.
S4_TWIN(void, layerNormBackward,
        (const float* dy, const float* x, const float* w, const float* mean, const float* rstd, float* dx, float* dw,
         float* db, int64_t rows, int64_t D))
// x [B, H, L], normalized over H for each (b, l); weight, bias [H]; mean, rstd [B, L] (written
// when not null).
S4_TWIN(void, layerNormChannelsForward,
        (const float* x, const float* w, const float* b, float* y, float* mean, float* rstd, int64_t B, int64_t H,
         int64_t L, float eps))
S4_TWIN(void, layerNormChannelsBackward,
        (const float* dy, const float* x, const float* w, const float* mean, const float* rstd, float* dx, float* dw,
         float* db, int64_t B, int64_t H, int64_t L))
// z [B, 2H, L], zBias [2H] (may be null: zero), x, out [B, H, L] (out is not x), w, b [H]
// (may be null), mean, rstd [B, L]:
//   u = z + zBias                                   (channel c of z gets zBias[c]: the bias of
//                                                    the linear that gave z, added here)
//   g = u[:, :H] * sigmoid(u[:, H:])               (GLU over channels, as gluForward)
//   r = x + dropout(g)                              (element (b, h, l) of g is mask element
//                                                    (b H + h) L + l of the dropout op)
//   out = normalize ? LayerNorm over H of r at each (b, l), times w plus b : r
// Dropout keeps an element iff nn::dropoutUniform(key, i) >= p and scales it by `scale`
// (= 1/(1-p)); p = 0 keeps everything. mean and rstd are written when normalize and not null.
S4_TWIN(void, residualNormForward,
        (const float* z, const float* zb, const float* x, const float* w, const float* b, float* out, float* mean,
         float* rstd, int64_t B, int64_t H, int64_t L, float p, float scale, uint64_t key, float eps, bool normalize))
// From dOut, the forward's inputs and (when normalize) its mean and rstd: dz [B, 2H, L],
// dzb [2H] (the sum of dz over b and l; dz is then computed into a workspace when null),
// dx [B, H, L], dw, db [H]; any may be null. dw and db are zero when !normalize (w and b
// are then unused).
S4_TWIN(void, residualNormBackward,
        (const float* dy, const float* z, const float* zb, const float* x, const float* w, const float* mean,
         const float* rstd, float* dz, float* dzb, float* dx, float* dw, float* db, int64_t B, int64_t H, int64_t L,
         float p, float scale, uint64_t key, bool normalize))

namespace s4::binding {

namespace {

// eps is inside the square root: in (0, 1].
constexpr Range kEps{0, 1, true, false};

// The sizes of channel-major [B, H, L] data.
OpSpec& channelSizes(OpSpec& s) { return s.dim("B").dim("H").dim("L"); }
}  // namespace

S4_OP(layerNormForward, "norm") {
  return OpSpec()
      .in("x", {"rows", "D"}).optionalIn("weight", {"D"}).optionalIn("bias", {"D"})
      .out("out", {"rows", "D"}).optionalOut("mean", {"rows"}).optionalOut("rstd", {"rows"})
      .dim("rows").dim("D")
      .number("eps", kEps)
      .run([](Call& c) {
        S4_DISPATCH(c.device(), layerNormForward(c.in("x"), c.optionalIn("weight"), c.optionalIn("bias"), c.out("out"),
                                                 c.optionalOut("mean"), c.optionalOut("rstd"), c.dim("rows"), c.dim("D"),
                                                 float(c.number("eps"))));
      });
}

S4_OP(layerNormBackward, "norm") {
  return OpSpec()
      .in("gradOut", {"rows", "D"}).in("x", {"rows", "D"}).optionalIn("weight", {"D"})
      .in("mean", {"rows"}).in("rstd", {"rows"})
      .optionalOut("gradX", {"rows", "D"}).optionalOut("gradWeight", {"D"}).optionalOut("gradBias", {"D"})
      .dim("rows").dim("D")
      .distinct("gradX", "x")
      .run([](Call& c) {
        S4_DISPATCH(c.device(), layerNormBackward(c.in("gradOut"), c.in("x"), c.optionalIn("weight"), c.in("mean"),
                                                  c.in("rstd"), c.optionalOut("gradX"), c.optionalOut("gradWeight"),
                                                  c.optionalOut("gradBias"), c.dim("rows"), c.dim("D")));
      });
}

S4_OP(layerNormChannelsForward, "norm") {
  return OpSpec()
      .in("x", {"B", "H", "L"}).optionalIn("weight", {"H"}).optionalIn("bias", {"H"})
      .out("out", {"B", "H", "L"}).optionalOut("mean", {"B", "L"}).optionalOut("rstd", {"B", "L"})
      .with(channelSizes)
      .number("eps", kEps)
      .run([](Call& c) {
        S4_DISPATCH(c.device(), layerNormChannelsForward(c.in("x"), c.optionalIn("weight"), c.optionalIn("bias"),
                                                         c.out("out"), c.optionalOut("mean"), c.optionalOut("rstd"), c.dim("B"),
                                                         c.dim("H"), c.dim("L"), float(c.number("eps"))));
      });
}

S4_OP(layerNormChannelsBackward, "norm") {
  return OpSpec()
      .in("gradOut", {"B", "H", "L"}).in("x", {"B", "H", "L"}).optionalIn("weight", {"H"})
      .in("mean", {"B", "L"}).in("rstd", {"B", "L"})
      .optionalOut("gradX", {"B", "H", "L"}).optionalOut("gradWeight", {"H"}).optionalOut("gradBias", {"H"})
      .with(channelSizes)
      .distinct("gradX", "x")
      .run([](Call& c) {
        S4_DISPATCH(c.device(), layerNormChannelsBackward(c.in("gradOut"), c.in("x"), c.optionalIn("weight"),
                                                          c.in("mean"), c.in("rstd"), c.optionalOut("gradX"),
                                                          c.optionalOut("gradWeight"), c.optionalOut("gradBias"),
                                                          c.dim("B"), c.dim("H"), c.dim("L")));
      });
}

// The tail of a residual S4 block on channel-major data (the block's linear output z, the
// linear's bias zBias, the block input x): out = [LayerNorm](x + dropout(GLU(z + zBias))).
// With L = 1 it is the step epilogue of token-by-token generation, one launch on the GPU;
// taking the bias here lets the linear before it run without its own bias pass.
S4_OP(residualNormForward, "norm") {
  return OpSpec()
      .in("z", {"B", "2*H", "L"}).optionalIn("zBias", {"2*H"}).in("x", {"B", "H", "L"})
      .optionalIn("weight", {"H"}).optionalIn("bias", {"H"})
      .out("out", {"B", "H", "L"}).optionalOut("mean", {"B", "L"}).optionalOut("rstd", {"B", "L"})
      .with(channelSizes)
      .with(dropoutArgs)
      .number("eps", kEps)
      .flag("normalize")
      .distinct("out", "x").distinct("out", "zBias")
      .run([](Call& c) {
        const DropoutDraw d = dropoutDraw(c);
        S4_DISPATCH(c.device(), residualNormForward(c.in("z"), c.optionalIn("zBias"), c.in("x"), c.optionalIn("weight"),
                                                    c.optionalIn("bias"), c.out("out"), c.optionalOut("mean"),
                                                    c.optionalOut("rstd"), c.dim("B"), c.dim("H"), c.dim("L"), d.p,
                                                    d.scale, d.key, float(c.number("eps")), c.flag("normalize")));
      });
}

S4_OP(residualNormBackward, "norm") {
  return OpSpec()
      .in("gradOut", {"B", "H", "L"}).in("z", {"B", "2*H", "L"}).optionalIn("zBias", {"2*H"}).in("x", {"B", "H", "L"})
      .optionalIn("weight", {"H"}).optionalIn("mean", {"B", "L"}).optionalIn("rstd", {"B", "L"})
      .optionalOut("gradZ", {"B", "2*H", "L"}).optionalOut("gradZBias", {"2*H"}).optionalOut("gradX", {"B", "H", "L"})
      .optionalOut("gradWeight", {"H"}).optionalOut("gradBias", {"H"})
      .with(channelSizes)
      .with(dropoutArgs)
      .flag("normalize")
      .distinct("gradX", "x").distinct("gradZ", "z").distinct("gradZ", "zBias").distinct("gradX", "zBias")
      .run([](Call& c) {
        const bool normalize = c.flag("normalize");
        if (normalize && (!c.optionalIn("mean") || !c.optionalIn("rstd")))
          failRange("residualNormBackward: arguments 'mean' and 'rstd' (saved by the forward) are required when 'normalize' is true");
        const DropoutDraw d = dropoutDraw(c);
        S4_DISPATCH(c.device(), residualNormBackward(c.in("gradOut"), c.in("z"), c.optionalIn("zBias"), c.in("x"),
                                                     c.optionalIn("weight"), c.optionalIn("mean"), c.optionalIn("rstd"),
                                                     c.optionalOut("gradZ"), c.optionalOut("gradZBias"),
                                                     c.optionalOut("gradX"), c.optionalOut("gradWeight"),
                                                     c.optionalOut("gradBias"), c.dim("B"), c.dim("H"), c.dim("L"), d.p,
                                                     d.scale, d.key, normalize));
      });
}

}  // namespace s4::binding
