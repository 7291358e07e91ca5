/**
 * SequenceModel: encoder -> n residual S4 blocks -> pooling -> decoder, as the official S4
 * example (example.py), on channel-major activations [B, H, L]:
 *
 *   x = encoder(input)                              Linear over channels, or Embedding
 *   for each layer:  z = prenorm ? norm(x) : x
 *                    z = dropout(S4Layer(z));  x = x + z
 *                    if !prenorm: x = norm(x)     (LayerNorm over channels)
 *   pool 'mean' (over L) | 'last' (x[:, :, L-1]) | 'none'
 *   decoder Linear (dModel -> dOutput): [B, dOutput] or [B, dOutput, L] for 'none'
 *
 * Input: [B, dInput, L] float32, or token indices [B, L] (float32 integers) when
 * `embedding` (the vocabulary size) is set. stepper() gives the recurrent view for
 * generation: step(x_t) -> output_t, equal to forward() on the prefix fed so far (for
 * 'mean' pooling it keeps a running mean, so output_t is the pooled output of the prefix).
 */
import { backend, type DeviceName } from '../backend';
import { noGrad } from '../autograd/tape';
import { core, ops } from '../native/binding';
import { OpTrace } from '../native/trace';
import { embedding, lastPool, linear, meanPool, transpose12 } from '../ops/index';
import { expectInteger, expectNumber, expectTensor } from '../util/validate';
import { runAsync, type AsyncOptions } from '../tensor/async';
import { keep } from '../tensor/scope';
import { sharedView, Tensor } from '../tensor/tensor';
import { residualBlock, type BlockBuffers, type BlockParts } from './block';
import { generate, type GenerateOptions, type GenerationStep } from './generate';
import { Dropout } from './dropout';
import { Embedding } from './embedding';
import { LayerNorm } from './layer_norm';
import { Linear } from './linear';
import { Module } from './module';
import { Rng } from './random';
import { S4Layer, type S4Init, type S4Kernel } from './s4_layer';
import type { Stepper } from './stepper';

export type Pooling = 'mean' | 'last' | 'none';

export interface SequenceModelOptions {
  /** Input features (ignored when `embedding` is set). */
  dInput?: number;
  dModel: number;
  nLayers: number;
  /** State size N of each layer (default 64). */
  dState?: number;
  dOutput: number;
  prenorm?: boolean;
  /** Dropout rate of each block (after the activation inside S4Layer and on the residual branch); default 0.1. */
  dropout?: number;
  pool?: Pooling;
  kernel?: S4Kernel;
  init?: S4Init;
  dtMin?: number;
  dtMax?: number;
  /** Longest sequence (required for kernel 'dplr'). */
  lMax?: number;
  bidirectional?: boolean;
  /** Vocabulary size: token input [B, L] instead of features [B, dInput, L]. */
  embedding?: number;
  seed?: number;
  device?: DeviceName;
}

/** The recurrent view of a SequenceModel (see SequenceModel.stepper). */
export interface ModelStepper {
  /** x_t: [B, dInput] features, or [B] token indices -> [B, dOutput] (into `out` when given). */
  step(x: Tensor, out?: Tensor): Tensor;
  /**
   * step(x) without blocking the event loop (lib/tensor/async.ts): steps queued one after
   * another run in order. After a cancelled step the state is undefined: reset() it.
   */
  stepAsync(x: Tensor, opts?: AsyncOptions & { out?: Tensor }): Promise<Tensor>;
  /** Tokens fed since the last reset. */
  readonly position: number;
  reset(): void;
  dispose(): void;
}

export class SequenceModel extends Module {
  readonly dInput: number | null;
  readonly dModel: number;
  readonly dOutput: number;
  readonly nLayers: number;
  readonly prenorm: boolean;
  readonly pool: Pooling;
  readonly vocab: number | null;
  readonly encoder: Linear | Embedding;
  readonly layers: S4Layer[] = [];
  readonly norms: LayerNorm[] = [];
  readonly dropouts: Dropout[] = [];
  readonly decoder: Linear;

  constructor(opts: SequenceModelOptions) {
    super();
    const fn = 'SequenceModel';
    if (opts === null || typeof opts !== 'object') throw new TypeError(`${fn}: argument 'opts' must be an object`);
    this.dModel = expectInteger(fn, 'dModel', opts.dModel, 1);
    this.nLayers = expectInteger(fn, 'nLayers', opts.nLayers, 0);
    this.dOutput = expectInteger(fn, 'dOutput', opts.dOutput, 1);
    this.prenorm = opts.prenorm ?? false;
    if (typeof this.prenorm !== 'boolean') throw new TypeError(`${fn}: option 'prenorm' must be a boolean`);
    const pool = opts.pool ?? 'mean';
    if (pool !== 'mean' && pool !== 'last' && pool !== 'none') throw new TypeError(`${fn}: option 'pool' must be 'mean', 'last' or 'none' (got ${String(pool)})`);
    this.pool = pool;
    const dropout = expectNumber(fn, 'dropout', opts.dropout ?? 0.1, 0, 1);
    const seed = expectInteger(fn, 'seed', opts.seed ?? 0, 0, 2 ** 32 - 1);
    const device = opts.device ?? backend();
    const rng = new Rng(seed);

    if (opts.embedding !== undefined) {
      this.vocab = expectInteger(fn, 'embedding', opts.embedding, 1);
      this.dInput = null;
      this.encoder = this.registerModule('encoder', new Embedding(this.vocab, this.dModel, { seed: rng.fork(), device }));
    } else {
      this.vocab = null;
      this.dInput = expectInteger(fn, 'dInput', opts.dInput, 1);
      this.encoder = this.registerModule('encoder', new Linear(this.dInput, this.dModel, { seed: rng.fork(), device }));
    }
    for (let i = 0; i < this.nLayers; i++) {
      this.layers.push(
        new S4Layer({
          dModel: this.dModel,
          dState: opts.dState,
          kernel: opts.kernel,
          init: opts.init,
          dtMin: opts.dtMin,
          dtMax: opts.dtMax,
          lMax: opts.lMax,
          bidirectional: opts.bidirectional,
          dropout,
          seed: rng.fork(),
          device,
        }),
      );
      this.norms.push(new LayerNorm(this.dModel, { device }));
      this.dropouts.push(new Dropout(dropout, { seed: rng.fork() }));
    }
    // Parameter names: layers.<i>.{s4,norm} (dropouts have no parameters).
    const blocks = this.registerModule('layers', new Block());
    this.layers.forEach((layer, i) => {
      const block = new Block();
      block.add('s4', layer);
      block.add('norm', this.norms[i]);
      block.add('dropout', this.dropouts[i]);
      blocks.add(String(i), block);
    });
    this.decoder = this.registerModule('decoder', new Linear(this.dModel, this.dOutput, { seed: rng.fork(), device }));
  }

  /** input [B, dInput, L] (or tokens [B, L]) -> [B, dOutput] (pool mean | last) or [B, dOutput, L] (none). */
  forward(input: Tensor): Tensor {
    const fn = 'SequenceModel.forward';
    let x: Tensor;
    if (this.vocab !== null) {
      const idx = expectTensor(fn, 'input', input, { dtype: 'float32', rank: 2 });
      x = transpose12(this.encoder.forward(idx)); // [B, L, D] -> [B, D, L]
    } else {
      const u = expectTensor(fn, 'input', input, { dtype: 'float32', rank: 3 });
      if (u.shape[1] !== this.dInput) {
        throw new RangeError(`${fn}: argument 'input' must have shape [B, dInput, L] with dInput = ${this.dInput} (got [${u.shape.join(', ')}])`);
      }
      x = (this.encoder as Linear).forwardChannels(u);
    }
    for (let i = 0; i < this.nLayers; i++) {
      const layer = this.layers[i];
      x = residualBlock(x, this.blockParts(i), (u) => layer.mix(u));
    }
    if (this.pool === 'none') return this.decoder.forwardChannels(x);
    return this.decoder.forward(this.pool === 'mean' ? meanPool(x) : lastPool(x));
  }

  /** The parts of block i as residualBlock takes them (live modules: forward and training). */
  private blockParts(i: number): BlockParts {
    return { prenorm: this.prenorm, norm: this.norms[i], output: this.layers[i].output, dropout: this.dropouts[i] };
  }

  /**
   * Streams generated positions for every sequence of `prompt` (token ids [B][P] or a
   * tensor [B, P]; continuous models: a tensor [B, dInput, P]) in recurrent mode, off the
   * JS thread; see lib/nn/generate.ts. Breaking out of the loop frees the stepper.
   */
  generate(prompt: number[][] | Tensor, opts: GenerateOptions): AsyncGenerator<GenerationStep, void, undefined> {
    return generate(this, prompt, opts);
  }

  /**
   * The recurrent view for generation: one token at a time, O(N) per layer and token. It
   * snapshots the current parameters and runs without dropout or autograd. A token runs
   * forward()'s own block routine (lib/nn/block.ts) on [B, D, 1] buffers allocated here,
   * with the scan as the mixer; the first token records the native calls of the encoder
   * and the blocks, and later tokens replay them (lib/native/trace.ts): per token only the
   * returned output is allocated (none when `out` is given).
   */
  stepper(opts: { batch: number }): ModelStepper {
    const fn = 'SequenceModel.stepper';
    if (opts === null || typeof opts !== 'object') throw new TypeError(`${fn}: argument 'opts' must be an object with 'batch'`);
    const batch = expectInteger(fn, 'batch', opts.batch, 1);
    const owned: Tensor[] = [];
    const scans: Stepper[] = [];
    const release = (): void => {
      scans.forEach((s) => s.dispose());
      owned.forEach((o) => o.dispose());
    };
    const { vocab, dInput, pool, prenorm, dModel: D, dOutput } = this;
    const device = this.decoder.weight.device;
    const snap = (t: Tensor): Tensor => {
      const c = keep(t.clone());
      owned.push(c);
      return c;
    };
    const buffer = (shape: number[]): Tensor => {
      const t = keep(Tensor.empty(shape, 'float32', device));
      owned.push(t);
      return t;
    };
    const eval0 = { draw: () => ({ p: 0, seed: 0, step: 0 }) };
    let parts: BlockParts[], buffers: BlockBuffers, mixed: Tensor;
    let encW: Tensor, encB: Tensor | null, decW: Tensor, decB: Tensor;
    // x alternates between xa and xb ([B, D, 1]); sum/sumNext: running sum of x ('mean').
    let xa: Tensor, xb: Tensor, pooled: Tensor, sum: Tensor, sumNext: Tensor, tokenIn: Tensor;
    try {
      for (const layer of this.layers) scans.push(layer.recurrence(fn, batch));
      parts = this.layers.map((layer, i) => ({
        prenorm,
        norm: { weight: snap(this.norms[i].weight), bias: snap(this.norms[i].bias), eps: this.norms[i].eps },
        output: { weight: snap(layer.output.weight), bias: snap(layer.output.bias!) },
        dropout: eval0,
      }));
      encW = snap(this.encoder.param('weight'));
      encB = vocab === null ? snap((this.encoder as Linear).bias!) : null;
      decW = snap(this.decoder.weight);
      decB = snap(this.decoder.bias!);
      xa = buffer([batch, D, 1]);
      xb = buffer([batch, D, 1]);
      mixed = buffer([batch, D, 1]);
      buffers = { normed: prenorm ? buffer([batch, D, 1]) : undefined, z: buffer([batch, 2 * D, 1]) };
      pooled = buffer([batch, D]);
      sum = buffer([batch, D]);
      sumNext = buffer([batch, D]);
      // The input placeholder of the recorded calls (replaced by each call's token).
      tokenIn = buffer(vocab !== null ? [batch] : [batch, dInput!]);
      ops.fill({ out: sum.handle, value: 0, n: batch * D });
    } catch (err) {
      release();
      throw err;
    }
    const inputSpec = vocab !== null
      ? { dtype: 'float32' as const, shape: [batch], dims: ['B'], device }
      : { dtype: 'float32' as const, shape: [batch, dInput!], dims: ['B', 'dInput'], device };
    const outSpec = { dtype: 'float32' as const, shape: [batch, dOutput], dims: ['B', 'dOutput'], device };
    const flatViews = new Map<Tensor, Tensor>();
    const flat = (t: Tensor): Tensor => {
      let v = flatViews.get(t);
      if (!v) flatViews.set(t, (v = sharedView(t, [batch, D])));
      return v;
    };
    // Encoder and blocks of one token, from `tokenIn`; returns the buffer holding x.
    const encodeAndBlocks = (): Tensor => {
      let x = xa;
      let spare = xb;
      if (vocab !== null) embedding(tokenIn, encW, { out: flat(x) });
      else linear(tokenIn, encW, encB, { out: flat(x) });
      for (let i = 0; i < parts.length; i++) {
        const scan = scans[i];
        residualBlock(x, parts[i], (u) => {
          scan.stepBuffers(u.handle, mixed.handle, true);
          return mixed;
        }, { ...buffers, out: spare });
        [x, spare] = [spare, x];
      }
      return x;
    };
    let trace: OpTrace | null = null;
    let last: Tensor = xa;
    let position = 0;
    let disposed = false;
    const run = (xt: Tensor, y: Tensor): Tensor => {
      noGrad(() => {
        if (trace === null) trace = new OpTrace(() => (last = encodeAndBlocks()), [tokenIn.handle]);
        else trace.replay([xt.handle]);
      });
      position++;
      let x = flat(last);
      if (pool === 'mean') {
        ops.axpby({ out: sumNext.handle, a: sum.handle, alpha: 1, b: x.handle, beta: 1, n: batch * D });
        [sum, sumNext] = [sumNext, sum];
        ops.axpby({ out: pooled.handle, a: sum.handle, alpha: 1 / position, beta: 0, n: batch * D });
        x = pooled;
      }
      ops.linearForward({ x: x.handle, weight: decW.handle, bias: decB.handle, out: y.handle, M: batch, K: D, N: dOutput });
      return y;
    };
    return {
      step(xt: Tensor, out?: Tensor): Tensor {
        if (disposed) throw new Error(`${fn}.step: the stepper has been disposed`);
        expectTensor(`${fn}.step`, 'x', xt, inputSpec);
        if (trace === null) core.copy(tokenIn.handle, xt.handle);
        if (out !== undefined) return run(xt, expectTensor(`${fn}.step`, 'out', out, outSpec));
        const y = Tensor.empty([batch, dOutput], 'float32', device);
        try {
          return run(xt, y);
        } catch (err) {
          y.dispose();
          throw err;
        }
      },
      stepAsync(xt: Tensor, opts: AsyncOptions & { out?: Tensor } = {}): Promise<Tensor> {
        return runAsync(() => this.step(xt, opts?.out), opts, `${fn}.stepAsync`);
      },
      get position(): number {
        return position;
      },
      reset(): void {
        scans.forEach((s) => s.reset());
        ops.fill({ out: sum.handle, value: 0, n: batch * D });
        position = 0;
      },
      dispose(): void {
        if (disposed) return;
        disposed = true;
        release();
      },
    };
  }
}

/** A container for one residual block's sub-modules (names only). */
class Block extends Module {
  add(name: string, m: Module): void {
    this.registerModule(name, m);
  }
}
