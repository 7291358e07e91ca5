/** Reading a file whose failure is reported in the caller's name. */
import { readFileSync } from 'node:fs';

/**
 * The bytes of the file at `path`; a missing or unreadable file throws an Error that names
 * the caller `fn`, the path and the system's code ("loadCheckpoint: cannot read 'x': ENOENT").
 */
export function readFileNamed(fn: string, path: string): Buffer {
  if (typeof path !== 'string' || path.length === 0) throw new TypeError(`${fn}: argument 'path' must be a file path`);
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Error(`${fn}: cannot read '${path}': ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}
