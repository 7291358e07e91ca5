/** s4.optim: AdamW with parameter groups, the cosine warm-up schedule, gradient clipping. */
export { AdamW, type AdamWOptions, type AdamWState, type OptimGroup } from './adamw';
export { CosineWarmupSchedule, cosineWarmupFactor, type CosineScheduleOptions, type CosineScheduleState } from './schedule';
export { clipGradNorm, gradNorm } from './clip';
