/**
 * Child process of the kill-and-resume test: trains the shared run with a checkpoint after
 * every step, slowed down so that the parent can kill it (SIGKILL) in the middle.
 * Usage: vite-node train_child.ts <checkpoint path>
 */
import { makeTrainer } from './train_setup';

const path = process.argv[2];
const trainer = makeTrainer({ checkpoint: path, checkpointEvery: 1 });
trainer.on('step', () => {
  const until = Date.now() + 150;
  while (Date.now() < until) {
    /* keep the run slow enough to be killed between checkpoints */
  }
});
void trainer.fit();
