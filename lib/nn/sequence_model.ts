/**
 * SequenceModel: encoder -> n residual S4 blocks -> pooling -> decoder, as the official S4
 * example (example.py), on channel-major activations [B, H, L]:
 *
 *   x = encoder(input)                              Linear over channels, or Embedding
 *   for each layer:  z = prenorm ? norm(x) : x
 *                    z = dropout(S4Layer(z));  x = x + z
 *                    if !prenorm: x = norm(x)
 *   norm 'layer' (LayerNorm over channels, the default), 'batch' (BatchNorm1d over (B, L)
 *   per channel, as the official LRA configs' `norm: batch`) or 'none'
 *   pool 'mean' (over L) | 'last' (x[:, :, L-1]) | 'none'
 *   decoder Linear (dModel -> dOutput): [B, dOutput] or [B, dOutput, L] for 'none'
 *
 * The S4 layer options (kernel, init, bidirectional and its convention, channels, nSsm,
 * longInputs, tieDropout) are passed to every layer; tieDropout also ties the residual
 * dropout (one mask value per batch element and channel, as nn.Dropout1d in the official
 * example).
 *
 * Input: [B, dInput, L] float32, or token indices [B, L] (float32 integers) when
 * `embedding` (the vocabulary size) is set. A batch of sequences of different lengths,
 * padded to its longest, passes their true lengths (forward(x, { lengths })): as the
 * official S4's `lengths` argument, each layer's input is zeroed at the padding before its
 * convolution, and pooling takes the mean or the last element of the valid positions only,
 * so each sequence's output is the one it would get alone, without padding. stepper() gives the recurrent view for
 * generation: step(x_t) -> output_t, equal to forward() on the prefix fed so far (for
 * 'mean' pooling it keeps a running mean, so output_t is the pooled output of the prefix).
 */
import { backend, type DeviceName } from '../backend';
import { noGrad } from '../autograd/tape';
import { core, ops, type NativeGraph } from '../native/binding';
import { OpTrace } from '../native/trace';
import { batchNorm, embedding, lastPool, lengthMask, linear, maskedLastPool, maskedMeanPool, meanPool, transpose12 } from '../ops/index';
import { expectInteger, expectNumber, expectTensor } from '../util/validate';
import { runAsync, type AsyncOptions } from '../tensor/async';
import { keep } from '../tensor/scope';
import { sharedView, Tensor } from '../tensor/tensor';
import { BatchNorm } from './batch_norm';
import { residualBlock, type BlockBuffers, type BlockNorm, type BlockParts, type NormKind } from './block';
import { generate, type GenerateOptions, type GenerationStep } from './generate';
import { Dropout } from './dropout';
import { Embedding } from './embedding';
import { LayerNorm } from './layer_norm';
import { checkLengths, isFull, type SequenceLengths } from './lengths';
import { Linear } from './linear';
import { Module } from './module';
import { Rng } from './random';
import { S4Layer, type BidirectionalConvention, type LongInputs, type S4Init, type S4Kernel } from './s4_layer';
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
  /**
   * The norm of each block: 'layer' (default), 'batch' (running statistics for eval mode and
   * the stepper; parameter and buffer names layers.<i>.norm.{weight, bias, running_mean,
   * running_var, num_batches_tracked}) or 'none'.
   */
  norm?: NormKind;
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
  /** Lags of the backward kernel (default 'official'); see S4Layer. */
  bidirectionalConvention?: BidirectionalConvention;
  /** Sequences longer than lMax: 'grow' (default) or 'truncate'; see S4Layer. */
  longInputs?: LongInputs;
  /** Output channels per SSM (default 1); the output linear of each block takes channels * dModel. */
  channels?: number;
  /** Independent (A, B, P) copies per layer, a divisor of dModel (default dModel). */
  nSsm?: number;
  /**
   * Tie the dropout masks over L (one value per batch element and channel), in each layer
   * and on the residual branch, as the official tie_dropout / nn.Dropout1d (default false).
   */
  tieDropout?: boolean;
  /** Vocabulary size: token input [B, L] instead of features [B, dInput, L]. */
  embedding?: number;
  seed?: number;
  device?: DeviceName;
}

/** The recurrent view of a SequenceModel (see SequenceModel.stepper). */
export interface ForwardOptions {
  /** The true length of each sequence of a padded batch: B integers in [1, L]. */
  lengths?: SequenceLengths;
}

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
  /** Whether tokens run as one captured CUDA graph (CUDA, from the second token on). */
  readonly captured: boolean;
  reset(): void;
  dispose(): void;
}

export class SequenceModel extends Module {
  readonly dInput: number | null;
  readonly dModel: number;
  readonly dOutput: number;
  readonly nLayers: number;
  readonly prenorm: boolean;
  readonly norm: NormKind;
  readonly pool: Pooling;
  /** Output channels per SSM of every layer. */
  readonly channels: number;
  readonly vocab: number | null;
  readonly encoder: Linear | Embedding;
  readonly layers: S4Layer[] = [];
  /** The norm of each block (null for norm 'none'). */
  readonly norms: (LayerNorm | BatchNorm | null)[] = [];
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
    const norm = opts.norm ?? 'layer';
    if (norm !== 'layer' && norm !== 'batch' && norm !== 'none') throw new TypeError(`${fn}: option 'norm' must be 'layer', 'batch' or 'none' (got ${String(norm)})`);
    this.norm = norm;
    const pool = opts.pool ?? 'mean';
    if (pool !== 'mean' && pool !== 'last' && pool !== 'none') throw new TypeError(`${fn}: option 'pool' must be 'mean', 'last' or 'none' (got ${String(pool)})`);
    this.pool = pool;
    const dropout = expectNumber(fn, 'dropout', opts.dropout ?? 0.1, 0, 1);
    this.channels = expectInteger(fn, 'channels', opts.channels ?? 1, 1, 64);
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
          bidirectionalConvention: opts.bidirectionalConvention,
          longInputs: opts.longInputs,
          channels: opts.channels,
          nSsm: opts.nSsm,
          tieDropout: opts.tieDropout,
          dropout,
          seed: rng.fork(),
          device,
        }),
      );
      this.norms.push(norm === 'layer' ? new LayerNorm(this.dModel, { device }) : norm === 'batch' ? new BatchNorm(this.dModel, { device }) : null);
      this.dropouts.push(new Dropout(dropout, { seed: rng.fork(), tie: this.layers[i].activationDropout.tie }));
    }
    // Parameter names: layers.<i>.{s4,norm} (dropouts have no parameters; norm 'none' no norm).
    const blocks = this.registerModule('layers', new Block());
    this.layers.forEach((layer, i) => {
      const block = new Block();
      block.add('s4', layer);
      const n = this.norms[i];
      if (n) block.add('norm', n);
      block.add('dropout', this.dropouts[i]);
      blocks.add(String(i), block);
    });
    this.decoder = this.registerModule('decoder', new Linear(this.dModel, this.dOutput, { seed: rng.fork(), device }));
  }

  /**
   * input [B, dInput, L] (or tokens [B, L]) -> [B, dOutput] (pool mean | last) or
   * [B, dOutput, L] (none). With `lengths`, positions past a sequence's length are padding
   * (see the class comment); their outputs under pool 'none' are not meaningful.
   */
  forward(input: Tensor, opts: ForwardOptions = {}): Tensor {
    const fn = 'SequenceModel.forward';
    if (opts === null || typeof opts !== 'object') throw new TypeError(`${fn}: argument 'opts' must be an object ({ lengths })`);
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
    const [B, , L] = x.shape;
    // Lengths that are all L change nothing: such a batch takes the unmasked path.
    const checked = opts.lengths === undefined ? null : checkLengths(fn, opts.lengths, B, L);
    const lengths = checked === null || isFull(checked, L) ? null : Tensor.fromFloats(checked, [B], 'float32', x.device);
    for (let i = 0; i < this.nLayers; i++) {
      const layer = this.layers[i];
      x = residualBlock(x, this.blockParts(i), lengths ? (u) => layer.mix(lengthMask(u, lengths)) : (u) => layer.mix(u));
    }
    if (this.pool === 'none') return this.decoder.forwardChannels(x);
    if (lengths) return this.decoder.forward(this.pool === 'mean' ? maskedMeanPool(x, lengths) : maskedLastPool(x, lengths));
    return this.decoder.forward(this.pool === 'mean' ? meanPool(x) : lastPool(x));
  }

  /**
   * The kernel length of each layer (S4Layer.lMax, which grows with longer inputs under
   * longInputs 'grow'); checkpoints store it so that a rebuilt model reads C~ for the length
   * it was saved at.
   */
  kernelLengths(): (number | null)[] {
    return this.layers.map((l) => l.lMax);
  }

  /** Declares the kernel length of each layer (see S4Layer.setLMax); null entries are skipped. */
  setKernelLengths(lengths: readonly (number | null)[]): void {
    if (!Array.isArray(lengths) || lengths.length !== this.layers.length) {
      throw new RangeError(`SequenceModel.setKernelLengths: argument 'lengths' must be an array of ${this.layers.length} lengths (got ${String(lengths)})`);
    }
    lengths.forEach((L, i) => {
      if (L !== null) this.layers[i].setLMax(L);
    });
  }

  /** The parts of block i as residualBlock takes them (live modules: forward and training). */
  private blockParts(i: number): BlockParts {
    const n = this.norms[i];
    let norm: BlockNorm = { kind: 'none' };
    if (n instanceof LayerNorm) norm = { kind: 'layer', weight: n.weight, bias: n.bias, eps: n.eps };
    else if (n instanceof BatchNorm) norm = { kind: 'batch', forwardChannels: (x, o) => n.forward(x, o) };
    return { prenorm: this.prenorm, norm, output: this.layers[i].output, dropout: this.dropouts[i] };
  }

  /**
   * The norm of block i in a stepper: snapshots (from `snap`) of the parameters and, for
   * BatchNorm, of the running statistics, which it applies in eval mode (per channel
   * affine), whatever the model's mode.
   */
  private stepNorm(i: number, snap: (t: Tensor) => Tensor): BlockNorm {
    const n = this.norms[i];
    if (n instanceof LayerNorm) return { kind: 'layer', weight: snap(n.weight), bias: snap(n.bias), eps: n.eps };
    if (!(n instanceof BatchNorm)) return { kind: 'none' };
    const [weight, bias, runningMean, runningVar] = [n.weight, n.bias, n.runningMean, n.runningVar].map(snap);
    const eps = n.eps;
    return { kind: 'batch', forwardChannels: (x, o) => batchNorm(x, weight, bias, { training: false, runningMean, runningVar, eps }, o) };
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
   * with the scan as the mixer; the first token records the native calls of the encoder,
   * the blocks, the pooling (a running mean whose count lives on the device) and the
   * decoder, and later tokens replay them (lib/native/trace.ts): per token only the
   * returned output is allocated (none when `out` is given). On CUDA the second token
   * captures the replay as one CUDA graph, and every later token copies itself into the
   * recorded input buffer, launches that graph and copies the decoder's output out: three
   * native calls instead of one per op, which is most of a token's time at small batch (a
   * token model's embedding, which checks its indices, runs before the graph).
   * `cudaGraph: false` keeps the plain replay;
   * so does a capture that fails (`captured` says which runs).
   * A BatchNorm steps as in eval mode (its running statistics: a per-channel affine map),
   * so the steps equal forward() in eval mode.
   */
  stepper(opts: { batch: number; cudaGraph?: boolean }): ModelStepper {
    const fn = 'SequenceModel.stepper';
    if (opts === null || typeof opts !== 'object') throw new TypeError(`${fn}: argument 'opts' must be an object with 'batch'`);
    const batch = expectInteger(fn, 'batch', opts.batch, 1);
    if (opts.cudaGraph !== undefined && typeof opts.cudaGraph !== 'boolean')
      throw new TypeError(`${fn}: option 'cudaGraph' must be a boolean (got ${typeof opts.cudaGraph})`);
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
    let parts: BlockParts[], buffers: BlockBuffers, mixed: Tensor, tiled: Tensor | null;
    let encW: Tensor, encB: Tensor | null, decW: Tensor, decB: Tensor;
    // x alternates between xa and xb ([B, D, 1]); sum and count: the running mean of x
    // ('mean'), both on the device so that the pooling steps inside a captured graph; head:
    // the decoder's output, copied out to each call's tensor.
    let xa: Tensor, xb: Tensor, pooled: Tensor, sum: Tensor, count: Tensor, head: Tensor, tokenIn: Tensor;
    try {
      for (const layer of this.layers) scans.push(layer.recurrence(fn, batch));
      parts = this.layers.map((layer, i) => ({
        prenorm,
        norm: this.stepNorm(i, snap),
        output: { weight: snap(layer.output.weight), bias: snap(layer.output.bias!) },
        dropout: eval0,
      }));
      encW = snap(this.encoder.param('weight'));
      encB = vocab === null ? snap((this.encoder as Linear).bias!) : null;
      decW = snap(this.decoder.weight);
      decB = snap(this.decoder.bias!);
      xa = buffer([batch, D, 1]);
      xb = buffer([batch, D, 1]);
      // With channels > 1 the scan runs on the token tiled C times (C D rows; every layer
      // of a model has the same channels).
      const CD = this.channels * D;
      tiled = CD > D ? buffer([batch, CD, 1]) : null;
      mixed = buffer([batch, CD, 1]);
      const { norm } = this;
      buffers = {
        normed: prenorm && norm !== 'none' ? buffer([batch, D, 1]) : undefined,
        z: buffer([batch, 2 * D, 1]),
        residual: !prenorm && norm === 'batch' ? buffer([batch, D, 1]) : undefined,
      };
      pooled = buffer([batch, D]);
      sum = buffer([batch, D]);
      count = buffer([batch, D]);
      head = buffer([batch, dOutput]);
      // The input placeholder of the recorded calls (replaced by each call's token).
      tokenIn = buffer(vocab !== null ? [batch] : [batch, dInput!]);
      ops.fill({ out: sum.handle, value: 0, n: batch * D });
      ops.fill({ out: count.handle, value: 0, n: batch * D });
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
    // The encoder of one token, from `tokenIn` into xa.
    const encode = (): void => {
      if (vocab !== null) embedding(tokenIn, encW, { out: flat(xa) });
      else linear(tokenIn, encW, encB, { out: flat(xa) });
    };
    // The blocks, from xa; returns the buffer holding x.
    const blocks = (): Tensor => {
      let x = xa;
      let spare = xb;
      for (let i = 0; i < parts.length; i++) {
        const scan = scans[i];
        const layer = this.layers[i];
        residualBlock(x, parts[i], (u) => {
          if (tiled) layer.tileToken(u.handle, tiled.handle, batch);
          scan.stepBuffers(tiled ? tiled.handle : u.handle, mixed.handle, true);
          return mixed;
        }, { ...buffers, out: spare });
        [x, spare] = [spare, x];
      }
      return x;
    };
    // The pooling and the decoder, from the blocks' output into head.
    const decode = (last: Tensor): void => {
      let x = flat(last);
      if (pool === 'mean') {
        ops.runningMean({ sum: sum.handle, count: count.handle, x: x.handle, mean: pooled.handle, n: batch * D });
        x = pooled;
      }
      ops.linearForward({ x: x.handle, weight: decW.handle, bias: decB.handle, out: head.handle, M: batch, K: D, N: dOutput });
    };
    let encTrace: OpTrace | null = null;
    let blockTrace: OpTrace | null = null;
    let graph: NativeGraph | null = null;
    let tryGraph = device === 'cuda' && opts.cudaGraph !== false;
    // The embedding reads back whether its indices are valid, which a graph cannot hold: a
    // token model's graph starts after the encoder.
    const encoderInGraph = vocab === null;
    let position = 0;
    let disposed = false;
    const tokens = (enc: OpTrace, blk: OpTrace, xt: Tensor): void => {
      if (graph === null && tryGraph) {
        tryGraph = false;
        try {
          graph = core.captureGraph(() => {
            if (encoderInGraph) enc.replay([tokenIn.handle]);
            blk.replay([]);
          });
        } catch {
          // An op of this model cannot be captured (it allocates scratch memory): replay.
          graph = null;
        }
      }
      if (graph === null) {
        enc.replay([xt.handle]);
        blk.replay([]);
        return;
      }
      if (encoderInGraph) core.copy(tokenIn.handle, xt.handle);
      else enc.replay([xt.handle]);
      core.launchGraph(graph);
    };
    const run = (xt: Tensor, y: Tensor): Tensor => {
      noGrad(() => {
        if (encTrace === null || blockTrace === null) {
          encTrace = new OpTrace(encode, [tokenIn.handle]);
          blockTrace = new OpTrace(() => decode(blocks()), []);
        } else {
          tokens(encTrace, blockTrace, xt);
        }
      });
      position++;
      core.copy(y.handle, head.handle);
      return y;
    };
    return {
      step(xt: Tensor, out?: Tensor): Tensor {
        if (disposed) throw new Error(`${fn}.step: the stepper has been disposed`);
        expectTensor(`${fn}.step`, 'x', xt, inputSpec);
        if (encTrace === null) core.copy(tokenIn.handle, xt.handle);
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
      get captured(): boolean {
        return graph !== null;
      },
      reset(): void {
        scans.forEach((s) => s.reset());
        ops.fill({ out: sum.handle, value: 0, n: batch * D });
        ops.fill({ out: count.handle, value: 0, n: batch * D });
        position = 0;
      },
      dispose(): void {
        if (disposed) return;
        disposed = true;
        graph = null;
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
