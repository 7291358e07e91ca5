/** The host C++ compiler that tests building small native drivers use (`c++` on the PATH). */
import { execFileSync } from 'node:child_process';

/** Whether `c++` runs; tests that compile a driver skip without it. */
export function hasCxxCompiler(): boolean {
  try {
    execFileSync('c++', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
