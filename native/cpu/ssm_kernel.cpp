// CPU twins of the S4 kernel-generation ops (spec and math: native/binding/ssm_kernel.cpp).
// Everything is computed in double; channels run in parallel.
//
// Backward of dplrKernel (derivation; the CUDA code follows the same steps):
//   Loss = sum_l dK_l K_l = sum_j Re(conj(g_j) Khat_j),  g_j = (m_j / L) rfft(dK)_j,
//   m_j = 1 for j = 0 and (L even) j = L/2, else 2 (adjoint of irfft, which drops the
//   imaginary parts of those two bins: rfft of a real signal has none there either).
//   Khat is holomorphic in the four sigmas; their adjoints per j are
//     lam_ab(j) = conj(g_j) dKhat_j/dsigma_ab:
//       lam00 = conj(g) e,  lam01 = -conj(g) e c sigma10 / D,  lam10 = -conj(g) e c sigma01 / D,
//       lam11 = conj(g) e c^2 sigma01 sigma10 / D^2,   e = exp(i phi), D = 1 + c sigma11.
//   For a variable x and Loss = Re sum lam dsigma, the PyTorch gradient is
//     grad_x = conj(sum lam dsigma/dx) + sum lam dsigma/dconj(x).
//   sigma_ab = dt sum_n (alpha_n t_n + conj(alpha_n) t'_n) with alpha = a b,
//   t = 1/(2 i s - c w), t' = 1/(2 i s - c conj(w)), dt/dw = c t^2, dt'/dconj(w) = c t'^2:
//     T_ab,n = sum_j lam_ab(j) t_nj,  T'_ab,n = sum_j lam_ab(j) t'_nj
//     G_ab,n (grad wrt alpha) = dt (conj(T_ab,n) + T'_ab,n)
//     U_n = sum_j c_j t_nj^2 sum_ab lam_ab(j) alpha_ab,n,  U'_n = same with t', conj(alpha)
//     grad_w = dt (conj(U) + U'),  grad_lambda = dt grad_w
//   alpha00 = C~ B, alpha01 = C~ P, alpha10 = conj(P) B, alpha11 = |P|^2:
//     grad_C~ = G00 conj(B) + G01 conj(P)
//     grad_B  = G00 conj(C~) + G10 P
//     grad_P  = G01 conj(C~) + conj(G10) B + 2 Re(G11) P
//   dt enters sigma only through dt t and dt t', and d(dt t)/d dt = 2 i s t^2 (exactly), so
//     grad_dt = sum_n Re(2 i Z_n),  Z_n = sum_j s_j (t_nj^2 A_j + t'_nj^2 A'_j)
//   with A = sum_ab lam_ab alpha_ab, A' = sum_ab lam_ab conj(alpha_ab). (The equivalent
//   Re(conj(grad_w) lambda) + Re sum_ab (alpha T + conj(alpha) T') cancels to zero at
//   j = 0 and would leave only rounding noise for short kernels.)
//
// Backward of diagKernel: Loss = 2 Re sum_n F_n, F_n = C B psi S(w), psi = (e^w - 1)/lambda,
//   S = sum_l dK_l e^{l w}, S' = sum_l l dK_l e^{l w}; F is holomorphic in C, B, lambda, so
//   grad_x = 2 conj(dF/dx):
//     grad_C = 2 conj(B psi S), grad_B = 2 conj(C psi S),
//     grad_lambda = 2 conj(C B (dt^2 phi1'(w) S + dt psi S')),  phi1(w) = (e^w - 1)/w,
//     grad_dt = 2 Re sum_n C B (e^w S + (e^w - 1) S').
#include <algorithm>
#include <cmath>
#include <complex>
#include <vector>

#include "../common/parallel.h"
#include "../common/ssm_param_flags.h"
#include "fft.h"

namespace s4::cpu {
namespace {

using cd = std::complex<double>;

inline cd load(const float* x, int64_t i) { return cd(x[2 * i], x[2 * i + 1]); }
inline void store(float* x, int64_t i, cd v) {
  x[2 * i] = static_cast<float>(v.real());
  x[2 * i + 1] = static_cast<float>(v.imag());
}

// sin and cos of pi * j / L.
inline void halfAngle(int64_t j, int64_t L, double* s, double* c) {
  double phi = M_PI * static_cast<double>(j) / static_cast<double>(L);
  *s = std::sin(phi);
  *c = std::cos(phi);
}

// Per-channel parameters of the DPLR kernel in double.
struct DplrChannel {
  double dt;
  std::vector<cd> w, lambda, p, b, c;
  std::vector<cd> a00, a01, a10;  // C~ B, C~ P, conj(P) B
  std::vector<double> a11;       // |P|^2
  DplrChannel(const float* lambdaF, const float* pF, const float* bF, const float* cF, const float* dtF, int64_t h,
              int64_t N2)
      : dt(dtF[h]), w(N2), lambda(N2), p(N2), b(N2), c(N2), a00(N2), a01(N2), a10(N2), a11(N2) {
    for (int64_t n = 0; n < N2; ++n) {
      int64_t i = h * N2 + n;
      lambda[n] = load(lambdaF, i);
      p[n] = load(pF, i);
      b[n] = load(bF, i);
      c[n] = load(cF, i);
      w[n] = dt * lambda[n];
      a00[n] = c[n] * b[n];
      a01[n] = c[n] * p[n];
      a10[n] = std::conj(p[n]) * b[n];
      a11[n] = std::norm(p[n]);
    }
  }
};

struct Sigmas {
  cd s00, s01, s10, s11;
};

// The four Cauchy sums at node j (half angle sines s, cosine c).
Sigmas cauchySums(const DplrChannel& ch, double s, double c) {
  cd s00 = 0, s01 = 0, s10 = 0, s11 = 0;
  const int64_t N2 = static_cast<int64_t>(ch.w.size());
  for (int64_t n = 0; n < N2; ++n) {
    cd w = ch.w[n];
    cd t1 = 1.0 / cd(-c * w.real(), 2 * s - c * w.imag());
    cd t2 = 1.0 / cd(-c * w.real(), 2 * s + c * w.imag());
    s00 += ch.a00[n] * t1 + std::conj(ch.a00[n]) * t2;
    s01 += ch.a01[n] * t1 + std::conj(ch.a01[n]) * t2;
    s10 += ch.a10[n] * t1 + std::conj(ch.a10[n]) * t2;
    s11 += ch.a11[n] * (t1 + t2);
  }
  return {ch.dt * s00, ch.dt * s01, ch.dt * s10, ch.dt * s11};
}

constexpr int64_t kChannelGrain = 1;

// (e^w - 1)/w and its derivative (e^w - phi1(w))/w, accurate near w = 0.
cd phi1(cd w) {
  if (std::abs(w) < 1e-4) return 1.0 + w * (0.5 + w * (1.0 / 6 + w / 24.0));
  double sh = std::sin(0.5 * w.imag());
  cd em1(std::expm1(w.real()) * std::cos(w.imag()) - 2 * sh * sh, std::exp(w.real()) * std::sin(w.imag()));
  return em1 / w;
}
cd phi1Prime(cd w) {
  if (std::abs(w) < 1e-2)
    return 0.5 + w * (1.0 / 3 + w * (1.0 / 8 + w * (1.0 / 30 + w * (1.0 / 144 + w / 840.0))));
  return (std::exp(w) - phi1(w)) / w;
}

}  // namespace

void dplrKernel(const float* lambda, const float* p, const float* b, const float* cTilde, const float* dt, float* out,
                int64_t H, int64_t N2, int64_t L) {
  if (H <= 0 || L <= 0) return;
  const int64_t J = L / 2 + 1;
  auto fft = realFFT(static_cast<int>(L));
  parallelFor(H, kChannelGrain, [&](int64_t h0, int64_t h1) {
    std::vector<cd> khat(J);
    std::vector<double> k(L);
    for (int64_t h = h0; h < h1; ++h) {
      DplrChannel ch(lambda, p, b, cTilde, dt, h, N2);
      for (int64_t j = 0; j < J; ++j) {
        double s, c;
        halfAngle(j, L, &s, &c);
        Sigmas sg = cauchySums(ch, s, c);
        khat[j] = cd(c, s) * (sg.s00 - c * sg.s01 * sg.s10 / (1.0 + c * sg.s11));
      }
      fft->inverse(khat.data(), k.data());
      for (int64_t l = 0; l < L; ++l) out[h * L + l] = static_cast<float>(k[l]);
    }
  });
}

void dplrKernelBackward(const float* lambda, const float* p, const float* b, const float* cTilde, const float* dt,
                        const float* dK, float* gLambda, float* gP, float* gB, float* gCTilde, float* gDt, int64_t H,
                        int64_t N2, int64_t L) {
  if (H <= 0) return;
  const int64_t J = L / 2 + 1;
  auto fft = realFFT(static_cast<int>(L));
  parallelFor(H, kChannelGrain, [&](int64_t h0, int64_t h1) {
    std::vector<double> dk(L);
    std::vector<cd> g(J);
    std::vector<cd> lam(4 * J);
    std::vector<double> sj(J), cj(J);
    for (int64_t h = h0; h < h1; ++h) {
      DplrChannel ch(lambda, p, b, cTilde, dt, h, N2);
      for (int64_t l = 0; l < L; ++l) dk[l] = dK[h * L + l];
      fft->forward(dk.data(), g.data());
      for (int64_t j = 0; j < J; ++j) {
        double m = (j == 0 || 2 * j == L) ? 1.0 : 2.0;
        g[j] *= m / static_cast<double>(L);
        if (j == 0 || 2 * j == L) g[j] = g[j].real();
      }
      // Pass 1 (reduction over n): sigmas and their adjoints per node.
      for (int64_t j = 0; j < J; ++j) {
        double s, c;
        halfAngle(j, L, &s, &c);
        sj[j] = s;
        cj[j] = c;
        Sigmas sg = cauchySums(ch, s, c);
        cd D = 1.0 + c * sg.s11;
        cd ge = std::conj(g[j]) * cd(c, s);
        lam[4 * j + 0] = ge;
        lam[4 * j + 1] = -ge * c * sg.s10 / D;
        lam[4 * j + 2] = -ge * c * sg.s01 / D;
        lam[4 * j + 3] = ge * c * c * sg.s01 * sg.s10 / (D * D);
      }
      // Pass 2 (reduction over j) per state index.
      double gdt = 0;
      for (int64_t n = 0; n < N2; ++n) {
        const cd w = ch.w[n];
        const cd al[4] = {ch.a00[n], ch.a01[n], ch.a10[n], cd(ch.a11[n], 0)};
        cd T[4] = {}, Tc[4] = {}, U = 0, Uc = 0, Z = 0;
        for (int64_t j = 0; j < J; ++j) {
          double s = sj[j], c = cj[j];
          cd t1 = 1.0 / cd(-c * w.real(), 2 * s - c * w.imag());
          cd t2 = 1.0 / cd(-c * w.real(), 2 * s + c * w.imag());
          cd A = 0, Ac = 0;
          for (int k = 0; k < 4; ++k) {
            cd lk = lam[4 * j + k];
            T[k] += lk * t1;
            Tc[k] += lk * t2;
            A += lk * al[k];
            Ac += lk * std::conj(al[k]);
          }
          const cd p1 = t1 * t1 * A, p2 = t2 * t2 * Ac;
          U += c * p1;
          Uc += c * p2;
          Z += s * (p1 + p2);
        }
        cd G[4];
        for (int k = 0; k < 4; ++k) G[k] = ch.dt * (std::conj(T[k]) + Tc[k]);
        cd gw = ch.dt * (std::conj(U) + Uc);
        int64_t i = h * N2 + n;
        store(gCTilde, i, G[0] * std::conj(ch.b[n]) + G[1] * std::conj(ch.p[n]));
        store(gB, i, G[0] * std::conj(ch.c[n]) + G[2] * ch.p[n]);
        store(gP, i, G[1] * std::conj(ch.c[n]) + std::conj(G[2]) * ch.b[n] + 2.0 * G[3].real() * ch.p[n]);
        store(gLambda, i, ch.dt * gw);
        gdt -= 2.0 * Z.imag();
      }
      gDt[h] = static_cast<float>(gdt);
    }
  });
}

void diagKernel(const float* lambda, const float* b, const float* c, const float* dt, float* out, int64_t H, int64_t N2,
                int64_t L) {
  if (H <= 0 || L <= 0) return;
  parallelFor(H, kChannelGrain, [&](int64_t h0, int64_t h1) {
    std::vector<double> acc(L);
    for (int64_t h = h0; h < h1; ++h) {
      std::fill(acc.begin(), acc.end(), 0.0);
      const double d = dt[h];
      for (int64_t n = 0; n < N2; ++n) {
        int64_t i = h * N2 + n;
        cd lam = load(lambda, i);
        cd w = d * lam;
        cd coef = load(c, i) * load(b, i) * d * phi1(w);
        cd z = std::exp(w);
        cd zp = coef;  // coef * z^l
        for (int64_t l = 0; l < L; ++l) {
          acc[l] += zp.real();
          zp *= z;
        }
      }
      for (int64_t l = 0; l < L; ++l) out[h * L + l] = static_cast<float>(2.0 * acc[l]);
    }
  });
}

void diagKernelBackward(const float* lambda, const float* b, const float* c, const float* dt, const float* dK,
                        float* gLambda, float* gB, float* gC, float* gDt, int64_t H, int64_t N2, int64_t L) {
  if (H <= 0) return;
  parallelFor(H, kChannelGrain, [&](int64_t h0, int64_t h1) {
    for (int64_t h = h0; h < h1; ++h) {
      const double d = dt[h];
      const float* dk = dK + h * L;
      double gdt = 0;
      for (int64_t n = 0; n < N2; ++n) {
        int64_t i = h * N2 + n;
        cd lam = load(lambda, i), bn = load(b, i), cn = load(c, i);
        cd w = d * lam;
        cd z = std::exp(w);
        cd S = 0, S1 = 0, zp = 1.0;
        for (int64_t l = 0; l < L; ++l) {
          cd t = static_cast<double>(dk[l]) * zp;
          S += t;
          S1 += static_cast<double>(l) * t;
          zp *= z;
        }
        cd f1 = phi1(w);
        cd psi = d * f1;
        cd cb = cn * bn;
        store(gC, i, 2.0 * std::conj(bn * psi * S));
        store(gB, i, 2.0 * std::conj(cn * psi * S));
        store(gLambda, i, 2.0 * std::conj(cb * (d * d * phi1Prime(w) * S + d * psi * S1)));
        gdt += 2.0 * (cb * (z * S + w * f1 * S1)).real();
      }
      gDt[h] = static_cast<float>(gdt);
    }
  });
}

uint32_t ssmParamCheck(const float* lambda, const float* x1, const float* x2, const float* x3, const float* dt,
                       int64_t H, int64_t N2) {
  uint32_t flags = 0;
  const int64_t n = 2 * H * N2;
  for (int64_t i = 0; i < n; i += 2) {
    float re = lambda[i], im = lambda[i + 1];
    if (!std::isfinite(re) || !std::isfinite(im)) flags |= kBadLambdaNonFinite;
    else if (re > 0) flags |= kBadLambdaUnstable;
  }
  const float* xs[3] = {x1, x2, x3};
  const uint32_t bits[3] = {kBadX1, kBadX2, kBadX3};
  for (int k = 0; k < 3; ++k) {
    if (!xs[k]) continue;
    for (int64_t i = 0; i < n; ++i)
      if (!std::isfinite(xs[k][i])) {
        flags |= bits[k];
        break;
      }
  }
  for (int64_t h = 0; h < H; ++h)
    if (!std::isfinite(dt[h]) || !(dt[h] > 0)) flags |= kBadDt;
  return flags;
}

}  // namespace s4::cpu
