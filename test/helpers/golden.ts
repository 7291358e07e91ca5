/**
 * The official-S4 golden file (shared/golden/s4_reference_small.json in this repository, or
 * the folder named by S4_GOLDEN_DIR), read once per test process.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

const FILE = 's4_reference_small.json';

let cached: any;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function loadGolden(): any {
  if (cached) return cached;
  const candidates = [process.env.S4_GOLDEN_DIR, path.resolve(__dirname, '../../shared/golden')];
  const dir = candidates.find((c) => c && fs.existsSync(path.join(c, FILE)));
  if (!dir) throw new Error(`golden file ${FILE} not found (looked in ${candidates.filter(Boolean).join(', ')})`);
  cached = JSON.parse(fs.readFileSync(path.join(dir, FILE), 'utf8'));
  return cached;
}
