/**
 * Child process of test/fft_backends.test.ts: the CPU FFT convolution and its backward on
 * fixed inputs, printed as JSON with the FFT in use (S4_FFTW chooses it at load).
 * Usage: vite-node fft_child.ts
 */
import * as s4 from '../../lib/index';
import { core } from '../../lib/native/binding';
import { randomValues } from './device';

s4.setBackend('cpu');
const shapes: [number, number, number][] = [
  [2, 3, 1],
  [2, 3, 7],
  [1, 4, 784],
  [2, 2, 1025],
];
const results = shapes.map(([B, H, L]) => {
  const u = s4.tensor(randomValues(B * H * L, 1), [B, H, L], { requiresGrad: true });
  const k = s4.tensor(randomValues(H * L, 2), [H, L], { requiresGrad: true });
  const d = s4.tensor(randomValues(H, 3), [H], { requiresGrad: true });
  const g = s4.tensor(randomValues(B * H * L, 4), [B, H, L]);
  const y = s4.tidy(() => {
    const out = s4.ops.fftConv(u, k, d);
    out.backward(g);
    return Array.from(out.dataSync());
  });
  const r = { shape: [B, H, L], y, du: Array.from(u.grad!.dataSync()), dk: Array.from(k.grad!.dataSync()), dd: Array.from(d.grad!.dataSync()) };
  s4.dispose(u, k, d, g);
  return r;
});
process.stdout.write(JSON.stringify({ fft: core.nnInfo('cpu').fft, convFft: core.nnInfo('cpu').convFft, results }));
