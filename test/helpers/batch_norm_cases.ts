/** Shapes and inputs of the batchNorm tests, shared by the CPU test and its CUDA counterpart. */
import { randomValues } from './device';

/** [B, H, L] of one case. */
export type BnShape = [number, number, number];

/** L = 1 with B > 1, B = 1 with L > 1, L = 7 and 784, H across 32 / 256 / 1024. */
export const BN_SHAPES: BnShape[] = [
  [5, 31, 1],
  [1, 32, 7],
  [2, 33, 784],
  [3, 255, 7],
  [64, 256, 1],
  [1, 257, 784],
  [2, 1023, 1],
  [1, 1024, 7],
  [1, 1025, 40],
  [2, 1, 3],
];

/** Inputs of one case: x (around `offset`, spread `spread`), w, b, running mean and (positive) variance. */
export function bnInputs([B, H, L]: BnShape, seed: number, offset = 0, spread = 1) {
  return {
    x: randomValues(B * H * L, seed).map((v) => offset + spread * v),
    w: randomValues(H, seed + 1).map((v) => 1 + 0.5 * v),
    b: randomValues(H, seed + 2),
    rm: randomValues(H, seed + 3).map((v) => offset + v),
    rv: randomValues(H, seed + 4).map((v) => spread * spread * (0.5 + 0.4 * v)),
  };
}
