#!/usr/bin/env node
/** The `s4` command line. */
import { Command } from 'commander';
import { registerInfo } from './info';
import { registerTrain } from './train';
import { registerEval } from './eval';
import { registerGenerate } from './generate';
import { registerImport } from './import';
import { registerExport } from './export';

const program = new Command();
program
  .name('s4')
  .description('S4 structured state space sequence models on NVIDIA GPUs (CPU fallback)')
  .version((require('../../package.json') as { version: string }).version);

registerInfo(program);
registerTrain(program);
registerEval(program);
registerGenerate(program);
registerImport(program);
registerExport(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(`s4: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
