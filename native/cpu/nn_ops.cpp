// CPU twins of the neural-network ops (see nn_ops.h). Row work is spread with
// parallelFor; every reduction into a shared output uses a split that depends only on the
// shape (never on the thread count) and adds partials in a fixed order.
#include "nn_ops.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "../common/error.h"
#include "../common/parallel.h"

namespace s4::cpu {
namespace {

constexpr double kInvSqrt2 = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;
constexpr double kSqrt2OverPi = 0.79788456080286535588;
constexpr float kGeluTanhC = 0.044715f;

int64_t grainFor(int64_t itemCost) { return std::max<int64_t>(1, 32768 / std::max<int64_t>(1, itemCost)); }

// out0[c] = sum_r f(r, c).first, out1[c] = sum_r f(r, c).second over a [rows, cols] domain,
// in double, deterministically (row blocks fixed by the shape). out1 may be null.
template <class F>
void columnSums2(int64_t rows, int64_t cols, F f, float* out0, float* out1) {
  if (cols <= 0) return;
  const int64_t blocks = std::max<int64_t>(1, std::min<int64_t>(64, rows / 256));
  std::vector<double> p0(size_t(blocks * cols), 0.0), p1(out1 ? size_t(blocks * cols) : 0, 0.0);
  parallelFor(blocks, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t blk = b0; blk < b1; ++blk) {
      const int64_t r0 = rows * blk / blocks, r1 = rows * (blk + 1) / blocks;
      double* a0 = p0.data() + blk * cols;
      double* a1 = out1 ? p1.data() + blk * cols : nullptr;
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t c = 0; c < cols; ++c) {
          auto v = f(r, c);
          a0[c] += v.first;
          if (a1) a1[c] += v.second;
        }
    }
  });
  for (int64_t c = 0; c < cols; ++c) {
    double s0 = 0, s1 = 0;
    for (int64_t blk = 0; blk < blocks; ++blk) {
      s0 += p0[size_t(blk * cols + c)];
      if (out1) s1 += p1[size_t(blk * cols + c)];
    }
    out0[c] = float(s0);
    if (out1) out1[c] = float(s1);
  }
}

// Sum of f(i) for i in [0, n) in double with fixed blocks.
template <class F>
double sumDeterministic(int64_t n, F f) {
  const int64_t blocks = std::max<int64_t>(1, std::min<int64_t>(256, n / 4096));
  std::vector<double> part(size_t(blocks), 0.0);
  parallelFor(blocks, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t blk = b0; blk < b1; ++blk) {
      const int64_t i0 = n * blk / blocks, i1 = n * (blk + 1) / blocks;
      double s = 0;
      for (int64_t i = i0; i < i1; ++i) s += f(i);
      part[size_t(blk)] = s;
    }
  });
  double s = 0;
  for (double v : part) s += v;
  return s;
}

bool isIndex(float v, int64_t limit) {
  return v >= 0.f && v < float(limit) && v == std::floor(v);
}

std::string numberText(float v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", double(v));
  return buf;
}

}  // namespace

// ---- linear ---------------------------------------------------------------------------------

void linearForward(const float* x, const float* w, const float* bias, float* y,
                   int64_t M, int64_t K, int64_t N) {
  GemmArgs g;
  g.M = M; g.N = N; g.K = K;
  g.A = x; g.lda = K;
  g.B = w; g.ldb = K; g.transB = true;
  g.C = y; g.ldc = N;
  gemm(g);
  if (bias) {
    parallelFor(M, grainFor(N), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t c = 0; c < N; ++c) y[r * N + c] += bias[c];
    });
  }
}

void linearBackward(const float* dy, const float* x, const float* w,
                    float* dx, float* dw, float* db, int64_t M, int64_t K, int64_t N) {
  if (dx) {  // dx[M, K] = dy[M, N] W[N, K]
    GemmArgs g;
    g.M = M; g.N = K; g.K = N;
    g.A = dy; g.lda = N;
    g.B = w; g.ldb = K;
    g.C = dx; g.ldc = K;
    gemm(g);
  }
  if (dw) {  // dW[N, K] = dy^T[N, M] x[M, K]
    GemmArgs g;
    g.M = N; g.N = K; g.K = M;
    g.A = dy; g.lda = N; g.transA = true;
    g.B = x; g.ldb = K;
    g.C = dw; g.ldc = K;
    gemm(g);
  }
  if (db) {
    columnSums2(M, N, [&](int64_t r, int64_t c) { return std::make_pair(double(dy[r * N + c]), 0.0); },
                db, nullptr);
  }
}

void linearChannelsForward(const float* x, const float* w, const float* bias, float* y,
                           int64_t B, int64_t H, int64_t L, int64_t O) {
  GemmArgs g;  // y_b[O, L] = W[O, H] x_b[H, L]
  g.M = O; g.N = L; g.K = H; g.batch = B;
  g.A = w; g.lda = H; g.strideA = 0;
  g.B = x; g.ldb = L; g.strideB = H * L;
  g.C = y; g.ldc = L; g.strideC = O * L;
  gemm(g);
  if (bias) {
    parallelFor(B * O, grainFor(L), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const float bo = bias[r % O];
        float* yr = y + r * L;
        for (int64_t l = 0; l < L; ++l) yr[l] += bo;
      }
    });
  }
}

void linearChannelsBackward(const float* dy, const float* x, const float* w,
                            float* dx, float* dw, float* db,
                            int64_t B, int64_t H, int64_t L, int64_t O) {
  if (dx) {  // dx_b[H, L] = W^T[H, O] dy_b[O, L]
    GemmArgs g;
    g.M = H; g.N = L; g.K = O; g.batch = B;
    g.A = w; g.lda = H; g.strideA = 0; g.transA = true;
    g.B = dy; g.ldb = L; g.strideB = O * L;
    g.C = dx; g.ldc = L; g.strideC = H * L;
    gemm(g);
  }
  if (dw) {  // dW[O, H] = sum_b dy_b[O, L] x_b^T[L, H]
    GemmArgs g;
    g.M = O; g.N = H; g.K = L; g.batch = B; g.reduceBatch = true;
    g.A = dy; g.lda = L; g.strideA = O * L;
    g.B = x; g.ldb = L; g.strideB = H * L; g.transB = true;
    g.C = dw; g.ldc = H;
    gemm(g);
  }
  if (db) {  // db[o] = sum_{b, l} dy[b, o, l]
    parallelFor(O, grainFor(B * L), [&](int64_t o0, int64_t o1) {
      for (int64_t o = o0; o < o1; ++o) {
        double s = 0;
        for (int64_t b = 0; b < B; ++b) {
          const float* r = dy + (b * O + o) * L;
          for (int64_t l = 0; l < L; ++l) s += r[l];
        }
        db[o] = float(s);
      }
    });
  }
}

// ---- layer norm -------------------------------------------------------------------------------

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
      mean[r] = float(mu);
      rstd[r] = float(rs);
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
    columnSums2(rows, D, [&](int64_t r, int64_t c) {
      const double g = dy[r * D + c];
      const double xh = double((x[r * D + c] - mean[r]) * rstd[r]);
      return dw ? std::make_pair(g * xh, g) : std::make_pair(g, 0.0);
    }, out0, out1);
  }
}

void layerNormChannelsForward(const float* x, const float* w, const float* b, float* y,
                              float* mean, float* rstd, int64_t B, int64_t H, int64_t L,
                              float eps) {
  constexpr int64_t LC = 256;
  const int64_t chunks = (L + LC - 1) / LC;
  parallelFor(B * chunks, grainFor(3 * H * LC), [&](int64_t t0, int64_t t1) {
    std::vector<double> s(LC), q(LC);
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t bi = t / chunks, l0 = (t % chunks) * LC, n = std::min(LC, L - l0);
      const float* xb = x + bi * H * L + l0;
      float* yb = y + bi * H * L + l0;
      std::fill(s.begin(), s.begin() + n, 0.0);
      std::fill(q.begin(), q.begin() + n, 0.0);
      for (int64_t h = 0; h < H; ++h)
        for (int64_t l = 0; l < n; ++l) s[size_t(l)] += xb[h * L + l];
      for (int64_t l = 0; l < n; ++l) s[size_t(l)] /= double(H);
      for (int64_t h = 0; h < H; ++h)
        for (int64_t l = 0; l < n; ++l) {
          const double d = xb[h * L + l] - s[size_t(l)];
          q[size_t(l)] += d * d;
        }
      float* mb = mean + bi * L + l0;
      float* rb = rstd + bi * L + l0;
      for (int64_t l = 0; l < n; ++l) {
        mb[l] = float(s[size_t(l)]);
        rb[l] = float(1.0 / std::sqrt(q[size_t(l)] / double(H) + double(eps)));
      }
      for (int64_t h = 0; h < H; ++h) {
        const float wh = w ? w[h] : 1.f, bh = b ? b[h] : 0.f;
        for (int64_t l = 0; l < n; ++l) yb[h * L + l] = (xb[h * L + l] - mb[l]) * rb[l] * wh + bh;
      }
    }
  });
}

void layerNormChannelsBackward(const float* dy, const float* x, const float* w,
                               const float* mean, const float* rstd,
                               float* dx, float* dw, float* db,
                               int64_t B, int64_t H, int64_t L) {
  if (dx) {
    constexpr int64_t LC = 256;
    const int64_t chunks = (L + LC - 1) / LC;
    parallelFor(B * chunks, grainFor(4 * H * LC), [&](int64_t t0, int64_t t1) {
      std::vector<double> sg(LC), sgx(LC);
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t bi = t / chunks, l0 = (t % chunks) * LC, n = std::min(LC, L - l0);
        const int64_t off = bi * H * L + l0;
        const float* mb = mean + bi * L + l0;
        const float* rb = rstd + bi * L + l0;
        std::fill(sg.begin(), sg.begin() + n, 0.0);
        std::fill(sgx.begin(), sgx.begin() + n, 0.0);
        for (int64_t h = 0; h < H; ++h) {
          const float wh = w ? w[h] : 1.f;
          for (int64_t l = 0; l < n; ++l) {
            const double g = double(dy[off + h * L + l]) * wh;
            sg[size_t(l)] += g;
            sgx[size_t(l)] += g * double((x[off + h * L + l] - mb[l]) * rb[l]);
          }
        }
        for (int64_t l = 0; l < n; ++l) {
          sg[size_t(l)] /= double(H);
          sgx[size_t(l)] /= double(H);
        }
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
  if (dw || db) {
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
            sw += g * double((x[off + l] - mb[l]) * rb[l]);
          }
        }
        if (dw) dw[h] = float(sw);
        if (db) db[h] = float(sb);
      }
    });
  }
}

// ---- activations ------------------------------------------------------------------------------

void geluForward(const float* x, float* y, int64_t n, bool approximateTanh) {
  parallelFor(n, 8192, [&](int64_t i0, int64_t i1) {
    if (approximateTanh) {
      for (int64_t i = i0; i < i1; ++i) {
        const float v = x[i];
        const float u = float(kSqrt2OverPi) * (v + kGeluTanhC * v * v * v);
        y[i] = 0.5f * v * (1.f + std::tanh(u));
      }
    } else {
      for (int64_t i = i0; i < i1; ++i) {
        const float v = x[i];
        y[i] = 0.5f * v * (1.f + std::erf(v * float(kInvSqrt2)));
      }
    }
  });
}

void geluBackward(const float* dy, const float* x, float* dx, int64_t n, bool approximateTanh) {
  parallelFor(n, 8192, [&](int64_t i0, int64_t i1) {
    if (approximateTanh) {
      for (int64_t i = i0; i < i1; ++i) {
        const float v = x[i];
        const float u = float(kSqrt2OverPi) * (v + kGeluTanhC * v * v * v);
        const float t = std::tanh(u);
        const float du = float(kSqrt2OverPi) * (1.f + 3.f * kGeluTanhC * v * v);
        dx[i] = dy[i] * (0.5f * (1.f + t) + 0.5f * v * (1.f - t * t) * du);
      }
    } else {
      for (int64_t i = i0; i < i1; ++i) {
        const float v = x[i];
        const float cdf = 0.5f * (1.f + std::erf(v * float(kInvSqrt2)));
        const float pdf = float(kInvSqrt2Pi) * std::exp(-0.5f * v * v);
        dx[i] = dy[i] * (cdf + v * pdf);
      }
    }
  });
}

void gluForward(const float* x, float* y, int64_t outer, int64_t half, int64_t inner) {
  const int64_t rowLen = half * inner;
  parallelFor(outer, grainFor(rowLen * 8), [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o) {
      const float* a = x + o * 2 * rowLen;
      const float* g = a + rowLen;
      float* yo = y + o * rowLen;
      for (int64_t i = 0; i < rowLen; ++i) yo[i] = a[i] / (1.f + std::exp(-g[i]));
    }
  });
}

void gluBackward(const float* dy, const float* x, float* dx, int64_t outer, int64_t half,
                 int64_t inner) {
  const int64_t rowLen = half * inner;
  parallelFor(outer, grainFor(rowLen * 8), [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o) {
      const float* a = x + o * 2 * rowLen;
      const float* g = a + rowLen;
      const float* d = dy + o * rowLen;
      float* da = dx + o * 2 * rowLen;
      float* dg = da + rowLen;
      for (int64_t i = 0; i < rowLen; ++i) {
        const float s = 1.f / (1.f + std::exp(-g[i]));
        da[i] = d[i] * s;
        dg[i] = d[i] * a[i] * s * (1.f - s);
      }
    }
  });
}

void dropoutApply(const float* x, float* y, int64_t n, float p, float scale, uint64_t key) {
  parallelFor(n, 16384, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i)
      y[i] = nn::dropoutUniform(key, uint64_t(i)) >= p ? x[i] * scale : 0.f;
  });
}

// ---- pooling, losses, embedding -------------------------------------------------------------

void meanPoolForward(const float* x, float* y, int64_t B, int64_t H, int64_t L) {
  parallelFor(B * H, grainFor(L), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      double s = 0;
      for (int64_t l = 0; l < L; ++l) s += x[r * L + l];
      y[r] = float(s / double(L));
    }
  });
}

void meanPoolBackward(const float* dy, float* dx, int64_t B, int64_t H, int64_t L) {
  const float inv = float(1.0 / double(L));
  parallelFor(B * H, grainFor(L), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float g = dy[r] * inv;
      for (int64_t l = 0; l < L; ++l) dx[r * L + l] = g;
    }
  });
}

void crossEntropyForward(const float* logits, const float* labels, float* loss, float* probs,
                         int64_t M, int64_t C) {
  for (int64_t r = 0; r < M; ++r)
    if (!isIndex(labels[r], C))
      failRange("crossEntropy: argument 'labels' must hold integer class indices in [0, " +
                std::to_string(C) + ") (got " + numberText(labels[r]) + " at row " +
                std::to_string(r) + ")");
  std::vector<double> rowLoss(static_cast<size_t>(M));
  parallelFor(M, grainFor(3 * C), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* z = logits + r * C;
      float mx = z[0];
      for (int64_t c = 1; c < C; ++c) mx = std::max(mx, z[c]);
      double s = 0;
      for (int64_t c = 0; c < C; ++c) s += std::exp(double(z[c]) - double(mx));
      const double inv = 1.0 / s;
      float* pr = probs + r * C;
      for (int64_t c = 0; c < C; ++c) pr[c] = float(std::exp(double(z[c]) - double(mx)) * inv);
      const int64_t lab = int64_t(labels[r]);
      rowLoss[size_t(r)] = std::log(s) + double(mx) - double(z[lab]);
    }
  });
  double total = 0;
  for (double v : rowLoss) total += v;
  loss[0] = float(total / double(M));
}

void crossEntropyBackward(const float* probs, const float* labels, const float* gradLoss,
                          float* dlogits, int64_t M, int64_t C) {
  const float scale = float(double(gradLoss[0]) / double(M));
  parallelFor(M, grainFor(C), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* pr = probs + r * C;
      float* dr = dlogits + r * C;
      const float lf = labels[r];
      const int64_t lab = isIndex(lf, C) ? int64_t(lf) : -1;
      for (int64_t c = 0; c < C; ++c) dr[c] = scale * (pr[c] - (c == lab ? 1.f : 0.f));
    }
  });
}

void mseForward(const float* a, const float* b, float* loss, int64_t n) {
  const double s = sumDeterministic(n, [&](int64_t i) {
    const double d = double(a[i]) - double(b[i]);
    return d * d;
  });
  loss[0] = float(s / double(n));
}

void mseBackward(const float* a, const float* b, const float* gradLoss, float* da, float* db,
                 int64_t n) {
  const float scale = float(2.0 * double(gradLoss[0]) / double(n));
  parallelFor(n, 16384, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const float d = scale * (a[i] - b[i]);
      if (da) da[i] = d;
      if (db) db[i] = -d;
    }
  });
}

void embeddingForward(const float* idx, const float* table, float* out, int64_t M, int64_t V,
                      int64_t D) {
  for (int64_t m = 0; m < M; ++m)
    if (!isIndex(idx[m], V))
      failRange("embedding: argument 'indices' must hold integer row indices in [0, " +
                std::to_string(V) + ") (got " + numberText(idx[m]) + " at position " +
                std::to_string(m) + ")");
  parallelFor(M, grainFor(D), [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; ++m) {
      const float* src = table + int64_t(idx[m]) * D;
      std::copy(src, src + D, out + m * D);
    }
  });
}

void embeddingBackward(const float* idx, const float* dy, float* dtable, int64_t M, int64_t V,
                       int64_t D) {
  for (int64_t m = 0; m < M; ++m)
    if (!isIndex(idx[m], V))
      failRange("embedding: argument 'indices' must hold integer row indices in [0, " +
                std::to_string(V) + ") (got " + numberText(idx[m]) + " at position " +
                std::to_string(m) + ")");
  // Each task owns a range of table rows and scans all indices in order: deterministic.
  parallelFor(V, std::max<int64_t>(1, V / 64), [&](int64_t v0, int64_t v1) {
    std::fill(dtable + v0 * D, dtable + v1 * D, 0.f);
    for (int64_t m = 0; m < M; ++m) {
      const int64_t v = int64_t(idx[m]);
      if (v < v0 || v >= v1) continue;
      float* dst = dtable + v * D;
      const float* src = dy + m * D;
      for (int64_t d = 0; d < D; ++d) dst[d] += src[d];
    }
  });
}

// ---- predictions --------------------------------------------------------------------------------

void argmaxChannels(const float* x, float* out, int64_t B, int64_t C, int64_t L) {
  // A task is one batch row and a chunk of positions: the loop over c streams through
  // contiguous rows of x while the running maxima of the chunk stay in cache.
  constexpr int64_t LC = 256;
  const int64_t chunks = (L + LC - 1) / LC;
  parallelFor(B * chunks, grainFor(C * std::min(L, LC)), [&](int64_t t0, int64_t t1) {
    float bestV[LC];
    int64_t best[LC];
    bool nan[LC];
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t bi = t / chunks, l0 = (t % chunks) * LC, n = std::min(LC, L - l0);
      const float* xb = x + bi * C * L + l0;
      for (int64_t l = 0; l < n; ++l) {
        bestV[l] = -INFINITY;
        best[l] = 0;
        nan[l] = false;
      }
      for (int64_t c = 0; c < C; ++c) {
        const float* row = xb + c * L;
        for (int64_t l = 0; l < n; ++l) {
          const float v = row[l];
          if (std::isnan(v)) nan[l] = true;
          if (v > bestV[l]) {  // strict: an equal value later never replaces the first
            bestV[l] = v;
            best[l] = c;
          }
        }
      }
      float* ob = out + bi * L + l0;
      for (int64_t l = 0; l < n; ++l) ob[l] = nan[l] ? -1.f : float(best[l]);
    }
  });
}

// ---- reductions and optimizer ---------------------------------------------------------------

void adamwUpdate(float* param, const float* grad, float* m, float* v, int64_t n,
                 const nn::AdamWConstants& c) {
  parallelFor(n, 16384, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) nn::adamwElement(param[i], grad[i], m[i], v[i], c);
  });
}

}  // namespace s4::cpu

namespace s4::cpu {

// ---- layout and elementwise ops ---------------------------------------------------------------

void lastPoolForward(const float* x, float* y, int64_t rows, int64_t L) {
  for (int64_t r = 0; r < rows; ++r) y[r] = x[r * L + L - 1];
}

void lastPoolBackward(const float* dy, float* dx, int64_t rows, int64_t L) {
  parallelFor(rows, grainFor(L), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      std::fill(dx + r * L, dx + r * L + L - 1, 0.f);
      dx[r * L + L - 1] = dy[r];
    }
  });
}

void transpose12(const float* x, float* y, int64_t B, int64_t M, int64_t N) {
  // 32 x 32 tiles keep both the reads and the writes within a few cache lines.
  constexpr int64_t T = 32;
  const int64_t tm = (M + T - 1) / T, tn = (N + T - 1) / T;
  parallelFor(B * tm * tn, grainFor(T * T), [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t b = t / (tm * tn), i0 = (t / tn % tm) * T, j0 = t % tn * T;
      const float* xb = x + b * M * N;
      float* yb = y + b * M * N;
      const int64_t i1 = std::min(M, i0 + T), j1 = std::min(N, j0 + T);
      for (int64_t j = j0; j < j1; ++j)
        for (int64_t i = i0; i < i1; ++i) yb[j * M + i] = xb[i * N + j];
    }
  });
}

void flipLast(const float* x, float* y, int64_t rows, int64_t L) {
  parallelFor(rows, grainFor(L), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t l = 0; l < L; ++l) y[r * L + l] = x[r * L + L - 1 - l];
  });
}

}  // namespace s4::cpu
