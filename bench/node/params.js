'use strict';
/**
 * S4 parameters for the benchmarks: HiPPO-LegS from s4.ssm.initDplr when the package has
 * it; otherwise a synthetic DPLR set with the same shapes and scales (stable poles
 * -1/2 + i pi n, as S4D-Lin), which times the same, and the results say so.
 */
const { rng, randn } = require('./common');

function syntheticDplr({ H, N, seed }) {
  const N2 = N / 2;
  const rand = rng(seed);
  const count = H * N2;
  const c = (re, im) => ({ re: Float64Array.from(re), im: Float64Array.from(im) });
  const lre = new Float64Array(count).fill(-0.5);
  const lim = new Float64Array(count);
  for (let h = 0; h < H; h++) for (let n = 0; n < N2; n++) lim[h * N2 + n] = Math.PI * n;
  const dt = new Float64Array(H);
  for (let h = 0; h < H; h++) dt[h] = Math.exp(Math.log(1e-3) + rand() * (Math.log(1e-1) - Math.log(1e-3)));
  return {
    H,
    N2,
    lambda: c(lre, lim),
    p: c(randn(rand, count, 0.1), randn(rand, count, 0.1)),
    b: c(new Float64Array(count).fill(1), new Float64Array(count)),
    cTilde: c(randn(rand, count, Math.SQRT1_2), randn(rand, count, Math.SQRT1_2)),
    dt,
  };
}

/** Float64 DPLR parameters [H, N/2] and where they came from. */
function dplrParams64(s4, { H, N, L, seed = 1 }) {
  if (s4.ssm && typeof s4.ssm.initDplr === 'function') {
    return { p64: s4.ssm.initDplr({ H, N, init: 'legs', dtMin: 1e-3, dtMax: 1e-1, L, seed }), init: 'legs (s4.ssm.initDplr)' };
  }
  return { p64: syntheticDplr({ H, N, seed }), init: 'synthetic (s4.ssm.initDplr not available)' };
}

/** Tensors { lambda, p, b, cTilde, dt } on the current backend from float64 parameters. */
function dplrTensors(s4, p64, requiresGrad) {
  const { H, N2 } = p64;
  const opts = { requiresGrad };
  const cx = (c) => s4.complex(Float32Array.from(c.re), Float32Array.from(c.im), [H, N2], opts);
  return {
    lambda: cx(p64.lambda),
    p: cx(p64.p),
    b: cx(p64.b),
    cTilde: cx(p64.cTilde),
    dt: s4.tensor(Float32Array.from(p64.dt), [H], opts),
  };
}

/** The golden DPLR case (official PyTorch S4, float64) as float64 parameters. */
function goldenDplr() {
  const g = require('../../shared/golden/s4_reference_small.json').dplr;
  const H = g.H;
  const N2 = g.N_half;
  const flat = (a) => Float64Array.from(a.flat(Infinity));
  const c = (x) => ({ re: flat(x.re), im: flat(x.im) });
  return {
    p64: { H, N2, lambda: c(g.lambda), p: c(g.p), b: c(g.b), cTilde: c(g.c_tilde), dt: flat(g.dt) },
    L: g.L,
    K: flat(g.K),
    W: flat(g.grad.W),
  };
}

module.exports = { dplrParams64, dplrTensors, goldenDplr, syntheticDplr };
