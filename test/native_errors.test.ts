/**
 * Every exported native function, called with bad arguments, throws a JS error that names
 * the function; the process never crashes (a crash would fail this forked test file).
 * New op families are covered automatically: the list comes from the addon itself. The
 * raw exports are called positionally (as a caller bypassing lib/native/binding.ts
 * would); the named ops of the binding are called with missing arguments too.
 */
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { OP_NAMES, ops, packageRoot } from '../lib/native/binding';
import * as s4 from '../lib/index';
import { thrownBy } from './helpers/throws';

// The raw module, as node-gyp-build finds it (the same file binding.ts loaded).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const addon = (process.env.S4_ADDON_PATH ? require(path.resolve(process.env.S4_ADDON_PATH)) : require('node-gyp-build')(packageRoot)) as Record<string, unknown>;

// Functions that take no arguments (queries), and constructors.
const noArgs = new Set(['cudaInfo', 'memory', 'emptyCache', 'resetPeakMemory', 'synchronize', 'synchronizeAsync', 'beginQueue', 'endQueue', 'abandonQueue', 'buildInfo', 'opSpecs', 'ncclInfo', 'ncclUniqueId']);

const fns = Object.entries(addon).filter(
  ([name, v]) => typeof v === 'function' && name !== 'NativeBuffer' && !noArgs.has(name),
) as [string, (...args: unknown[]) => unknown][];

function callExpectingError(name: string, fn: (...args: unknown[]) => unknown, args: unknown[]): Error {
  const thrown = thrownBy(() => fn(...args));
  expect(thrown, `${name}(${args.map((a) => typeof a).join(', ')}) should throw`).toBeInstanceOf(Error);
  return thrown as Error;
}

describe('native argument validation', () => {
  it('finds the exports', () => {
    expect(fns.length).toBeGreaterThan(8);
  });

  it('named ops called without their arguments throw a TypeError naming the op and an argument', () => {
    for (const name of OP_NAMES) {
      const call: (args: never) => unknown = ops[name];
      const e = callExpectingError(name, () => call({} as never), []);
      expect(e, name).toBeInstanceOf(TypeError);
      expect(e.message).toMatch(new RegExp(`^${name}: argument '\\w+'`));
    }
  });

  for (const [name, fn] of fns) {
    it(`${name}: rejects missing, mistyped and disposed arguments`, () => {
      const e0 = callExpectingError(name, fn, []);
      expect(e0).toBeInstanceOf(TypeError);
      expect(e0.message).toContain(name);
      const junk = [undefined, null, 'x', {}, [], -1, 1.5, NaN, 2 ** 60, true];
      for (const j of junk) {
        const e = callExpectingError(name, fn, Array(20).fill(j));
        expect(e.message.length).toBeGreaterThan(10);
      }
      const freed = s4.tensor([1, 2, 3, 4]).handle;
      freed.free();
      const e2 = callExpectingError(name, fn, Array(20).fill(freed));
      expect(e2.message).toMatch(/disposed|must be|expected/);
    });

    it(`${name}: rejects buffers of the wrong size`, () => {
      const small = s4.tensor([1]).handle;
      const args: unknown[] = Array(20).fill(small);
      // Plausible sizes that do not match one-element buffers.
      for (let i = 0; i < args.length; i++) if (i % 3 === 2) args[i] = 3;
      for (const v of [3, 4096]) {
        const thrown = thrownBy(() => fn(...args.map((x) => (typeof x === 'number' ? v : x))));
        // Either it refuses (most ops) or the arguments happened to be valid; never a crash.
        if (thrown) expect(thrown).toBeInstanceOf(Error);
      }
    });
  }
});
