/**
 * `s4 export <checkpoint> --out official.pt`: a model trained here as the official S4
 * example model's state_dict (.pt for torch.load, or .safetensors), with the official
 * constructor arguments as JSON, so that `model.load_state_dict(sd, strict=True)` takes it.
 */
import type { Command } from 'commander';
import { extname } from 'node:path';
import { officialConfig, toOfficialStateDict } from '../interop/to_official';
import { encodeTorchStateDict } from '../interop/torch_save';
import { writeSafetensorsAny } from '../interop/safetensors_io';
import { writeFileAtomic } from '../train/atomic';
import { modelFromCheckpoint } from '../train/build';
import { loadCheckpoint } from '../train/checkpoint';

interface ExportFlags {
  out: string;
  configOut?: string;
  json?: boolean;
}

export function registerExport(program: Command): void {
  program
    .command('export')
    .description("write an s4 checkpoint's model with the official S4 names (state-spaces/s4 example model) for PyTorch")
    .argument('<checkpoint>', 'a checkpoint.safetensors written by s4 train or s4 import')
    .requiredOption('--out <file>', 'official state_dict to write: .pt / .pth (torch.load) or .safetensors')
    .option('--config-out <file>', 'also write the official constructor arguments as JSON')
    .option('--json', 'print JSON')
    .action((path: string, f: ExportFlags) => {
      const ext = extname(f.out).toLowerCase();
      if (!['.pt', '.pth', '.safetensors'].includes(ext)) throw new RangeError(`--out must end in .pt, .pth or .safetensors (got '${f.out}')`);
      const model = modelFromCheckpoint(loadCheckpoint(path), 'cpu');
      try {
        const sd = toOfficialStateDict(model);
        const config = officialConfig(model);
        const root = (f.out.split('/').pop() ?? 'archive').replace(/\.[^.]*$/, '').replace(/[^A-Za-z0-9_.-]/g, '_') || 'archive';
        writeFileAtomic(f.out, ext === '.safetensors' ? writeSafetensorsAny(sd, { format: 'pt' }) : encodeTorchStateDict(sd, root));
        if (f.configOut) writeFileAtomic(f.configOut, Buffer.from(JSON.stringify(config, null, 2) + '\n'));
        if (f.json) console.log(JSON.stringify({ out: f.out, config, keys: Object.keys(sd).length }));
        else console.log(`wrote ${f.out}: ${Object.keys(sd).length} tensors with the official names; config ${JSON.stringify(config)}`);
      } finally {
        model.dispose();
      }
    });
}
