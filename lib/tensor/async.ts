/**
 * Async calls: run tensor code without blocking the event loop. runAsync(fn) runs fn on the
 * JS thread as usual, in a tidy scope, while the addon records its CPU ops instead of
 * running them; the recording then runs as one job on a worker thread, in issue order with
 * every other async call (the CPU stream, native/binding/cpu_stream.h). CUDA ops are
 * launched as usual and only the wait for the stream moves to a worker thread. The Promise
 * resolves to fn's result once its values are computed. See docs/ARCHITECTURE.md,
 * "Async calls".
 *
 * Inside fn nothing may read values (dataSync, item, an op that answers a number): they do
 * not exist yet, and such reads throw. Buffers that fn disposes stay allocated until the
 * job has used them.
 */
import { core } from '../native/binding';
import { runScope } from './scope';
import { Tensor } from './tensor';

export interface AsyncOptions {
  /** Cancels the call: the job stops between two ops and the Promise rejects with an AbortError. */
  signal?: AbortSignal;
}

/** The rejection of a cancelled call: the signal's reason (an AbortError unless one was given). */
export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The operation was aborted', 'AbortError');
}

function checkSignal(fn: string, signal: unknown): AbortSignal | undefined {
  if (signal === undefined) return undefined;
  if (!(signal instanceof AbortSignal)) throw new TypeError(`${fn}: option 'signal' must be an AbortSignal (got ${String(signal)})`);
  return signal;
}

/** Runs fn with its CPU work on a worker thread; resolves to fn's result when it is computed. */
export async function runAsync<T>(fn: () => T, opts: AsyncOptions = {}, name = 'runAsync'): Promise<T> {
  if (typeof fn !== 'function') throw new TypeError(`${name}: argument 'fn' must be a function`);
  if (opts === null || typeof opts !== 'object') throw new TypeError(`${name}: argument 'opts' must be an object`);
  const signal = checkSignal(name, opts.signal);
  if (signal?.aborted) throw abortReason(signal);
  core.beginQueue();
  let result: T;
  // The tensors fn made and returned: freed if the call fails (not those it was given).
  const made: Tensor[] = [];
  try {
    result = runScope(fn, Tensor, made);
  } catch (err) {
    core.abandonQueue();
    throw err;
  }
  const job = core.endQueue();
  const onAbort = (): void => job.cancel();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await job.promise;
  } catch (err) {
    made.forEach((t) => t.dispose());
    if ((err as { code?: string }).code === 'S4_ABORTED' && signal) throw abortReason(signal);
    throw err;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  if (signal?.aborted) {
    // Aborted after the last op: the values exist, but the caller asked not to have them.
    made.forEach((t) => t.dispose());
    throw abortReason(signal);
  }
  return result;
}
