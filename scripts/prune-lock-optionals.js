#!/usr/bin/env node
// Drops, from package-lock.json, optional dependencies that the lockfile has no entry for.
// The registry this project installs from carries only the platform packages it serves
// (linux-x64 among them); npm records every platform's optional binary in the lock
// (rollup, esbuild), and `npm ci` then refuses the lockfile as out of sync. Removing the
// names it cannot resolve keeps `npm ci` strict about everything else.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const lockPath = path.resolve(process.argv[2] ?? 'package-lock.json');
const lock = JSON.parse(fs.readFileSync(lockPath, 'utf8'));
const entries = lock.packages ?? {};
let dropped = 0;

function resolvable(from, name) {
  // Node resolution inside the lock: walk up from the package's folder.
  let dir = from;
  for (;;) {
    if (entries[`${dir ? dir + '/' : ''}node_modules/${name}`]) return true;
    if (!dir) return false;
    const cut = dir.lastIndexOf('/node_modules/');
    dir = cut < 0 ? '' : dir.slice(0, cut);
  }
}

for (const [where, pkg] of Object.entries(entries)) {
  const opt = pkg.optionalDependencies;
  if (!opt) continue;
  for (const name of Object.keys(opt)) {
    if (!resolvable(where, name)) {
      delete opt[name];
      dropped++;
    }
  }
  if (Object.keys(opt).length === 0) delete pkg.optionalDependencies;
}
fs.writeFileSync(lockPath, JSON.stringify(lock, null, 2) + '\n');
console.log(`prune-lock-optionals: dropped ${dropped} unresolvable optional dependencies`);
