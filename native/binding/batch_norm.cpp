// Batch normalization of channel-major activations x [B, H, L] over (B, L) per channel, as
// torch.nn.BatchNorm1d(H) on [B, H, L]. Training mode normalizes with the batch statistics
// (biased variance, eps inside the square root) and, when given, updates the running
// statistics in place as torch does: running = (1 - momentum) running + momentum batch, with
// the unbiased variance for running_var, and adds one to numBatchesTracked. Eval mode
// normalizes with the running statistics: a per-channel affine map. Twins:
// native/cpu/batch_norm.cpp, native/cuda/batch_norm.cu.
//
// The forward saves what the backward needs in `saved` [3H]: the mean as a float pair
// (hi [H], lo [H], mean = hi + lo to about 48 bits, so a large mean costs no accuracy) and
// rstd [H] = 1 / sqrt(var + eps); in eval mode hi is the running mean, lo zero, and rstd
// that of the running variance.
#include <cstdint>
#include <string>

#include "../common/error.h"
#include "dispatch.h"
#include "op_spec.h"

// x, out [B, H, L] (out may be x); weight, bias [H] may be null (unit weight, zero shift).
// training: runningMean, runningVar [H] and numBatchesTracked [1] are updated when not null
// (B L >= 2). !training: runningMean and runningVar are read (not null) and nothing is
// updated. saved [3H] is written when not null.
S4_TWIN(void, batchNormForward,
        (const float* x, const float* w, const float* b, float* runningMean, float* runningVar,
         float* numBatchesTracked, float* y, float* saved, int64_t B, int64_t H, int64_t L, float momentum, float eps,
         bool training))
// From dOut, the forward's input and its saved statistics: dx [B, H, L], dw, db [H]; any may
// be null. training: dx = w rstd (dy - mean(dy) - xhat mean(dy xhat)) over (B, L) per
// channel; !training (the statistics are constants): dx = w rstd dy. dw = sum dy xhat, db =
// sum dy in both.
S4_TWIN(void, batchNormBackward,
        (const float* dy, const float* x, const float* w, const float* saved, float* dx, float* dw, float* db,
         int64_t B, int64_t H, int64_t L, bool training))

namespace s4::binding {

namespace {

// eps is inside the square root: in (0, 1]. momentum: the weight of the batch in the
// running statistics, in [0, 1].
constexpr Range kEps{0, 1, true, false};
constexpr Range kMomentum{0, 1};

// The sizes of channel-major [B, H, L] data.
OpSpec& channelSizes(OpSpec& s) { return s.dim("B").dim("H").dim("L"); }
}  // namespace

S4_OP(batchNormForward, "batch_norm") {
  return OpSpec()
      .in("x", {"B", "H", "L"}).optionalIn("weight", {"H"}).optionalIn("bias", {"H"})
      .optionalInOut("runningMean", {"H"}).optionalInOut("runningVar", {"H"}).optionalInOut("numBatchesTracked", {"1"})
      .out("out", {"B", "H", "L"}).optionalOut("saved", {"3*H"})
      .with(channelSizes)
      .number("momentum", kMomentum)
      .number("eps", kEps)
      .flag("training")
      .distinct("runningMean", "runningVar").distinct("runningMean", "numBatchesTracked")
      .distinct("runningVar", "numBatchesTracked").distinct("out", "runningMean").distinct("out", "runningVar")
      .distinct("saved", "runningMean").distinct("saved", "runningVar").distinct("saved", "x").distinct("saved", "out")
      .run([](Call& c) {
        const bool training = c.flag("training");
        float* rm = c.optionalInOut("runningMean");
        float* rv = c.optionalInOut("runningVar");
        if (!training && (!rm || !rv))
          failRange("batchNormForward: arguments 'runningMean' and 'runningVar' are required when 'training' is false");
        if (training && (rm == nullptr) != (rv == nullptr))
          failRange("batchNormForward: arguments 'runningMean' and 'runningVar' must be given together");
        // The unbiased variance of one value does not exist (torch refuses it too).
        if (training && c.dim("B") * c.dim("L") < 2)
          failRange("batchNormForward: training mode needs more than one value per channel (B * L >= 2, got B = " +
                    std::to_string(c.dim("B")) + ", L = " + std::to_string(c.dim("L")) + ")");
        S4_DISPATCH(c.device(), batchNormForward(c.in("x"), c.optionalIn("weight"), c.optionalIn("bias"), rm, rv,
                                                 training ? c.optionalInOut("numBatchesTracked") : nullptr, c.out("out"),
                                                 c.optionalOut("saved"), c.dim("B"), c.dim("H"), c.dim("L"),
                                                 float(c.number("momentum")), float(c.number("eps")), training));
      });
}

S4_OP(batchNormBackward, "batch_norm") {
  return OpSpec()
      .in("gradOut", {"B", "H", "L"}).in("x", {"B", "H", "L"}).optionalIn("weight", {"H"}).in("saved", {"3*H"})
      .optionalOut("gradX", {"B", "H", "L"}).optionalOut("gradWeight", {"H"}).optionalOut("gradBias", {"H"})
      .with(channelSizes)
      .flag("training")
      .distinct("gradX", "x").distinct("gradX", "saved").distinct("gradX", "weight")
      .run([](Call& c) {
        S4_DISPATCH(c.device(), batchNormBackward(c.in("gradOut"), c.in("x"), c.optionalIn("weight"), c.in("saved"),
                                                  c.optionalOut("gradX"), c.optionalOut("gradWeight"),
                                                  c.optionalOut("gradBias"), c.dim("B"), c.dim("H"), c.dim("L"),
                                                  c.flag("training")));
      });
}

}  // namespace s4::binding
