/** SequenceModel checks shared by the model tests on the CPU and their CUDA counterparts in test/gpu. */
import { expect } from 'vitest';
import * as s4 from '../../lib/index';
import { core } from '../../lib/native/binding';
import { randomValues, relL2 } from './device';
import { modelInput } from './model_input';

type Opts = s4.nn.SequenceModelOptions;

/**
 * Expects the gradient of every parameter tensor t, along a random direction v, within tolerance
 * of the central difference (value(t + eps v) - value(t - eps v)) / (2 eps), with
 * eps in [1e-3, maxEps] moving the loss by about 1e-3 of its value (see test/nn_model.test.ts).
 */
export function expectDirectionalGradients(m: s4.nn.Module, value: () => number, maxEps: number): void {
  const l0 = Math.abs(value());
  for (const [pname, t] of m.namedParameters()) {
    const v = randomValues(t.floats, 100 + t.floats);
    const g = t.grad!.dataSync();
    let an = 0;
    for (let i = 0; i < v.length; i++) an += g[i] * v[i];
    const eps = Math.min(maxEps, Math.max(1e-3, (1e-3 * Math.max(l0, 1e-3)) / Math.max(Math.abs(an), 1e-12)));
    const p0 = t.dataSync().slice();
    const shifted = (s: number): number => {
      core.write(t.handle, Float32Array.from(p0, (p, i) => p + s * v[i]));
      return value();
    };
    const fd = (shifted(eps) - shifted(-eps)) / (2 * eps);
    core.write(t.handle, p0);
    const tol = 1e-2 * Math.abs(an) + (8 * 2 ** -23 * Math.max(l0, 1e-3)) / eps;
    expect(Math.abs(fd - an), `${pname}: fd ${fd} vs grad ${an} (eps ${eps})`).toBeLessThan(tol);
  }
}

/**
 * Steps a new stepper of m over the L tokens of inp, expecting each output within 1e-4 of
 * forward() on the prefix so far and the position to count the tokens; returns the stepper.
 */
export function expectStepperMatchesPrefixes(m: s4.nn.SequenceModel, o: Opts, inp: { values: Float32Array }, B: number, L: number, device: s4.DeviceName): s4.nn.ModelStepper {
  const st = m.stepper({ batch: B });
  const dIn = o.embedding ? 1 : o.dInput!;
  for (let t = 0; t < L; t++) {
    const xt = new Float32Array(B * dIn);
    for (let b = 0; b < B; b++) for (let i = 0; i < dIn; i++) xt[b * dIn + i] = inp.values[(b * dIn + i) * L + t];
    const got = s4.tidy(() => st.step(s4.tensor(xt, o.embedding ? [B] : [B, dIn], { device })).dataSync());
    expect(st.position).toBe(t + 1);
    // The convolutional model on the prefix of length t + 1.
    const P = t + 1;
    const prefix = new Float32Array(B * dIn * P);
    for (let r = 0; r < B * dIn; r++) for (let j = 0; j < P; j++) prefix[r * P + j] = inp.values[r * L + j];
    const full = s4.tidy(() => m.forward(s4.tensor(prefix, o.embedding ? [B, P] : [B, dIn, P], { device })).dataSync());
    const want = o.pool === 'none' ? Float32Array.from({ length: B * o.dOutput }, (_, i) => full[i * P + t]) : full;
    expect(relL2(got, want), `step ${t}`).toBeLessThan(1e-4);
  }
  return st;
}

/**
 * Runs a model in eval mode on features xv [B, dIn, L] both whole (forward) and token by token
 * (its stepper); the outputs [B, dOut, L] of both and the stepper, for the caller to dispose.
 */
export function forwardAndSteps(m: s4.nn.SequenceModel, xv: Float32Array, B: number, dIn: number, dOut: number, L: number, device: s4.DeviceName): { full: Float32Array; got: Float32Array; st: s4.nn.ModelStepper } {
  const full = s4.tidy(() => m.forward(s4.tensor(xv, [B, dIn, L], { device })).dataSync());
  const st = m.stepper({ batch: B });
  const got = new Float32Array(full.length);
  for (let t = 0; t < L; t++) {
    const xt = new Float32Array(B * dIn);
    for (let r = 0; r < B * dIn; r++) xt[r] = xv[r * L + t];
    const yt = s4.tidy(() => st.step(s4.tensor(xt, [B, dIn], { device })).dataSync());
    for (let r = 0; r < B * dOut; r++) got[r * L + t] = yt[r];
  }
  return { full, got, st };
}

/** Output and parameter gradients of sum(model(x) * w) on `device` (x from modelInput with seed 3, w random with seed 4). */
export function outputAndGrads(m: s4.nn.SequenceModel, o: Opts, B: number, L: number, device: 'cpu' | 'cuda') {
  const inp = modelInput(o, B, L, 3);
  m.zeroGrad();
  const y = s4.tidy(() => {
    const x = s4.tensor(inp.values, inp.shape, { device });
    const out = m.forward(x);
    const w = s4.tensor(randomValues(out.size, 4), out.shape, { device });
    s4.ops.sum(s4.ops.mul(out, w)).backward();
    return out.dataSync();
  });
  const grads = Object.fromEntries(m.namedParameters().map(([n, t]) => [n, t.grad!.dataSync()]));
  return { y, grads };
}
