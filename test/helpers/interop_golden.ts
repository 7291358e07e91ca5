/**
 * The official-S4 interop fixture (shared/golden/official_interop_small.json, made by the
 * official code: state_dicts, inputs, eval outputs and step outputs of S4Blocks and the
 * example model), and the checks the CPU and GPU interop tests share. S4_INTEROP_GOLDEN
 * names another fixture file of the same layout (other sizes).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as s4 from '../../lib/index';
import type { OfficialStateDict } from '../../lib/interop/index';
import { relL2 } from './device';

export interface FixtureArray {
  shape: number[];
  data: number[];
}

export interface FixtureCase {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  config: any;
  state_dict: OfficialStateDict;
  x: FixtureArray;
  y: FixtureArray;
  step_y_first16?: FixtureArray;
}

let cached: { meta: Record<string, unknown>; cases: Record<string, FixtureCase> } | undefined;

export function loadInteropGolden(): { meta: Record<string, unknown>; cases: Record<string, FixtureCase> } {
  if (cached) return cached;
  const file = process.env.S4_INTEROP_GOLDEN ?? path.resolve(__dirname, '../../shared/golden/official_interop_small.json');
  cached = JSON.parse(fs.readFileSync(file, 'utf8'));
  return cached!;
}

/** x [B, C, L] -> x[:, :, t] as [B, C]. */
export function column(x: FixtureArray, t: number): Float32Array {
  const [B, C, L] = x.shape;
  const out = new Float32Array(B * C);
  for (let i = 0; i < B * C; i++) out[i] = x.data[i * L + t];
  return out;
}

/** [B, L, C] -> [B, C, L]. */
export function transposeLast(x: FixtureArray): FixtureArray {
  const [B, L, C] = x.shape;
  const data = new Array<number>(B * L * C);
  for (let b = 0; b < B; b++) for (let l = 0; l < L; l++) for (let c = 0; c < C; c++) data[(b * C + c) * L + l] = x.data[(b * L + l) * C + c];
  return { shape: [B, C, L], data };
}

/** Relative L2 errors of an official block case on `device`: the forward and (when the fixture has it) the first 16 steps. */
export function blockErrors(c: FixtureCase, device: s4.DeviceName): { forward: number; step?: number } {
  const layer = s4.interop.blockFromOfficial(c.state_dict, c.config, { device });
  try {
    const y = s4.tidy(() => layer.forward(s4.tensor(c.x.data, c.x.shape, { device })).dataSync());
    const out: { forward: number; step?: number } = { forward: relL2(y, c.y.data) };
    if (c.step_y_first16) {
      const [B, H, T] = c.step_y_first16.shape;
      const st = layer.stepper({ batch: B });
      const got = new Float32Array(B * H * T);
      try {
        for (let t = 0; t < T; t++) {
          const yt = s4.tidy(() => st.step(s4.tensor(column(c.x, t), [B, H], { device })).dataSync());
          for (let i = 0; i < B * H; i++) got[i * T + t] = yt[i];
        }
      } finally {
        st.dispose();
      }
      out.step = relL2(got, c.step_y_first16.data);
    }
    return out;
  } finally {
    layer.dispose();
  }
}

/** Relative L2 errors of the example model case: the forward, and the stepper's output after the whole sequence (mean pool of every step). */
export function modelErrors(c: FixtureCase, device: s4.DeviceName): { forward: number; stepped: number } {
  const model = s4.interop.modelFromOfficial(c.state_dict, c.config, { device });
  try {
    const x = transposeLast(c.x); // the official model takes [B, L, d_input]
    const y = s4.tidy(() => model.forward(s4.tensor(x.data, x.shape, { device })).dataSync());
    const [B, D, L] = x.shape;
    const st = model.stepper({ batch: B });
    let last: Float32Array = new Float32Array(0);
    try {
      for (let t = 0; t < L; t++) last = s4.tidy(() => st.step(s4.tensor(column(x, t), [B, D], { device })).dataSync());
    } finally {
      st.dispose();
    }
    return { forward: relL2(y, c.y.data), stepped: relL2(last, c.y.data) };
  } finally {
    model.dispose();
  }
}
