// Layout ops: batched transpose, reversal, a window of the last dimension and copies along a
// middle axis. Each is a copy; transpose12 and flipLast are their own backward, sliceLast's
// backward scatters the window back into zeros, repeatMid's backward sums the copies.
// Twins: native/cpu/layout.cpp, native/cuda/layout.cu.
#include <string>

#include "../common/error.h"
#include "dispatch.h"
#include "op_spec.h"

// Batched transpose: x [B, M, N] -> y [B, N, M] (its own backward with M and N swapped).
S4_TWIN(void, transpose12, (const float* x, float* y, int64_t B, int64_t M, int64_t N))
// Reverse the last dimension: y[r, l] = x[r, L-1-l] (its own backward).
S4_TWIN(void, flipLast, (const float* x, float* y, int64_t rows, int64_t L))
// y[r, j] = x[r, start + j] for j < len: x [rows, L], y [rows, len], start + len <= L.
S4_TWIN(void, sliceLast, (const float* x, float* y, int64_t rows, int64_t L, int64_t start, int64_t len))
// dx[r, l] = dy[r, l - start] inside the window [start, start + len), 0 outside; dx [rows, L].
S4_TWIN(void, sliceLastBackward, (const float* dy, float* dx, int64_t rows, int64_t L, int64_t start, int64_t len))
// y[o, r, i] = x[o, i]: x [outer, inner], y [outer, reps, inner] (reps copies of each row).
S4_TWIN(void, repeatMid, (const float* x, float* y, int64_t outer, int64_t reps, int64_t inner))
// dx[o, i] = sum_r dy[o, r, i], summed in double in the order r = 0, 1, ... on both backends.
S4_TWIN(void, repeatMidBackward, (const float* dy, float* dx, int64_t outer, int64_t reps, int64_t inner))

namespace s4::binding {

namespace {

// rows of L, and the window [start, start + len) of each.
OpSpec& windowArgs(OpSpec& s) { return s.dim("rows").dim("L").integer("start", 0, kMaxDim).dim("len"); }

// The window's start. The spec checks each size alone; the window must also fit the row.
int64_t checkedStart(const Call& c) {
  const int64_t L = c.dim("L"), start = c.integer("start"), len = c.dim("len");
  if (start + len > L)
    failRange(std::string(c.fn()) + ": argument 'len' must be at most L - start = " + std::to_string(L - start) +
              " (got " + std::to_string(len) + " with start = " + std::to_string(start) + ", L = " + std::to_string(L) +
              ")");
  return start;
}

}  // namespace

S4_OP(transpose12, "layout") {
  return OpSpec()
      .in("x", {"B", "M", "N"}).out("out", {"B", "N", "M"})
      .dim("B").dim("M").dim("N")
      .distinct("out", "x")
      .run([](Call& c) {
        S4_DISPATCH(c.device(), transpose12(c.in("x"), c.out("out"), c.dim("B"), c.dim("M"), c.dim("N")));
      });
}

S4_OP(flipLast, "layout") {
  return OpSpec()
      .in("x", {"rows", "L"}).out("out", {"rows", "L"})
      .dim("rows").dim("L")
      .distinct("out", "x")
      .run([](Call& c) { S4_DISPATCH(c.device(), flipLast(c.in("x"), c.out("out"), c.dim("rows"), c.dim("L"))); });
}

S4_OP(sliceLast, "layout") {
  return OpSpec()
      .in("x", {"rows", "L"}).out("out", {"rows", "len"})
      .with(windowArgs).distinct("out", "x")
      .run([](Call& c) {
        S4_DISPATCH(c.device(),
                    sliceLast(c.in("x"), c.out("out"), c.dim("rows"), c.dim("L"), checkedStart(c), c.dim("len")));
      });
}

S4_OP(sliceLastBackward, "layout") {
  return OpSpec()
      .in("gradOut", {"rows", "len"}).out("gradX", {"rows", "L"})
      .with(windowArgs).distinct("gradX", "gradOut")
      .run([](Call& c) {
        S4_DISPATCH(c.device(), sliceLastBackward(c.in("gradOut"), c.out("gradX"), c.dim("rows"), c.dim("L"),
                                                  checkedStart(c), c.dim("len")));
      });
}

S4_OP(repeatMid, "layout") {
  return OpSpec()
      .in("x", {"outer", "inner"}).out("out", {"outer", "reps", "inner"})
      .dim("outer").dim("reps").dim("inner")
      .distinct("out", "x")
      .run([](Call& c) {
        S4_DISPATCH(c.device(), repeatMid(c.in("x"), c.out("out"), c.dim("outer"), c.dim("reps"), c.dim("inner")));
      });
}

S4_OP(repeatMidBackward, "layout") {
  return OpSpec()
      .in("gradOut", {"outer", "reps", "inner"}).out("gradX", {"outer", "inner"})
      .dim("outer").dim("reps").dim("inner")
      .distinct("gradX", "gradOut")
      .run([](Call& c) {
        S4_DISPATCH(c.device(), repeatMidBackward(c.in("gradOut"), c.out("gradX"), c.dim("outer"), c.dim("reps"),
                                                  c.dim("inner")));
      });
}

}  // namespace s4::binding
