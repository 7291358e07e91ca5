/**
 * Atomic file replacement: write a temporary file in the same folder, fsync it, rename it
 * over the target, fsync the folder. A crash leaves either the old file or the new one,
 * never a partial file under the target name; the temporary files a killed process left
 * (`.<name>.<pid>.<time>.tmp`) are removed by removeStaleTemporaries at the next start.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

function temporaryName(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
}

/** Names the file in a file system error (ENOSPC and friends name only the call). */
function fileError(path: string, err: unknown): Error {
  const e = err as { message?: string; code?: string };
  return Object.assign(new Error(`could not write '${path}': ${e?.message ?? String(err)}`, { cause: err }), { code: e?.code });
}

export function writeFileAtomic(path: string, bytes: Uint8Array): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const tmp = temporaryName(path);
  try {
    const fd = openSync(tmp, 'w', 0o644);
    try {
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw fileError(path, err);
  }
  // Persist the rename itself; some file systems refuse to fsync a folder, which is harmless.
  try {
    const dfd = openSync(dir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    /* folder fsync unsupported */
  }
}

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as { code?: string }).code === 'EPERM';
  }
}

/**
 * Removes the temporary files that writers of `path` killed mid-write left next to it
 * (those of live processes, which may still be writing, stay). Returns the removed paths.
 */
export function removeStaleTemporaries(path: string): string[] {
  const dir = dirname(path);
  const prefix = `.${basename(path)}.`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return []; // no folder yet: nothing to clean
  }
  const removed: string[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
    const m = /^(\d+)\.(\d+)\.tmp$/.exec(name.slice(prefix.length));
    if (!m || processAlive(Number(m[1]))) continue;
    const p = join(dir, name);
    rmSync(p, { force: true });
    removed.push(p);
  }
  return removed;
}
