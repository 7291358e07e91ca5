/**
 * Reading and restoring AdamW's per-parameter state (the two moments and the step count)
 * for checkpoints. AdamW exposes stateOf(p) for reading; restoring goes through its state
 * map, which is checked to have the expected form so that a change in AdamW fails loudly
 * here instead of resuming with a silently fresh optimizer.
 */
import { core } from '../native/addon';
import type { AdamW } from '../optim/adamw';
import { keep } from '../tensor/scope';
import { Tensor } from '../tensor/tensor';

export interface ParamMoments {
  step: number;
  m: Float32Array;
  v: Float32Array;
}

/** Moments of every parameter that has been updated, by parameter name. */
export function readOptimizerState(opt: AdamW): Record<string, ParamMoments> {
  const out: Record<string, ParamMoments> = {};
  for (const g of opt.paramGroups) {
    g.params.forEach((p, i) => {
      const st = opt.stateOf(p);
      if (st) out[g.names[i]] = { step: st.step, m: st.m.dataSync(), v: st.v.dataSync() };
    });
  }
  return out;
}

interface StateMap {
  state: Map<Tensor, { m: Tensor; v: Tensor; step: number }>;
}

function stateMap(opt: AdamW): StateMap['state'] {
  const map = (opt as unknown as StateMap).state;
  if (!(map instanceof Map)) throw new Error('restoreOptimizerState: this AdamW keeps its state in an unknown form; cannot resume its moments');
  return map;
}

/**
 * Replaces the optimizer's state with `moments` (by parameter name). Every named entry must
 * match a parameter of the optimizer and hold one value per float of it.
 */
export function restoreOptimizerState(opt: AdamW, moments: Record<string, ParamMoments>): void {
  const byName = new Map<string, Tensor>();
  for (const g of opt.paramGroups) g.params.forEach((p, i) => byName.set(g.names[i], p));
  for (const [name, st] of Object.entries(moments)) {
    const p = byName.get(name);
    if (!p) throw new RangeError(`restoreOptimizerState: the checkpoint has optimizer state for '${name}', which the optimizer does not hold`);
    if (st.m.length !== p.floats || st.v.length !== p.floats) {
      throw new RangeError(`restoreOptimizerState: the moments of '${name}' must hold ${p.floats} values (got ${st.m.length} and ${st.v.length})`);
    }
    if (!Number.isInteger(st.step) || st.step < 1) throw new RangeError(`restoreOptimizerState: the step count of '${name}' must be a positive integer (got ${st.step})`);
  }
  const map = stateMap(opt);
  for (const st of map.values()) {
    st.m.dispose();
    st.v.dispose();
  }
  map.clear();
  for (const [name, st] of Object.entries(moments)) {
    const p = byName.get(name)!;
    const m = keep(Tensor.empty([p.floats], 'float32', p.device));
    const v = keep(Tensor.empty([p.floats], 'float32', p.device));
    core.write(m.handle, st.m);
    core.write(v.handle, st.v);
    map.set(p, { m, v, step: st.step });
  }
}
