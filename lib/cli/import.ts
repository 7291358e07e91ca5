/**
 * `s4 import <file> --config cfg.json --out model.safetensors`: an official S4 model (the
 * example.py model: encoder, s4_layers.N, norms.N, decoder) from a .pt / .ckpt /
 * .safetensors file, read without running it, written as our checkpoint.
 */
import { readFileNamed } from '../util/files';
import type { Command } from 'commander';
import { modelFromOfficial } from '../interop/from_official';
import { checkpointOf } from '../interop/checkpoint_io';
import { readStateDict } from '../interop/state_file';
import { saveCheckpoint } from '../train/checkpoint';

interface ImportFlags {
  config: string;
  out: string;
  prefix?: string;
  task?: string;
  ignoreUnknown?: boolean;
  strict: boolean;
  json?: boolean;
}

function readConfig(path: string): Record<string, unknown> {
  const text = readFileNamed('--config', path).toString('utf8');
  try {
    const v = JSON.parse(text);
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
    return v;
  } catch (err) {
    throw new Error(`--config: '${path}' is not a JSON object of the official constructor arguments (${(err as Error).message})`);
  }
}

export function registerImport(program: Command): void {
  program
    .command('import')
    .description('convert an official S4 model (state-spaces/s4 example model) from .pt, .ckpt or .safetensors into an s4 checkpoint')
    .argument('<file>', 'a torch.save file (.pt, .pth), a Lightning checkpoint (.ckpt) or a .safetensors file')
    .requiredOption('--config <file>', "JSON with the official constructor arguments: d_input, d_output, d_model, n_layers, d_state, l_max, prenorm, pool, mode, ...")
    .requiredOption('--out <file>', 'checkpoint to write (.safetensors)')
    .option('--prefix <p>', "keep the state_dict keys under this prefix (default for Lightning checkpoints: 'model.' when every key has it)")
    .option('--task <name>', 'the s4 train task the model fits (so that s4 eval / s4 generate can use the checkpoint)')
    .option('--ignore-unknown', 'skip checkpoint entries built from unknown classes (never run) instead of refusing the file')
    .option('--no-strict', 'ignore state_dict keys that the config does not explain')
    .option('--json', 'print JSON')
    .action((file: string, f: ImportFlags) => {
      const config = readConfig(f.config);
      const missing = ['d_input', 'd_output', 'n_layers', 'd_model'].filter((k) => !(k in config));
      if (missing.length > 0) {
        throw new RangeError(`--config: '${f.config}' lacks ${missing.map((k) => `'${k}'`).join(', ')}: s4 import converts the official example model (encoder, s4_layers.N, norms.N, decoder); a single S4Block loads with s4.interop.blockFromOfficial`);
      }
      let read = readStateDict(file, { prefix: f.prefix, ignoreUnknown: f.ignoreUnknown });
      if (f.prefix === undefined && read.format === 'lightning') {
        const keys = Object.keys(read.stateDict);
        if (keys.length > 0 && keys.every((k) => k.startsWith('model.'))) read = readStateDict(file, { prefix: 'model.', ignoreUnknown: f.ignoreUnknown });
      }
      const model = modelFromOfficial(read.stateDict, config as never, { strict: f.strict, device: 'cpu' });
      try {
        const state = checkpointOf(model, {
          source: { file, format: read.format, config, epoch: read.meta.epoch, globalStep: read.meta.global_step },
          task: f.task,
        });
        saveCheckpoint(f.out, state);
        const summary = { out: f.out, source: file, format: read.format, parameters: model.parameterCount(), skipped: read.skipped };
        if (f.json) console.log(JSON.stringify(summary));
        else console.log(`wrote ${f.out}: ${read.format} file ${file} as an s4 checkpoint (${summary.parameters} parameters${read.skipped.length ? `; ${read.skipped.length} keys outside the prefix left out` : ''})`);
      } finally {
        model.dispose();
      }
    });
}
