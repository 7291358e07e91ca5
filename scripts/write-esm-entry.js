#!/usr/bin/env node
// Writes dist/index.mjs, the ES-module entry: it imports the CommonJS build (one copy of
// the module state for require and import alike) and re-exports its names.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const dist = path.resolve(__dirname, '..', 'dist');
const src = fs.readFileSync(path.join(dist, 'index.d.ts'), 'utf8');
// Names come from the declaration file, so this runs without loading the native addon.
const names = new Set();
for (const m of src.matchAll(/export (?:declare )?(?:function|const|class|let) (\w+)/g)) names.add(m[1]);
for (const m of src.matchAll(/export \{([^}]*)\}/g)) {
  for (const part of m[1].split(',')) {
    const p = part.trim();
    if (!p || p.startsWith('type ')) continue;
    const alias = p.split(/\s+as\s+/).pop().trim();
    if (alias) names.add(alias);
  }
}
for (const m of src.matchAll(/export \* as (\w+)/g)) names.add(m[1]);
const list = [...names].sort();
const body =
  "import cjs from './index.js';\n" +
  list.map((n) => `export const ${n} = cjs.${n};`).join('\n') +
  '\nexport default cjs;\n';
fs.writeFileSync(path.join(dist, 'index.mjs'), body);
fs.writeFileSync(path.join(dist, 'index.d.mts'), "export * from './index.js';\nimport * as s4 from './index.js';\nexport default s4;\n");
