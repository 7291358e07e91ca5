/**
 * s4.interop.readStateDict: an official state_dict from a file, by its content: safetensors,
 * a torch.save'd state_dict (.pt / .pth) or a PyTorch Lightning checkpoint (.ckpt: a dict whose
 * 'state_dict' holds the tensors, next to plain entries such as epoch, global_step,
 * hyper_parameters and optimizer_states). Nothing in the file is run (see pickle.ts).
 */
import { readFileNamed } from '../util/files';
import type { OfficialStateDict } from './official_tensor';
import { PyOpaque } from './pickle_values';
import { readSafetensorsAny } from './safetensors_io';
import { isTensorValue, loadTorch, type TorchValue } from './torch_load';

export interface ReadStateDictOptions {
  /** Keep only the keys that start with this prefix, without it (a Lightning module's 'model.'). */
  prefix?: string;
  /**
   * Read checkpoints whose entries outside the tensors hold objects of other classes
   * (a Lightning AttributeDict, a callback's state): those become PyOpaque stand-ins, never
   * run. Default false: such a file is refused, naming the global.
   */
  ignoreUnknown?: boolean;
}

export interface StateDictFile {
  stateDict: OfficialStateDict;
  format: 'safetensors' | 'torch' | 'lightning';
  /** Lightning: the checkpoint's other entries (epoch, global_step, hyper_parameters, ...); safetensors: its metadata. */
  meta: Record<string, unknown>;
  /** Keys left out by `prefix`. */
  skipped: string[];
}

function isPlainObject(v: unknown): v is Record<string, TorchValue> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array) && !(v instanceof PyOpaque) && !isTensorValue(v);
}

/** Reads the state_dict of a file's bytes; `source` names it in errors. */
export function stateDictFromBytes(bytes: Uint8Array, source: string, opts: ReadStateDictOptions = {}): StateDictFile {
  const fn = 'readStateDict';
  const prefix = opts.prefix ?? '';
  if (typeof prefix !== 'string') throw new TypeError(`${fn}: option 'prefix' must be a string`);
  let sd: Record<string, unknown>;
  let format: StateDictFile['format'];
  let meta: Record<string, unknown> = {};
  const zip = bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
  if (zip || (bytes.length >= 2 && bytes[0] === 0x80)) {
    const root = loadTorch(bytes, { source, ignoreUnknown: opts.ignoreUnknown });
    if (!isPlainObject(root)) throw new RangeError(`${source}: the file holds ${describe(root)}, not a state_dict (a dict of tensors)`);
    if ('state_dict' in root) {
      if (!isPlainObject(root.state_dict)) throw new RangeError(`${source}: entry 'state_dict' is ${describe(root.state_dict)}, not a dict of tensors`);
      format = 'lightning';
      sd = root.state_dict;
      meta = Object.fromEntries(Object.entries(root).filter(([k]) => k !== 'state_dict'));
    } else {
      format = 'torch';
      sd = root;
    }
  } else {
    const st = readSafetensorsAny(bytes, source);
    format = 'safetensors';
    sd = st.tensors;
    meta = st.metadata;
  }
  const stateDict: OfficialStateDict = {};
  const skipped: string[] = [];
  for (const [k, v] of Object.entries(sd)) {
    if (!k.startsWith(prefix)) {
      skipped.push(k);
      continue;
    }
    const where = format === 'lightning' ? `state_dict['${k}']` : `'${k}'`;
    if (v instanceof PyOpaque) throw new RangeError(`${source}: ${where} is built from ${v.what}, not a tensor (refused; nothing was run)`);
    if (format !== 'safetensors' && !isTensorValue(v)) throw new RangeError(`${source}: ${where} is ${describe(v as TorchValue)}, not a tensor`);
    stateDict[k.slice(prefix.length)] = v as OfficialStateDict[string];
  }
  if (prefix && Object.keys(stateDict).length === 0) throw new RangeError(`${source}: no key starts with the prefix '${prefix}' (keys: ${skipped.slice(0, 5).join(', ')}${skipped.length > 5 ? ', ...' : ''})`);
  return { stateDict, format, meta, skipped };
}

/** Reads the state_dict of a .safetensors, .pt/.pth or .ckpt file. */
export function readStateDict(path: string, opts: ReadStateDictOptions = {}): StateDictFile {
  return stateDictFromBytes(readFileNamed('readStateDict', path), path, opts);
}

function describe(v: TorchValue | undefined): string {
  if (v === null || v === undefined) return 'None';
  if (v instanceof PyOpaque) return `an object built from ${v.what}`;
  if (Array.isArray(v)) return 'a list';
  if (isTensorValue(v)) return 'a tensor';
  if (v instanceof Uint8Array) return 'bytes';
  return typeof v === 'object' ? 'a dict' : `a ${typeof v}`;
}
