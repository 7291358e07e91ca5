/**
 * Helpers of the server test: a small token-model checkpoint written with the library, and
 * the example server started on 127.0.0.1 (a free port) in a child process that runs
 * against the TypeScript sources (S4_PACKAGE).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import * as s4 from '../../lib/index';

const root = join(__dirname, '..', '..');

export const LM = { embedding: 12, dModel: 16, nLayers: 2, dState: 8, dOutput: 12, lMax: 64, dropout: 0, pool: 'none' as const, seed: 5 };

/** Writes a checkpoint of a fresh model made with `opts` (what modelFromCheckpoint reads). */
export function writeModelCheckpoint(path: string, opts: s4.nn.SequenceModelOptions): void {
  const model = new s4.nn.SequenceModel(opts);
  const params: Record<string, { shape: number[]; dtype: s4.DType; data: Float32Array }> = {};
  for (const [n, t] of model.namedParameters()) params[n] = { shape: [...t.shape], dtype: t.dtype, data: t.dataSync() };
  s4.train.saveCheckpoint(path, { step: 0, epoch: 0, batch: 0, seed: 0, params, moments: {}, scheduleStep: 0, dropout: {}, info: { model: opts } });
  model.dispose();
}

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: string | null }>;
}

export async function startServer(checkpoint: string, env: Record<string, string> = {}): Promise<ServerProcess> {
  const child = spawn(process.execPath, [join(root, 'node_modules/vite-node/vite-node.mjs'), join(root, 'examples/server.mjs'), checkpoint], {
    cwd: root,
    env: { ...process.env, S4_BACKEND: 'cpu', S4_PACKAGE: join(root, 'lib/index.ts'), HOST: '127.0.0.1', PORT: '0', ...env },
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /\{"listening":"([^"]+)"/.exec(out);
      if (m) resolve(m[1]);
    });
    void exited.then(({ code }) => reject(new Error(`the server exited (${code}) before listening: ${err}`)));
  });
  return { child, url, stdout: () => out, stderr: () => err, exited };
}

/** The events of a server-sent event stream. */
export function parseEvents(text: string): { event: string; data: unknown }[] {
  return text
    .split('\n\n')
    .filter((b) => b.trim())
    .map((block) => {
      const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
      const data = JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? 'null');
      return { event, data };
    });
}
