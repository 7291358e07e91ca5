/**
 * Float64 parameter sets used by the set-up math, the TypeScript reference kernels and
 * the tests. Complex arrays are split into real and imaginary parts, row-major [H, N2]:
 * element (h, n) is at index h * N2 + n. Only N2 = N/2 conjugate-pair representatives
 * are stored (see docs/ARCHITECTURE.md, "The SSM and conjugate symmetry").
 */
export interface Complex64Array {
  re: Float64Array;
  im: Float64Array;
}

/** DPLR (S4) parameters: A = diag(lambda) - p p^*, bilinear discretization. */
export interface DplrParams64 {
  H: number;
  N2: number;
  lambda: Complex64Array;
  p: Complex64Array;
  b: Complex64Array;
  /** C~ = C (I - Ab^L) for the kernel length L the parameters were set up for. */
  cTilde: Complex64Array;
  /** Step size per channel, [H], positive. */
  dt: Float64Array;
}

/** Diagonal (S4D) parameters: A = diag(lambda), zero-order-hold discretization. */
export interface DiagParams64 {
  H: number;
  N2: number;
  lambda: Complex64Array;
  b: Complex64Array;
  c: Complex64Array;
  dt: Float64Array;
}
