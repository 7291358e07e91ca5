'use strict';
/**
 * Runs one suite of the Node half in its own process (a native crash then loses one suite,
 * not the run): node bench/node/worker.js <suite> <spec.json> <result.json> <cpu|cuda>
 */
const fs = require('node:fs');
const { loadS4, ResultsFile } = require('./common');

const SUITES = {
  kernel: () => require('./kernel'),
  fftconv: () => require('./fftconv'),
  step: () => require('./step'),
  block: () => require('./block'),
  model: () => require('./model'),
};

function main() {
  const [suite, specFile, outFile, backend] = process.argv.slice(2);
  if (!SUITES[suite]) throw new Error(`unknown suite '${suite}' (one of ${Object.keys(SUITES).join(', ')})`);
  const spec = JSON.parse(fs.readFileSync(specFile, 'utf8'));
  const s4 = loadS4();
  s4.setBackend(backend);
  const info = s4.info();
  const out = new ResultsFile(outFile, {
    suite,
    impl: 'ours',
    device: info.gpu ? info.gpu.name : `cpu (${info.cpuThreads} threads)`,
    backend: s4.backend(),
    node: process.version,
    package: s4.version,
    cudaRuntime: info.cudaRuntimeVersion,
    startedAt: new Date().toISOString(),
  });
  SUITES[suite]().run(s4, spec, out);
  out.doc.finishedAt = new Date().toISOString();
  out.flush();
}

main();
