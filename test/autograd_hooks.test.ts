/**
 * onGradReady: a hook per leaf that backward calls once per pass, right after the leaf's
 * last gradient contribution of the pass has been accumulated into .grad, and before the
 * pass goes on with the rest of the graph (data-parallel training launches gradient buckets
 * from it). Leaves that get no gradient are not reported; a throwing hook stops the pass.
 */
import { describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';
import { record } from '../lib/autograd/tape';
import type { Tensor } from '../lib/tensor/tensor';
import { randomValues, relL2 } from './helpers/device';

/** An identity op whose backward writes `label` to `log` (to see when the pass runs it). */
function tap(x: Tensor, label: string, log: string[]): Tensor {
  const out = x.clone();
  record(out, [x], (g) => {
    log.push(label);
    return [g.clone()];
  });
  return out;
}

/** An identity op whose backward gives its input no gradient. */
function cut(x: Tensor): Tensor {
  const out = x.clone();
  record(out, [x], () => [null]);
  return out;
}

describe('onGradReady', () => {
  it('fires once for a leaf used many times, after its last contribution', () => {
    const xv = randomValues(9, 1);
    const x = s4.tensor(xv, [9], { requiresGrad: true });
    const seen: Float32Array[] = [];
    const off = s4.onGradReady(x, (leaf) => {
      expect(leaf).toBe(x);
      seen.push(x.grad!.dataSync().slice());
    });
    // f = sum(x*x) + sum(3x) + mean(x*x*x - x): four ops read x, one of them twice.
    s4.tidy(() => {
      const sq = s4.ops.mul(x, x);
      const f = s4.ops.add(s4.ops.add(s4.ops.sum(sq), s4.ops.sum(s4.ops.scale(x, 3))), s4.ops.mean(s4.ops.sub(s4.ops.mul(sq, x), x)));
      f.backward();
    });
    expect(seen.length).toBe(1);
    const want = Array.from(xv, (v) => 2 * v + 3 + (3 * v * v - 1) / 9);
    expect(relL2(seen[0], want)).toBeLessThan(1e-6);
    expect(Array.from(x.grad!.dataSync())).toEqual(Array.from(seen[0]));
    off();
    x.dispose();
  });

  it('reports a leaf as soon as its last edge is done, while the pass goes on', () => {
    // h_i = tap(h_{i-1}) * w_i: w_i is final right after the product's backward, long before
    // the topological order (which puts every leaf after the whole chain) reaches it.
    const log: string[] = [];
    const ws = [1, 2, 3].map((i) => s4.tensor(randomValues(4, 10 + i), [4], { requiresGrad: true }));
    const offs = ws.map((w, i) => s4.onGradReady(w, () => log.push(`w${i + 1}`)));
    s4.tidy(() => {
      let h = s4.tensor(randomValues(4, 2), [4]);
      h.requiresGrad = true; // a leaf without hook: finished when the order reaches it
      ws.forEach((w, i) => (h = s4.ops.mul(tap(h, `tap${i + 1}`, log), w)));
      s4.ops.sum(h).backward();
    });
    expect(log).toEqual(['w3', 'tap3', 'w2', 'tap2', 'w1', 'tap1']);
    offs.forEach((off) => off());
    s4.dispose(...ws);
  });

  it('is not called for leaves without a gradient, and stops after removal', () => {
    const a = s4.tensor([1, 2], [2], { requiresGrad: true });
    const unused = s4.tensor([1, 2], [2], { requiresGrad: true });
    const blocked = s4.tensor([1, 2], [2], { requiresGrad: true });
    const frozen = s4.tensor([1, 2], [2]);
    const calls: string[] = [];
    const offs = [
      s4.onGradReady(a, () => calls.push('a')),
      s4.onGradReady(unused, () => calls.push('unused')),
      s4.onGradReady(blocked, () => calls.push('blocked')),
      s4.onGradReady(frozen, () => calls.push('frozen')),
    ];
    s4.tidy(() => s4.ops.sum(s4.ops.add(s4.ops.mul(a, frozen), cut(blocked))).backward());
    expect(calls).toEqual(['a']);
    expect(blocked.grad).toBeNull();
    expect(unused.grad).toBeNull();
    offs[0]();
    offs[0](); // idempotent
    s4.tidy(() => s4.ops.sum(a).backward());
    expect(calls).toEqual(['a']);
    offs.slice(1).forEach((off) => off());
    s4.dispose(a, unused, blocked, frozen);
  });

  it('with retainGraph fires on every pass, each time after that pass has accumulated', () => {
    const x = s4.tensor([1, -2, 3], [3], { requiresGrad: true });
    const seen: number[][] = [];
    const off = s4.onGradReady(x, () => seen.push(Array.from(x.grad!.dataSync())));
    s4.tidy(() => {
      const y = s4.ops.sum(s4.ops.mul(x, x));
      y.backward({ retainGraph: true });
      y.backward();
    });
    expect(seen).toEqual([
      [2, -4, 6],
      [4, -8, 12],
    ]);
    off();
    x.dispose();
  });

  it('fires for a leaf that is the root itself, and with a gradient seed', () => {
    const x = s4.tensor([5], [1], { requiresGrad: true });
    const y = s4.tensor([1, 2], [2], { requiresGrad: true });
    const calls: string[] = [];
    const offs = [s4.onGradReady(x, () => calls.push(`x ${x.grad!.item()}`)), s4.onGradReady(y, () => calls.push(`y ${Array.from(y.grad!.dataSync()).join(',')}`))];
    x.backward();
    s4.tidy(() => s4.ops.scale(y, 2).backward(s4.tensor([1, 3], [2])));
    expect(calls).toEqual(['x 1', 'y 2,6']);
    offs.forEach((off) => off());
    s4.dispose(x, y);
  });

  it('a hook that throws stops the pass with its error; gradients finished before stay, nothing leaks', () => {
    const log: string[] = [];
    const ws = [1, 2, 3].map((i) => s4.tensor(randomValues(4, 20 + i), [4], { requiresGrad: true }));
    const offs = ws.map((w, i) =>
      s4.onGradReady(w, () => {
        log.push(`w${i + 1}`);
        if (i === 1) throw new Error('bucket refused');
      }),
    );
    const before = s4.memory().cpu.tensors;
    s4.tidy(() => {
      let h = s4.tensor(randomValues(4, 3), [4]);
      ws.forEach((w, i) => (h = s4.ops.mul(tap(h, `tap${i + 1}`, log), w)));
      const loss = s4.ops.sum(h);
      expect(() => loss.backward()).toThrow('bucket refused');
    });
    expect(log).toEqual(['w3', 'tap3', 'w2']);
    expect(ws[2].grad).not.toBeNull();
    expect(ws[1].grad).not.toBeNull(); // accumulated before its hook ran
    expect(ws[0].grad).toBeNull();
    s4.zeroGrad(ws);
    expect(s4.memory().cpu.tensors).toBe(before);
    offs.forEach((off) => off());
    s4.dispose(...ws);
  });

  it('rejects bad arguments', () => {
    const x = s4.tensor([1], [1], { requiresGrad: true });
    const y = s4.ops.scale(x, 2);
    expect(() => s4.onGradReady({} as Tensor, () => {})).toThrow(/onGradReady: argument 'leaf' must be a Tensor/);
    expect(() => s4.onGradReady(x, 3 as never)).toThrow(/onGradReady: argument 'fn' must be a function/);
    expect(() => s4.onGradReady(y, () => {})).toThrow(/argument 'leaf' must be a leaf tensor .*'scale'/);
    s4.dispose(x, y);
  });
});
