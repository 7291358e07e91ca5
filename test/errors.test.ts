/**
 * Non-finite values are told apart by the error's code, not its message: the native
 * checker's RangeError carries code 'S4_NON_FINITE', and the trainer reports such an error
 * after an update as divergence of the parameters.
 */
import { describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';
import { ops } from '../lib/native/binding';
import { isNonFiniteError, NON_FINITE_CODE, nonFiniteError } from '../lib/util/errors';

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('non-finite errors', () => {
  it('a native op given a non-finite scalar throws a RangeError coded S4_NON_FINITE', () => {
    const t = s4.tensor([1, 2, 3]);
    for (const value of [NaN, Infinity, -Infinity]) {
      const err = thrown(() => ops.fill({ out: t.handle, value, n: 3 }));
      expect(err).toBeInstanceOf(RangeError);
      expect((err as Error).message).toMatch(/fill: argument 'value' must be finite/);
      expect((err as { code?: string }).code).toBe(NON_FINITE_CODE);
      expect(isNonFiniteError(err)).toBe(true);
    }
    // Other argument errors carry no code.
    const size = thrown(() => ops.fill({ out: t.handle, value: 1, n: 4 }));
    expect(size).toBeInstanceOf(RangeError);
    expect(isNonFiniteError(size)).toBe(false);
    t.dispose();
  });

  it('isNonFiniteError reads the code only', () => {
    expect(isNonFiniteError(nonFiniteError('x'))).toBe(true);
    expect(nonFiniteError('x')).toBeInstanceOf(RangeError);
    expect(isNonFiniteError(new RangeError("argument 'lambda' must be finite (it holds NaN)"))).toBe(false);
    expect(isNonFiniteError({ code: NON_FINITE_CODE })).toBe(false);
    expect(isNonFiniteError(null)).toBe(false);
  });

  it('the trainer reports a coded error after an update as divergence, and rethrows others', async () => {
    const task = s4.train.createTask('sine', { trainSize: 32, testSize: 8, length: 8 });
    const run = async (failure: () => unknown): Promise<unknown> => {
      const { model } = s4.train.buildModel(task, { nLayers: 1, dModel: 4, dState: 4 });
      const forward = model.forward.bind(model);
      let calls = 0;
      model.forward = (x) => {
        if (++calls === 2) throw failure();
        return forward(x);
      };
      const trainer = new s4.Trainer({ model, task, epochs: 1, batchSize: 8 });
      try {
        return await trainer.fit().then(
          () => null,
          (e: unknown) => e,
        );
      } finally {
        model.dispose();
        trainer.optimizer.dispose();
      }
    };
    const diverged = await run(() => thrown(() => ops.fill({ out: s4.tensor([0]).handle, value: NaN, n: 1 })));
    expect(diverged).toBeInstanceOf(s4.train.TrainingDivergedError);
    expect((diverged as InstanceType<typeof s4.train.TrainingDivergedError>).what).toBe('parameters');
    expect((diverged as Error).message).toMatch(/at step 2 \(epoch 1\)/);
    const other = new RangeError('some op: argument must be finite');
    expect(await run(() => other)).toBe(other);
  });
});
