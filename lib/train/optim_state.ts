/**
 * AdamW's state by parameter name, for checkpoints: the checkpoint stores the moments and
 * step count under each parameter's name, so that it does not depend on the order of the
 * groups (AdamW.stateDict is ordered by group and position).
 */
import type { AdamW, AdamWState } from '../optim/adamw';

export interface ParamMoments {
  step: number;
  m: Float32Array;
  v: Float32Array;
}

export interface GroupSettings {
  lr: number;
  initialLr: number;
  weightDecay: number;
}

/** Moments of every parameter that has been updated, by parameter name. */
export function readOptimizerState(opt: AdamW): Record<string, ParamMoments> {
  const st = opt.stateDict();
  const out: Record<string, ParamMoments> = {};
  opt.paramGroups.forEach((g, gi) =>
    g.names.forEach((name, i) => {
      const e = st.params[gi][i];
      if (e) out[name] = { step: e.step, m: e.m, v: e.v };
    }),
  );
  return out;
}

/**
 * Replaces the optimizer's state with `moments` (by parameter name; parameters without an
 * entry start fresh) and, when given, the groups' learning rates and weight decays. Every
 * named entry must match a parameter of the optimizer; AdamW checks the sizes and values.
 */
export function restoreOptimizerState(opt: AdamW, moments: Record<string, ParamMoments>, groups?: GroupSettings[]): void {
  const known = new Set(opt.paramGroups.flatMap((g) => g.names));
  for (const name of Object.keys(moments)) {
    if (!known.has(name)) throw new RangeError(`restoreOptimizerState: the checkpoint has optimizer state for '${name}', which the optimizer does not hold`);
  }
  if (groups && groups.length !== opt.paramGroups.length) {
    throw new RangeError(`restoreOptimizerState: the checkpoint has ${groups.length} optimizer groups, the optimizer ${opt.paramGroups.length}`);
  }
  const state: AdamWState = {
    groups: opt.paramGroups.map((g, gi) => groups?.[gi] ?? { lr: g.lr, initialLr: g.initialLr, weightDecay: g.weightDecay }),
    params: opt.paramGroups.map((g) => g.names.map((name) => moments[name] ?? null)),
  };
  opt.loadStateDict(state);
}
