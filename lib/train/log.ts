/**
 * A JSON Lines log: one JSON object per line, appended and flushed as it is written so that
 * the log of a killed run is complete up to its last event. Non-finite numbers (a NaN loss)
 * are written as strings ("NaN"), which JSON cannot hold as numbers.
 *
 * A line is written whole or not at all: a write that fails part way (a full disk) is cut
 * back to the end of the previous line, and the error (LogWriteError) names the file.
 */
import * as fs from 'node:fs';
import { dirname } from 'node:path';

/** The file operations a log uses; tests inject failures through JsonlLog's `io` option. */
export interface LogIo {
  openSync(path: string, flags: string): number;
  writeSync(fd: number, buffer: Uint8Array, offset: number, length: number): number;
  fstatSync(fd: number): { size: number };
  ftruncateSync(fd: number, len: number): void;
  closeSync(fd: number): void;
}

/** A log line could not be written; `path` is the log file, `cause` the file system error. */
export class LogWriteError extends Error {
  readonly code: string | undefined;
  constructor(
    readonly path: string,
    cause: unknown,
  ) {
    const msg = cause instanceof Error ? cause.message : String(cause);
    super(`JsonlLog: could not append to '${path}': ${msg}`, { cause });
    this.name = 'LogWriteError';
    this.code = (cause as { code?: string } | null)?.code;
  }
}

export class JsonlLog {
  private readonly io: LogIo;

  constructor(
    readonly path: string,
    opts: { append?: boolean; io?: LogIo } = {},
  ) {
    if (typeof path !== 'string' || path.length === 0) throw new TypeError("JsonlLog: argument 'path' must be a file path");
    this.io = opts.io ?? fs;
    fs.mkdirSync(dirname(path), { recursive: true });
    if (!opts.append) fs.writeFileSync(path, '');
  }

  write(record: Record<string, unknown>): void {
    const line = JSON.stringify({ time: new Date().toISOString(), ...record }, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v));
    const bytes = Buffer.from(`${line}\n`, 'utf8');
    const io = this.io;
    let fd: number;
    try {
      fd = io.openSync(this.path, 'a');
    } catch (err) {
      throw new LogWriteError(this.path, err);
    }
    try {
      const start = io.fstatSync(fd).size;
      try {
        let off = 0;
        while (off < bytes.length) off += io.writeSync(fd, bytes, off, bytes.length - off);
      } catch (err) {
        // Cut a partial line off, so that the file still parses line by line.
        try {
          io.ftruncateSync(fd, start);
        } catch {
          /* the original error says more */
        }
        throw new LogWriteError(this.path, err);
      }
    } catch (err) {
      throw err instanceof LogWriteError ? err : new LogWriteError(this.path, err);
    } finally {
      io.closeSync(fd);
    }
  }
}

/** Parses a JSONL file's text into objects (blank lines skipped). */
export function parseJsonl(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((l) => l.trim().length > 0)
    .map((l, i) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        throw new Error(`parseJsonl: line ${i + 1} is not valid JSON`);
      }
    });
}
