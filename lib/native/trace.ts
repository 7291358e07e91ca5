/**
 * Recorded op sequences for fixed-shape hot paths (a model's single-token step). A trace
 * runs the ordinary code once, with all its checks, and keeps the native calls it made;
 * replay() makes the same calls again without the TypeScript layer, substituting the
 * buffers that change per call (the token in, the output) at the argument positions where
 * the recording saw their placeholders. The native checker still validates every call.
 *
 * A trace is only valid while every buffer it saw stays alive and every scalar it saw
 * stays right: callers trace code whose scalars do not depend on the call.
 */
import { callTraced, recordOps, type NativeBuffer, type TracedCall } from './binding';

export class OpTrace {
  private readonly calls: TracedCall[];
  private readonly slots: { call: number; arg: number; which: number }[] = [];
  private readonly args: unknown[][];

  /** Runs fn (its calls happen now), recording them; `placeholders` are substituted on replay. */
  constructor(fn: () => void, placeholders: readonly NativeBuffer[]) {
    this.calls = recordOps(fn);
    this.args = this.calls.map((c) => [...c.args]);
    this.calls.forEach((c, i) =>
      c.args.forEach((a, j) => {
        const which = placeholders.indexOf(a as NativeBuffer);
        if (which >= 0) this.slots.push({ call: i, arg: j, which });
      }),
    );
  }

  get length(): number {
    return this.calls.length;
  }

  /** The recorded calls again, with actuals[k] in place of placeholders[k]. */
  replay(actuals: readonly NativeBuffer[]): void {
    for (const s of this.slots) this.args[s.call][s.arg] = actuals[s.which];
    for (let i = 0; i < this.calls.length; i++) callTraced(this.calls[i], this.args[i]);
  }
}
