/**
 * A JSON Lines log: one JSON object per line, appended and flushed as it is written so that
 * the log of a killed run is complete up to its last event. Non-finite numbers (a NaN loss)
 * are written as strings ("NaN"), which JSON cannot hold as numbers.
 */
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export class JsonlLog {
  constructor(
    readonly path: string,
    opts: { append?: boolean } = {},
  ) {
    if (typeof path !== 'string' || path.length === 0) throw new TypeError("JsonlLog: argument 'path' must be a file path");
    mkdirSync(dirname(path), { recursive: true });
    if (!opts.append) writeFileSync(path, '');
  }

  write(record: Record<string, unknown>): void {
    const line = JSON.stringify({ time: new Date().toISOString(), ...record }, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v));
    appendFileSync(this.path, `${line}\n`);
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
