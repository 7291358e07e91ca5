#!/usr/bin/env node
'use strict';
/**
 * Puts the full registry metadata and the tarball of every production dependency (the
 * versions package-lock.json pins, and the newest version in each range it declares) into
 * the npm cache, so that the pack test can install the packed tarball with
 * `npm install --offline`.
 *
 * Why: `npm ci` installs from the lockfile and leaves at most the abbreviated ("corgi")
 * metadata in the cache, but npm 11 resolves the dependencies of a tarball it installs with
 * the full metadata, so an offline install after `npm ci` alone fails with ENOTCACHED.
 * `npm cache add` fetches exactly what that install will ask for. Needs the registry once.
 */
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8'));
const specs = [];
for (const [where, entry] of Object.entries(lock.packages || {})) {
  if (!where || entry.dev || entry.devOptional || entry.link || !entry.version) continue;
  const name = entry.name || where.slice(where.lastIndexOf('node_modules/') + 'node_modules/'.length);
  specs.push(`${name}@${entry.version}`);
}
// An install of the packed tarball resolves each dependency range afresh: to the newest
// version in range, which may be newer than the lockfile's (a release since the lock was
// written). Cache what each range resolves to as well.
const ranges = new Set();
const rootDeps = (lock.packages && lock.packages['']) ? lock.packages[''].dependencies || {} : {};
for (const [name, range] of Object.entries(rootDeps)) ranges.add(`${name}@${range}`);
for (const [where, entry] of Object.entries(lock.packages || {})) {
  if (!where || entry.dev || entry.devOptional || entry.link) continue;
  for (const [name, range] of Object.entries({ ...(entry.dependencies || {}), ...(entry.optionalDependencies || {}) })) {
    ranges.add(`${name}@${range}`);
  }
}
specs.push(...ranges);
if (specs.length === 0) {
  console.log('warm-npm-cache: no production dependencies in package-lock.json');
  process.exit(0);
}
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
execFileSync(npm, ['cache', 'add', ...specs], { cwd: root, stdio: 'inherit' });
console.log(`warm-npm-cache: ${specs.length} production dependency versions and ranges cached with their full metadata`);
