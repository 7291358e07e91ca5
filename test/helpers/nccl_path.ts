/**
 * Where the GPU tests find NCCL: S4_NCCL_PATH when set, else libnccl.so.2 on the loader's
 * path, else the libnccl.so.2 of python3's nvidia-nccl wheel (PyTorch installs it). Call
 * useNcclFromEnvOrPython() before the first NCCL call of the process: the library is opened
 * once, reading S4_NCCL_PATH then.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** Whether a fresh process finds NCCL by its default names. */
function defaultNameLoads(): boolean {
  const addon = process.env.S4_ADDON_PATH ?? join(__dirname, '../../build/Release/s4.node');
  const script = `process.stdout.write(String(require(${JSON.stringify(addon)}).ncclInfo().loaded))`;
  try {
    return execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, S4_NCCL_PATH: '' } }) === 'true';
  } catch {
    return false;
  }
}

/** libnccl.so.2 of python3's nvidia-nccl wheel, or null. */
function wheelLibrary(): string | null {
  const script = 'import nvidia.nccl, os; print(os.path.join(list(nvidia.nccl.__path__)[0], "lib", "libnccl.so.2"))';
  try {
    const file = execFileSync('python3', ['-c', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return existsSync(file) ? file : null;
  } catch {
    return null;
  }
}

/** Sets S4_NCCL_PATH to the wheel's library when it is unset and the default names do not load. */
export function useNcclFromEnvOrPython(): void {
  if (process.env.S4_NCCL_PATH || defaultNameLoads()) return;
  const wheel = wheelLibrary();
  if (wheel) process.env.S4_NCCL_PATH = wheel;
}

/** What a test says when NCCL did not load. */
export function ncclMissing(reason: string | null): Error {
  return new Error(
    `NCCL did not load (${reason}); set S4_NCCL_PATH to a libnccl.so.2, e.g. the one of ` +
      "`python3 -c 'import nvidia.nccl; print(list(nvidia.nccl.__path__)[0])'`/lib",
  );
}
