/** s4.ops: the typed, validated native ops. */
export { add, sub, scale, mul, sum, mean, fill_ } from './pointwise';
export { fftConv, dplrScan, diagScan, type DplrTensorParams, type DiagTensorParams } from './conv';
export {
  linear,
  linearChannels,
  layerNorm,
  layerNormChannels,
  gelu,
  glu,
  dropout,
  meanPool,
  lastPool,
  crossEntropy,
  mse,
  embedding,
  argmaxChannels,
  transpose12,
  flip,
  exp,
  complexFromParts,
  realPart,
  imagPart,
  adamwStep,
  gemmInfo,
  type GeluOptions,
  type DropoutOptions,
  type AdamWStepOptions,
  type NnInfo,
} from './nn';
export { dplrKernel, diagKernel, type DplrKernelParams, type DiagKernelParams } from './ssm_kernel';
