#!/usr/bin/env node
// npm install hook: use a prebuilt addon when one loads (prebuilds/<platform>-<arch>, or
// an existing build/Release), else build from source with cmake-js (CUDA when nvcc is
// found). S4_BUILD_FROM_SOURCE=1 always builds.
'use strict';
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

const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
const result = spawnSync(process.execPath, [cmakeJs, 'rebuild'], { cwd: root, stdio: 'inherit' });
if (result.status !== 0) {
  console.error(
    '\ns4-cuda: no prebuilt addon matches this platform and the build from source failed.\n' +
      'Building needs cmake (>= 3.18) and a C++17 compiler (apt-get install cmake g++); nvcc adds the CUDA backend.\n' +
      'Then run `npm rebuild s4-cuda`.',
  );
  process.exit(result.status ?? 1);
}
