/** What a call throws, for the argument-error tests. */
import { expect } from 'vitest';
import * as s4 from '../../lib/index';

/**
 * The error fn throws, or undefined when it returns (the rejection of a promise it returns is
 * absorbed). Tensors it makes are disposed.
 */
export function thrownBy(fn: () => unknown): unknown {
  let thrown: unknown;
  s4.tidy(() => {
    try {
      const r = fn();
      if (r instanceof Promise) r.catch(() => undefined);
    } catch (err) {
      thrown = err;
    }
  });
  return thrown;
}

/** fn throws an instance of cls whose message matches msg. */
export function expectThrows(fn: () => unknown, cls: ErrorConstructor, msg: RegExp): void {
  const err = thrownBy(fn);
  expect(err).toBeInstanceOf(cls);
  expect((err as Error).message).toMatch(msg);
}
