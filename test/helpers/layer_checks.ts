/** S4Layer checks shared by the layer tests on the CPU and their CUDA counterparts in test/gpu. */
import { expect } from 'vitest';
import * as s4 from '../../lib/index';
import { relL2 } from './device';
import { s4Layer64, weightedSum, type LayerParams64, type LayerShape } from './nn_reference';

/** A module's parameters as float64 copies, by name. */
export function params64(m: s4.nn.Module): LayerParams64 {
  return Object.fromEntries(m.namedParameters().map(([n, t]) => [n, Float64Array.from(t.dataSync())]));
}

/** An S4Layer of the given reference shape on `device` (extra options override). */
export function layerOfShape(s: LayerShape, seed: number, device: s4.DeviceName, extra: Partial<s4.nn.S4LayerOptions> = {}): s4.nn.S4Layer {
  return new s4.nn.S4Layer({
    dModel: s.H,
    dState: 2 * s.N2,
    kernel: s.kind,
    lMax: s.lMax,
    bidirectional: s.bidirectional,
    bidirectionalConvention: s.convention,
    channels: s.channels,
    nSsm: s.nSsm,
    longInputs: s.truncate ? 'truncate' : 'grow',
    seed,
    device,
    ...extra,
  });
}

/** Expects every parameter's gradient (after backward of sum(forward(uv) * wv)) within 1e-4 of float64 central differences. */
export function expectGradientsMatch64(layer: s4.nn.S4Layer, s: LayerShape, uv: Float32Array, wv: Float32Array, B: number, L: number): void {
  const P = params64(layer);
  const loss = (): number => weightedSum(s4Layer64(P, s, uv, B, L), wv);
  const h = 1e-6;
  for (const [name, t] of layer.namedParameters()) {
    const v = P[name];
    const fd = new Float64Array(v.length);
    for (let i = 0; i < v.length; i++) {
      const x0 = v[i];
      v[i] = x0 + h;
      const lp = loss();
      v[i] = x0 - h;
      const lm = loss();
      v[i] = x0;
      fd[i] = (lp - lm) / (2 * h);
    }
    expect(t.grad, name).not.toBeNull();
    expect(relL2(t.grad!.dataSync(), fd), name).toBeLessThan(1e-4);
  }
}
