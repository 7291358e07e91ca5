#!/usr/bin/env node
'use strict';
/**
 * Puts the full registry metadata and the tarball of every production dependency (the
 * versions package-lock.json pins) into the npm cache, so that the pack test can install
 * the packed tarball with `npm install --offline`.
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
if (specs.length === 0) {
  console.log('warm-npm-cache: no production dependencies in package-lock.json');
  process.exit(0);
}
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
execFileSync(npm, ['cache', 'add', ...specs], { cwd: root, stdio: 'inherit' });
console.log(`warm-npm-cache: ${specs.length} production dependencies cached with their full metadata`);
