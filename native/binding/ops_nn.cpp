// Exports of the neural-network ops (native/cpu/nn_ops.h, native/cuda/nn_ops.h).
// Every argument is re-validated here (buffer sizes, one device, sizes in range), so a
// direct call of the raw addon with bad arguments throws a TypeError/RangeError naming
// the argument instead of crashing. Outputs are pre-allocated by the TypeScript layer.
#include <cmath>
#include <limits>
#include <string>

#include "../common/error.h"
#include "../cpu/nn_ops.h"
#include "args.h"
#include "dispatch.h"
#include "registry.h"
#ifdef S4_WITH_CUDA
#include "../cuda/gemm.h"
#include "../cuda/nn_ops.h"
#endif

namespace s4::binding {
namespace {

constexpr int64_t kMaxDim = std::numeric_limits<int32_t>::max();
constexpr int64_t kMaxCount = int64_t(1) << 40;

// Reads buffers with element-count and device checks; the device is the first buffer's.
class Reader {
 public:
  Reader(const Napi::CallbackInfo& info, const char* fn, size_t count) : a_(info, fn, count) {}
  Args& args() { return a_; }

  int64_t dim(size_t i, const char* name, int64_t min = 1) { return a_.integer(i, name, min, kMaxDim); }
  int64_t count(const char* what, std::initializer_list<int64_t> sizes) {
    const int64_t n = checkedProduct(a_.fn(), what, sizes);
    if (n > kMaxCount) failRange(std::string(a_.fn()) + ": " + what + " is too large");
    return n;
  }

  Storage& buffer(size_t i, const char* name, int64_t elements) {
    Storage& s = a_.buffer(i, name);
    check(s, name, elements);
    return s;
  }
  float* in(size_t i, const char* name, int64_t elements) { return buffer(i, name, elements).as<float>(); }
  float* optional(size_t i, const char* name, int64_t elements) {
    Storage* s = a_.optionalBuffer(i, name);
    if (!s) return nullptr;
    check(*s, name, elements);
    return s->as<float>();
  }
  Device device() const {
    if (!haveDevice_) fail(std::string(a_.fn()) + ": no buffer arguments");
    return device_;
  }

 private:
  void check(Storage& s, const char* name, int64_t elements) {
    a_.expectElements(s, name, elements, sizeof(float));
    if (!haveDevice_) {
      device_ = s.device();
      haveDevice_ = true;
    } else {
      a_.expectDevice(s, name, device_);
    }
  }
  Args a_;
  Device device_ = Device::CPU;
  bool haveDevice_ = false;
};

// ---- gemm -------------------------------------------------------------------------------------

// gemm(A, B, C, transA, transB, M, N, K, alpha, beta, batch, reduceBatch)
// Dense row-major matrices: A is [M, K] ([K, M] when transA), B is [K, N] ([N, K] when
// transB), C is [M, N]; `batch` of each back to back (one C when reduceBatch).
Napi::Value gemm(const Napi::CallbackInfo& info) {
  Reader r(info, "gemm", 12);
  Args& a = r.args();
  const bool ta = a.boolean(3, "transA"), tb = a.boolean(4, "transB");
  const int64_t M = r.dim(5, "M"), N = r.dim(6, "N"), K = r.dim(7, "K");
  const double alpha = a.number(8, "alpha"), beta = a.number(9, "beta");
  const int64_t batch = a.integer(10, "batch", 1, 65535 * 64);
  const bool reduce = a.boolean(11, "reduceBatch");
  cpu::GemmArgs g;
  g.transA = ta; g.transB = tb; g.M = M; g.N = N; g.K = K;
  g.alpha = float(alpha); g.beta = float(beta);
  g.A = r.in(0, "A", r.count("A", {batch, M, K}));
  g.B = r.in(1, "B", r.count("B", {batch, K, N}));
  g.C = r.in(2, "C", r.count("C", {reduce ? 1 : batch, M, N}));
  g.lda = ta ? M : K; g.strideA = M * K;
  g.ldb = tb ? K : N; g.strideB = K * N;
  g.ldc = N; g.strideC = M * N;
  g.batch = batch; g.reduceBatch = reduce;
  S4_DISPATCH(r.device(), gemm(g));
  return info.Env().Undefined();
}

// nnInfo(device): which GEMM the ops of that device use. 'cpu' -> { gemm: 'builtin',
// kernel: 'avx2' | 'generic' }; 'cuda' -> { gemm: 'cublas' | 'builtin', reason (why not
// cuBLAS, or null), cublasVersion, tf32 }.
Napi::Value nnInfo(const Napi::CallbackInfo& info) {
  Args a(info, "nnInfo", 1);
  const Device device = a.device(0, "device");
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  if (device == Device::CPU) {
    o.Set("gemm", "builtin");
    o.Set("kernel", cpu::gemmKernelName());
    return o;
  }
#ifdef S4_WITH_CUDA
  std::string why;
  o.Set("gemm", cuda::gemmBackend(&why));
  o.Set("reason", why.empty() ? env.Null() : Napi::Value(Napi::String::New(env, why)));
  o.Set("cublasVersion", cuda::cublasVersion());
  o.Set("tf32", cuda::gemmTf32());
#else
  o.Set("gemm", env.Null());
  o.Set("reason", "built without CUDA");
  o.Set("cublasVersion", -1);
  o.Set("tf32", false);
#endif
  return o;
}

// ---- linear -----------------------------------------------------------------------------------

// linearForward(x [M,K], w [N,K], bias [N] | null, y [M,N], M, K, N)
Napi::Value linearForward(const Napi::CallbackInfo& info) {
  Reader r(info, "linearForward", 7);
  const int64_t M = r.dim(4, "M"), K = r.dim(5, "K"), N = r.dim(6, "N");
  const float* x = r.in(0, "x", r.count("x", {M, K}));
  const float* w = r.in(1, "weight", r.count("weight", {N, K}));
  const float* b = r.optional(2, "bias", N);
  float* y = r.in(3, "out", r.count("out", {M, N}));
  S4_DISPATCH(r.device(), linearForward(x, w, b, y, M, K, N));
  return info.Env().Undefined();
}

// linearBackward(dy [M,N], x [M,K], w [N,K], dx | null, dw | null, db | null, M, K, N)
Napi::Value linearBackward(const Napi::CallbackInfo& info) {
  Reader r(info, "linearBackward", 9);
  const int64_t M = r.dim(6, "M"), K = r.dim(7, "K"), N = r.dim(8, "N");
  const float* dy = r.in(0, "gradOut", r.count("gradOut", {M, N}));
  const float* x = r.in(1, "x", r.count("x", {M, K}));
  const float* w = r.in(2, "weight", r.count("weight", {N, K}));
  float* dx = r.optional(3, "gradX", r.count("gradX", {M, K}));
  float* dw = r.optional(4, "gradWeight", r.count("gradWeight", {N, K}));
  float* db = r.optional(5, "gradBias", N);
  S4_DISPATCH(r.device(), linearBackward(dy, x, w, dx, dw, db, M, K, N));
  return info.Env().Undefined();
}

// linearChannelsForward(x [B,H,L], w [O,H], bias [O] | null, y [B,O,L], B, H, L, O)
Napi::Value linearChannelsForward(const Napi::CallbackInfo& info) {
  Reader r(info, "linearChannelsForward", 8);
  const int64_t B = r.dim(4, "B"), H = r.dim(5, "H"), L = r.dim(6, "L"), O = r.dim(7, "O");
  const float* x = r.in(0, "x", r.count("x", {B, H, L}));
  const float* w = r.in(1, "weight", r.count("weight", {O, H}));
  const float* b = r.optional(2, "bias", O);
  float* y = r.in(3, "out", r.count("out", {B, O, L}));
  S4_DISPATCH(r.device(), linearChannelsForward(x, w, b, y, B, H, L, O));
  return info.Env().Undefined();
}

// linearChannelsBackward(dy [B,O,L], x [B,H,L], w [O,H], dx | null, dw | null, db | null, B, H, L, O)
Napi::Value linearChannelsBackward(const Napi::CallbackInfo& info) {
  Reader r(info, "linearChannelsBackward", 10);
  const int64_t B = r.dim(6, "B"), H = r.dim(7, "H"), L = r.dim(8, "L"), O = r.dim(9, "O");
  const float* dy = r.in(0, "gradOut", r.count("gradOut", {B, O, L}));
  const float* x = r.in(1, "x", r.count("x", {B, H, L}));
  const float* w = r.in(2, "weight", r.count("weight", {O, H}));
  float* dx = r.optional(3, "gradX", r.count("gradX", {B, H, L}));
  float* dw = r.optional(4, "gradWeight", r.count("gradWeight", {O, H}));
  float* db = r.optional(5, "gradBias", O);
  S4_DISPATCH(r.device(), linearChannelsBackward(dy, x, w, dx, dw, db, B, H, L, O));
  return info.Env().Undefined();
}

// ---- layer norm -------------------------------------------------------------------------------

float readEps(Args& a, size_t i) {
  const double eps = a.number(i, "eps");
  if (!(eps > 0) || eps > 1)
    failRange(std::string(a.fn()) + ": argument 'eps' must be in (0, 1] (got " + std::to_string(eps) + ")");
  return float(eps);
}

// layerNormForward(x [R,D], w [D] | null, b [D] | null, y [R,D], mean [R], rstd [R], R, D, eps)
Napi::Value layerNormForward(const Napi::CallbackInfo& info) {
  Reader r(info, "layerNormForward", 9);
  const int64_t R = r.dim(6, "rows"), D = r.dim(7, "D");
  const float eps = readEps(r.args(), 8);
  const int64_t n = r.count("x", {R, D});
  const float* x = r.in(0, "x", n);
  const float* w = r.optional(1, "weight", D);
  const float* b = r.optional(2, "bias", D);
  float* y = r.in(3, "out", n);
  float* mean = r.in(4, "mean", R);
  float* rstd = r.in(5, "rstd", R);
  S4_DISPATCH(r.device(), layerNormForward(x, w, b, y, mean, rstd, R, D, eps));
  return info.Env().Undefined();
}

// layerNormBackward(dy, x, w | null, mean, rstd, dx | null, dw | null, db | null, R, D)
Napi::Value layerNormBackward(const Napi::CallbackInfo& info) {
  Reader r(info, "layerNormBackward", 10);
  const int64_t R = r.dim(8, "rows"), D = r.dim(9, "D");
  const int64_t n = r.count("x", {R, D});
  const float* dy = r.in(0, "gradOut", n);
  const float* x = r.in(1, "x", n);
  const float* w = r.optional(2, "weight", D);
  const float* mean = r.in(3, "mean", R);
  const float* rstd = r.in(4, "rstd", R);
  float* dx = r.optional(5, "gradX", n);
  float* dw = r.optional(6, "gradWeight", D);
  float* db = r.optional(7, "gradBias", D);
  S4_DISPATCH(r.device(), layerNormBackward(dy, x, w, mean, rstd, dx, dw, db, R, D));
  return info.Env().Undefined();
}

// layerNormChannelsForward(x [B,H,L], w [H] | null, b [H] | null, y, mean [B,L], rstd [B,L], B, H, L, eps)
Napi::Value layerNormChannelsForward(const Napi::CallbackInfo& info) {
  Reader r(info, "layerNormChannelsForward", 10);
  const int64_t B = r.dim(6, "B"), H = r.dim(7, "H"), L = r.dim(8, "L");
  const float eps = readEps(r.args(), 9);
  const int64_t n = r.count("x", {B, H, L});
  const float* x = r.in(0, "x", n);
  const float* w = r.optional(1, "weight", H);
  const float* b = r.optional(2, "bias", H);
  float* y = r.in(3, "out", n);
  float* mean = r.in(4, "mean", r.count("mean", {B, L}));
  float* rstd = r.in(5, "rstd", r.count("rstd", {B, L}));
  S4_DISPATCH(r.device(), layerNormChannelsForward(x, w, b, y, mean, rstd, B, H, L, eps));
  return info.Env().Undefined();
}

// layerNormChannelsBackward(dy, x, w | null, mean, rstd, dx | null, dw | null, db | null, B, H, L)
Napi::Value layerNormChannelsBackward(const Napi::CallbackInfo& info) {
  Reader r(info, "layerNormChannelsBackward", 11);
  const int64_t B = r.dim(8, "B"), H = r.dim(9, "H"), L = r.dim(10, "L");
  const int64_t n = r.count("x", {B, H, L});
  const float* dy = r.in(0, "gradOut", n);
  const float* x = r.in(1, "x", n);
  const float* w = r.optional(2, "weight", H);
  const float* mean = r.in(3, "mean", r.count("mean", {B, L}));
  const float* rstd = r.in(4, "rstd", r.count("rstd", {B, L}));
  float* dx = r.optional(5, "gradX", n);
  float* dw = r.optional(6, "gradWeight", H);
  float* db = r.optional(7, "gradBias", H);
  S4_DISPATCH(r.device(), layerNormChannelsBackward(dy, x, w, mean, rstd, dx, dw, db, B, H, L));
  return info.Env().Undefined();
}

// ---- activations ------------------------------------------------------------------------------

bool readApproximate(Args& a, size_t i) {
  const std::string s = a.string(i, "approximate");
  if (s == "none") return false;
  if (s == "tanh") return true;
  failRange(std::string(a.fn()) + ": argument 'approximate' must be 'none' or 'tanh' (got '" + s + "')");
}

// geluForward(x, y, n, approximate: 'none' | 'tanh')
Napi::Value geluForward(const Napi::CallbackInfo& info) {
  Reader r(info, "geluForward", 4);
  const int64_t n = r.args().integer(2, "n", 1, kMaxCount);
  const bool tanhApprox = readApproximate(r.args(), 3);
  const float* x = r.in(0, "x", n);
  float* y = r.in(1, "out", n);
  S4_DISPATCH(r.device(), geluForward(x, y, n, tanhApprox));
  return info.Env().Undefined();
}

// geluBackward(dy, x, dx, n, approximate)
Napi::Value geluBackward(const Napi::CallbackInfo& info) {
  Reader r(info, "geluBackward", 5);
  const int64_t n = r.args().integer(3, "n", 1, kMaxCount);
  const bool tanhApprox = readApproximate(r.args(), 4);
  const float* dy = r.in(0, "gradOut", n);
  const float* x = r.in(1, "x", n);
  float* dx = r.in(2, "gradX", n);
  S4_DISPATCH(r.device(), geluBackward(dy, x, dx, n, tanhApprox));
  return info.Env().Undefined();
}

// gluForward(x [outer, 2*half, inner], y [outer, half, inner], outer, half, inner)
Napi::Value gluForward(const Napi::CallbackInfo& info) {
  Reader r(info, "gluForward", 5);
  const int64_t outer = r.dim(2, "outer"), half = r.dim(3, "half"), inner = r.dim(4, "inner");
  const int64_t n = r.count("out", {outer, half, inner});
  const float* x = r.in(0, "x", r.count("x", {2, n}));
  float* y = r.in(1, "out", n);
  S4_DISPATCH(r.device(), gluForward(x, y, outer, half, inner));
  return info.Env().Undefined();
}

// gluBackward(dy, x, dx, outer, half, inner)
Napi::Value gluBackward(const Napi::CallbackInfo& info) {
  Reader r(info, "gluBackward", 6);
  const int64_t outer = r.dim(3, "outer"), half = r.dim(4, "half"), inner = r.dim(5, "inner");
  const int64_t n = r.count("gradOut", {outer, half, inner});
  const float* dy = r.in(0, "gradOut", n);
  const float* x = r.in(1, "x", r.count("x", {2, n}));
  float* dx = r.in(2, "gradX", 2 * n);
  S4_DISPATCH(r.device(), gluBackward(dy, x, dx, outer, half, inner));
  return info.Env().Undefined();
}

// dropout(x, y, n, p, seed, step): y = x * mask / (1 - p); the backward is the same call on dy.
Napi::Value dropout(const Napi::CallbackInfo& info) {
  Reader r(info, "dropout", 6);
  Args& a = r.args();
  const int64_t n = a.integer(2, "n", 1, kMaxCount);
  const double p = a.number(3, "p");
  if (!(p >= 0 && p < 1)) failRange("dropout: argument 'p' must be in [0, 1) (got " + std::to_string(p) + ")");
  const int64_t seed = a.integer(4, "seed", 0, (int64_t(1) << 53));
  const int64_t step = a.integer(5, "step", 0, (int64_t(1) << 53));
  const float* x = r.in(0, "x", n);
  float* y = r.in(1, "out", n);
  const uint64_t key = nn::dropoutKey(uint64_t(seed), uint64_t(step));
  const float pf = float(p);
  const float scale = float(1.0 / (1.0 - double(pf)));
  S4_DISPATCH(r.device(), dropoutApply(x, y, n, pf, scale, key));
  return info.Env().Undefined();
}

// ---- pooling, losses, embedding ---------------------------------------------------------------

// meanPoolForward(x [B,H,L], y [B,H], B, H, L)
Napi::Value meanPoolForward(const Napi::CallbackInfo& info) {
  Reader r(info, "meanPoolForward", 5);
  const int64_t B = r.dim(2, "B"), H = r.dim(3, "H"), L = r.dim(4, "L");
  const float* x = r.in(0, "x", r.count("x", {B, H, L}));
  float* y = r.in(1, "out", r.count("out", {B, H}));
  S4_DISPATCH(r.device(), meanPoolForward(x, y, B, H, L));
  return info.Env().Undefined();
}

// meanPoolBackward(dy [B,H], dx [B,H,L], B, H, L)
Napi::Value meanPoolBackward(const Napi::CallbackInfo& info) {
  Reader r(info, "meanPoolBackward", 5);
  const int64_t B = r.dim(2, "B"), H = r.dim(3, "H"), L = r.dim(4, "L");
  const float* dy = r.in(0, "gradOut", r.count("gradOut", {B, H}));
  float* dx = r.in(1, "gradX", r.count("gradX", {B, H, L}));
  S4_DISPATCH(r.device(), meanPoolBackward(dy, dx, B, H, L));
  return info.Env().Undefined();
}

// crossEntropyForward(logits [M,C], labels [M], loss [1], probs [M,C], M, C)
Napi::Value crossEntropyForward(const Napi::CallbackInfo& info) {
  Reader r(info, "crossEntropyForward", 6);
  const int64_t M = r.dim(4, "M"), C = r.dim(5, "C");
  const int64_t n = r.count("logits", {M, C});
  const float* logits = r.in(0, "logits", n);
  const float* labels = r.in(1, "labels", M);
  float* loss = r.in(2, "loss", 1);
  float* probs = r.in(3, "probs", n);
  S4_DISPATCH(r.device(), crossEntropyForward(logits, labels, loss, probs, M, C));
  return info.Env().Undefined();
}

// crossEntropyBackward(probs [M,C], labels [M], gradLoss [1], dlogits [M,C], M, C)
Napi::Value crossEntropyBackward(const Napi::CallbackInfo& info) {
  Reader r(info, "crossEntropyBackward", 6);
  const int64_t M = r.dim(4, "M"), C = r.dim(5, "C");
  const int64_t n = r.count("probs", {M, C});
  const float* probs = r.in(0, "probs", n);
  const float* labels = r.in(1, "labels", M);
  const float* g = r.in(2, "gradOut", 1);
  float* dl = r.in(3, "gradLogits", n);
  S4_DISPATCH(r.device(), crossEntropyBackward(probs, labels, g, dl, M, C));
  return info.Env().Undefined();
}

// mseForward(a, b, loss [1], n)
Napi::Value mseForward(const Napi::CallbackInfo& info) {
  Reader r(info, "mseForward", 4);
  const int64_t n = r.args().integer(3, "n", 1, kMaxCount);
  const float* a = r.in(0, "a", n);
  const float* b = r.in(1, "b", n);
  float* loss = r.in(2, "loss", 1);
  S4_DISPATCH(r.device(), mseForward(a, b, loss, n));
  return info.Env().Undefined();
}

// mseBackward(a, b, gradLoss [1], da | null, db | null, n)
Napi::Value mseBackward(const Napi::CallbackInfo& info) {
  Reader r(info, "mseBackward", 6);
  const int64_t n = r.args().integer(5, "n", 1, kMaxCount);
  const float* a = r.in(0, "a", n);
  const float* b = r.in(1, "b", n);
  const float* g = r.in(2, "gradOut", 1);
  float* da = r.optional(3, "gradA", n);
  float* db = r.optional(4, "gradB", n);
  S4_DISPATCH(r.device(), mseBackward(a, b, g, da, db, n));
  return info.Env().Undefined();
}

// embeddingForward(indices [M], table [V,D], out [M,D], M, V, D)
Napi::Value embeddingForward(const Napi::CallbackInfo& info) {
  Reader r(info, "embeddingForward", 6);
  const int64_t M = r.dim(3, "M"), V = r.dim(4, "V"), D = r.dim(5, "D");
  const float* idx = r.in(0, "indices", M);
  const float* table = r.in(1, "table", r.count("table", {V, D}));
  float* out = r.in(2, "out", r.count("out", {M, D}));
  S4_DISPATCH(r.device(), embeddingForward(idx, table, out, M, V, D));
  return info.Env().Undefined();
}

// embeddingBackward(indices [M], dy [M,D], dtable [V,D], M, V, D)
Napi::Value embeddingBackward(const Napi::CallbackInfo& info) {
  Reader r(info, "embeddingBackward", 6);
  const int64_t M = r.dim(3, "M"), V = r.dim(4, "V"), D = r.dim(5, "D");
  const float* idx = r.in(0, "indices", M);
  const float* dy = r.in(1, "gradOut", r.count("gradOut", {M, D}));
  float* dt = r.in(2, "gradTable", r.count("gradTable", {V, D}));
  S4_DISPATCH(r.device(), embeddingBackward(idx, dy, dt, M, V, D));
  return info.Env().Undefined();
}

// ---- predictions --------------------------------------------------------------------------------

// Indices are returned as float32, which holds every integer up to 2^24 exactly.
constexpr int64_t kMaxArgmaxChannels = int64_t(1) << 24;

// argmaxChannels(x [B,C,L], out [B,L], B, C, L): out[b, l] = first index of the largest
// x[b, :, l] as a float, -1 when that column holds a NaN. Not differentiable.
Napi::Value argmaxChannels(const Napi::CallbackInfo& info) {
  Reader r(info, "argmaxChannels", 5);
  const int64_t B = r.dim(2, "B"), L = r.dim(4, "L");
  const int64_t C = r.args().integer(3, "C", 1, kMaxArgmaxChannels);
  const float* x = r.in(0, "x", r.count("x", {B, C, L}));
  float* out = r.in(1, "out", r.count("out", {B, L}));
  if (x == out) failRange("argmaxChannels: argument 'out' must not be the input buffer");
  S4_DISPATCH(r.device(), argmaxChannels(x, out, B, C, L));
  return info.Env().Undefined();
}

// ---- optimizer ----------------------------------------------------------------------------------

// adamwUpdate(param, grad, m, v, n, lr, beta1, beta2, eps, weightDecay, step): in place.
Napi::Value adamwUpdate(const Napi::CallbackInfo& info) {
  Reader r(info, "adamwUpdate", 11);
  Args& a = r.args();
  const int64_t n = a.integer(4, "n", 1, kMaxCount);
  const double lr = a.number(5, "lr"), b1 = a.number(6, "beta1"), b2 = a.number(7, "beta2");
  const double eps = a.number(8, "eps"), wd = a.number(9, "weightDecay");
  const int64_t step = a.integer(10, "step", 1, int64_t(1) << 53);
  auto range = [&](const char* name, double v, bool ok, const char* want) {
    if (!ok) failRange(std::string("adamwUpdate: argument '") + name + "' must be " + want + " (got " + std::to_string(v) + ")");
  };
  range("lr", lr, lr >= 0, ">= 0");
  range("beta1", b1, b1 >= 0 && b1 < 1, "in [0, 1)");
  range("beta2", b2, b2 >= 0 && b2 < 1, "in [0, 1)");
  range("eps", eps, eps > 0, "> 0");
  range("weightDecay", wd, wd >= 0, ">= 0");
  float* p = r.in(0, "param", n);
  const float* g = r.in(1, "grad", n);
  float* m = r.in(2, "m", n);
  float* v = r.in(3, "v", n);
  const nn::AdamWConstants c = nn::adamwConstants(lr, b1, b2, eps, wd, double(step));
  S4_DISPATCH(r.device(), adamwUpdate(p, g, m, v, n, c));
  return info.Env().Undefined();
}

// ---- layout and elementwise ---------------------------------------------------------------------

// lastPoolForward(x [rows, L], y [rows], rows, L)
Napi::Value lastPoolForward(const Napi::CallbackInfo& info) {
  Reader r(info, "lastPoolForward", 4);
  const int64_t rows = r.dim(2, "rows"), L = r.dim(3, "L");
  const float* x = r.in(0, "x", r.count("x", {rows, L}));
  float* y = r.in(1, "out", rows);
  S4_DISPATCH(r.device(), lastPoolForward(x, y, rows, L));
  return info.Env().Undefined();
}

// lastPoolBackward(dy [rows], dx [rows, L], rows, L)
Napi::Value lastPoolBackward(const Napi::CallbackInfo& info) {
  Reader r(info, "lastPoolBackward", 4);
  const int64_t rows = r.dim(2, "rows"), L = r.dim(3, "L");
  const float* dy = r.in(0, "gradOut", rows);
  float* dx = r.in(1, "gradX", r.count("gradX", {rows, L}));
  S4_DISPATCH(r.device(), lastPoolBackward(dy, dx, rows, L));
  return info.Env().Undefined();
}

// transpose12(x [B, M, N], y [B, N, M], B, M, N)
Napi::Value transpose12(const Napi::CallbackInfo& info) {
  Reader r(info, "transpose12", 5);
  const int64_t B = r.dim(2, "B"), M = r.dim(3, "M"), N = r.dim(4, "N");
  const int64_t n = r.count("x", {B, M, N});
  const float* x = r.in(0, "x", n);
  float* y = r.in(1, "out", n);
  if (x == y) failRange("transpose12: argument 'out' must not be the input buffer");
  S4_DISPATCH(r.device(), transpose12(x, y, B, M, N));
  return info.Env().Undefined();
}

// flipLast(x [rows, L], y [rows, L], rows, L)
Napi::Value flipLast(const Napi::CallbackInfo& info) {
  Reader r(info, "flipLast", 4);
  const int64_t rows = r.dim(2, "rows"), L = r.dim(3, "L");
  const int64_t n = r.count("x", {rows, L});
  const float* x = r.in(0, "x", n);
  float* y = r.in(1, "out", n);
  if (x == y) failRange("flipLast: argument 'out' must not be the input buffer");
  S4_DISPATCH(r.device(), flipLast(x, y, rows, L));
  return info.Env().Undefined();
}

void exportNn(Napi::Env env, Napi::Object exports) {
  auto add = [&](const char* name, Napi::Value (*fn)(const Napi::CallbackInfo&)) {
    exports.Set(name, makeFunction(env, name, fn));
  };
  add("gemm", gemm);
  add("nnInfo", nnInfo);
  add("linearForward", linearForward);
  add("linearBackward", linearBackward);
  add("linearChannelsForward", linearChannelsForward);
  add("linearChannelsBackward", linearChannelsBackward);
  add("layerNormForward", layerNormForward);
  add("layerNormBackward", layerNormBackward);
  add("layerNormChannelsForward", layerNormChannelsForward);
  add("layerNormChannelsBackward", layerNormChannelsBackward);
  add("geluForward", geluForward);
  add("geluBackward", geluBackward);
  add("gluForward", gluForward);
  add("gluBackward", gluBackward);
  add("dropout", dropout);
  add("meanPoolForward", meanPoolForward);
  add("meanPoolBackward", meanPoolBackward);
  add("crossEntropyForward", crossEntropyForward);
  add("crossEntropyBackward", crossEntropyBackward);
  add("mseForward", mseForward);
  add("mseBackward", mseBackward);
  add("embeddingForward", embeddingForward);
  add("embeddingBackward", embeddingBackward);
  add("argmaxChannels", argmaxChannels);
  add("adamwUpdate", adamwUpdate);
  add("lastPoolForward", lastPoolForward);
  add("lastPoolBackward", lastPoolBackward);
  add("transpose12", transpose12);
  add("flipLast", flipLast);
}

}  // namespace

S4_REGISTER_EXPORTS(exportNn);

}  // namespace s4::binding
