// CPU twins of the layer norms and of the fused residual tail (spec: native/binding/norm.cpp).
// Statistics are accumulated in double and saved as float; rows (or chunks of positions of
// channel-major data) are spread with parallelFor, and every reduction into a parameter
// gradient uses a split fixed by the shape, added in order, so results do not depend on the
// thread count.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "../common/dropout_mask.h"
#include "../common/parallel.h"

namespace s4::cpu {
namespace {

int64_t grainFor(int64_t itemCost) { return std::max<int64_t>(1, 32768 / std::max<int64_t>(1, itemCost)); }

// Element (b, h, l) of r = x + dropout(GLU(z + zb)) for residualNorm: z [B, 2H, L], zb [2H]
// or null, x [B, H, L]. The GLU is gluForward's a / (1 + exp(-g)); the dropout index is the
// element's flat index in [B, H, L], as the dropout op would see the GLU output.
struct Residual {
  const float* z;
  const float* zb;
  const float* x;
  int64_t H, L;
  float p, scale;
  uint64_t key;
  bool drop;  // p > 0

  struct Halves {
    float a, g;  // the GLU's value and gate, bias added
  };
  Halves halves(int64_t b, int64_t h, int64_t l) const {
    const float* v = z + (b * 2 * H + h) * L + l;
    if (!zb) return {v[0], v[H * L]};
    return {v[0] + zb[h], v[H * L] + zb[H + h]};
  }
  float dropped(float v, int64_t i) const { return drop ? nn::dropoutElement(v, key, uint64_t(i), p, scale) : v; }
  float operator()(int64_t b, int64_t h, int64_t l) const {
    const Halves u = halves(b, h, l);
    const int64_t i = (b * H + h) * L + l;
    return x[i] + dropped(u.a / (1.f + std::exp(-u.g)), i);
  }
};

// Positions per task of the channel-major norms ([B, H, L] normalized over H).
constexpr int64_t kChunk = 256;

// Per-position scratch of one task.
struct ChunkScratch {
  std::vector<double> s, q;
  std::vector<float> mu, rs;
  explicit ChunkScratch(int64_t n) : s(size_t(n)), q(size_t(n)), mu(size_t(n)), rs(size_t(n)) {}
};

// Layer norm over the H channels of n positions of channel-major data (row stride L):
// dst[h, l] = (src[h, l] - mean_l) rstd_l w_h + b_h, statistics in double (two passes: the
// variance of src - mean); the chunk's mean and rstd are written when given. dst may be src.
void normalizeChannels(const float* src, float* dst, const float* w, const float* b, float* mean, float* rstd,
                       int64_t H, int64_t L, int64_t n, float eps, ChunkScratch& k) {
  std::fill(k.s.begin(), k.s.begin() + n, 0.0);
  std::fill(k.q.begin(), k.q.begin() + n, 0.0);
  for (int64_t h = 0; h < H; ++h)
    for (int64_t l = 0; l < n; ++l) k.s[size_t(l)] += src[h * L + l];
  for (int64_t l = 0; l < n; ++l) k.s[size_t(l)] /= double(H);
  for (int64_t h = 0; h < H; ++h)
    for (int64_t l = 0; l < n; ++l) {
      const double d = src[h * L + l] - k.s[size_t(l)];
      k.q[size_t(l)] += d * d;
    }
  for (int64_t l = 0; l < n; ++l) {
    k.mu[size_t(l)] = float(k.s[size_t(l)]);
    k.rs[size_t(l)] = float(1.0 / std::sqrt(k.q[size_t(l)] / double(H) + double(eps)));
  }
  if (mean) std::copy(k.mu.begin(), k.mu.begin() + n, mean);
  if (rstd) std::copy(k.rs.begin(), k.rs.begin() + n, rstd);
  for (int64_t h = 0; h < H; ++h) {
    const float wh = w ? w[h] : 1.f, bh = b ? b[h] : 0.f;
    for (int64_t l = 0; l < n; ++l) dst[h * L + l] = (src[h * L + l] - k.mu[size_t(l)]) * k.rs[size_t(l)] * wh + bh;
  }
}

// The two channel means of a channel-major layer norm's input gradient, for the n positions
// from l0 of batch row bi: sg_l = mean_h g, sgx_l = mean_h g xhat, g = dy w_h, where
// input(bi, h, l) is the normalized input and mb, rb its saved statistics at l0.
template <class Input>
void channelGradMeans(const float* dy, Input input, const float* w, const float* mb, const float* rb, int64_t bi,
                      int64_t l0, int64_t H, int64_t L, int64_t n, std::vector<double>& sg, std::vector<double>& sgx) {
  const int64_t off = bi * H * L + l0;
  std::fill(sg.begin(), sg.begin() + n, 0.0);
  std::fill(sgx.begin(), sgx.begin() + n, 0.0);
  for (int64_t h = 0; h < H; ++h) {
    const float wh = w ? w[h] : 1.f;
    for (int64_t l = 0; l < n; ++l) {
      const double g = double(dy[off + h * L + l]) * wh;
      sg[size_t(l)] += g;
      sgx[size_t(l)] += g * double((input(bi, h, l0 + l) - mb[l]) * rb[l]);
    }
  }
  for (int64_t l = 0; l < n; ++l) {
    sg[size_t(l)] /= double(H);
    sgx[size_t(l)] /= double(H);
  }
}

// dw[h] = sum over (b, l) of dy xhat and db[h] = sum of dy (either may be null), in double,
// in a fixed order; input(b, h, l) is the normalized input.
template <class Input>
void channelParamGrads(const float* dy, Input input, const float* mean, const float* rstd, float* dw, float* db,
                       int64_t B, int64_t H, int64_t L) {
  parallelFor(H, grainFor(B * L), [&](int64_t h0, int64_t h1) {
    for (int64_t h = h0; h < h1; ++h) {
      double sw = 0, sb = 0;
      for (int64_t bi = 0; bi < B; ++bi) {
        const int64_t off = (bi * H + h) * L;
        const float* mb = mean + bi * L;
        const float* rb = rstd + bi * L;
        for (int64_t l = 0; l < L; ++l) {
          const double g = dy[off + l];
          sb += g;
          if (dw) sw += g * double((input(bi, h, l) - mb[l]) * rb[l]);
        }
      }
      if (dw) dw[h] = float(sw);
      if (db) db[h] = float(sb);
    }
  });
}

}  // namespace

void layerNormForward(const float* x, const float* w, const float* b, float* y,
                      float* mean, float* rstd, int64_t rows, int64_t D, float eps) {
  parallelFor(rows, grainFor(3 * D), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * D;
      double s = 0;
      for (int64_t i = 0; i < D; ++i) s += xr[i];
      const double mu = s / double(D);
      double q = 0;
      for (int64_t i = 0; i < D; ++i) {
        const double d = xr[i] - mu;
        q += d * d;
      }
      const double rs = 1.0 / std::sqrt(q / double(D) + double(eps));
      if (mean) mean[r] = float(mu);
      if (rstd) rstd[r] = float(rs);
      float* yr = y + r * D;
      const float muf = float(mu), rsf = float(rs);
      for (int64_t i = 0; i < D; ++i) {
        const float xh = (xr[i] - muf) * rsf;
        yr[i] = xh * (w ? w[i] : 1.f) + (b ? b[i] : 0.f);
      }
    }
  });
}

void layerNormBackward(const float* dy, const float* x, const float* w,
                       const float* mean, const float* rstd,
                       float* dx, float* dw, float* db, int64_t rows, int64_t D) {
  if (dx) {
    parallelFor(rows, grainFor(4 * D), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const float* xr = x + r * D;
        const float* gr = dy + r * D;
        const float mu = mean[r], rs = rstd[r];
        double sg = 0, sgx = 0;
        for (int64_t i = 0; i < D; ++i) {
          const double g = double(gr[i]) * (w ? w[i] : 1.f);
          sg += g;
          sgx += g * double((xr[i] - mu) * rs);
        }
        const float mg = float(sg / double(D)), mgx = float(sgx / double(D));
        float* dr = dx + r * D;
        for (int64_t i = 0; i < D; ++i) {
          const float g = gr[i] * (w ? w[i] : 1.f);
          const float xh = (xr[i] - mu) * rs;
          dr[i] = rs * (g - mg - xh * mgx);
        }
      }
    });
  }
  if (dw || db) {
    float* out0 = dw ? dw : db;
    float* out1 = dw ? db : nullptr;
    columnSums(rows, D, [&](int64_t r, int64_t c) {
      const double g = dy[r * D + c];
      const double xh = double((x[r * D + c] - mean[r]) * rstd[r]);
      return dw ? std::make_pair(g * xh, g) : std::make_pair(g, 0.0);
    }, out0, out1);
  }
}

void layerNormChannelsForward(const float* x, const float* w, const float* b, float* y,
                              float* mean, float* rstd, int64_t B, int64_t H, int64_t L,
                              float eps) {
  const int64_t chunks = (L + kChunk - 1) / kChunk;
  parallelFor(B * chunks, grainFor(3 * H * kChunk), [&](int64_t t0, int64_t t1) {
    ChunkScratch k(kChunk);
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t bi = t / chunks, l0 = (t % chunks) * kChunk, n = std::min(kChunk, L - l0);
      normalizeChannels(x + bi * H * L + l0, y + bi * H * L + l0, w, b, mean ? mean + bi * L + l0 : nullptr,
                        rstd ? rstd + bi * L + l0 : nullptr, H, L, n, eps, k);
    }
  });
}

void layerNormChannelsBackward(const float* dy, const float* x, const float* w,
                               const float* mean, const float* rstd,
                               float* dx, float* dw, float* db,
                               int64_t B, int64_t H, int64_t L) {
  const auto input = [&](int64_t bi, int64_t h, int64_t l) { return x[(bi * H + h) * L + l]; };
  if (dx) {
    const int64_t chunks = (L + kChunk - 1) / kChunk;
    parallelFor(B * chunks, grainFor(4 * H * kChunk), [&](int64_t t0, int64_t t1) {
      std::vector<double> sg(kChunk), sgx(kChunk);
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t bi = t / chunks, l0 = (t % chunks) * kChunk, n = std::min(kChunk, L - l0);
        const int64_t off = bi * H * L + l0;
        const float* mb = mean + bi * L + l0;
        const float* rb = rstd + bi * L + l0;
        channelGradMeans(dy, input, w, mb, rb, bi, l0, H, L, n, sg, sgx);
        for (int64_t h = 0; h < H; ++h) {
          const float wh = w ? w[h] : 1.f;
          for (int64_t l = 0; l < n; ++l) {
            const float g = dy[off + h * L + l] * wh;
            const float xh = (x[off + h * L + l] - mb[l]) * rb[l];
            dx[off + h * L + l] = rb[l] * (g - float(sg[size_t(l)]) - xh * float(sgx[size_t(l)]));
          }
        }
      }
    });
  }
  if (dw || db) channelParamGrads(dy, input, mean, rstd, dw, db, B, H, L);
}

void residualNormForward(const float* z, const float* zb, const float* x, const float* w, const float* b, float* out,
                         float* mean, float* rstd, int64_t B, int64_t H, int64_t L, float p, float scale, uint64_t key,
                         float eps, bool normalize) {
  // A task is one batch row and a chunk of positions, as in layerNormChannelsForward: r is
  // written to out, its statistics taken over the channels, then normalized in place. A
  // single token of a small layer (L = 1, the generation loop) stays on the calling thread:
  // waking the pool costs more than the work.
  const int64_t chunks = (L + kChunk - 1) / kChunk;
  const Residual r{z, zb, x, H, L, p, scale, key, p > 0.f};
  if (L == 1) {  // tokens: a row per batch element, contiguous; no per-position scratch
    parallelFor(B, std::max<int64_t>(1, (int64_t(1) << 16) / H), [&](int64_t b0, int64_t b1) {
      for (int64_t bi = b0; bi < b1; ++bi) {
        float* o = out + bi * H;
        double sum = 0;
        for (int64_t h = 0; h < H; ++h) sum += (o[h] = r(bi, h, 0));
        if (!normalize) continue;
        const double mu = sum / double(H);
        double q = 0;
        for (int64_t h = 0; h < H; ++h) q += (o[h] - mu) * (o[h] - mu);
        const float muf = float(mu), rs = float(1.0 / std::sqrt(q / double(H) + double(eps)));
        if (mean) mean[bi] = muf;
        if (rstd) rstd[bi] = rs;
        for (int64_t h = 0; h < H; ++h) o[h] = (o[h] - muf) * rs * (w ? w[h] : 1.f) + (b ? b[h] : 0.f);
      }
    });
    return;
  }
  parallelFor(B * chunks, std::max<int64_t>(1, (int64_t(1) << 16) / (H * std::min(L, kChunk))), [&](int64_t t0, int64_t t1) {
    ChunkScratch k(normalize ? kChunk : 0);
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t bi = t / chunks, l0 = (t % chunks) * kChunk, n = std::min(kChunk, L - l0);
      float* ob = out + bi * H * L + l0;
      for (int64_t h = 0; h < H; ++h)
        for (int64_t l = 0; l < n; ++l) ob[h * L + l] = r(bi, h, l0 + l);
      if (!normalize) continue;
      normalizeChannels(ob, ob, w, b, mean ? mean + bi * L + l0 : nullptr, rstd ? rstd + bi * L + l0 : nullptr, H, L,
                        n, eps, k);
    }
  });
}

void residualNormBackward(const float* dy, const float* z, const float* zb, const float* x, const float* w,
                          const float* mean, const float* rstd, float* dz, float* dzb, float* dx, float* dw, float* db,
                          int64_t B, int64_t H, int64_t L, float p, float scale, uint64_t key, bool normalize) {
  const Residual r{z, zb, x, H, L, p, scale, key, p > 0.f};
  // dzb is the channel sum of dz: without dz asked for, dz goes to a workspace.
  std::vector<float> dzSpace(dzb && !dz ? size_t(2 * B * H * L) : 0);
  if (dzb && !dz) dz = dzSpace.data();
  if (dz || dx) {
    // dr = the layer norm's input gradient (layerNormChannelsBackward; dOut itself when
    // !normalize), then dx = dr and, through the dropout mask and the GLU, dz.
    const int64_t chunks = (L + kChunk - 1) / kChunk;
    parallelFor(B * chunks, std::max<int64_t>(1, (int64_t(1) << 16) / (H * std::min(L, kChunk))), [&](int64_t t0, int64_t t1) {
      std::vector<double> sg(normalize ? kChunk : 0), sgx(normalize ? kChunk : 0);
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t bi = t / chunks, l0 = (t % chunks) * kChunk, n = std::min(kChunk, L - l0);
        const int64_t off = bi * H * L + l0;
        const float* mb = normalize ? mean + bi * L + l0 : nullptr;
        const float* rb = normalize ? rstd + bi * L + l0 : nullptr;
        if (normalize) channelGradMeans(dy, r, w, mb, rb, bi, l0, H, L, n, sg, sgx);
        for (int64_t h = 0; h < H; ++h) {
          const float wh = w ? w[h] : 1.f;
          for (int64_t l = 0; l < n; ++l) {
            const int64_t o = off + h * L + l;
            const Residual::Halves u = r.halves(bi, h, l0 + l);
            const float ex = std::exp(-u.g);
            const float e = 1.f + ex;
            const float s = 1.f / e;
            float dr = dy[o];
            if (normalize) {
              const float xh = (x[o] + r.dropped(u.a / e, o) - mb[l]) * rb[l];
              dr = rb[l] * (dr * wh - float(sg[size_t(l)]) - xh * float(sgx[size_t(l)]));
            }
            if (dx) dx[o] = dr;
            if (dz) {
              const float dg = r.dropped(dr, o);
              dz[o + bi * H * L] = dg * s;
              dz[o + bi * H * L + H * L] = dg * u.a * s * (u.g > 0.f ? ex * s : 1.f - s);  // 1 - s without cancellation (gelu.h, sigmoidPair)
            }
          }
        }
      }
    });
  }
  if (dzb) {  // dzb[c] = sum over (b, l) of dz[b, c, l], in double, in a fixed order
    parallelFor(2 * H, grainFor(B * L), [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        double s = 0;
        for (int64_t bi = 0; bi < B; ++bi) {
          const float* row = dz + (bi * 2 * H + c) * L;
          for (int64_t l = 0; l < L; ++l) s += row[l];
        }
        dzb[c] = float(s);
      }
    });
  }
  if (!normalize) {
    if (dw) std::fill(dw, dw + H, 0.f);
    if (db) std::fill(db, db + H, 0.f);
    return;
  }
  if (dw || db) channelParamGrads(dy, r, mean, rstd, dw, db, B, H, L);
}

}  // namespace s4::cpu
