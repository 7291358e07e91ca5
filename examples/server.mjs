/**
 * An inference server for an s4-cuda checkpoint, on node:http alone.
 *
 *   node examples/server.mjs runs/sine/checkpoint.safetensors      (or S4_CHECKPOINT=...)
 *
 *   POST /predict   {"input": ...}  -> {"label", "probs", "output"}     one forward pass
 *   POST /generate  {"prompt": [token ids], "maxTokens", "temperature", "topK", "seed"}
 *                   -> server-sent events: "token" per position, then "done"
 *   GET  /stats     requests, batches, queue, event-loop delay (perf_hooks)
 *   GET  /health
 *
 * `input` is token ids [L] for a model with an embedding, else features [dInput][L]
 * (channel-major, as the model's [B, dInput, L]). A pooled model (pool mean or last) gives
 * one class distribution; a per-position model (pool none) the largest class at each
 * position ("labels"), and its outputs [dOutput][L] too when the body says "output": true
 * (large: serializing them costs the event loop more than the forward pass costs it).
 *
 * Requests that arrive within S4_BATCH_WINDOW_MS (default 5 ms) of each other, with inputs
 * of one length, run as one batch (dynamic batching, up to S4_MAX_BATCH rows). Compute runs
 * off the JS thread (forwardAsync, generate), so the event loop keeps serving while a
 * batch computes. At most S4_MAX_QUEUE requests wait (503 beyond). S4_BATCHING=0 serves
 * one request at a time instead. SIGTERM stops accepting, finishes what is in flight and
 * exits 0. HOST and PORT (default 127.0.0.1:8080; PORT=0 picks a free port) say where to
 * listen; the address is printed as a JSON line {"listening": "http://..."} on stdout.
 */
import http from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';

// S4_PACKAGE lets the repository's tests run this file against the TypeScript sources.
const s4 = await import(process.env.S4_PACKAGE || 's4-cuda');

const env = (name, def) => (process.env[name] === undefined || process.env[name] === '' ? def : Number(process.env[name]));
const CONFIG = {
  windowMs: env('S4_BATCH_WINDOW_MS', 5),
  maxBatch: env('S4_MAX_BATCH', 32),
  maxQueue: env('S4_MAX_QUEUE', 256),
  batching: process.env.S4_BATCHING !== '0',
  maxBodyBytes: 1 << 20,
  maxTokens: env('S4_MAX_TOKENS', 512),
};

const checkpoint = process.argv[2] || process.env.S4_CHECKPOINT;
if (!checkpoint) {
  console.error('usage: node examples/server.mjs <checkpoint.safetensors> (or set S4_CHECKPOINT)');
  process.exit(2);
}
const model = s4.train.modelFromCheckpoint(s4.train.loadCheckpoint(checkpoint));
model.eval();
const canGenerate = model.vocab !== null && model.pool === 'none' && model.dOutput <= model.vocab;

/** A client error: answered with `status` and the message. */
class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// ---- dynamic batching ---------------------------------------------------------------------

/**
 * Collects jobs into batches of one key (same input length and options): a batch starts
 * when it is full or `windowMs` after its first job, one batch at a time per batcher
 * (batches queue on the CPU stream anyway, and waiting jobs make the next batch larger).
 */
class Batcher {
  constructor(run, { windowMs, maxBatch, maxQueue }) {
    Object.assign(this, { run, windowMs, maxBatch, maxQueue });
    this.waiting = new Map(); // key -> jobs
    this.queued = 0;
    this.running = false;
    this.timer = null;
    this.batches = 0;
    this.rows = 0;
  }

  submit(key, job) {
    if (this.queued >= this.maxQueue) throw new HttpError(503, `the queue is full (${this.maxQueue} requests waiting); retry later`);
    return new Promise((resolve, reject) => {
      const list = this.waiting.get(key) ?? [];
      list.push({ ...job, resolve, reject });
      this.waiting.set(key, list);
      this.queued++;
      if (list.length >= this.maxBatch || this.windowMs === 0) this.pump();
      else this.timer ??= setTimeout(() => this.pump(), this.windowMs);
    });
  }

  get idle() {
    return !this.running && this.queued === 0;
  }

  pump() {
    clearTimeout(this.timer);
    this.timer = null;
    if (this.running || this.queued === 0) return;
    const [key, list] = this.waiting.entries().next().value;
    const batch = list.splice(0, this.maxBatch);
    if (list.length === 0) this.waiting.delete(key);
    this.queued -= batch.length;
    this.running = true;
    this.batches++;
    this.rows += batch.length;
    this.run(batch)
      .then(
        (results) => batch.forEach((j, i) => (results[i] instanceof Error ? j.reject(results[i]) : j.resolve(results[i]))),
        (err) => batch.forEach((j) => j.reject(err)),
      )
      .finally(() => {
        this.running = false;
        if (this.queued > 0) this.pump();
        onIdle();
      });
  }
}

const batchOpts = CONFIG.batching ? CONFIG : { ...CONFIG, windowMs: 0, maxBatch: 1 };

// ---- /predict -----------------------------------------------------------------------------

function parseInput(input) {
  if (model.vocab !== null) {
    if (!Array.isArray(input) || input.length === 0) throw new HttpError(400, "'input' must be a non-empty array of token ids");
    input.forEach((t, i) => {
      if (!Number.isInteger(t) || t < 0 || t >= model.vocab) throw new HttpError(400, `'input'[${i}] must be a token id in [0, ${model.vocab}) (got ${JSON.stringify(t)})`);
    });
    return { L: input.length, values: input };
  }
  const D = model.dInput;
  if (!Array.isArray(input) || input.length !== D || !input.every((row) => Array.isArray(row))) {
    throw new HttpError(400, `'input' must be ${D} arrays (channels) of one length L`);
  }
  const L = input[0].length;
  if (L === 0) throw new HttpError(400, "'input' rows must not be empty");
  const values = [];
  input.forEach((row, d) => {
    if (row.length !== L) throw new HttpError(400, `'input'[${d}] has ${row.length} values; every channel needs ${L}`);
    row.forEach((v, l) => {
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new HttpError(400, `'input'[${d}][${l}] must be a finite number`);
    });
    values.push(...row);
  });
  return { L, values };
}

function softmax(row) {
  const max = Math.max(...row);
  const e = row.map((v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

async function runPredict(batch) {
  const B = batch.length;
  const L = batch[0].L;
  const shape = model.vocab !== null ? [B, L] : [B, model.dInput, L];
  const x = s4.tensor(batch.flatMap((j) => j.values), shape, { device: model.device });
  let y;
  try {
    y = await model.forwardAsync(x);
  } finally {
    x.dispose();
  }
  const out = await y.data();
  y.dispose();
  const C = model.dOutput;
  return batch.map((_, b) => {
    if (model.pool !== 'none') {
      const scores = Array.from(out.subarray(b * C, (b + 1) * C));
      const probs = softmax(scores);
      return { output: scores, label: probs.indexOf(Math.max(...probs)), probs };
    }
    // Per position: the largest class at each position (and the outputs [C][L] if asked).
    const at = (c, l) => out[(b * C + c) * L + l];
    const labels = Array.from({ length: L }, (_, l) => {
      let best = 0;
      for (let c = 1; c < C; c++) if (at(c, l) > at(best, l)) best = c;
      return best;
    });
    if (!batch[b].output) return { labels };
    return { labels, output: Array.from({ length: C }, (_, c) => Array.from(out.subarray((b * C + c) * L, (b * C + c + 1) * L))) };
  });
}

const predictBatcher = new Batcher(runPredict, batchOpts);

// ---- /generate ----------------------------------------------------------------------------

function parseGenerate(body) {
  if (!canGenerate) throw new HttpError(400, 'this model cannot generate (it needs an embedding, pool none and at most one output per token)');
  const { prompt, maxTokens = 16, temperature = 1, topK = 0, seed = 0 } = body;
  parseInput(prompt === undefined ? null : prompt);
  if (!Number.isInteger(maxTokens) || maxTokens < 1 || maxTokens > CONFIG.maxTokens) throw new HttpError(400, `'maxTokens' must be an integer in [1, ${CONFIG.maxTokens}]`);
  if (typeof temperature !== 'number' || !Number.isFinite(temperature) || temperature < 0) throw new HttpError(400, "'temperature' must be a number >= 0");
  if (!Number.isInteger(topK) || topK < 0) throw new HttpError(400, "'topK' must be an integer >= 0 (0: all tokens)");
  if (!Number.isInteger(seed) || seed < 0 || seed > 2 ** 32 - 1) throw new HttpError(400, "'seed' must be an integer in [0, 2^32)");
  return { prompt, maxTokens, temperature, topK, seed };
}

// One stepper per batch size, made at start and reused (generate resets it): making one
// reads the parameters synchronously, which would wait on the JS thread for the batches
// already computing.
const steppers = new Map();
if (canGenerate) for (let B = 1; B <= batchOpts.maxBatch; B++) steppers.set(B, model.stepper({ batch: B }));
const stepperFor = (B) => steppers.get(B);

/** One generate() for the batch; each request gets its own tokens (own seed) until its maxTokens. */
async function runGenerate(batch) {
  const ac = new AbortController();
  let open = batch.length;
  batch.forEach((j) =>
    j.onClose(() => {
      j.closed = true;
      if (--open === 0) ac.abort(); // every client left: stop computing
    }),
  );
  const maxTokens = Math.max(...batch.map((j) => j.maxTokens));
  const { temperature, topK } = batch[0];
  try {
    for await (const step of model.generate(batch.map((j) => j.prompt), { maxTokens, temperature, topK, seed: batch.map((j) => j.seed), signal: ac.signal, stepper: stepperFor(batch.length) })) {
      batch.forEach((j, b) => {
        if (!j.closed && step.index < j.maxTokens) j.send('token', { index: step.index, token: step.tokens[b] });
      });
    }
  } catch (err) {
    if (!ac.signal.aborted) throw err;
  }
  return batch.map(() => null);
}

const generateBatcher = new Batcher(runGenerate, batchOpts);

// ---- http ---------------------------------------------------------------------------------

const stats = { requests: 0, errors: 0, rejected: 0 };
const loopDelay = monitorEventLoopDelay({ resolution: 1 });
loopDelay.enable();

function readJson(req) {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks = [];
    req.on('data', (c) => {
      size += c.length;
      if (size > CONFIG.maxBodyBytes) {
        reject(new HttpError(413, `the body exceeds ${CONFIG.maxBodyBytes} bytes`));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => {
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new Error();
        resolve(body);
      } catch {
        reject(new HttpError(400, 'the body must be a JSON object'));
      }
    });
    req.on('error', reject);
  });
}

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...(shuttingDown ? { connection: 'close' } : {}) });
  res.end(text);
}

const ms = (ns) => Math.round((ns / 1e6) * 100) / 100;

async function handle(req, res) {
  const url = new URL(req.url, 'http://localhost');
  if (req.method === 'GET' && url.pathname === '/health') return sendJson(res, 200, { ok: true });
  if (req.method === 'GET' && url.pathname === '/stats') {
    const reset = url.searchParams.get('reset') === '1';
    const body = {
      ...stats,
      batching: CONFIG.batching,
      predict: { batches: predictBatcher.batches, meanBatch: predictBatcher.rows / Math.max(1, predictBatcher.batches), queued: predictBatcher.queued },
      generate: { batches: generateBatcher.batches, meanBatch: generateBatcher.rows / Math.max(1, generateBatcher.batches), queued: generateBatcher.queued },
      eventLoopDelayMs: { p50: ms(loopDelay.percentile(50)), p99: ms(loopDelay.percentile(99)), max: ms(loopDelay.max) },
      memory: { rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20), tensors: s4.memory() },
    };
    if (reset) loopDelay.reset();
    return sendJson(res, 200, body);
  }
  if (url.pathname !== '/predict' && url.pathname !== '/generate') throw new HttpError(404, `no route ${url.pathname}`);
  if (req.method !== 'POST') throw new HttpError(405, `${url.pathname} takes POST`);
  if (shuttingDown) throw new HttpError(503, 'the server is shutting down');
  const body = await readJson(req);
  if (url.pathname === '/predict') {
    const { L, values } = parseInput(body.input);
    if (body.output !== undefined && typeof body.output !== 'boolean') throw new HttpError(400, "'output' must be true or false");
    const key = `${L}`;
    return sendJson(res, 200, await predictBatcher.submit(key, { L, values, output: body.output === true }));
  }
  const g = parseGenerate(body);
  const key = `${g.prompt.length}/${g.temperature}/${g.topK}`;
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', ...(shuttingDown ? { connection: 'close' } : {}) });
  const send = (event, data) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  const tokens = [];
  try {
    await generateBatcher.submit(key, {
      ...g,
      send: (event, data) => {
        tokens.push(data.token);
        send(event, data);
      },
      onClose: (fn) => res.on('close', () => !res.writableEnded && fn()),
    });
    send('done', { tokens });
  } catch (err) {
    send('error', { status: err.status ?? 500, message: err.message });
  }
  res.end();
}

const server = http.createServer((req, res) => {
  stats.requests++;
  handle(req, res).catch((err) => {
    const status = err instanceof HttpError ? err.status : 500;
    if (status === 503) stats.rejected++;
    else stats.errors++;
    if (status === 500) console.error(err);
    if (res.headersSent) res.end();
    else sendJson(res, status, { error: err.message });
  });
});

// Clients (fetch, load balancers) reuse connections; a keep-alive longer than theirs
// avoids closing a socket just as a client sends on it.
server.keepAliveTimeout = 65_000;

let shuttingDown = false;
function onIdle() {
  if (shuttingDown && predictBatcher.idle && generateBatcher.idle) server.closeIdleConnections();
}
process.on('SIGTERM', () => {
  if (shuttingDown) return;
  shuttingDown = true;
  // Stop accepting; the close callback runs when the last connection has ended.
  server.close(() => {
    for (const st of steppers.values()) st.dispose();
    model.dispose();
    process.exit(0);
  });
  server.closeIdleConnections();
});

server.listen(Number(process.env.PORT ?? 8080), process.env.HOST ?? '127.0.0.1', () => {
  const { address, port } = server.address();
  console.log(JSON.stringify({ listening: `http://${address}:${port}`, batching: CONFIG.batching, canGenerate }));
});
