#!/usr/bin/env node
// Fails when the built addon leaves a symbol of the s4 namespace undefined: an op twin
// declared in a spec file (S4_TWIN) whose CPU or CUDA definition has another signature, or
// none in this build (a shared library links with undefined symbols; loading it would fail
// later, or only when the op is first called). Both builds run it after linking:
// CMakeLists.txt and binding.gyp. Needs nm (binutils).
//   node scripts/check-undefined.js <addon.node> [<stamp file written on success>]
'use strict';
const fs = require('node:fs');
const { spawnSync } = require('node:child_process');

const [addon, stamp] = process.argv.slice(2);
if (!addon) {
  console.error('usage: check-undefined.js <addon.node> [<stamp>]');
  process.exit(2);
}
const nm = spawnSync('nm', ['-u', '-C', addon], { encoding: 'utf8', maxBuffer: 64 << 20 });
if (nm.error && nm.error.code === 'ENOENT') {
  console.warn('s4: nm not found; undefined op twins are not checked');
} else if (nm.status !== 0) {
  console.error(`s4: nm failed on ${addon}: ${nm.stderr || nm.error}`);
  process.exit(1);
} else {
  const missing = nm.stdout.split('\n').filter((l) => l.includes('s4::'));
  if (missing.length) {
    console.error(
      's4: the addon leaves these functions undefined (a twin declared with S4_TWIN has no definition of that signature):\n' +
        missing.join('\n'),
    );
    process.exit(1);
  }
}
if (stamp) fs.writeFileSync(stamp, `${new Date().toISOString()}\n`);
