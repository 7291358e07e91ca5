/**
 * The official constructor arguments (state-spaces/s4, models/s4/s4.py: S4Block, FFTConv,
 * SSMKernelDPLR / SSMKernelDiag; example.py: the model), checked and resolved to the values
 * a mapping needs. Options that change what the official forward computes and that this
 * library does not implement are refused by name; options that only shape the
 * initialization or the optimizer (init, dt_min, lr, ...) are accepted and ignored.
 */

/** The parameter transforms of the official kernels (param_transform in s4.py). */
export type Transform = 'none' | 'exp' | 'relu' | 'sigmoid' | 'softplus';
const TRANSFORMS: readonly Transform[] = ['none', 'exp', 'relu', 'sigmoid', 'softplus'];

export interface OfficialBlockConfig {
  d_model: number;
  d_state?: number;
  l_max?: number | null;
  bidirectional?: boolean;
  mode?: 'dplr' | 'nplr' | 's4' | 'diag' | 's4d';
  n_ssm?: number | null;
  channels?: number;
  rank?: number;
  activation?: string;
  final_act?: string;
  dropout?: number;
  tie_dropout?: boolean;
  transposed?: boolean;
  dt_tie?: boolean;
  dt_transform?: Transform;
  real_transform?: Transform;
  imag_transform?: Transform;
  disc?: string;
  [key: string]: unknown;
}

export interface OfficialModelConfig extends OfficialBlockConfig {
  d_input: number;
  d_output: number;
  n_layers: number;
  prenorm?: boolean;
  pool?: 'mean' | 'last' | 'none';
}

/** A block config resolved: our kernel, sizes and the transforms of the stored parameters. */
export interface BlockSpec {
  H: number;
  N2: number;
  /** Stored SSM copies of A, B, P (and dt's source); channel h uses copy h mod nSsm. */
  nSsm: number;
  /** The official l_max (null: none given; the DPLR kernel length then comes from l_kernel). */
  lMax: number | null;
  kernel: 'dplr' | 'diag';
  bidirectional: boolean;
  dropout: number;
  dtTransform: Transform;
  realTransform: Transform;
  imagTransform: Transform;
}

export interface ModelSpec {
  block: BlockSpec;
  dInput: number;
  dOutput: number;
  nLayers: number;
  prenorm: boolean;
  pool: 'mean' | 'last' | 'none';
}

/** Accepted and ignored: they shape the initialization, the optimizer or logging only. */
const IGNORED = new Set([
  'init', 'measure', 'dt_min', 'dt_max', 'lr', 'wd', 'verbose', 'deterministic', 'backend', 'initializer',
  'transposed', 'init_args', 'dt_fast_init', 'l_kernel', '_name_',
]);

/** Each accepted value of an option that changes the forward (the first is the official default). */
const FIXED: Record<string, readonly unknown[]> = {
  channels: [1],
  rank: [1],
  activation: ['gelu'],
  final_act: ['glu'],
  dt_tie: [true],
  is_real: [false],
  dt_fast: [false],
  bandlimit: [null],
  gate: [null],
  gate_act: [null],
  bottleneck: [null],
  mult_act: [null],
  postact: [null],
  weight_norm: [false],
  swap_channels: [false],
  drop_kernel: [0],
};
const WHY: Record<string, string> = {
  channels: 'several output channels per SSM are not implemented here',
  rank: 'the low-rank correction here is rank 1',
  activation: 'the layer here applies GELU',
  final_act: 'the block here ends in Linear(H -> 2H) + GLU',
  dt_tie: 'dt here is one value per channel (inv_dt [H, 1])',
};

const BLOCK_KEYS = new Set(['d_model', 'd_state', 'l_max', 'bidirectional', 'mode', 'kernel', 'n_ssm', 'dropout', 'tie_dropout', 'dt_transform', 'real_transform', 'imag_transform', 'disc', ...Object.keys(FIXED), ...IGNORED]);
const MODEL_KEYS = new Set([...BLOCK_KEYS, 'd_input', 'd_output', 'n_layers', 'prenorm', 'pool']);

function int(fn: string, cfg: Record<string, unknown>, key: string, fallback?: number, min = 1): number {
  const v = cfg[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new TypeError(`${fn}: config '${key}' must be an integer >= ${min} (got ${JSON.stringify(cfg[key] ?? null)})`);
  }
  return v;
}

function bool(fn: string, cfg: Record<string, unknown>, key: string, fallback: boolean): boolean {
  const v = cfg[key] ?? fallback;
  if (typeof v !== 'boolean') throw new TypeError(`${fn}: config '${key}' must be true or false (got ${JSON.stringify(v)})`);
  return v;
}

function transform(fn: string, cfg: Record<string, unknown>, key: string, fallback: Transform): Transform {
  const v = cfg[key] ?? fallback;
  if (!TRANSFORMS.includes(v as Transform)) throw new TypeError(`${fn}: config '${key}' must be one of ${TRANSFORMS.join(', ')} (got ${JSON.stringify(v)})`);
  return v as Transform;
}

function checkKeys(fn: string, cfg: Record<string, unknown>, known: Set<string>): void {
  for (const key of Object.keys(cfg)) {
    if (!known.has(key)) throw new RangeError(`${fn}: unknown config key '${key}' (the official S4Block / example model has no such option that this mapping knows)`);
  }
  for (const [key, allowed] of Object.entries(FIXED)) {
    if (!(key in cfg)) continue;
    const v = cfg[key] === undefined ? allowed[0] : cfg[key];
    if (!allowed.some((a) => a === v)) {
      throw new RangeError(`${fn}: config '${key}' = ${JSON.stringify(v)} is not supported (only ${allowed.map((a) => JSON.stringify(a)).join(' or ')}${WHY[key] ? `: ${WHY[key]}` : ''})`);
    }
  }
}

function asObject(fn: string, cfg: unknown): Record<string, unknown> {
  if (cfg === null || typeof cfg !== 'object' || Array.isArray(cfg)) throw new TypeError(`${fn}: argument 'config' must be an object with the official constructor arguments (d_model, d_state, l_max, ...)`);
  return cfg as Record<string, unknown>;
}

function blockSpecOf(fn: string, c: Record<string, unknown>): BlockSpec {
  const H = int(fn, c, 'd_model');
  const N = int(fn, c, 'd_state', 64, 2);
  if (N % 2 !== 0) throw new RangeError(`${fn}: config 'd_state' must be even (the official kernels keep N/2 conjugate pairs; got ${N})`);
  const modeRaw = c.mode ?? c.kernel ?? 'dplr';
  const kernel = modeRaw === 'dplr' || modeRaw === 'nplr' || modeRaw === 's4' ? 'dplr' : modeRaw === 'diag' || modeRaw === 's4d' ? 'diag' : null;
  if (kernel === null) throw new RangeError(`${fn}: config 'mode' must be 'dplr' (or 'nplr', 's4') or 'diag' (or 's4d') (got ${JSON.stringify(modeRaw)})`);
  if (c.mode !== undefined && c.kernel !== undefined) throw new RangeError(`${fn}: config has both 'mode' and 'kernel'; pass one (as the official FFTConv asks)`);
  const nSsm = c.n_ssm === undefined || c.n_ssm === null ? H : int(fn, c, 'n_ssm');
  if (H % nSsm !== 0) throw new RangeError(`${fn}: config 'n_ssm' = ${nSsm} must divide d_model = ${H}`);
  const lMax = c.l_max === undefined || c.l_max === null ? null : int(fn, c, 'l_max');
  const dropout = c.dropout ?? 0;
  if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1)) throw new RangeError(`${fn}: config 'dropout' must be a number in [0, 1) (got ${JSON.stringify(dropout)})`);
  const tie = bool(fn, c, 'tie_dropout', false);
  if (tie && dropout > 0) throw new RangeError(`${fn}: config 'tie_dropout' = true with dropout > 0 is not supported by this mapping (the layer here draws untied masks)`);
  const disc = c.disc ?? (kernel === 'diag' ? 'zoh' : 'bilinear');
  if (kernel === 'diag' && disc !== 'zoh') throw new RangeError(`${fn}: config 'disc' = ${JSON.stringify(disc)} is not supported for mode 'diag' (the diagonal kernel here is zero-order hold, 'zoh', the official default)`);
  return {
    H,
    N2: N / 2,
    nSsm,
    lMax,
    kernel,
    bidirectional: bool(fn, c, 'bidirectional', false),
    dropout,
    dtTransform: transform(fn, c, 'dt_transform', 'exp'),
    realTransform: transform(fn, c, 'real_transform', 'exp'),
    imagTransform: transform(fn, c, 'imag_transform', 'none'),
  };
}

/** Checks an official S4Block config and resolves it. */
export function blockSpec(fn: string, config: unknown): BlockSpec {
  const c = asObject(fn, config);
  checkKeys(fn, c, BLOCK_KEYS);
  return blockSpecOf(fn, c);
}

/** Checks an official example-model config (example.py's S4Model arguments plus the block's) and resolves it. */
export function modelSpec(fn: string, config: unknown): ModelSpec {
  const c = asObject(fn, config);
  checkKeys(fn, c, MODEL_KEYS);
  const pool = c.pool ?? 'mean';
  if (pool !== 'mean' && pool !== 'last' && pool !== 'none') throw new RangeError(`${fn}: config 'pool' must be 'mean', 'last' or 'none' (got ${JSON.stringify(pool)})`);
  return {
    block: blockSpecOf(fn, c),
    dInput: int(fn, c, 'd_input'),
    dOutput: int(fn, c, 'd_output'),
    nLayers: int(fn, c, 'n_layers', undefined, 0),
    prenorm: bool(fn, c, 'prenorm', false),
    pool,
  };
}
