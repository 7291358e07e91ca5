/**
 * The native surface is declared once (lib/native/binding.ts for the core exports,
 * lib/native/ops.generated.ts written from the op specs) and compared with the addon: every
 * export declared, every declaration exported, every op spec equal. A spec changed in
 * native/binding/ without `npm run gen:binding` fails here (and at load).
 */
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { bindingMismatches, core, CORE_NAMES, OP_NAMES, OP_SPECS, ops, packageRoot } from '../lib/native/binding';
import type { OpSpecDescription } from '../lib/native/types';

// The raw module, as node-gyp-build finds it (the same file binding.ts loaded).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const raw: unknown = process.env.S4_ADDON_PATH ? require(path.resolve(process.env.S4_ADDON_PATH)) : require('node-gyp-build')(packageRoot);

describe('native binding declaration', () => {
  it('matches the addon: exports and op specs', () => {
    expect(bindingMismatches(raw)).toEqual([]);
    expect(core.opSpecs().map((s) => s.name).sort()).toEqual([...OP_NAMES].sort());
  });

  it('is what scripts/gen-binding.js writes from this addon', () => {
    // --check regenerates in memory and compares with the committed file.
    execFileSync(process.execPath, [path.join(packageRoot, 'scripts', 'gen-binding.js'), '--check'], { stdio: 'pipe' });
  });

  it('reports a spec that differs, an export that is missing and one that is undeclared', () => {
    const specs: OpSpecDescription[] = JSON.parse(JSON.stringify(OP_SPECS));
    const fill = specs.find((s) => s.name === 'fill')!;
    fill.args[1].name = 'fillValue';
    const problems = bindingMismatches(raw, specs);
    expect(problems.some((p) => p.startsWith("op 'fill'"))).toBe(true);

    const exports = { ...(raw as Record<string, unknown>) };
    delete exports.axpby;
    exports.extraThing = () => undefined;
    const p2 = bindingMismatches(exports);
    expect(p2).toContain("export 'axpby' is declared but the addon has no such function");
    expect(p2.some((p) => p.includes("'extraThing'"))).toBe(true);
  });

  it('declares every argument of every op with a kind, and buffers with dtype and shape', () => {
    for (const s of OP_SPECS) {
      expect(s.args.length, s.name).toBeGreaterThan(0);
      for (const a of s.args) {
        expect(['in', 'out', 'inout', 'size', 'number', 'flag', 'choice']).toContain(a.kind);
        if (a.kind === 'in' || a.kind === 'out' || a.kind === 'inout') {
          expect(['float32', 'complex64']).toContain(a.dtype);
          expect(Array.isArray(a.shape)).toBe(true);
        }
      }
    }
    expect(CORE_NAMES).toContain('opSpecs');
  });

  it('passes named arguments in spec order (a wrong name is a type error and a clear native error)', () => {
    const out = core.alloc('cpu', 12);
    ops.fill({ out, value: 2.5, n: 3 });
    expect(Array.from(core.download(out))).toEqual([2.5, 2.5, 2.5]);
    expect(() => ops.fill({ out, value: 1, n: 4 })).toThrow(/fill: argument 'out' must hold \[n\] = \[4\] float32 elements/);
    // @ts-expect-error: 'count' is not an argument of fill
    expect(() => ops.fill({ out, value: 1, count: 3 })).toThrow(/fill: argument 'n' must be a number/);
    out.free();
  });
});
