#!/usr/bin/env node
// npm install hook: use a prebuilt addon when one loads (prebuilds/<platform>-<arch>, or
// an existing build/Release), else build from source once (CUDA when nvcc is found):
// with cmake-js (CMakeLists.txt), or with node-gyp (binding.gyp) when S4_BUILDER=node-gyp
// or when cmake is missing and npm provides node-gyp. S4_BUILD_FROM_SOURCE=1 always builds.
// Because this install script exists, npm does not also run `node-gyp rebuild` for
// binding.gyp (it adds that default only to packages without one; "gypfile": false in
// package.json says the same).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const root = path.resolve(__dirname, '..');

function loadsPrebuilt() {
  try {
    require('node-gyp-build')(root);
    return true;
  } catch {
    return false;
  }
}

if (process.env.S4_BUILD_FROM_SOURCE !== '1' && loadsPrebuilt()) {
  console.log('s4-cuda: using the prebuilt native addon');
  process.exit(0);
}

function onPath(cmd) {
  return (process.env.PATH || '').split(path.delimiter).some((dir) => dir && fs.existsSync(path.join(dir, cmd)));
}

/** node-gyp's entry script: npm's own (npm names it to install scripts) or a local one. */
function nodeGypScript() {
  if (process.env.npm_config_node_gyp) return process.env.npm_config_node_gyp;
  try {
    return require.resolve('node-gyp/bin/node-gyp.js', { paths: [root] });
  } catch {
    return null;
  }
}

/** [builder name, node arguments]. */
function builder() {
  const chosen = process.env.S4_BUILDER || (!onPath('cmake') && nodeGypScript() ? 'node-gyp' : 'cmake-js');
  if (chosen === 'cmake-js') return ['cmake-js', [require.resolve('cmake-js/bin/cmake-js'), 'rebuild']];
  if (chosen === 'node-gyp') {
    const script = nodeGypScript();
    if (!script) {
      console.error('s4-cuda: S4_BUILDER=node-gyp, but node-gyp was not found (run the install through npm, or install node-gyp)');
      process.exit(1);
    }
    return ['node-gyp', [script, 'rebuild']];
  }
  console.error(`s4-cuda: S4_BUILDER is '${chosen}'; expected cmake-js or node-gyp`);
  process.exit(1);
}

const [name, args] = builder();
console.log(`s4-cuda: building the native addon from source with ${name}`);
const result = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
if (result.status !== 0) {
  console.error(
    `\ns4-cuda: no prebuilt addon matches this platform and the build from source (${name}) failed.\n` +
      'Building needs cmake (>= 3.19) and a C++17 compiler (apt-get install cmake g++), or python3, make and a C++17\n' +
      'compiler for node-gyp (S4_BUILDER=node-gyp); nvcc adds the CUDA backend. Then run `npm rebuild s4-cuda`.',
  );
  process.exit(result.status ?? 1);
}
