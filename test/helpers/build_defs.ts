/**
 * What each build of the addon compiles, read from the build tools themselves rather than
 * from native/build.json: CMake's compile commands (a configure of CMakeLists.txt in a
 * temporary folder) and binding.gyp as gyp loads it (node-gyp's own gyp, through
 * load_gyp.py). Each is a list of compiled files with the defines and arguments each gets.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';

// Asynchronous: a configure takes seconds to a minute, and a blocked worker misses vitest's RPC deadlines.
const run = promisify(execFile);

export const repoRoot = path.resolve(__dirname, '..', '..');

export interface CompiledFile {
  /** Relative to the repository root, '/'-separated. */
  file: string;
  /** -D definitions, without duplicates, sorted. */
  defines: string[];
  /** The compiler's options other than defines and includes (gyp: the C++ flags binding.gyp adds, or the nvcc rule's options). */
  flags: string[];
}

/** Splits a command line the way sh does for the quoting CMake writes (backslashes, quotes). */
export function shellSplit(cmd: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < cmd.length; i++) {
    const c = cmd[i];
    if (quote === "'") {
      if (c === "'") quote = null;
      else cur += c;
    } else if (c === '\\' && i + 1 < cmd.length) {
      cur += cmd[++i];
      inWord = true;
    } else if (quote === '"') {
      if (c === '"') quote = null;
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) out.push(cur);
  return out;
}

function relative(file: string): string {
  return path.relative(repoRoot, path.resolve(repoRoot, file)).split(path.sep).join('/');
}

function definesOf(args: readonly string[]): string[] {
  return [...new Set(args.filter((a) => a.startsWith('-D')).map((a) => a.slice(2)))].sort();
}

/** The -gencode / --generate-code targets of an nvcc command as 'arch:code' pairs. */
export function cudaTargets(args: readonly string[]): string[] {
  const pairs = new Set<string>();
  for (const a of args) {
    const m = /^(?:-gencode|--generate-code)=arch=(compute_\w+),code=\[?([\w,]+)\]?$/.exec(a);
    if (m) for (const code of m[2].split(',')) pairs.add(`${m[1]}:${code}`);
  }
  return [...pairs].sort();
}

/**
 * Configures CMakeLists.txt (Release, CUDA on or off) into a temporary folder and returns
 * its compile commands. CMake adds `<target>_EXPORTS` to every shared library's sources
 * by itself; that define is left out.
 */
export async function cmakeCompiles(cuda: boolean): Promise<CompiledFile[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 's4-cmake-defs-'));
  try {
    await run('cmake', ['-S', repoRoot, '-B', dir, '-DCMAKE_BUILD_TYPE=Release', '-DCMAKE_EXPORT_COMPILE_COMMANDS=ON', `-DS4_CUDA=${cuda ? 'ON' : 'OFF'}`]);
    const commands = JSON.parse(fs.readFileSync(path.join(dir, 'compile_commands.json'), 'utf8')) as { file: string; command?: string; arguments?: string[] }[];
    return commands
      .map((c) => {
        const args = c.arguments ?? shellSplit(c.command ?? '');
        const file = relative(c.file);
        return {
          file,
          defines: definesOf(args).filter((d) => !d.endsWith('_EXPORTS')),
          flags: args.filter((a) => a.startsWith('-') && !a.startsWith('-D') && !a.startsWith('-I')),
        };
      })
      .sort((a, b) => a.file.localeCompare(b.file));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The pylib folder of node-gyp's gyp: npm's node-gyp (npm names it to scripts), a local one, or the one npm bundles. */
export function gypPylib(): string {
  const candidates: string[] = [];
  const npmNodeGyp = process.env.npm_config_node_gyp;
  if (npmNodeGyp) candidates.push(path.resolve(path.dirname(npmNodeGyp), '..', 'gyp', 'pylib'));
  try {
    candidates.push(path.join(path.dirname(require.resolve('node-gyp/package.json', { paths: [repoRoot] })), 'gyp', 'pylib'));
  } catch {
    // not installed locally: npm's own copy below
  }
  candidates.push(path.resolve(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'gyp', 'pylib'));
  const found = candidates.find((c) => fs.existsSync(path.join(c, 'gyp', '__init__.py')));
  if (!found) throw new Error(`node-gyp's gyp was not found (looked in ${candidates.join(', ')})`);
  return found;
}

interface GypTarget {
  sources?: string[];
  configurations: Record<string, { defines?: string[]; cflags_cc?: string[] }>;
  rules?: { extension: string; action: string[] }[];
}

/**
 * binding.gyp's addon target as gyp loads it (Release configuration): its sources, the
 * defines g++ gets for each C++ file, and the defines and flags the nvcc rule gives each
 * .cu file. `variables` preset gyp variables (`{ s4_nvcc: '' }`: the CPU-only build).
 */
export async function gypCompiles(variables: Record<string, string>): Promise<CompiledFile[]> {
  const python = process.env.PYTHON || 'python3';
  const { stdout: out } = await run(python, [path.join(__dirname, 'load_gyp.py'), gypPylib(), 'binding.gyp', JSON.stringify(variables)], {
    cwd: repoRoot,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  const target = (JSON.parse(out) as Record<string, GypTarget>).s4;
  const release = target.configurations.Release;
  const cxxDefines = [...new Set(release.defines ?? [])].sort();
  const nvcc = (target.rules ?? []).find((r) => r.extension === 'cu');
  return (target.sources ?? [])
    .map((s) => {
      const file = relative(s);
      if (!file.endsWith('.cu')) return { file, defines: cxxDefines, flags: release.cflags_cc ?? [] };
      if (!nvcc) throw new Error(`binding.gyp compiles ${file} but has no rule for .cu files`);
      const args = nvcc.action.slice(1);
      return { file, defines: definesOf(args), flags: args.filter((a) => !a.startsWith('-D') && !a.startsWith('-I') && a.startsWith('-') && a !== '-c' && a !== '-o') };
    })
    .sort((a, b) => a.file.localeCompare(b.file));
}
