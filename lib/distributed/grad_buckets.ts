/**
 * The gradient buckets of a data-parallel model and their sums in one step.
 *
 * The parameters are cut into buckets of about `bucketBytes` in reverse registration order,
 * the order in which a backward pass usually finishes their gradients (the last layers
 * first), as PyTorch's DistributedDataParallel does. With overlap, a hook on every parameter
 * (autograd's onGradReady) counts the gradients that are final, and a bucket is started as
 * soon as all of its gradients are and every earlier bucket has been started, while the
 * backward pass goes on; `finish()` then starts the buckets still waiting, in order, with
 * zeros for the gradients a parameter did not get (unused in the loss, or no backward at all
 * on a rank without examples), and waits for all of them. Every rank thus starts the same
 * buckets in the same order whatever its backward pass did, and the collectives line up.
 * Without overlap, `finish()` starts every bucket after the backward pass: the same buckets,
 * the same sums in the same order, only later.
 */
import { onGradReady } from '../autograd/tape';
import { zerosLike } from '../tensor/create';
import { keep } from '../tensor/scope';
import type { Tensor } from '../tensor/tensor';
import { buckets, type GradientTransport } from './tcp_transport';

/** Parameters whose gradients an open GradientBuckets with overlap watches (two would both start buckets). */
const watched = new WeakSet<Tensor>();

export class GradientBuckets {
  /** The parameters of each bucket, in the order the buckets are started. */
  readonly plan: readonly (readonly Tensor[])[];
  private readonly bucketOf = new Map<Tensor, number>();
  private readonly readyCount: number[];
  private readonly ready = new Set<Tensor>();
  private next = 0;
  private running: Promise<void>[] = [];
  private readonly removeHooks: (() => void)[] = [];

  constructor(
    params: readonly Tensor[],
    bucketBytes: number,
    private readonly transport: GradientTransport,
    readonly overlap: boolean,
  ) {
    // A module registered twice lists its parameters twice: each is reduced once.
    const unique = [...new Set(params)];
    this.plan = buckets(unique.reverse(), bucketBytes);
    this.plan.forEach((b, i) => b.forEach((p) => this.bucketOf.set(p, i)));
    this.readyCount = new Array<number>(this.plan.length).fill(0);
    if (!overlap) return;
    GradientBuckets.checkUnwatched(params);
    for (const p of this.bucketOf.keys()) {
      watched.add(p);
      const off = onGradReady(p, (leaf) => this.gradReady(leaf));
      this.removeHooks.push(() => {
        off();
        watched.delete(p);
      });
    }
  }

  /** Throws if an open DataParallel with overlap already watches one of these parameters. */
  static checkUnwatched(params: readonly Tensor[]): void {
    if (params.some((p) => watched.has(p))) {
      throw new Error('DataParallel: another DataParallel of this model is open with overlap (its hooks would start buckets too); close() it first');
    }
  }

  /** Whether these are still the parameters the buckets were made of (a model moved with to() has new tensors). */
  holds(params: readonly Tensor[]): boolean {
    return new Set(params).size === this.bucketOf.size && params.every((p) => this.bucketOf.has(p));
  }

  /** Starts the buckets not started yet, in order, and resolves once all are summed in place. */
  finish(): Promise<void> {
    while (this.next < this.plan.length) this.start(this.next++);
    const running = this.running;
    this.running = [];
    this.next = 0;
    this.ready.clear();
    this.readyCount.fill(0);
    return Promise.all(running).then(() => this.transport.finishSums());
  }

  /** Removes the hooks (the DataParallel is closed). */
  close(): void {
    for (const off of this.removeHooks.splice(0)) off();
  }

  private gradReady(p: Tensor): void {
    const b = this.bucketOf.get(p)!;
    if (this.ready.has(p) || b < this.next) {
      throw new Error(
        `DataParallel: the gradient of parameter${p.name ? ` '${p.name}'` : ''} [${p.shape.join(', ')}] was completed twice before allReduceGradients(): ` +
          'with overlap a step takes one backward pass (create the DataParallel with { overlap: false } to accumulate gradients over several)',
      );
    }
    this.ready.add(p);
    this.readyCount[b]++;
    while (this.next < this.plan.length && this.readyCount[this.next] === this.plan[this.next].length) this.start(this.next++);
  }

  private start(b: number): void {
    // A parameter without a gradient counts as zeros; it owns the tensor, as the tape's leaf gradients.
    const grads = this.plan[b].map((p) => (p.grad ??= keep(zerosLike(p))));
    const done = this.transport.startSum(grads);
    // Awaited by finish(); a step abandoned before it must not leave an unhandled rejection.
    done.catch(() => {});
    this.running.push(done);
  }
}
