/**
 * CUDA graph capture (core.captureGraph / launchGraph) on any backend: bad arguments throw
 * errors that name them, and a model stepper off CUDA never captures.
 */
import { describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';
import { core } from '../lib/native/binding';
import { onGpu } from './helpers/device';
import { thrownBy } from './helpers/throws';

describe('graph capture arguments', () => {
  it('captureGraph wants one function', () => {
    for (const bad of [[], [1], ['x'], [{}], [() => {}, 2]] as unknown[][]) {
      const e = thrownBy(() => (core.captureGraph as (...a: unknown[]) => unknown)(...bad));
      expect(e).toBeInstanceOf(TypeError);
      expect((e as Error).message).toMatch(/^captureGraph: argument 'fn' must be a function/);
    }
  });

  it('launchGraph wants a graph from captureGraph', () => {
    const buffer = s4.tensor([1, 2]).handle;
    for (const bad of [[], [null], [{}], [buffer], [() => {}]] as unknown[][]) {
      const e = thrownBy(() => (core.launchGraph as (...a: unknown[]) => unknown)(...bad));
      expect(e).toBeInstanceOf(TypeError);
      expect((e as Error).message).toMatch(/^launchGraph: argument 'graph' must be a graph returned by captureGraph/);
    }
  });

  it.skipIf(onGpu)('without a usable GPU, captureGraph says why and runs nothing', () => {
    let ran = false;
    const e = thrownBy(() => core.captureGraph(() => void (ran = true)));
    expect((e as Error).message).toMatch(/^captureGraph: the cuda backend is unavailable/);
    expect(ran).toBe(false);
  });

  it.skipIf(onGpu)('a CPU stepper replays its trace and never captures', () => {
    const m = new s4.nn.SequenceModel({ dInput: 1, dModel: 8, nLayers: 1, dState: 4, dOutput: 2, lMax: 8, seed: 1 }).eval();
    const st = m.stepper({ batch: 2 });
    for (let t = 0; t < 3; t++) s4.tidy(() => st.step(s4.tensor([0.5, -1], [2, 1])));
    expect(st.captured).toBe(false);
    expect((thrownBy(() => m.stepper({ batch: 1, cudaGraph: 'yes' as unknown as boolean })) as Error).message).toMatch(
      /option 'cudaGraph' must be a boolean/,
    );
    st.dispose();
    m.dispose();
  });
});
