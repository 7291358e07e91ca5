/**
 * `--config FILE`: a JSON object whose keys are a command's long flag names without the
 * dashes ("d-model": 128, "prenorm": true, "task": "listops"). A value is parsed exactly as
 * the same flag on the command line would be; flags given on the command line win. A key
 * that is not a flag of the command, or a value of the wrong kind, is an error naming the
 * file and the key.
 */
import { readFileSync } from 'node:fs';
import type { Command, Option } from 'commander';

/** Keys that are not flags to set: the config's own and the ones that only make sense typed. */
const NOT_IN_CONFIG = new Set(['config', 'help', 'resume']);

/** Reads FILE and sets the options of `cmd` that the command line did not set. */
export function applyConfig(cmd: Command, path: string): void {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`--config ${path}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (err) {
    throw new Error(`--config ${path}: not valid JSON (${(err as Error).message})`);
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw new Error(`--config ${path}: expected a JSON object of flag names and values ({"d-model": 128, ...})`);
  const options = cmd.options as readonly Option[];
  const known = options.filter((o) => o.long && !NOT_IN_CONFIG.has(o.long.slice(2))).map((o) => o.long!.slice(2));
  for (const [key, value] of Object.entries(obj as Record<string, unknown>)) {
    if (key.startsWith('//') || key === '$comment') continue; // comments
    const opt = options.find((o) => o.long === `--${key}`);
    if (!opt || NOT_IN_CONFIG.has(key)) {
      throw new Error(`--config ${path}: unknown key '${key}': not a flag of \`s4 ${cmd.name()}\` (known: ${known.join(', ')})`);
    }
    const attr = opt.attributeName();
    if (cmd.getOptionValueSource(attr) === 'cli') continue;
    const at = `--config ${path}: key '${key}'`;
    if (opt.negate) {
      // "no-progress": true turns the flag's attribute off.
      if (typeof value !== 'boolean') throw new Error(`${at} must be true or false (got ${JSON.stringify(value)})`);
      cmd.setOptionValueWithSource(attr, !value, 'config');
    } else if (!opt.required && !opt.optional) {
      if (typeof value !== 'boolean') throw new Error(`${at} must be true or false (got ${JSON.stringify(value)})`);
      cmd.setOptionValueWithSource(attr, value, 'config');
    } else {
      if (typeof value !== 'string' && typeof value !== 'number') throw new Error(`${at} must be a string or a number (got ${JSON.stringify(value)})`);
      let parsed: unknown = String(value);
      if (opt.parseArg) {
        try {
          parsed = opt.parseArg(String(value), undefined);
        } catch (err) {
          throw new Error(`${at}: ${(err as Error).message}`);
        }
      }
      cmd.setOptionValueWithSource(attr, parsed, 'config');
    }
  }
}
