/**
 * s4.ssm: the float64 set-up math of SSM layers (HiPPO, NPLR/DPLR forms, discretization,
 * initializations, reference kernels), and the recurrent steppers. The steppers hold device
 * state and live in nn/stepper.ts; they are re-exported here because generation starts from
 * a parameter set of this module. Test-only references (naive kernels, dense matrices, the
 * complex matrix helpers) stay internal.
 */
export { stepper, diagStepper, Stepper, type StepperOptions, type DplrStepperOptions } from '../nn/stepper';
export type { Complex64Array, DplrParams64, DiagParams64 } from './types';
export { transition, MEASURES, type Measure } from './hippo';
export { nplr, dplr, type Nplr, type NplrOptions, type DplrInitial } from './nplr';
export { bilinear, zoh, discretizeDplr, discretizeDiag, cToCTilde, type Discretization } from './discretize';
export { initDplr, initDiag, MIN_NEG_RE, type DiagInit, type InitDplrOptions, type InitDiagOptions, type DplrInit64 } from './init';
export { dplrKernel64, diagKernel64 } from './kernel64';
export { scanCoefStride, cTildeToC, dplrStepCoefficients, diagStepCoefficients } from './step_setup';
