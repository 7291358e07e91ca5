/**
 * Streaming generation from a SequenceModel in recurrent mode: an async iterator that
 * yields one position at a time for every sequence of the batch, computing off the JS
 * thread (stepAsync; lib/tensor/async.ts). The prompt is fed as one async job, then each
 * new position costs one step per layer (O(N), not a convolution over the prefix).
 *
 *   for await (const s of model.generate([[1, 5, 2]], { maxTokens: 32, temperature: 0.8, topK: 20, seed: 1 })) {
 *     s.tokens;  // token models: the sampled token of each sequence, fed back as the next input
 *   }
 *
 * Token models (embedding) sample from softmax(output / temperature) over the topK largest
 * outputs; continuous models yield each output vector and feed it back as the next input
 * (dOutput = dInput). The model must give one output per position (pool 'none').
 */
import type { DeviceName } from '../backend';
import { abortReason, runAsync, type AsyncOptions } from '../tensor/async';
import { Tensor } from '../tensor/tensor';
import { expectInteger, expectNumber, expectTensor } from '../util/validate';
import { Rng } from './random';
import { sampleIndex } from './sampling';
import type { ModelStepper } from './sequence_model';

export interface GenerateOptions extends AsyncOptions {
  /** Positions to generate after the prompt (>= 1). */
  maxTokens: number;
  /** Softmax temperature (default 1; 0 picks the largest output). Token models only. */
  temperature?: number;
  /** Sample among the k largest outputs only (default 0: all). Token models only. */
  topK?: number;
  /**
   * Sampling seed: sequence b draws from Rng(seed + b); or one seed per sequence (so a
   * sequence's tokens do not depend on the others of its batch).
   */
  seed?: number | readonly number[];
  /**
   * A stepper of this model for the prompt's batch size to use instead of a new one (it is
   * reset first and left open). Making a stepper reads the parameters synchronously; a
   * server that keeps one per batch size never waits for that on the JS thread.
   */
  stepper?: ModelStepper;
}

export interface GenerationStep {
  /** 0-based index of the generated position (after the prompt). */
  index: number;
  /** Token models: the sampled token of each sequence. */
  tokens?: number[];
  /** Continuous models: each sequence's output vector (dOutput values). */
  values?: Float32Array[];
}

/** What generate() needs of a SequenceModel (kept structural: no import cycle). */
export interface GenerativeModel {
  readonly dInput: number | null;
  readonly dOutput: number;
  readonly vocab: number | null;
  readonly pool: string;
  readonly device: DeviceName;
  stepper(opts: { batch: number }): ModelStepper;
}

interface Prompt {
  B: number;
  P: number;
  /** Input of position t as a tensor ([B] tokens or [B, dInput] features). */
  at(t: number): Tensor;
}

function tokenPrompt(fn: string, prompt: unknown, vocab: number, device: DeviceName): Prompt {
  let rows: number[][];
  if (prompt instanceof Tensor) {
    expectTensor(fn, 'prompt', prompt, { dtype: 'float32', rank: 2 });
    const v = prompt.dataSync();
    const [B, P] = prompt.shape;
    rows = Array.from({ length: B }, (_, b) => Array.from(v.subarray(b * P, (b + 1) * P)));
  } else if (Array.isArray(prompt) && prompt.every((r) => Array.isArray(r))) {
    rows = prompt as number[][];
  } else {
    throw new TypeError(`${fn}: argument 'prompt' must be token ids as number[][] ([B][P]) or a tensor [B, P]`);
  }
  const B = rows.length;
  const P = B ? rows[0].length : 0;
  if (B === 0 || P === 0) throw new RangeError(`${fn}: argument 'prompt' must hold at least one sequence of at least one token`);
  rows.forEach((r, b) => {
    if (r.length !== P) throw new RangeError(`${fn}: argument 'prompt' rows must have one length (row 0 has ${P} tokens, row ${b} has ${r.length})`);
    r.forEach((tok, t) => {
      if (!Number.isInteger(tok) || tok < 0 || tok >= vocab) {
        throw new RangeError(`${fn}: argument 'prompt'[${b}][${t}] must be a token id in [0, ${vocab}) (got ${String(tok)})`);
      }
    });
  });
  return { B, P, at: (t) => Tensor.fromFloats(Float32Array.from(rows, (r) => r[t]), [B], 'float32', device) };
}

function vectorPrompt(fn: string, prompt: unknown, dInput: number, device: DeviceName): Prompt {
  const x = expectTensor(fn, 'prompt', prompt, { dtype: 'float32', rank: 3, device });
  const [B, D, P] = x.shape;
  if (D !== dInput) throw new RangeError(`${fn}: argument 'prompt' must have shape [B, dInput, P] with dInput = ${dInput} (got [${x.shape.join(', ')}])`);
  if (B === 0 || P === 0) throw new RangeError(`${fn}: argument 'prompt' must hold at least one sequence of at least one position`);
  const v = x.dataSync();
  return {
    B,
    P,
    at: (t) => {
      const col = new Float32Array(B * D);
      for (let b = 0; b < B; b++) for (let d = 0; d < D; d++) col[b * D + d] = v[(b * D + d) * P + t];
      return Tensor.fromFloats(col, [B, D], 'float32', device);
    },
  };
}

/** See the file comment; SequenceModel.generate calls this. */
export async function* generate(model: GenerativeModel, prompt: unknown, opts: GenerateOptions): AsyncGenerator<GenerationStep, void, undefined> {
  const fn = 'SequenceModel.generate';
  if (opts === null || typeof opts !== 'object') throw new TypeError(`${fn}: argument 'opts' must be an object with 'maxTokens'`);
  const maxTokens = expectInteger(fn, 'maxTokens', opts.maxTokens, 1);
  const temperature = expectNumber(fn, 'temperature', opts.temperature ?? 1, 0);
  const topK = expectInteger(fn, 'topK', opts.topK ?? 0, 0);
  const signal = opts.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeError(`${fn}: option 'signal' must be an AbortSignal (got ${String(signal)})`);
  if (model.pool !== 'none') throw new RangeError(`${fn}: the model must give one output per position (pool 'none'), not pool '${model.pool}'`);
  const vocab = model.vocab;
  if (vocab !== null && model.dOutput > vocab) {
    throw new RangeError(`${fn}: a token model must output at most one score per token (dOutput ${model.dOutput} > vocabulary ${vocab})`);
  }
  if (vocab === null && model.dOutput !== model.dInput) {
    throw new RangeError(`${fn}: a continuous model feeds its output back, so dOutput (${model.dOutput}) must equal dInput (${String(model.dInput)})`);
  }
  const p = vocab !== null ? tokenPrompt(fn, prompt, vocab, model.device) : vectorPrompt(fn, prompt, model.dInput!, model.device);
  const { B, P } = p;
  const seeds = opts.seed ?? 0;
  let rngs: Rng[];
  if (typeof seeds === 'number') {
    expectNumber(fn, 'seed', seeds);
    rngs = Array.from({ length: B }, (_, b) => new Rng(seeds + b));
  } else if (Array.isArray(seeds) && seeds.length === B) {
    rngs = seeds.map((s, b) => new Rng(expectNumber(fn, `seed[${b}]`, s)));
  } else {
    throw new TypeError(`${fn}: option 'seed' must be a number or one number per sequence (${B})`);
  }
  if (signal?.aborted) throw abortReason(signal);
  const D = model.dOutput;
  const given = opts.stepper;
  if (given !== undefined && (given === null || typeof given.stepAsync !== 'function' || typeof given.reset !== 'function')) {
    throw new TypeError(`${fn}: option 'stepper' must be a stepper of the model (model.stepper({ batch }))`);
  }
  let stepper: ModelStepper;
  if (given) {
    stepper = given;
    // Recorded, so that it runs after the steps already queued on this stepper.
    await runAsync(() => stepper.reset(), { signal }, fn);
  } else {
    // Making a stepper reads the parameters synchronously, which waits for every CPU job
    // issued before it (other requests' steps, in a server): wait for them off the JS
    // thread first, so that the read finds the stream (nearly) idle.
    await runAsync(() => undefined, { signal }, fn);
    stepper = model.stepper({ batch: B });
  }
  let out: Tensor | null = null;
  try {
    // The whole prompt as one job; its last output scores the first new position.
    out = await runAsync(
      () => {
        let y: Tensor | null = null;
        for (let t = 0; t < P; t++) {
          y?.dispose();
          y = stepper.step(p.at(t));
        }
        return y!;
      },
      { signal },
      fn,
    );
    for (let index = 0; index < maxTokens; index++) {
      const scores = await out.data();
      out.dispose();
      out = null;
      let next: Tensor;
      if (vocab !== null) {
        const tokens = rngs.map((rng, b) => sampleIndex(scores, b * D, D, temperature, rng, topK));
        yield { index, tokens };
        next = Tensor.fromFloats(Float32Array.from(tokens), [B], 'float32', model.device);
      } else {
        yield { index, values: Array.from({ length: B }, (_, b) => scores.slice(b * D, (b + 1) * D)) };
        next = Tensor.fromFloats(scores, [B, D], 'float32', model.device);
      }
      if (index + 1 === maxTokens) {
        next.dispose();
        break;
      }
      if (signal?.aborted) {
        next.dispose();
        throw abortReason(signal);
      }
      try {
        out = await stepper.stepAsync(next, { signal });
      } finally {
        next.dispose();
      }
    }
  } finally {
    out?.dispose();
    if (!given) stepper.dispose();
  }
}
