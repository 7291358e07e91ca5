#!/usr/bin/env node
// prebuildify always runs node-gyp; `prebuildify --node-gyp scripts/prebuild-builder.js`
// points it here instead, so prebuilds come from the one build definition, CMakeLists.txt.
// prebuildify calls `<builder> rebuild --target=<node version> --devdir=... --arch=<arch>
// --release`; cmake-js builds a Node-API addon, which needs no target version.
'use strict';
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const args = process.argv.slice(2);
if (args[0] !== 'rebuild') {
  console.error(`prebuild-builder: unsupported command ${args[0]}`);
  process.exit(2);
}
const arch = (args.find((a) => a.startsWith('--arch=')) || '').slice('--arch='.length);
const debug = args.includes('--debug');
// 'build' is incremental: after `npm install` built the addon, only the link step reruns.
const cmakeArgs = ['build'];
if (arch) cmakeArgs.push('--arch', arch);
if (debug) cmakeArgs.push('--debug');
const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
const root = path.resolve(__dirname, '..');
const r = spawnSync(process.execPath, [cmakeJs, ...cmakeArgs], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
