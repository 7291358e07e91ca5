/** s4.ops: the typed, validated native ops. */
export { add, sub, scale, mul, sum, mean, fill_ } from './pointwise';
export { fftConv, dplrScan, diagScan, type DplrTensorParams, type DiagTensorParams } from './conv';
