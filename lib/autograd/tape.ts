/**
 * Reverse-mode autograd. Each op calls record(out, inputs, backward) after computing its
 * output; the graph lives on the tensors (out.gradNode). backward() orders the graph
 * topologically from the root, calls each node's backward with the gradient of its
 * output, sums gradients that meet at a tensor, and accumulates into leaf.grad.
 * Intermediate gradients are freed as soon as they are used, and the graph is released
 * after a backward pass, with the tensors its ops saved: a second backward through it
 * throws, unless the first one was told { retainGraph: true } (which keeps both). A graph
 * that reaches a disposed tensor throws and names it instead of running.
 *
 * onGradReady(leaf, fn) asks to be told when a leaf's gradient is final during a backward
 * pass (data-parallel training starts reducing a bucket of gradients then, while the pass
 * goes on). For such leaves backward counts the graph's edges into them and accumulates
 * .grad as soon as the last one has delivered its gradient, not when the topological order
 * reaches the leaf (which can be the end of the pass). Without hooks nothing is counted.
 */
import { ops } from '../native/binding';
import * as scope from '../tensor/scope';
import { Tensor, setBackwardImpl, type BackwardOptions, type GradNode } from '../tensor/tensor';

let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs fn with recording off (inference, optimizer updates). */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/**
 * Records that `out` was computed from `inputs`. `backward(gradOut)` must return, for each
 * input in order, a newly allocated gradient tensor of the input's shape and dtype, or
 * null where the input needs none (check `input.requiresGrad` to skip work).
 */
export function record(
  out: Tensor,
  inputs: readonly (Tensor | null | undefined)[],
  backward: (gradOut: Tensor, retain: boolean) => readonly (Tensor | null | undefined)[],
  name = 'op',
): void {
  if (!gradEnabled) return;
  if (!inputs.some((t) => t && t.requiresGrad)) return;
  out.requiresGrad = true;
  out.gradNode = { inputs, backward, name };
}

/** Called with the leaf once its .grad holds this backward pass's whole contribution. */
export type GradReadyHook = (leaf: Tensor) => void;

const readyHooks = new Map<Tensor, GradReadyHook[]>();

/**
 * Calls fn(leaf) during each backward pass that gives `leaf` a gradient, once, right after
 * the last contribution of the pass has been accumulated into leaf.grad (later work of the
 * pass does not touch it again). Not called for a pass in which the leaf gets no gradient.
 * An error thrown by fn stops the backward pass and propagates out of backward(); the
 * gradients accumulated until then stay. Returns a function that removes the hook.
 */
export function onGradReady(leaf: Tensor, fn: GradReadyHook): () => void {
  if (!(leaf instanceof Tensor)) throw new TypeError("onGradReady: argument 'leaf' must be a Tensor");
  if (typeof fn !== 'function') throw new TypeError("onGradReady: argument 'fn' must be a function");
  if (leaf.gradNode) throw new RangeError(`onGradReady: argument 'leaf' must be a leaf tensor (${describe(leaf)} was computed by '${leaf.gradNode.name}')`);
  const list = readyHooks.get(leaf) ?? [];
  list.push(fn);
  readyHooks.set(leaf, list);
  let removed = false;
  return () => {
    if (removed) return;
    removed = true;
    const l = readyHooks.get(leaf);
    if (!l) return;
    l.splice(l.indexOf(fn), 1);
    if (l.length === 0) readyHooks.delete(leaf);
  };
}

/** How many edges of the graph lead into each hooked leaf (an input used twice by one op counts twice). */
function hookedEdgeCounts(order: readonly Tensor[]): Map<Tensor, number> {
  const counts = new Map<Tensor, number>();
  for (const t of order) {
    for (const i of t.gradNode?.inputs ?? []) if (i && i.requiresGrad && !i.gradNode && readyHooks.has(i)) counts.set(i, (counts.get(i) ?? 0) + 1);
  }
  return counts;
}

function accumulate(into: Tensor, g: Tensor): void {
  ops.axpby({ out: into.handle, a: into.handle, alpha: 1, b: g.handle, beta: 1, n: into.floats });
}

function topoOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  // Iterative DFS: graphs of long training runs can be deeper than the JS stack.
  const stack: [Tensor, boolean][] = [[root, false]];
  while (stack.length) {
    const [t, expanded] = stack.pop()!;
    if (expanded) {
      order.push(t);
      continue;
    }
    if (visited.has(t)) continue;
    visited.add(t);
    stack.push([t, true]);
    for (const i of t.gradNode?.inputs ?? []) if (i && i.requiresGrad && !visited.has(i)) stack.push([i, false]);
  }
  return order.reverse();
}


function describe(t: Tensor): string {
  return `tensor${t.name ? ` '${t.name}'` : ''} [${t.shape.join(', ')}]`;
}

function runBackward(root: Tensor, seed?: Tensor | null, opts?: BackwardOptions): void {
  if (opts !== undefined && (opts === null || typeof opts !== 'object')) {
    throw new TypeError(`backward: argument 'opts' must be an object such as { retainGraph: true } (got ${String(opts)})`);
  }
  const retain = opts?.retainGraph === true;
  if (root.released) {
    throw new Error(
      'backward: the graph of this tensor was freed by an earlier backward pass; pass { retainGraph: true } to the first backward to run another',
    );
  }
  if (!root.requiresGrad) {
    throw new Error('backward: the tensor does not require grad (no input of its computation has requiresGrad set)');
  }
  root.handle; // throws if disposed
  let start: Tensor;
  if (seed) {
    if (!(seed instanceof Tensor)) throw new TypeError("backward: argument 'grad' must be a Tensor");
    const sameShape = seed.rank === root.rank && seed.shape.every((d, i) => d === root.shape[i]);
    if (!sameShape || seed.dtype !== root.dtype || seed.device !== root.device) {
      throw new RangeError(
        `backward: argument 'grad' must match the tensor (shape [${root.shape.join(', ')}], ${root.dtype}, ${root.device}; ` +
          `got [${seed.shape.join(', ')}], ${seed.dtype}, ${seed.device})`,
      );
    }
    // The caller's tensor is used as it is (no copy of a possibly large gradient): it is
    // read by the root's backward and never disposed or accumulated into here.
    seed.handle; // throws if disposed
    start = seed;
  } else {
    if (root.size !== 1 || root.dtype !== 'float32') {
      throw new RangeError(
        `backward: a gradient argument is required for a non-scalar tensor (shape [${root.shape.join(', ')}]); reduce it with s4.ops.sum first`,
      );
    }
    start = Tensor.empty(root.shape, root.dtype, root.device);
    ops.fill({ out: start.handle, value: 1, n: 1 });
  }
  const order = topoOrder(root);
  // Check the whole graph before any gradient is computed: a disposed tensor has lost its
  // node (it would pass for a leaf and get a .grad), and a released node its backward.
  for (const t of order) {
    if (t.isDisposed) {
      if (start !== seed) start.dispose();
      throw new Error(`backward: ${describe(t)} of the graph was disposed before backward; keep it alive (or out of a finished tidy) until backward has run`);
    }
    if (t.released) {
      if (start !== seed) start.dispose();
      throw new Error(
        `backward: the graph through ${describe(t)} was freed by an earlier backward pass; pass { retainGraph: true } to the first backward to run another`,
      );
    }
  }
  const grads = new Map<Tensor, Tensor>([[root, start]]);
  const counts = readyHooks.size > 0 ? hookedEdgeCounts(order) : null;
  // A leaf's gradient becomes .grad, which outlives any tidy scope; its hooks then run.
  const finishLeaf = (t: Tensor, g: Tensor): void => {
    if (t.grad && !t.grad.isDisposed) {
      accumulate(t.grad, g);
      if (g !== seed) g.dispose();
    } else {
      t.grad = scope.keep(g === seed ? g.clone() : g);
    }
    const hooks = readyHooks.get(t);
    if (hooks) for (const fn of [...hooks]) fn(t);
  };
  // Counts down the edges from `node` into hooked leaves; a leaf whose last edge this was is
  // finished now (if any edge brought it a gradient).
  const edgesDone = (node: GradNode): void => {
    for (const i of node.inputs) {
      if (!i) continue;
      const n = counts!.get(i);
      if (n === undefined) continue;
      if (n > 1) {
        counts!.set(i, n - 1);
        continue;
      }
      counts!.delete(i);
      const g = grads.get(i);
      if (!g) continue;
      grads.delete(i);
      finishLeaf(i, g);
    }
  };
  try {
    for (const t of order) {
      const g = grads.get(t);
      const node = t.gradNode;
      if (!g) {
        if (counts && node) edgesDone(node);
        continue;
      }
      grads.delete(t);
      if (!node) {
        finishLeaf(t, g);
        continue;
      }
      let inputGrads: readonly (Tensor | null | undefined)[];
      try {
        inputGrads = node.backward(g, retain);
      } finally {
        if (g !== seed) g.dispose();
      }
      node.inputs.forEach((input, i) => {
        const ig = inputGrads[i];
        if (!input || !ig) return;
        if (!input.requiresGrad) {
          ig.dispose();
          return;
        }
        if (ig.size !== input.size || ig.dtype !== input.dtype) {
          throw new Error(`autograd: the backward of '${node.name}' returned a gradient of the wrong shape for input ${i}`);
        }
        const prev = grads.get(input);
        if (prev) {
          accumulate(prev, ig);
          ig.dispose();
        } else {
          grads.set(input, ig);
        }
      });
      if (counts) edgesDone(node);
    }
  } catch (err) {
    // The pass stops here: the gradients still in flight are dropped (leaves finished so far keep theirs).
    for (const g of grads.values()) if (g !== seed) g.dispose();
    throw err;
  }
  for (const g of grads.values()) g.dispose();
  if (retain) return;
  // Release the graph (the saved tensors were freed by the node backwards); a tensor that
  // had a node remembers it, so that a second backward through it throws.
  for (const t of order) {
    if (t.gradNode) {
      t.gradNode = null;
      t.released = true;
    }
  }
}

setBackwardImpl(runBackward);

/** Clears .grad of each tensor. */
export function zeroGrad(params: Iterable<Tensor>): void {
  for (const p of params) {
    if (p.grad) {
      p.grad.dispose();
      p.grad = null;
    }
  }
}
