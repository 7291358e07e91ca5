/** `s4 eval <checkpoint>`: loss and accuracy of a trained model on the test (or train, or validation) split. */
import type { Command } from 'commander';
import { backend } from '../backend';
import { modelFromCheckpoint, taskFromCheckpoint } from '../train/build';
import { loadCheckpoint } from '../train/checkpoint';
import { Trainer } from '../train/trainer';
import { applyDevice, int, oneOf, pct } from './parse';

interface EvalFlags {
  split: 'test' | 'train' | 'val';
  limit?: number;
  batchSize?: number;
  dataDir?: string;
  device?: string;
  json?: boolean;
}

export function registerEval(program: Command): void {
  program
    .command('eval')
    .description('evaluate a checkpoint written by `s4 train` on its task')
    .argument('<checkpoint>', 'a checkpoint.safetensors file')
    .option('--split <split>', 'test | train | val (the validation split of the run)', oneOf(['test', 'train', 'val'] as const), 'test')
    .option('--limit <n>', 'at most n examples', int(1))
    .option('--batch-size <n>', 'evaluation batch size', int(1))
    .option('--data-dir <path>', 'data folder of the task (Fashion-MNIST default /usr/share/datasets/fashion-mnist)')
    .option('--device <d>', 'cpu | cuda (default: cuda when usable)', oneOf(['cpu', 'cuda'] as const))
    .option('--json', 'print JSON')
    .action((path: string, f: EvalFlags) => {
      applyDevice(f.device);
      const state = loadCheckpoint(path);
      const task = taskFromCheckpoint(state, f.dataDir ? { dataDir: f.dataDir } : {});
      const model = modelFromCheckpoint(state);
      const trainer = new Trainer({ model, task, batchSize: f.batchSize ?? (state.info.batchSize as number | undefined) });
      const t0 = Date.now();
      try {
        if (f.split === 'val' && !task.val) throw new Error(`${path}: the run had no validation split (train with --val-split)`);
        const m = trainer.evaluate(f.split === 'test' ? task.test : f.split === 'val' ? task.val! : task.train, { limit: f.limit });
        const seconds = (Date.now() - t0) / 1000;
        if (f.json) {
          console.log(JSON.stringify({ checkpoint: path, task: task.name, split: f.split, step: state.step, ...m, seconds }));
        } else {
          console.log(
            `${task.name} (step ${state.step}) on ${m.count} ${f.split} examples: loss ${m.loss.toFixed(4)}` +
              (m.accuracy !== undefined ? `, accuracy ${pct(m.accuracy)}` : '') +
              ` (${seconds.toFixed(1)} s, ${backend()})`,
          );
        }
      } finally {
        model.dispose();
        trainer.optimizer.dispose();
      }
    });
}
