/**
 * bench/report.js from fixed worker results: the official S4 column comes first with its ratio,
 * is titled from the Cauchy implementation its cases ran (a run without the CUDA extension is
 * never labelled as the extension), the header says what happened to the extension, a column
 * that was not run says why, and the hand-written part of RESULTS.md survives a rewrite.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/* eslint-disable @typescript-eslint/no-require-imports */
const report = require('../bench/report.js') as { writeReport(outDir: string, md: string[], svg: string[]): string };
const specs = require('../bench/specs.js') as { spec(quick: boolean): Spec };
/* eslint-enable @typescript-eslint/no-require-imports */

interface Spec {
  kernel: { H: number; N: number; Ls: number[] };
  step: { H: number; N: number; batches: number[] };
  block: { N: number; cases: { B: number; H: number; L: number }[] };
}
type Rec = Record<string, unknown>;

const spec = specs.spec(true);
const { H: kH, N: kN, Ls } = spec.kernel;
const kernelCase = `H=${kH} N=${kN} L=${Ls[0]}`;
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `s4-${prefix}-`));
  dirs.push(dir);
  return dir;
}

const ms = (median: number): Rec => ({ status: 'ok', ms: { median, p10: median, p90: median, min: median, samples: 3 } });
const tok = (tokensPerSec: number): Rec => ({ status: 'ok', tokensPerSec, ms: { median: 1, p10: 1, p90: 1, min: 1, samples: 3 } });

function officialDoc(suite: string, loaded: boolean, results: Rec[]): Rec {
  const cudaExtension = { loaded, pykeops: false, files: [], importError: loaded ? null : "ModuleNotFoundError: No module named 'structured_kernels'" };
  return { suite, impl: 'official', torch: '2.11.0+cu130', official: { commit: 'e757cef', cudaExtension }, results };
}

/** Writes results.json into a fresh folder and returns the report's markdown. */
function render(docs: Rec[], mdFile?: string): string {
  const dir = tempDir('bench-report');
  const run = { startedAt: '2026-12-05T00:00:00Z', code: 'abc1234', seconds: 10 };
  writeFileSync(join(dir, 'results.json'), JSON.stringify({ run, spec, docs }));
  const md = mdFile ?? join(dir, 'RESULTS.md');
  report.writeReport(dir, [md], [join(dir, 'chart.svg')]);
  return readFileSync(md, 'utf8');
}

/**
 * The cells of the table row whose first two cells are `first` and `second`, keyed by the
 * table's header; with `after`, in the first table after the line that contains it.
 */
function row(md: string, first: string, second: string, after = ''): Record<string, string> {
  const lines = md.split('\n');
  const from = lines.findIndex((l) => l.includes(after));
  const at = lines.findIndex((l, i) => i > from && l.startsWith(`| ${first} | ${second} |`));
  expect(at, `row ${first} | ${second}`).toBeGreaterThan(1);
  let head = at;
  while (!lines[head - 1].startsWith('|---')) head--;
  const cells = (l: string) => l.split('|').slice(1, -1).map((c) => c.trim());
  const names = cells(lines[head - 2]);
  return Object.fromEntries(cells(lines[at]).map((c, i) => [names[i], c]));
}

describe('bench/report.js: the official S4 column', () => {
  const oursKernel = { suite: 'kernel', impl: 'ours', results: [{ suite: 'kernel', impl: 'ours', case: kernelCase, mode: 'fwd', ...ms(0.5) }] };

  it('puts the official S4 with its CUDA extension next to ours, with the ratio, and says the extension was built', () => {
    const build = { suite: 'build', impl: 'official', extension: { status: 'ok', action: 'built', arch: '9.0', buildS: 61.2 }, results: [{ suite: 'build', impl: 'official', case: 'official CUDA extension', mode: 'build', status: 'ok' }] };
    const official = officialDoc('kernel', true, [{ suite: 'kernel', impl: 'official', case: kernelCase, mode: 'fwd', cauchy: 'CUDA extension', ...ms(2) }]);
    const md = render([build, oursKernel, official]);
    const r = row(md, String(Ls[0]), 'fwd');
    expect(r.ours).toBe('0.500');
    expect(r['official S4 + CUDA ext']).toBe('2.00');
    expect(r['x faster than official']).toBe('4.00x');
    // The official column comes right after ours, before the PyTorch rewrite.
    expect(Object.keys(r).slice(2, 6)).toEqual(['ours', 'official S4 + CUDA ext', 'x faster than official', 'PyTorch rewrite, eager']);
    expect(md).toContain('- Official S4: state-spaces/s4 e757cef');
    expect(md).toContain('built in this run for sm_90 (61 s); loaded in kernel');
    expect(md).not.toContain('Without the extension');
  });

  it('labels a run on the pure-PyTorch fallback as such and says why the extension is missing', () => {
    const build = { suite: 'build', impl: 'official', extension: { status: 'error', action: 'build failed', arch: '9.0', buildS: 12, error: 'setup.py exited with code 1' }, results: [{ suite: 'build', impl: 'official', case: 'official CUDA extension', mode: 'build', status: 'error', error: 'setup.py exited with code 1' }] };
    const official = officialDoc('kernel', false, [{ suite: 'kernel', impl: 'official', case: kernelCase, mode: 'fwd', cauchy: 'pure PyTorch (cauchy_naive)', ...ms(3) }]);
    const { B, H, L } = spec.block.cases[0];
    const officialBlock = officialDoc('block', false, [{ suite: 'block', impl: 'official', case: `B=${B} H=${H} L=${L}`, mode: 'fwd', cauchy: 'pure PyTorch (cauchy_naive)', ...ms(4) }]);
    const md = render([build, oursKernel, official, officialBlock]);
    const r = row(md, String(Ls[0]), 'fwd');
    expect(r['official S4, pure-PyTorch fallback (no CUDA ext)']).toBe('3.00');
    expect(r['x faster than official']).toBe('6.00x');
    expect(md).not.toContain('| official S4 + CUDA ext |');
    expect(md).toContain('**could not be built** (setup.py exited with code 1)');
    expect(md).toContain("**Without the extension** in kernel, block (ModuleNotFoundError: No module named 'structured_kernels')");
    expect(readFileSync(join(dirs[dirs.length - 1], 'chart.svg'), 'utf8')).toContain('official (no CUDA ext) fwd');
  });

  it('says the extension was not built when its build step was killed', () => {
    const killed = { suite: 'build', impl: 'official', results: [{ suite: 'build', impl: 'official', case: '(worker)', mode: '-', status: 'error', error: 'official worker timed out after 300 s (killed)' }] };
    const official = officialDoc('kernel', false, [{ suite: 'kernel', impl: 'official', case: kernelCase, mode: 'fwd', cauchy: 'pure PyTorch (cauchy_naive)', ...ms(3) }]);
    const md = render([killed, oursKernel, official]);
    expect(md).toContain('**not built**: the build step failed (official worker timed out after 300 s (killed)); loaded in no suite');
    expect(row(md, String(Ls[0]), 'fwd')['official S4, pure-PyTorch fallback (no CUDA ext)']).toBe('3.00');
  });

  it('reports an official worker that was not run as not measured, with the reason', () => {
    const notRun = { suite: 'kernel', impl: 'official', results: [{ suite: 'kernel', impl: 'official', case: '(worker)', mode: '-', status: 'n/a', error: 'not measured: S4REF is not set' }] };
    const md = render([oursKernel, notRun]);
    expect(md).toContain('- Official S4: not measured: S4REF is not set');
    expect(row(md, String(Ls[0]), 'fwd')['official S4']).toBe('n/a');
  });

  it('compares stepping with the fastest official mode and marks an inexact one', () => {
    const { H, N, batches } = spec.step;
    const c = `B=${batches[0]} H=${H} N=${N}`;
    const rec = (impl: string, mode: string, rate: number) => ({ suite: 'step', impl, case: c, mode, ...tok(rate) });
    const ours = { suite: 'step', impl: 'ours', results: [rec('ours', 'step', 1000)] };
    const failed = { suite: 'step', impl: 'official', case: `recurrence diagonal H=${H} N=${N} L=64`, mode: 'check', status: 'error', error: 'AssertionError: relL2 0.24' };
    const official = officialDoc('step', false, [failed, rec('official', 'step dense', 100), rec('official', 'step linear', 50), rec('official', 'step diagonal', 200)]);
    const md = render([ours, official]);
    expect(row(md, String(batches[0]), 'ours: step() (1 token per call)')['vs official (its fastest mode)']).toBe('5.0x');
    expect(row(md, String(batches[0]), 'official S4Block.step, mode linear')['vs official (its fastest mode)']).toBe('0.3x');
    // A mode whose output failed its check is marked where it is timed.
    expect(row(md, String(batches[0]), 'official S4Block.step, mode diagonal (**inexact**: fails its check, see below)')['tokens/s']).toBe('200');
    expect(md).not.toContain('mode dense (**inexact**');
  });

  it('gives The Annotated S4 its table when measured and the reason when not', () => {
    const { B, H, L } = spec.block.cases[0];
    const c = `B=${B} H=${H} L=${L}`;
    const ours = { suite: 'block', impl: 'ours', results: [{ suite: 'block', impl: 'ours', case: c, mode: 'fwd', ...ms(1) }] };
    const jax = { suite: 'block', impl: 'jax', results: [{ suite: 'block', impl: 'jax', case: c, mode: 'fwd', ...ms(2.5) }] };
    expect(row(render([ours, jax]), `${B}, ${H}, ${L}`, 'fwd', 'The Annotated S4 (srush')['x faster than JAX']).toBe('2.50x');
    const notRun = { suite: 'block', impl: 'jax', results: [{ suite: 'block', impl: 'jax', case: '(worker)', mode: '-', status: 'n/a', error: 'not measured: no JAX/Flax in python3' }] };
    expect(render([ours, notRun])).toContain('The Annotated S4 (JAX): not measured: no JAX/Flax in python3.');
  });

  it('keeps the hand-written part of an existing RESULTS.md', () => {
    const dir = tempDir('bench-results');
    const md = join(dir, 'RESULTS.md');
    const first = render([oursKernel], md);
    const marker = first.split('\n').find((l) => l.startsWith('<!-- Written by bench/report.js'));
    expect(marker).toBeDefined();
    writeFileSync(md, `${first}## A dedicated comparison\n\nwritten by hand\n`);
    const second = render([oursKernel], md);
    expect(second.endsWith(`${marker}\n## A dedicated comparison\n\nwritten by hand\n`)).toBe(true);
    expect(second.split(marker as string).length).toBe(2);
  });
});
