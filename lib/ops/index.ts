/** s4.ops: the typed, validated native ops. */
export { add, sub, scale, mul, sum, mean, fill_ } from './pointwise';
export { fftConv } from './conv';
export { dplrScan, diagScan, type DplrTensorParams, type DiagTensorParams } from './scan';
export { linear, linearChannels, gemmInfo, type NnInfo } from './linear';
export { layerNorm, layerNormChannels, residualNorm, type ResidualNormOptions } from './norm';
export { batchNorm, type BatchNormOptions } from './batch_norm';
export { gelu, glu, dropout, type GeluOptions, type DropoutOptions } from './activation';
export { crossEntropy, mse, argmaxChannels } from './loss';
export { adamwStep, adamwStepMulti, type AdamWMultiTensor, type AdamWStepOptions } from './optim';
export { transpose12, flip, slice, pad, tile, reshape } from './layout';
export { meanPool, lastPool, lengthMask, maskedMeanPool, maskedLastPool } from './pool';
export { embedding } from './embedding';
export { exp, complexFromParts, realPart, imagPart } from './pointwise';
export { dplrKernel, diagKernel, type DplrKernelParams, type DiagKernelParams } from './ssm_kernel';
