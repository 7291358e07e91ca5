// Coefficient layout of the recurrent scan (ssmScan; spec: native/binding/scan.cpp), shared
// by the CPU and CUDA twins. Written on the host by lib/ssm/step_setup.ts.
//
// Both the DPLR/bilinear and the diagonal/ZOH models step as "diagonal plus rank one":
//   s   = 2 Re sum_n w_n x_n                      (real scalar; 0 for diagonal models)
//   yt  = 2 Re sum_n ca_n x_n - cg s + cu u_t     (from the state BEFORE the update)
//   x_n <- a_n x_n - g_n s + bb_n u_t
// which equals x_t = Ab x_{t-1} + Bb u_t, y_t = 2 Re(C x_t) + D u_t with
//   DPLR: Dn = 1 - dt/2 Lambda_n, En = 1 + dt/2 Lambda_n, r = 1/(1 + dt/2 * 2Re sum |P|^2/Dn)
//         a = E/D, w = conj(P)/D, g = dt r P/D, bb = Bb, ca = C a, cg = 2Re sum C g,
//         cu = 2Re sum C bb + D      (set up in float64 by lib/ssm/step_setup.ts).
// Coefficients, float32, per channel h a row of scanCoefStride(N2) = 10 N2 + 2 floats:
//   a[N2], w[N2], g[N2], bb[N2], ca[N2] (each complex, interleaved re, im), then cg, cu.
// (One array per quantity, so that the lanes of a GPU group read each one contiguously.)
#pragma once
#include <cstdint>

namespace s4 {

constexpr int64_t kScanCoefPerState = 10;
inline constexpr int64_t scanCoefStride(int64_t N2) { return kScanCoefPerState * N2 + 2; }
// Float offsets of the arrays within a channel's row.
enum ScanCoef : int64_t { kScanA = 0, kScanW = 1, kScanG = 2, kScanBb = 3, kScanCa = 4 };
inline constexpr int64_t scanCoefOffset(ScanCoef which, int64_t N2) { return 2 * N2 * which; }

}  // namespace s4
