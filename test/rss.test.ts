/**
 * RSS of a synchronous training loop stays flat: disposing a tensor releases its native
 * handle at once instead of leaving a finalizer for the event loop (see
 * native/binding/buffer.h). The loop runs in a child process so that this process's heap
 * does not blur the figure.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(__dirname, '..');

describe('RSS in synchronous loops', () => {
  it('grows less than 10% from step 1,000 to step 5,000', () => {
    const r = spawnSync(process.execPath, ['--expose-gc', join(root, 'node_modules/vite-node/vite-node.mjs'), join(__dirname, 'helpers/rss_child.ts'), '5000'], {
      cwd: root,
      env: { ...process.env, S4_BACKEND: 'cpu' },
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const { rss, tensors } = JSON.parse(r.stdout.trim().split('\n').pop()!) as { rss: Record<string, number>; tensors: number };
    const growth = (rss['5000'] - rss['1000']) / rss['1000'];
    expect(growth, `RSS ${(rss['1000'] / 2 ** 20).toFixed(1)} -> ${(rss['5000'] / 2 ** 20).toFixed(1)} MiB`).toBeLessThan(0.1);
    expect(tensors).toBe(3 * 2 + 1 + 3 * 2 * 2); // parameters, the input, AdamW moments
  }, 130_000);
});
