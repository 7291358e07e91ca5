#!/usr/bin/env node
// Reads native/build.json, the addon's one list of sources, defines and flags, for
// binding.gyp (its `<!(...)` command expansions) and for tests. CMakeLists.txt reads the
// same file through scripts/build-config.cmake. Run from the package root:
//   node scripts/build-config.js sources cpu|cuda   the files, relative, one per line
//   node scripts/build-config.js defines|release-defines|cxx-flags|cuda-defines
//   node scripts/build-config.js version            package.json's version (S4_VERSION)
//   node scripts/build-config.js nvcc               nvcc's path, or nothing when not found
//   node scripts/build-config.js cuda-archs         the architectures, comma-separated (S4_CUDA_ARCHS)
//   node scripts/build-config.js nvcc-args [1]      all of nvcc's options for one .cu file, quoted for gyp (1: -Xptxas=-v)
//   node scripts/build-config.js cuda-include|cuda-libdir
//   node scripts/build-config.js addon-api-include  node-addon-api's include folder
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');

function readConfig() {
  return JSON.parse(fs.readFileSync(path.join(root, 'native', 'build.json'), 'utf8'));
}

/**
 * Expands one pattern of build.json: a folder and '*.<ext>' (what CMake's file(GLOB) and
 * this script both understand the same way), to the relative paths of its files.
 */
function expandPattern(pattern) {
  const m = /^([A-Za-z0-9_./-]+)\/\*(\.[A-Za-z0-9]+)$/.exec(pattern);
  if (!m) throw new Error(`native/build.json: source pattern '${pattern}' is not '<folder>/*.<ext>'`);
  const [, dir, ext] = m;
  return fs
    .readdirSync(path.join(root, dir), { withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(ext))
    .map((e) => `${dir}/${e.name}`);
}

/**
 * The source files of one backend ('cpu' or 'cuda'), relative to the package root, sorted
 * as one list as CMake sorts them (the link order, the same in both builds).
 */
function sources(kind, config = readConfig()) {
  const patterns = config.sources[kind];
  if (!Array.isArray(patterns)) throw new Error(`native/build.json: no source list '${kind}' (expected cpu or cuda)`);
  return patterns.flatMap(expandPattern).sort();
}

function version() {
  return JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version;
}

function isExecutable(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/**
 * nvcc as CMake's check_language(CUDA) finds it: $CUDACXX, else nvcc on PATH, else the
 * default toolkit folder. Null when there is none (the CPU-only build).
 */
function findNvcc(env = process.env) {
  if (env.CUDACXX) return isExecutable(env.CUDACXX) ? env.CUDACXX : null;
  const dirs = (env.PATH || '').split(path.delimiter).filter(Boolean);
  dirs.push('/usr/local/cuda/bin');
  for (const dir of dirs) {
    const file = path.join(dir, 'nvcc');
    if (isExecutable(file)) return file;
  }
  return null;
}

/**
 * The toolkit's include or library folders, as nvcc itself reports them (`nvcc -dryrun`
 * prints its INCLUDES and LIBRARIES): nvcc may be a wrapper script, and toolkits keep
 * their files in include/ and lib64/ or in targets/<arch>/. The first folder holding
 * `probe` is returned.
 */
function toolkitDir(nvcc, kind, probe) {
  const { spawnSync } = require('node:child_process');
  const r = spawnSync(nvcc, ['-dryrun', '-x', 'cu', '-c', '/dev/null', '-o', '/dev/null'], { encoding: 'utf8' });
  const text = `${r.stdout || ''}${r.stderr || ''}`;
  const flag = kind === 'include' ? '-I' : '-L';
  const line = text.split('\n').find((l) => l.startsWith(`#$ ${kind === 'include' ? 'INCLUDES' : 'LIBRARIES'}=`)) || '';
  const dirs = [...line.matchAll(/"([^"]*)"/g)].map((m) => m[1]).filter((a) => a.startsWith(flag)).map((a) => path.normalize(a.slice(2)));
  const found = dirs.find((d) => fs.existsSync(path.join(d, probe)));
  if (!found) throw new Error(`s4: nvcc (${nvcc}) names no ${kind} folder that holds ${probe} (it printed: ${line.trim() || r.error || 'nothing'})`);
  return found;
}

/** CMake's '80-real' / '90-virtual' / '90' notation as nvcc -gencode options. */
function gencodeFlags(architectures) {
  return architectures.flatMap((a) => {
    const m = /^(\d+[a-z]?)(?:-(real|virtual))?$/.exec(a);
    if (!m) throw new Error(`native/build.json: CUDA architecture '${a}' is not <number>[-real|-virtual]`);
    const [, sm, kind] = m;
    const codes = kind === 'real' ? [`sm_${sm}`] : kind === 'virtual' ? [`compute_${sm}`] : [`sm_${sm}`, `compute_${sm}`];
    return codes.map((code) => `-gencode=arch=compute_${sm},code=${code}`);
  });
}

function nvccFlags(config = readConfig()) {
  return [`-std=c++${config.cuda.standard}`, ...gencodeFlags(config.cuda.architectures), ...config.cuda.flags];
}

/**
 * Everything nvcc is given for one .cu file in the node-gyp build, as CMake gives it: the
 * flags, position-independent code, the defines (release ones too: the Release build type
 * is the one node-gyp and prebuildify build) and the include folders. Quoted the way gyp
 * splits a command's output (shlex), so S4_VERSION keeps its double quotes.
 */
function nvccArgs(config = readConfig(), ptxasVerbose = false) {
  const defines = [
    ...config.defines,
    ...config.releaseDefines,
    `S4_VERSION="${version()}"`,
    ...config.cuda.defines,
    `S4_CUDA_ARCHS="${config.cuda.architectures.join(',')}"`,
  ];
  const includes = [require('node-api-headers').include_dir, path.resolve(require('node-addon-api').include_dir)];
  // The host compiler nvcc uses: $CUDAHOSTCXX as CMake takes it (CMAKE_CUDA_HOST_COMPILER,
  // given to nvcc as -ccbin), else nvcc's own default.
  const hostCompiler = process.env.CUDAHOSTCXX ? [`-ccbin=${process.env.CUDAHOSTCXX}`] : [];
  return [
    ...nvccFlags(config),
    ...hostCompiler,
    '-Xcompiler=-fPIC',
    ...(ptxasVerbose ? ['-Xptxas=-v'] : []),
    ...defines.map((d) => `-D${d}`),
    ...includes.map((i) => `-I${i}`),
  ].map((a) => `'${a.replace(/'/g, `'\\''`)}'`);
}

function print(what, arg) {
  const config = readConfig();
  switch (what) {
    case 'sources':
      return sources(arg, config);
    case 'defines':
      return config.defines;
    case 'release-defines':
      return config.releaseDefines;
    case 'cxx-flags':
      return config.cxxFlags;
    case 'version':
      return [version()];
    case 'nvcc': {
      const nvcc = findNvcc();
      return nvcc ? [nvcc] : [];
    }
    case 'cuda-defines':
      return config.cuda.defines;
    case 'cuda-archs':
      return [config.cuda.architectures.join(',')];
    case 'nvcc-args':
      return nvccArgs(config, arg === '1');
    case 'cuda-include':
      return [toolkitDir(findNvcc() || 'nvcc', 'include', 'cuda_runtime.h')];
    case 'cuda-libdir':
      return [toolkitDir(findNvcc() || 'nvcc', 'lib', 'libcudart_static.a')];
    case 'addon-api-include':
      return [path.resolve(require('node-addon-api').include_dir)];
    default:
      throw new Error(`build-config: unknown query '${what}'`);
  }
}

if (require.main === module) {
  try {
    const lines = print(process.argv[2], process.argv[3]);
    if (lines.length) process.stdout.write(`${lines.join('\n')}\n`);
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  }
}

module.exports = { readConfig, sources, findNvcc, gencodeFlags, nvccFlags, nvccArgs, version };
