/**
 * `s4 generate <checkpoint>`: samples images pixel by pixel (recurrent mode) from a model
 * trained with `s4 train --task fmnist-gen` and writes them as a PNG grid.
 */
import { writeFileSync } from 'node:fs';
import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { backend } from '../backend';
import { modelFromCheckpoint } from '../train/build';
import { loadCheckpoint } from '../train/checkpoint';
import { FMNIST_PIXELS, FMNIST_SIDE, loadFashionMnist } from '../train/data/fmnist';
import { sampleImages } from '../train/generate';
import { encodePng, imageGrid } from '../util/png';
import { applyDevice, int, num, oneOf } from './parse';

interface GenerateFlags {
  out: string;
  count: number;
  temperature: number;
  seed: number;
  promptRows: number;
  scale: number;
  dataDir?: string;
  device?: string;
  progress: boolean;
}

export function registerGenerate(program: Command): void {
  program
    .command('generate')
    .description('sample images from a next-pixel model (s4 train --task fmnist-gen) into a PNG grid')
    .argument('<checkpoint>', 'a checkpoint.safetensors of task fmnist-gen')
    .option('--out <file>', 'PNG file to write', 'samples.png')
    .option('--count <n>', 'images', int(1), 16)
    .option('--temperature <x>', 'softmax temperature (0: most likely pixel)', num(0), 1)
    .option('--seed <n>', 'sampling seed', int(0), 0)
    .option('--prompt-rows <n>', 'start each image from the first n rows of a test image', int(0), 0)
    .option('--scale <n>', 'pixel size in the PNG', int(1), 2)
    .option('--data-dir <path>', 'Fashion-MNIST folder for --prompt-rows')
    .option('--device <d>', 'cpu | cuda (default: cuda when usable)', oneOf(['cpu', 'cuda'] as const))
    .option('--no-progress', 'no progress bar')
    .action((path: string, f: GenerateFlags) => {
      applyDevice(f.device);
      if (f.promptRows >= FMNIST_SIDE) throw new RangeError(`--prompt-rows must be below ${FMNIST_SIDE} (got ${f.promptRows})`);
      const state = loadCheckpoint(path);
      const model = modelFromCheckpoint(state);
      let prompts: Uint8Array[] | undefined;
      if (f.promptRows > 0) {
        const test = loadFashionMnist('test', { dir: f.dataDir, limit: f.count });
        if (test.count < f.count) throw new RangeError(`--count ${f.count} exceeds the ${test.count} test images available for prompts`);
        prompts = Array.from({ length: f.count }, (_, i) => test.images.slice(i * FMNIST_PIXELS, i * FMNIST_PIXELS + f.promptRows * FMNIST_SIDE));
      }
      const bar = f.progress ? new SingleBar({ format: 'sampling |{bar}| {value}/{total} pixels | {eta_formatted}', stream: process.stderr, hideCursor: true, noTTYOutput: false }) : null;
      bar?.start(FMNIST_PIXELS, 0);
      const t0 = Date.now();
      let images: Uint8Array[];
      try {
        images = sampleImages(model, {
          count: f.count,
          length: FMNIST_PIXELS,
          temperature: f.temperature,
          seed: f.seed,
          prompts,
          onPixel: (t) => bar?.update(t),
        });
      } finally {
        bar?.stop();
        model.dispose();
      }
      const png = encodePng(imageGrid(images, FMNIST_SIDE, FMNIST_SIDE, { scale: f.scale }));
      writeFileSync(f.out, png);
      console.log(`wrote ${f.out}: ${f.count} images of 28 x 28 sampled in ${((Date.now() - t0) / 1000).toFixed(1)} s (${backend()}, temperature ${f.temperature})`);
    });
}
