/** `s4 info`: backend, GPU, cuFFT, NCCL and addon versions, and why cuda or NCCL is unavailable if it is. */
import type { Command } from 'commander';
import { info } from '../info';

function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}

export function registerInfo(program: Command): void {
  program
    .command('info')
    .description('show the backend, the GPU and the native addon')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) => {
      const i = info();
      if (opts.json) {
        console.log(JSON.stringify(i, null, 2));
        return;
      }
      const rows: [string, string][] = [
        ['backend', i.backend],
        ['addon', `s4-cuda ${i.addonVersion} (Node-API ${i.napiVersion}, ${i.cudaCompiled ? `CUDA ${i.cudaArchitectures}` : 'CPU only'})`],
        ['cpu threads', String(i.cpuThreads)],
      ];
      if (i.gpu) {
        rows.push(['gpu', `${i.gpu.name} (compute capability ${i.gpu.computeCapability}, ${i.gpu.multiprocessors} SMs)`]);
        rows.push(['gpu memory', `${gib(i.gpu.freeMemoryBytes)} free of ${gib(i.gpu.totalMemoryBytes)}`]);
      }
      if (i.cudaCompiled) {
        rows.push(['cuda runtime', i.cudaRuntimeVersion ?? 'unknown']);
        rows.push(['cuda driver', i.cudaDriverVersion ?? 'none']);
        rows.push(['cufft', i.cufftVersion !== null ? String(i.cufftVersion) : 'not loaded']);
      }
      rows.push(['gemm', i.gemm]);
      rows.push(['nccl', i.nccl.loaded ? `${i.nccl.version ?? 'unknown version'} (${i.nccl.path ?? 'unknown path'})` : `not loaded: ${i.nccl.reason}`]);
      rows.push(['cuda', i.cudaAvailable ? 'available' : `unavailable: ${i.cudaUnavailableReason}`]);
      const w = Math.max(...rows.map((r) => r[0].length));
      for (const [k, v] of rows) console.log(`${k.padEnd(w)}  ${v}`);
    });
}
