/**
 * Packs the package, installs the tarball into an empty folder with npm offline (from the
 * npm cache: `npm ci` and then `node scripts/warm-npm-cache.js`, which adds the full
 * metadata npm 11 asks for), and checks that require, import and the types work there and
 * that the prebuilt addon was used (no build in the consumer).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repo = path.resolve(__dirname, '..', '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
let dir = '';
let tarball = '';

function run(cmd: string, args: string[], cwd: string): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, S4_ADDON_PATH: '' } });
}

beforeAll(() => {
  expect(fs.existsSync(path.join(repo, 'prebuilds')), 'run `npm run build:prebuild` first').toBe(true);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 's4-pack-'));
  const out = run(npm, ['pack', '--pack-destination', dir, '--json'], repo);
  tarball = path.join(dir, JSON.parse(out.slice(out.indexOf('[')))[0].filename);
  const app = path.join(dir, 'app');
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, version: '1.0.0' }));
  try {
    run(npm, ['install', tarball, '--offline', '--no-audit', '--no-fund', '--foreground-scripts'], app);
  } catch (err) {
    const msg = String((err as { stderr?: string }).stderr ?? err);
    if (/ENOTCACHED/.test(msg)) throw new Error(`the offline install needs the dependencies in the npm cache: run \`node scripts/warm-npm-cache.js\` once (with the registry reachable)\n${msg}`);
    throw err;
  }
});

afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('packed package', () => {
  it('ships dist, the prebuild and the sources, not the tests', () => {
    const list = run('tar', ['-tzf', tarball], dir);
    expect(list).toMatch(/package\/dist\/index\.js/);
    expect(list).toMatch(/package\/dist\/index\.mjs/);
    expect(list).toMatch(/package\/prebuilds\/linux-x64\/.*\.node/);
    // Both builds from source: CMakeLists.txt and binding.gyp, the list they read
    // (native/build.json) and the scripts they run.
    expect(list).toMatch(/package\/CMakeLists\.txt/);
    expect(list).toMatch(/package\/binding\.gyp/);
    expect(list).toMatch(/package\/native\/build\.json/);
    expect(list).toMatch(/package\/scripts\/build-config\.js/);
    expect(list).toMatch(/package\/scripts\/build-config\.cmake/);
    expect(list).toMatch(/package\/scripts\/check-undefined\.js/);
    expect(list).not.toMatch(/package\/test\//);
  });

  it('works with require', () => {
    const app = path.join(dir, 'app');
    const out = run(
      process.execPath,
      ['-e', "const s4 = require('s4-cuda'); const t = s4.tensor([1,2,3]); console.log(JSON.stringify({ sum: s4.ops.sum(t).item(), backend: s4.backend(), root: s4.info().packageRoot }))"],
      app,
    );
    const r = JSON.parse(out);
    expect(r.sum).toBe(6);
    expect(r.root).toContain(path.join('app', 'node_modules', 's4-cuda'));
    expect(fs.existsSync(path.join(app, 'node_modules', 's4-cuda', 'build'))).toBe(false);
  });

  it('works with import', () => {
    const app = path.join(dir, 'app');
    const out = run(
      process.execPath,
      ['--input-type=module', '-e', "import s4, { tensor, ops } from 's4-cuda'; console.log(ops.sum(tensor([2, 3])).item(), typeof s4.info)"],
      app,
    );
    expect(out.trim()).toBe('5 function');
  });

  it('has types', () => {
    const app = path.join(dir, 'app');
    fs.writeFileSync(
      path.join(app, 'main.ts'),
      "import * as s4 from 's4-cuda';\nconst t: s4.Tensor = s4.tensor([1, 2], [2]);\nconst n: number = s4.ops.sum(t).item();\nconsole.log(n);\n",
    );
    const tsc = path.join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
    run(process.execPath, [tsc, '--noEmit', '--strict', '--module', 'commonjs', '--types', 'node', '--typeRoots', path.join(repo, 'node_modules', '@types'), 'main.ts'], app);
  });

  it('runs the s4 command', () => {
    const app = path.join(dir, 'app');
    const out = run(path.join(app, 'node_modules', '.bin', 's4'), ['info'], app);
    expect(out).toMatch(/backend\s+(cpu|cuda)/);
  });
});
