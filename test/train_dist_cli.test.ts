/**
 * `s4 train --procs N` (separate processes on the CPU, gradients through the TCP group,
 * small buckets started during the backward pass) against `s4 train` in one process on the
 * same global batch: the same losses step for step and the same parameters, for 2 and 3
 * ranks; the same run started by hand with torchrun's environment, without overlap; SIGINT
 * to the launcher stops every rank after one step with rank 0's checkpoint, which resumes
 * with another number of ranks; and the failure paths: a rank killed mid-run, a rank with
 * another run id, a port in use.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';
import { relL2 } from './helpers/device';
import { finished, freePort, root, stepLosses } from './helpers/dist';

const vnode = join(root, 'node_modules/vite-node/vite-node.mjs');
const cliPath = join(root, 'lib/cli/s4.ts');
const RUN = ['train', '--task', 'sine', '--train-size', '60', '--test-size', '16', '--length', '24', '--layers', '2', '--d-model', '8', '--d-state', '8', '--batch-size', '16', '--epochs', '2', '--dropout', '0.1', '--no-progress'];

function cli(args: string[], env: Record<string, string> = {}) {
  return spawn(process.execPath, [vnode, cliPath, ...args], { cwd: root, env: { ...process.env, S4_BACKEND: 'cpu', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

function run(args: string[], env: Record<string, string> = {}) {
  return finished(cli(args, env));
}

function params(dir: string): Record<string, s4.train.ParamValue> {
  return s4.train.loadCheckpoint(join(dir, 'checkpoint.safetensors')).params;
}

function expectSameRun(dir: string, ref: string, what: string): void {
  const a = stepLosses(dir);
  const b = stepLosses(ref);
  expect(a.length, what).toBe(b.length);
  a.forEach((l, i) => expect(Math.abs(l - b[i]), `${what}: loss at step ${i + 1}`).toBeLessThan(1e-5 * Math.max(1, b[i])));
  const pa = params(dir);
  for (const [name, v] of Object.entries(params(ref))) expect(relL2(pa[name].data, v.data), `${what}: ${name}`).toBeLessThan(1e-4);
}

const tmp = (p: string) => mkdtempSync(join(tmpdir(), p));

/** RUN with 4000 training examples (long enough to be interrupted), writing to dir. */
function longRun(dir: string): string[] {
  return [...RUN.map((a, i) => (RUN[i - 1] === '--train-size' ? '4000' : a)), '--out', dir];
}

/** Resolves `afterMs` after the launched run has said it trains. */
function training(launcher: ChildProcess, afterMs: number): Promise<void> {
  let seen = '';
  return new Promise<void>((resolve) => {
    launcher.stderr!.on('data', (d: Buffer) => {
      seen += d.toString();
      if (/gradients through tcp/.test(seen)) setTimeout(resolve, afterMs);
    });
  });
}

describe('s4 train over several processes (CPU, TCP gradients)', () => {
  it('--procs 2 and --procs 3 equal one process step for step; only rank 0 writes files and prints', async () => {
    const ref = tmp('s4-dist-ref-');
    const [one, two, three] = [ref, tmp('s4-dist-2-'), tmp('s4-dist-3-')];
    // 1 KiB gradient buckets: many of them, started during each backward pass.
    const small = ['--bucket-mb', '0.001'];
    const results = await Promise.all([run([...RUN, '--out', one]), run([...RUN, '--out', two, '--procs', '2', ...small]), run([...RUN, '--out', three, '--procs', '3', ...small])]);
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    expect(results[2].stderr).toMatch(/starting 3 ranks/);
    expect(results[2].stderr).toMatch(/3 ranks, gradients through tcp/);
    // One summary line, from rank 0.
    expect(results[2].stdout.match(/done at step 8/g)?.length).toBe(1);
    expect(results[2].stdout).not.toMatch(/\[rank [12]\]/);
    expectSameRun(two, one, '2 ranks');
    expectSameRun(three, one, '3 ranks');
    expect(readdirSync(three).sort()).toEqual(['checkpoint.safetensors', 'log.jsonl']);
  }, 240_000);

  it("runs under torchrun's environment, ranks started by hand", async () => {
    const ref = tmp('s4-dist-ref-');
    const dir = tmp('s4-dist-env-');
    const port = String(await freePort());
    const env = (rank: number) => ({ RANK: String(rank), WORLD_SIZE: '2', LOCAL_RANK: String(rank), MASTER_ADDR: '127.0.0.1', MASTER_PORT: port, S4_DIST_CONNECT_TIMEOUT: '60' });
    // Without overlap: the buckets all start after the backward pass, with the same sums.
    const flags = ['--no-grad-overlap', '--bucket-mb', '0.001'];
    const [r0, r1, single] = await Promise.all([run([...RUN, '--out', dir, ...flags], env(0)), run([...RUN, '--out', join(dir, 'rank1'), ...flags], env(1)), run([...RUN, '--out', ref])]);
    expect(r0.code, r0.stderr).toBe(0);
    expect(r0.stderr).toMatch(/2 ranks, gradients through tcp after the backward pass/);
    expect(r1.code, r1.stderr).toBe(0);
    expect(single.code).toBe(0);
    expectSameRun(dir, ref, 'torchrun environment');
  }, 240_000);

  it('SIGINT stops every rank after the same step with a checkpoint; it resumes with another number of ranks', async () => {
    const dir = tmp('s4-dist-int-');
    const long = longRun(dir);
    const launcher = cli([...long, '--procs', '2']);
    const done = finished(launcher);
    await training(launcher, 1500);
    launcher.kill('SIGINT');
    const r = await done;
    expect(r.code, r.stderr).toBe(0);
    const m = /stopped at step (\d+)/.exec(r.stdout);
    expect(m, r.stdout + r.stderr).not.toBeNull();
    const stoppedAt = Number(m![1]);
    expect(stoppedAt).toBeLessThan(500);
    expect(s4.train.loadCheckpoint(join(dir, 'checkpoint.safetensors')).step).toBe(stoppedAt);
    const resumed = await run([...long, '--resume', '--procs', '3', '--max-steps', String(stoppedAt + 3)]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(new RegExp(`done at step ${stoppedAt + 3}`));
  }, 240_000);

  it('a rank killed mid-run ends the run with a message naming it', async () => {
    const dir = tmp('s4-dist-kill-');
    const long = longRun(dir);
    const launcher = cli([...long, '--procs', '3']);
    const done = finished(launcher);
    await training(launcher, 1000);
    // Rank 2 is the launcher's child whose environment says RANK=2.
    const kids = readFileSync(`/proc/${launcher.pid}/task/${launcher.pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
    const rank2 = kids.find((pid) => readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes('RANK=2'));
    expect(rank2).toBeDefined();
    process.kill(rank2!, 'SIGKILL');
    const r = await done;
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/rank 2 exited or lost its connection/);
    expect(r.stderr).toMatch(/the run failed: rank 2 failed first \(signal SIGKILL\)/);
  }, 240_000);

  it('a rank with another run id is refused; both ranks say why', async () => {
    const port = String(await freePort());
    const dir = tmp('s4-dist-id-');
    const env = (rank: number, id: string) => ({ RANK: String(rank), WORLD_SIZE: '2', MASTER_PORT: port, S4_RUN_ID: id, S4_DIST_CONNECT_TIMEOUT: '8' });
    const [r0, r1] = await Promise.all([run([...RUN, '--out', dir], env(0, 'run-a')), run([...RUN, '--out', dir], env(1, 'run-b'))]);
    expect(r1.code).toBe(1);
    expect(r1.stderr).toMatch(/rank 0 at 127.0.0.1:\d+ refused this process: a process presented run id 'run-b', expected 'run-a'/);
    expect(r0.code).toBe(1);
    expect(r0.stderr).toMatch(/rank 1 did not join within 8 s .*refused: a process presented run id 'run-b'/);
  }, 120_000);

  it('a port in use is reported by rank 0 and the run ends', async () => {
    const blocker = net.createServer((s) => s.destroy());
    const port = await new Promise<number>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve((blocker.address() as net.AddressInfo).port)));
    try {
      const r = await run([...RUN, '--out', tmp('s4-dist-port-'), '--procs', '2', '--master-port', String(port)], { S4_DIST_CONNECT_TIMEOUT: '5' });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(new RegExp(`rank 0 could not listen on 127.0.0.1:${port}: the port is in use`));
      expect(r.stderr).toMatch(/the run failed: rank 0 failed first/);
    } finally {
      blocker.close();
    }
  }, 120_000);

  it('rejects launcher flags that cannot work', async () => {
    const both = await run([...RUN, '--procs', '2', '--gpus', '2']);
    expect(both.stderr).toMatch(/--gpus and --procs exclude each other/);
    const inside = await run([...RUN, '--procs', '2'], { RANK: '0', WORLD_SIZE: '1' });
    expect(inside.stderr).toMatch(/this process is already a rank/);
    const badEnv = await run(RUN, { RANK: '3', WORLD_SIZE: '2' });
    expect(badEnv.stderr).toMatch(/RANK \(this process's rank\) must be an integer in \[0, 1\] \(got '3'\)/);
  }, 120_000);
});
