/**
 * A terminal progress bar for a Trainer (cli-progress): step, epoch, loss, accuracy,
 * learning rate and throughput, updated on every step; evaluations are printed as lines.
 */
import { SingleBar } from 'cli-progress';
import type { EvalEvent, StepEvent, Trainer } from './trainer';

function fmt(v: number | undefined, digits = 4): string {
  if (v === undefined) return '-';
  if (!Number.isFinite(v)) return String(v);
  return Math.abs(v) >= 1e-3 || v === 0 ? v.toFixed(digits) : v.toExponential(2);
}

function pct(v: number | undefined): string {
  return v === undefined ? '-' : `${(100 * v).toFixed(2)}%`;
}

/** Attaches a progress bar (to stderr) to a trainer; returns a function that closes it. */
export function attachProgress(trainer: Trainer, opts: { stream?: NodeJS.WriteStream } = {}): () => void {
  const stream = opts.stream ?? process.stderr;
  const bar = new SingleBar(
    {
      format: 'epoch {epoch} |{bar}| {value}/{total} steps | loss {loss} | acc {acc} | lr {lr} | {speed} ex/s | eta {eta_formatted}',
      stream,
      hideCursor: true,
      etaBuffer: 50,
      fps: 5,
      noTTYOutput: true,
      notTTYSchedule: 10_000,
    },
  );
  let started = false;
  let lossAvg: number | undefined;
  let payload: Record<string, string> = {};
  trainer.on('start', (e) => {
    payload = { epoch: `${trainer.epoch + 1}/${trainer.epochs}`, loss: '-', acc: '-', lr: '-', speed: '-' };
    bar.start(e.totalSteps, e.step, payload);
    started = true;
  });
  trainer.on('step', (e: StepEvent) => {
    // An exponential average: single batches are noisy.
    lossAvg = lossAvg === undefined ? e.loss : 0.9 * lossAvg + 0.1 * e.loss;
    payload = {
      epoch: `${e.epoch + 1}/${trainer.epochs}`,
      loss: fmt(lossAvg),
      acc: pct(e.accuracy),
      lr: e.lr.toExponential(2),
      speed: e.examplesPerSec.toFixed(1),
    };
    bar.update(e.step, payload);
  });
  trainer.on('eval', (e: EvalEvent) => {
    const line = `step ${e.step}: ${e.split} loss ${fmt(e.metrics.loss)}${e.metrics.accuracy !== undefined ? `, accuracy ${pct(e.metrics.accuracy)}` : ''} (${e.metrics.count} examples, ${e.seconds.toFixed(1)} s)`;
    if (started && stream.isTTY) bar.stop();
    stream.write(`${line}\n`);
    if (started && stream.isTTY) bar.start(trainer.totalSteps, e.step, payload);
  });
  return () => {
    if (started) bar.stop();
    started = false;
  };
}
