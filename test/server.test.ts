/**
 * examples/server.mjs end to end: a child process serving a small checkpoint on 127.0.0.1.
 * Predictions and streamed generations equal the library called directly (also when
 * requests were batched together), bad bodies get a 400 that says why, a full queue a 503,
 * and SIGTERM finishes the request in flight and exits 0.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';
import { relL2 } from './helpers/device';
import { LM, parseEvents, startServer, writeModelCheckpoint, type ServerProcess } from './helpers/server_child';

const dir = mkdtempSync(join(tmpdir(), 's4-server-'));
const checkpoint = join(dir, 'lm.safetensors');
let server: ServerProcess;
let model: s4.nn.SequenceModel;

const post = (path: string, body: unknown): Promise<Response> =>
  fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });

function tokens(n: number, seed: number): number[] {
  return Array.from({ length: n }, (_, i) => (i * 7 + seed * 3) % LM.embedding);
}

async function direct(prompt: number[], o: { maxTokens: number; temperature: number; topK: number; seed: number }): Promise<number[]> {
  const out: number[] = [];
  for await (const s of model.generate([prompt], { ...o, seed: [o.seed] })) out.push(s.tokens![0]);
  return out;
}

beforeAll(async () => {
  writeModelCheckpoint(checkpoint, LM);
  model = s4.train.modelFromCheckpoint(s4.train.loadCheckpoint(checkpoint));
  model.eval();
  server = await startServer(checkpoint, { S4_BATCH_WINDOW_MS: '100', S4_MAX_QUEUE: '4' });
}, 60_000);

afterAll(() => {
  if (server.child.exitCode === null) server.child.kill('SIGKILL');
  model.dispose();
});

describe('examples/server.mjs', () => {
  it('POST /predict answers what forward gives, for requests batched together', async () => {
    const inputs = [tokens(5, 1), tokens(5, 2), tokens(9, 3), tokens(5, 4)];
    const answers = await Promise.all(inputs.map((input) => post('/predict', { input, output: true }).then(async (r) => ({ status: r.status, body: await r.json() }))));
    for (const [i, input] of inputs.entries()) {
      expect(answers[i].status, JSON.stringify(answers[i].body)).toBe(200);
      const L = input.length;
      const want = s4.tidy(() => s4.noGrad(() => model.forward(s4.tensor(input, [1, L]))).dataSync());
      const got = answers[i].body as { output: number[][]; labels: number[] };
      expect(got.output.length).toBe(LM.dOutput);
      expect(relL2(got.output.flat(), want)).toBeLessThan(1e-5);
      for (let l = 0; l < L; l++) {
        let best = 0;
        for (let c = 1; c < LM.dOutput; c++) if (want[c * L + l] > want[best * L + l]) best = c;
        expect(got.labels[l]).toBe(best);
      }
    }
    const stats = (await (await fetch(`${server.url}/stats`)).json()) as { predict: { batches: number }; eventLoopDelayMs: { p99: number } };
    expect(stats.predict.batches).toBeLessThan(inputs.length); // some requests shared a batch
    expect(stats.eventLoopDelayMs.p99).toBeGreaterThan(0);
  }, 60_000);

  it('POST /generate streams the tokens model.generate gives, one request or several at once', async () => {
    const reqs = [
      { prompt: tokens(4, 1), maxTokens: 6, temperature: 0.7, topK: 3, seed: 42 },
      { prompt: tokens(4, 2), maxTokens: 3, temperature: 0.7, topK: 3, seed: 7 },
      { prompt: tokens(4, 3), maxTokens: 8, temperature: 0.7, topK: 3, seed: 9 },
    ];
    const streams = await Promise.all(
      reqs.map(async (r) => {
        const res = await post('/generate', r);
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toBe('text/event-stream');
        return parseEvents(await res.text());
      }),
    );
    for (const [i, r] of reqs.entries()) {
      const events = streams[i];
      const want = await direct(r.prompt, r);
      expect(events.filter((e) => e.event === 'token').map((e) => (e.data as { token: number }).token)).toEqual(want);
      expect(events[events.length - 1]).toEqual({ event: 'done', data: { tokens: want } });
    }
  }, 60_000);

  it('bad bodies get a 400 that names the problem; unknown routes 404, wrong methods 405', async () => {
    const cases: [string, unknown, RegExp][] = [
      ['/predict', '{"input": [1, 2', /JSON object/],
      ['/predict', [1, 2], /JSON object/],
      ['/predict', {}, /'input' must be a non-empty array of token ids/],
      ['/predict', { input: [1, 12] }, /'input'\[1\] must be a token id in \[0, 12\)/],
      ['/predict', { input: [1], output: 'yes' }, /'output' must be true or false/],
      ['/generate', { prompt: [1], maxTokens: 0 }, /'maxTokens' must be an integer/],
      ['/generate', { prompt: [1], temperature: -1 }, /'temperature'/],
      ['/generate', { prompt: [1], topK: 1.5 }, /'topK'/],
      ['/generate', { maxTokens: 2 }, /'input' must be a non-empty array/],
    ];
    for (const [path, body, message] of cases) {
      const res = await post(path, body);
      expect(res.status, `${path} ${JSON.stringify(body)}`).toBe(400);
      expect(((await res.json()) as { error: string }).error).toMatch(message);
    }
    expect((await fetch(`${server.url}/nope`)).status).toBe(404);
    expect((await fetch(`${server.url}/predict`)).status).toBe(405);
  }, 60_000);

  it('a full queue answers 503; the requests it took are answered right', async () => {
    const input = tokens(33, 5);
    const res = await Promise.all(Array.from({ length: 24 }, () => post('/predict', { input, output: true }).then(async (r) => ({ status: r.status, body: await r.json() }))));
    const ok = res.filter((r) => r.status === 200);
    const full = res.filter((r) => r.status === 503);
    expect(ok.length + full.length).toBe(24);
    expect(full.length).toBeGreaterThan(0);
    expect(ok.length).toBeGreaterThan(0);
    expect((full[0].body as { error: string }).error).toMatch(/queue is full/);
    const want = s4.tidy(() => s4.noGrad(() => model.forward(s4.tensor(input, [1, 33]))).dataSync());
    for (const r of ok) expect(relL2((r.body as { output: number[][] }).output.flat(), want)).toBeLessThan(1e-5);
  }, 60_000);

  it('SIGTERM lets the generation in flight finish, then the server exits 0', async () => {
    const r = { prompt: tokens(3, 8), maxTokens: 300, temperature: 1, topK: 0, seed: 3 };
    const res = await post('/generate', r);
    const reader = res.body!.getReader();
    let text = '';
    const first = await reader.read();
    text += new TextDecoder().decode(first.value);
    server.child.kill('SIGTERM');
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    const events = parseEvents(text);
    expect(events[events.length - 1].event).toBe('done');
    expect((events[events.length - 1].data as { tokens: number[] }).tokens).toEqual(await direct(r.prompt, r));
    const { code, signal } = await server.exited;
    expect(signal).toBeNull();
    expect(code, server.stderr()).toBe(0);
    await expect(fetch(`${server.url}/health`)).rejects.toThrow();
  }, 60_000);
});
