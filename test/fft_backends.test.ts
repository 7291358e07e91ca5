/**
 * The CPU FFT in its three forms: FFTW in float for the convolution where libfftw3f is on
 * the system, FFTW in double (S4_FFTW=double, or no float library), and the built-in
 * transform (S4_FFTW=0, or no FFTW). Each, in a child process, gives the FFT convolution and
 * its gradients within 1e-5 of the float64 definition, at lengths that are and are not
 * powers of two.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { conv64, convBackward64 } from './helpers/conv_ref';
import { randomValues, relL2 } from './helpers/device';

interface ChildResult {
  fft: string;
  convFft: string;
  results: { shape: [number, number, number]; y: number[]; du: number[]; dk: number[]; dd: number[] }[];
}

function runChild(env: Record<string, string>): ChildResult {
  const out = execFileSync(process.execPath, [join(__dirname, '../node_modules/vite-node/vite-node.mjs'), join(__dirname, 'helpers/fft_child.ts')], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
  });
  return JSON.parse(out) as ChildResult;
}

function expectExact(r: ChildResult): void {
  for (const c of r.results) {
    const [B, H, L] = c.shape;
    const u = randomValues(B * H * L, 1), k = randomValues(H * L, 2), d = randomValues(H, 3), g = randomValues(B * H * L, 4);
    const want = conv64(u, k, d, B, H, L);
    const grads = convBackward64(g, u, k, d, B, H, L);
    const name = `(${c.shape.join(', ')}) with ${r.convFft}`;
    expect(relL2(c.y, want), `y ${name}`).toBeLessThan(1e-5);
    expect(relL2(c.du, grads.du), `du ${name}`).toBeLessThan(1e-5);
    expect(relL2(c.dk, grads.dk), `dk ${name}`).toBeLessThan(1e-5);
    expect(relL2(c.dd, grads.dd), `dd ${name}`).toBeLessThan(1e-5);
  }
}

describe('CPU FFT backends', () => {
  it('the built-in transform (S4_FFTW=0) is exact', () => {
    const r = runChild({ S4_FFTW: '0' });
    expect(r.fft).toBe('builtin');
    expect(r.convFft).toBe('builtin');
    expectExact(r);
  });

  it('FFTW in double (S4_FFTW=double) is exact', () => {
    const r = runChild({ S4_FFTW: 'double' });
    expect(r.convFft).not.toBe('fftw-float');
    expectExact(r);
  });

  it('the default transform (FFTW when installed) is exact and agrees with the built-in one', () => {
    const r = runChild({ S4_FFTW: '' });
    expectExact(r);
    const builtin = runChild({ S4_FFTW: '0' });
    for (let i = 0; i < r.results.length; i++) expect(relL2(r.results[i].y, builtin.results[i].y)).toBeLessThan(2e-6);
  });
});
