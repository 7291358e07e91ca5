/**
 * What a training run does when it is stopped or the disk fails: SIGTERM saves like Ctrl-C,
 * log lines are whole or absent, a failed log write keeps the checkpoint and names the file,
 * and the temporary files of a killed run are removed at the next start.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';
import { makeTrainer } from './helpers/train_setup';

const root = join(__dirname, '..');

describe('training reliability', () => {
  it('SIGTERM stops the CLI after the current step, saves a checkpoint and exits 0', async () => {
    const out = mkdtempSync(join(tmpdir(), 's4-sigterm-'));
    const args = ['train', '--task', 'sine', '--train-size', '64', '--test-size', '16', '--length', '16', '--layers', '1', '--d-model', '8', '--d-state', '8'];
    const child = spawn(process.execPath, [join(root, 'node_modules/vite-node/vite-node.mjs'), join(root, 'lib/cli/s4.ts'), ...args, '--epochs', '100000', '--no-progress', '--json', '--out', out], {
      cwd: root,
      env: { ...process.env, S4_BACKEND: 'cpu' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    const log = join(out, 'log.jsonl');
    // Wait for a few steps in the log, then ask the run to stop the way a scheduler does.
    for (let i = 0; i < 600; i++) {
      if (existsSync(log) && s4.train.parseJsonl(readFileSync(log, 'utf8')).filter((l) => l.type === 'step').length >= 3) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    child.kill('SIGTERM');
    const { code, signal } = await exited;
    expect(signal, stderr).toBeNull();
    expect(code, stderr).toBe(0);
    expect(stderr).toMatch(/SIGTERM: stopping after this step/);
    const res = JSON.parse(stdout);
    expect(res.stopped).toBe(true);
    expect(res.step).toBeGreaterThanOrEqual(3);
    expect(s4.train.loadCheckpoint(join(out, 'checkpoint.safetensors')).step).toBe(res.step);
  }, 120_000);

  it('a log line that fails part way is cut back, and the error names the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 's4-log-'));
    const path = join(dir, 'log.jsonl');
    let fail = false;
    const io: s4.train.LogIo = {
      openSync: (p, f) => fs.openSync(p, f),
      fstatSync: (fd) => fs.fstatSync(fd),
      ftruncateSync: (fd, len) => fs.ftruncateSync(fd, len),
      closeSync: (fd) => fs.closeSync(fd),
      // A disk that fills up: half of the line lands, then ENOSPC.
      writeSync: (fd, buf, off, len) => {
        if (!fail) return fs.writeSync(fd, buf, off, len);
        fs.writeSync(fd, buf, off, Math.ceil(len / 2));
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      },
    };
    const log = new s4.train.JsonlLog(path, { io });
    log.write({ type: 'step', step: 1 });
    fail = true;
    let err: unknown;
    try {
      log.write({ type: 'step', step: 2, loss: NaN });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(s4.train.LogWriteError);
    expect(String(err)).toContain(`'${path}'`);
    expect(String(err)).toMatch(/ENOSPC/);
    expect((err as { code?: string }).code).toBe('ENOSPC');
    const text = readFileSync(path, 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    expect(s4.train.parseJsonl(text).map((l) => l.step)).toEqual([1]);
    fail = false;
    log.write({ type: 'step', step: 3 });
    expect(s4.train.parseJsonl(readFileSync(path, 'utf8')).map((l) => l.step)).toEqual([1, 3]);
  });

  it('a failed log write ends the run with a checkpoint of the steps done', async () => {
    const dir = mkdtempSync(join(tmpdir(), 's4-logfail-'));
    const logFile = join(dir, 'log.jsonl');
    const checkpoint = join(dir, 'checkpoint.safetensors');
    const trainer = makeTrainer({ logFile, checkpoint, epochs: 2 });
    trainer.on('step', (e: { step: number }) => {
      // The log file turns into a folder: every later append fails (EISDIR).
      if (e.step === 2) {
        rmSync(logFile);
        mkdirSync(logFile);
      }
    });
    let err: unknown;
    try {
      await trainer.fit();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(s4.train.LogWriteError);
    expect(String(err)).toContain(`'${logFile}'`);
    expect(existsSync(checkpoint)).toBe(true);
    expect(s4.train.loadCheckpoint(checkpoint).step).toBe(2);
    expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    trainer.model.dispose();
    trainer.optimizer.dispose();
  }, 60_000);

  it('removes the temporary checkpoint files of killed runs at the next start, not those of live ones', async () => {
    const dir = mkdtempSync(join(tmpdir(), 's4-stale-'));
    const checkpoint = join(dir, 'checkpoint.safetensors');
    // A pid above Linux's largest pid_max belongs to no process.
    const stale = join(dir, '.checkpoint.safetensors.4194305.1700000000000.tmp');
    const live = join(dir, `.checkpoint.safetensors.${process.pid}.1700000000000.tmp`);
    const other = join(dir, '.other.safetensors.4194305.1700000000000.tmp');
    for (const p of [stale, live, other]) writeFileSync(p, 'partial');
    const trainer = makeTrainer({ checkpoint, maxSteps: 1 });
    await trainer.fit();
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(live)).toBe(true);
    expect(existsSync(other)).toBe(true);
    expect(s4.train.loadCheckpoint(checkpoint).step).toBe(1);
    trainer.model.dispose();
    trainer.optimizer.dispose();
  }, 60_000);

  it('a checkpoint that cannot be written names the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 's4-ckfail-'));
    const target = join(dir, 'ck.safetensors');
    mkdirSync(target); // renaming a file over a folder fails
    expect(() => s4.train.writeFileAtomic(target, new Uint8Array(4))).toThrow(new RegExp(`could not write '${target}'`));
    expect(readdirSync(dir)).toEqual(['ck.safetensors']);
  });
});
