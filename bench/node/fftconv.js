'use strict';
/** fftConv forward and forward+backward (issue 4), with a direct-convolution check first. */
const { timeIt, runCase, rng, randn, relL2 } = require('./common');
const { requireOp } = require('./kernel');

/** y[b,h,l] = sum_{j<=l} k[h,j] u[b,h,l-j] + d[h] u[b,h,l], in float64. */
function directConv(u, k, d, B, H, L) {
  const y = new Float64Array(B * H * L);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const o = (b * H + h) * L;
      for (let l = 0; l < L; l++) {
        let acc = d[h] * u[o + l];
        for (let j = 0; j <= l; j++) acc += k[h * L + j] * u[o + l - j];
        y[o + l] = acc;
      }
    }
  }
  return y;
}

function run(s4, spec, out) {
  const T = spec.timing;

  runCase(out, { suite: 'fftconv', case: 'direct B=2 H=3 L=37', mode: 'check' }, () => {
    const fftConv = requireOp(s4, 'fftConv');
    const [B, H, L] = [2, 3, 37];
    const rand = rng(11);
    const u = randn(rand, B * H * L);
    const k = randn(rand, H * L, 0.3);
    const d = randn(rand, H);
    const err = s4.tidy(() => relL2(fftConv(s4.tensor(u, [B, H, L]), s4.tensor(k, [H, L]), s4.tensor(d, [H])).dataSync(), directConv(u, k, d, B, H, L)));
    if (!(err <= 1e-4)) throw new Error(`fftConv differs from the direct convolution: relative L2 ${err}`);
    return { check: { name: 'relL2 vs direct convolution', value: err, limit: 1e-4 } };
  });

  for (const shape of spec.fftconv.cases) {
    const { B, H, L } = shape;
    const label = `B=${B} H=${H} L=${L}`;
    const inputs = (grad) => {
      const rand = rng(5);
      return {
        u: s4.tensor(randn(rand, B * H * L), [B, H, L], { requiresGrad: grad }),
        k: s4.tensor(randn(rand, H * L, 1 / Math.sqrt(L)), [H, L], { requiresGrad: grad }),
        d: s4.tensor(randn(rand, H), [H], { requiresGrad: grad }),
      };
    };
    runCase(out, { suite: 'fftconv', case: label, mode: 'fwd', shape }, () => {
      const fftConv = requireOp(s4, 'fftConv');
      const x = inputs(false);
      try {
        return s4.noGrad(() => timeIt(s4, () => s4.tidy(() => void fftConv(x.u, x.k, x.d)), T));
      } finally {
        s4.dispose(x);
      }
    });
    runCase(out, { suite: 'fftconv', case: label, mode: 'fwd+bwd', shape }, () => {
      const fftConv = requireOp(s4, 'fftConv');
      const x = inputs(true);
      const G = s4.tensor(randn(rng(9), B * H * L), [B, H, L]);
      const leaves = [x.u, x.k, x.d];
      try {
        const step = () => {
          s4.tidy(() => fftConv(x.u, x.k, x.d).backward(G));
          s4.zeroGrad(leaves);
        };
        return { ...timeIt(s4, step, T), note: 'grads of u, k and d; backward seeded with a random dy' };
      } finally {
        s4.dispose(x, G);
      }
    });
  }
}

module.exports = { run };
