/**
 * A process group over TCP: the rendezvous of a data-parallel run, its small collectives,
 * and the watch that turns a dead rank into an error on every other rank.
 *
 * Rank 0 listens at (masterAddr, masterPort); every other rank connects, presents its rank,
 * the world size and the run id, and the group exists once all have joined. Collectives go
 * through rank 0 (a star): each rank sends its part of collective number k, rank 0 combines
 * the parts in rank order (sums in float64, so the result does not depend on arrival
 * order) and sends the result back. That is the CPU collective of the trainer (gradients of
 * CPU models, run on every CI commit) and the channel NCCL runs need for their unique id,
 * the checkpoint broadcast, the per-step statistics and the stop decisions; on GPUs the
 * gradients themselves go through NCCL (lib/distributed/nccl.ts).
 *
 * Failures end every rank with a ProcessGroupError instead of a hang:
 * - a rank whose connection closes without saying goodbye (it exited, was killed or
 *   crashed): rank 0 tells the others which rank it was;
 * - rank 0 itself disappearing: the others see their connection close;
 * - a collective that does not complete within `timeoutMs` (a rank hangs, or the network
 *   dropped without a reset): rank 0 names the ranks it waits for;
 * - ranks calling different collectives at the same point (a bug): rank 0 names both calls;
 * - at the start, a rank that presents another run id or world size is refused with a
 *   message saying so, and a rank that does not join within `connectTimeoutMs` fails the
 *   rendezvous.
 */
import * as net from 'node:net';
import { distributedEnv, pinLocalGpu } from './env';
import { FrameReader, FrameType, decodeJson, encodeFrame, encodeJson, type Frame } from './wire';

export interface ProcessGroupOptions {
  rank: number;
  worldSize: number;
  /** Where rank 0 listens (default 127.0.0.1). */
  masterAddr?: string;
  masterPort: number;
  /** Every rank must present the same id (default 'default'); the launcher makes a fresh one per run. */
  runId?: string;
  /** Longest wait of one collective, in ms (default S4_DIST_TIMEOUT seconds, else 600 s). */
  timeoutMs?: number;
  /** How long the ranks wait for each other at the start, in ms (default S4_DIST_CONNECT_TIMEOUT seconds with fromEnv, else 120 s). */
  connectTimeoutMs?: number;
}

/** The group failed: a rank died or hung, or the ranks disagree. `code` is 'S4_DIST'. */
export class ProcessGroupError extends Error {
  readonly code = 'S4_DIST';
  constructor(message: string) {
    super(message);
    this.name = 'ProcessGroupError';
  }
}

export type ReduceOp = 'sum' | 'max';

const PROTOCOL = 1;

/** Operation codes of a contribution (its first byte). */
enum Op {
  Sum = 1,
  Max = 2,
  Broadcast = 3,
  Barrier = 4,
}
enum DTypeCode {
  None = 0,
  F32 = 1,
  F64 = 2,
  Bytes = 3,
}
const OP_NAMES: Record<Op, string> = { [Op.Sum]: 'allReduce(sum)', [Op.Max]: 'allReduce(max)', [Op.Broadcast]: 'broadcast', [Op.Barrier]: 'barrier' };

function defaultTimeoutMs(): number {
  const s = Number(process.env.S4_DIST_TIMEOUT);
  return Number.isFinite(s) && s > 0 ? s * 1000 : 600_000;
}

function isLoopback(addr: string): boolean {
  return addr === 'localhost' || addr === '::1' || /^127\./.test(addr);
}

interface Pending {
  resolve: (payload: Buffer) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout | null;
}

/** Rank 0's record of one collective: the parts that have arrived. */
interface Gathering {
  op: Op;
  parts: (Buffer | null)[];
  arrived: number;
  timer: NodeJS.Timeout;
}

export class ProcessGroup {
  readonly rank: number;
  readonly worldSize: number;
  readonly timeoutMs: number;
  private seq = 0;
  private failure: ProcessGroupError | null = null;
  private closed = false;
  private readonly pending = new Map<number, Pending>();
  private readonly failureListeners: ((err: ProcessGroupError) => void)[] = [];
  // Rank 0: the server, the socket of each rank, the ranks that said goodbye, the open collectives.
  private server: net.Server | null = null;
  private readonly peers: (net.Socket | null)[];
  private readonly leaving = new Set<number>();
  private readonly gathering = new Map<number, Gathering>();
  // Other ranks: the connection to rank 0.
  private socket: net.Socket | null = null;

  private constructor(rank: number, worldSize: number, timeoutMs: number) {
    this.rank = rank;
    this.worldSize = worldSize;
    this.timeoutMs = timeoutMs;
    this.peers = new Array<net.Socket | null>(worldSize).fill(null);
  }

  /** Joins (rank 0: hosts) the group; resolves once every rank has joined. */
  static async connect(opts: ProcessGroupOptions): Promise<ProcessGroup> {
    const fn = 'ProcessGroup.connect';
    if (opts === null || typeof opts !== 'object') throw new TypeError(`${fn}: argument 'opts' must be an object { rank, worldSize, masterPort }`);
    const { rank, worldSize } = opts;
    if (!Number.isSafeInteger(worldSize) || worldSize < 1) throw new RangeError(`${fn}: option 'worldSize' must be an integer >= 1 (got ${String(worldSize)})`);
    if (!Number.isSafeInteger(rank) || rank < 0 || rank >= worldSize) throw new RangeError(`${fn}: option 'rank' must be an integer in [0, ${worldSize - 1}] (got ${String(rank)})`);
    if (!Number.isSafeInteger(opts.masterPort) || opts.masterPort < 0 || opts.masterPort > 65535) {
      throw new RangeError(`${fn}: option 'masterPort' must be a port number in [0, 65535] (got ${String(opts.masterPort)})`);
    }
    const timeoutMs = opts.timeoutMs ?? defaultTimeoutMs();
    const connectTimeoutMs = opts.connectTimeoutMs ?? 120_000;
    for (const [name, v] of [['timeoutMs', timeoutMs], ['connectTimeoutMs', connectTimeoutMs]] as const) {
      if (!(typeof v === 'number' && v > 0 && Number.isFinite(v))) throw new RangeError(`${fn}: option '${name}' must be a positive number of ms (got ${String(v)})`);
    }
    const g = new ProcessGroup(rank, worldSize, timeoutMs);
    const addr = opts.masterAddr ?? '127.0.0.1';
    const runId = opts.runId ?? 'default';
    if (worldSize === 1) return g;
    if (rank === 0) await g.host(addr, opts.masterPort, runId, connectTimeoutMs);
    else await g.join(addr, opts.masterPort, runId, connectTimeoutMs);
    return g;
  }

  /**
   * The group the environment describes (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT, as
   * torchrun, Slurm and `s4 train --procs` set them; lib/distributed/env.ts); a group of one
   * when it describes none. It also pins this rank's GPU (pinLocalGpu), which takes effect
   * only if nothing has used CUDA in this process yet: call it first.
   */
  static fromEnv(opts: Pick<ProcessGroupOptions, 'timeoutMs' | 'connectTimeoutMs'> = {}, env: Record<string, string | undefined> = process.env): Promise<ProcessGroup> {
    const e = distributedEnv(env);
    if (!e) return ProcessGroup.connect({ rank: 0, worldSize: 1, masterPort: 0, ...opts });
    pinLocalGpu(e, env);
    const seconds = Number(env.S4_DIST_CONNECT_TIMEOUT);
    const connectTimeoutMs = opts.connectTimeoutMs ?? (Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : undefined);
    return ProcessGroup.connect({ rank: e.rank, worldSize: e.worldSize, masterAddr: e.masterAddr, masterPort: e.masterPort, runId: e.runId, ...opts, connectTimeoutMs });
  }

  /** The error that ended the group, or null while it works. */
  get error(): ProcessGroupError | null {
    return this.failure;
  }

  /** Calls fn once if the group fails (a rank died, hung, or disagreed). */
  onFailure(fn: (err: ProcessGroupError) => void): void {
    if (this.failure) fn(this.failure);
    else this.failureListeners.push(fn);
  }

  /**
   * The element-wise sum (or max) of `data` over all ranks, in a new array of its type; every
   * rank gets the same result, summed in float64 in rank order. All ranks pass arrays of one
   * length and type. `data` may be a Promise of the array (values still being copied off a
   * GPU): the collective takes its place in the call order now, and this rank's part is sent
   * when the Promise resolves; a rejection aborts the group (the others would wait for the
   * part forever) and rejects this call with its error.
   */
  async allReduce<T extends Float32Array | Float64Array>(data: T | Promise<T>, op: ReduceOp = 'sum'): Promise<T> {
    const fn = 'ProcessGroup.allReduce';
    const later = data instanceof Promise;
    if (!later && !isFloatArray(data)) throw new TypeError(`${fn}: argument 'data' must be a Float32Array or Float64Array, or a Promise of one`);
    if (op !== 'sum' && op !== 'max') throw new TypeError(`${fn}: argument 'op' must be 'sum' or 'max' (got ${String(op)})`);
    const code = op === 'sum' ? Op.Sum : Op.Max;
    let out: T | null = null;
    const partOf = (d: T): Buffer => {
      if (!isFloatArray(d)) throw new TypeError(`${fn}: argument 'data' must resolve to a Float32Array or Float64Array`);
      out = (d instanceof Float32Array ? new Float32Array(d.length) : new Float64Array(d.length)) as T;
      return encodePart(code, d instanceof Float32Array ? DTypeCode.F32 : DTypeCode.F64, new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
    };
    const result = await this.collective(code, later ? (data as Promise<T>).then(partOf) : partOf(data as T));
    new Uint8Array(out!.buffer).set(result);
    return out!;
  }

  /** Rank 0's bytes on every rank (the other ranks pass null or anything; it is ignored). */
  async broadcast(data: Uint8Array | null): Promise<Uint8Array> {
    if (this.rank === 0 && !(data instanceof Uint8Array)) throw new TypeError("ProcessGroup.broadcast: argument 'data' must be a Uint8Array on rank 0");
    const result = await this.collective(Op.Broadcast, encodePart(Op.Broadcast, DTypeCode.Bytes, this.rank === 0 ? data! : new Uint8Array(0)));
    return new Uint8Array(result.buffer, result.byteOffset, result.byteLength);
  }

  /** Resolves when every rank has called it. */
  async barrier(): Promise<void> {
    await this.collective(Op.Barrier, encodePart(Op.Barrier, DTypeCode.None, new Uint8Array(0)));
  }

  /**
   * Ends the group for everyone with `reason` (this rank cannot go on: the others should
   * not wait for it). Pending and later collectives reject.
   */
  abort(reason: string): void {
    const err = new ProcessGroupError(`rank ${this.rank}: ${reason}`);
    if (this.rank === 0) this.fail(err);
    else {
      if (this.socket && !this.failure) for (const b of encodeJson(FrameType.Abort, { message: err.message })) this.socket.write(b);
      this.fail(err);
    }
  }

  /**
   * Leaves the group on purpose (every rank at the end of a run): rank 0 waits (up to 10 s)
   * for the others to say goodbye before it stops listening, so that none of them sees its
   * departure as a failure.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.rank !== 0) {
      const s = this.socket;
      if (s && !s.destroyed) {
        if (!this.failure) for (const b of encodeFrame(FrameType.Bye, 0)) s.write(b);
        await new Promise<void>((resolve) => s.end(resolve));
        s.destroy();
      }
      this.failPending(this.failure ?? new ProcessGroupError(`rank ${this.rank}: the process group was closed`));
      return;
    }
    const deadline = Date.now() + 10_000;
    while (!this.failure && this.leaving.size < this.worldSize - 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    for (const s of this.peers) s?.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = null;
    this.failPending(this.failure ?? new ProcessGroupError('rank 0: the process group was closed'));
  }

  // ---- collectives -------------------------------------------------------------------------

  /**
   * Collective number `seq` (taken now, in call order) with this rank's part (op, dtype,
   * data); a part still to come is sent when it resolves.
   */
  private collective(op: Op, part: Buffer | Promise<Buffer>): Promise<Buffer> {
    if (this.failure || this.closed) {
      if (part instanceof Promise) part.catch(() => {}); // never sent: its own failure does not matter
      if (this.failure) return Promise.reject(this.failure);
      return Promise.reject(new ProcessGroupError(`rank ${this.rank}: ${OP_NAMES[op]} on a closed process group`));
    }
    const seq = this.seq++;
    if (!(part instanceof Promise)) return this.contribute(seq, op, part);
    return part.then(
      (p) => this.contribute(seq, op, p),
      (err: unknown) => {
        if (!this.failure && !this.closed) this.abort(`its part of ${OP_NAMES[op]} #${seq} failed: ${err instanceof Error ? err.message : String(err)}`);
        throw err;
      },
    );
  }

  private contribute(seq: number, op: Op, part: Buffer): Promise<Buffer> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new ProcessGroupError(`rank ${this.rank}: ${OP_NAMES[op]} #${seq} on a closed process group`));
    if (this.worldSize === 1) return Promise.resolve(combine(op, [part]));
    return new Promise<Buffer>((resolve, reject) => {
      const p: Pending = { resolve, reject, timer: null };
      this.pending.set(seq, p);
      if (this.rank === 0) {
        this.addPart(seq, 0, part);
      } else {
        // Rank 0 times the collective and names the missing ranks; this timer only covers
        // rank 0 itself not answering (a hung rank 0, a silent network).
        p.timer = setTimeout(
          () => this.fail(new ProcessGroupError(`rank ${this.rank}: no answer from rank 0 within ${this.timeoutMs / 1000} s in ${OP_NAMES[op]} #${seq}; rank 0 may have hung or the network failed`)),
          this.timeoutMs + 5000,
        );
        for (const b of encodeFrame(FrameType.Contribute, seq, part)) this.socket!.write(b);
      }
    });
  }

  /** Rank 0: records rank r's part of collective seq; answers every rank when all are in. */
  private addPart(seq: number, r: number, part: Buffer): void {
    const op = part.readUInt8(0) as Op;
    let g = this.gathering.get(seq);
    if (!g) {
      const timer = setTimeout(() => {
        const missing = g!.parts.flatMap((x, i) => (x === null ? [i] : []));
        this.fail(new ProcessGroupError(`${OP_NAMES[op]} #${seq} timed out after ${this.timeoutMs / 1000} s waiting for rank${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (hung, or stuck in a long step; S4_DIST_TIMEOUT sets the limit in seconds)`));
      }, this.timeoutMs);
      g = { op, parts: new Array<Buffer | null>(this.worldSize).fill(null), arrived: 0, timer };
      this.gathering.set(seq, g);
      this.checkLeavers();
    }
    if (g.op !== op || (g.arrived > 0 && firstPart(g).length !== part.length && op !== Op.Broadcast)) {
      const other = firstPart(g);
      this.fail(
        new ProcessGroupError(
          `the ranks disagree at collective #${seq}: rank ${r} called ${OP_NAMES[op]} with ${part.length - 2} bytes where another rank called ${OP_NAMES[g.op]} with ${other.length - 2} bytes`,
        ),
      );
      return;
    }
    if (g.parts[r] !== null) {
      this.fail(new ProcessGroupError(`rank ${r} sent collective #${seq} twice`));
      return;
    }
    g.parts[r] = part;
    g.arrived++;
    if (g.arrived < this.worldSize) return;
    clearTimeout(g.timer);
    this.gathering.delete(seq);
    let result: Buffer;
    try {
      result = combine(op, g.parts as Buffer[]);
    } catch (err) {
      this.fail(new ProcessGroupError(`collective #${seq}: ${(err as Error).message}`));
      return;
    }
    for (let i = 1; i < this.worldSize; i++) for (const b of encodeFrame(FrameType.Result, seq, result)) this.peers[i]!.write(b);
    this.settle(seq, result);
  }

  private settle(seq: number, result: Buffer): void {
    const p = this.pending.get(seq);
    if (!p) return;
    this.pending.delete(seq);
    if (p.timer) clearTimeout(p.timer);
    p.resolve(result);
  }

  /** Rank 0: a collective is open and a rank that left can never take part. */
  private checkLeavers(): void {
    if (this.gathering.size === 0 || this.leaving.size === 0) return;
    const [seq, g] = this.gathering.entries().next().value as [number, Gathering];
    const gone = [...this.leaving].filter((r) => g.parts[r] === null);
    if (gone.length > 0) this.fail(new ProcessGroupError(`rank ${gone[0]} closed the process group while the others wait for it in ${OP_NAMES[g.op]} #${seq}`));
  }

  /**
   * The frames a chunk completes; a malformed stream closes the connection and, from a
   * member of the group (`who`, null for a stranger at the rendezvous), fails the group.
   */
  private read(reader: FrameReader, chunk: Buffer, socket: net.Socket, who: string | null): Frame[] {
    try {
      return reader.push(chunk);
    } catch (err) {
      socket.destroy();
      if (who) this.fail(new ProcessGroupError(`${who}: ${(err as Error).message}`));
      return [];
    }
  }

  // ---- failure -----------------------------------------------------------------------------

  private fail(err: ProcessGroupError): void {
    if (this.failure) return;
    this.failure = err;
    if (this.rank === 0) {
      for (let i = 1; i < this.worldSize; i++) {
        const s = this.peers[i];
        if (s && !s.destroyed && !this.leaving.has(i)) {
          for (const b of encodeJson(FrameType.Abort, { message: err.message })) s.write(b);
          s.end();
        }
      }
      for (const g of this.gathering.values()) clearTimeout(g.timer);
      this.gathering.clear();
      this.server?.close();
    } else {
      this.socket?.end();
    }
    this.failPending(err);
    for (const fn of this.failureListeners.splice(0)) fn(err);
  }

  private failPending(err: Error): void {
    for (const p of this.pending.values()) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
  }

  // ---- rendezvous --------------------------------------------------------------------------

  private host(addr: string, port: number, runId: string, connectTimeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const refused: string[] = [];
      let joined = 0;
      let started = false;
      const server = net.createServer((socket) => {
        socket.setNoDelay(true);
        const reader = new FrameReader();
        let r = -1;
        socket.on('data', (chunk) => {
          const frames = this.read(reader, chunk, socket, r >= 0 ? `rank ${r}` : null);
          for (const f of frames) {
            if (r < 0) {
              if (f.type !== FrameType.Hello) {
                socket.destroy();
                return;
              }
              const why = this.checkHello(decodeJson(f), runId);
              if (typeof why === 'string') {
                refused.push(why);
                for (const b of encodeJson(FrameType.Refuse, { message: why })) socket.write(b);
                socket.end();
                return;
              }
              r = why;
              this.peers[r] = socket;
              if (++joined === this.worldSize - 1) {
                started = true;
                clearTimeout(timer);
                for (let i = 1; i < this.worldSize; i++) for (const b of encodeFrame(FrameType.Welcome, 0)) this.peers[i]!.write(b);
                resolve();
              }
              continue;
            }
            if (f.type === FrameType.Contribute) this.addPart(f.seq, r, f.payload);
            else if (f.type === FrameType.Bye) {
              this.leaving.add(r);
              this.checkLeavers();
            } else if (f.type === FrameType.Abort) this.fail(new ProcessGroupError(String(decodeJson(f).message ?? `rank ${r} aborted`)));
          }
        });
        const lost = (why: string) => {
          if (r < 0 || this.peers[r] !== socket) return;
          if (this.leaving.has(r) || this.closed) return;
          const err = new ProcessGroupError(`rank ${r} exited or lost its connection (${why})`);
          if (!started) {
            clearTimeout(timer);
            server.close();
            reject(err);
          }
          this.fail(err);
        };
        socket.on('error', (err) => lost(err.message));
        socket.on('close', () => lost('connection closed'));
      });
      this.server = server;
      const timer = setTimeout(() => {
        const missing = this.peers.flatMap((s, i) => (i > 0 && s === null ? [i] : []));
        const err = new ProcessGroupError(
          `rank 0: rank${missing.length > 1 ? 's' : ''} ${missing.join(', ')} did not join within ${connectTimeoutMs / 1000} s at ${addr}:${port}` +
            (refused.length ? `; refused: ${refused.join('; ')}` : ''),
        );
        for (const s of this.peers) s?.destroy();
        server.close();
        this.failure = err;
        reject(err);
      }, connectTimeoutMs);
      server.on('error', (err: NodeJS.ErrnoException) => {
        if (started) return;
        clearTimeout(timer);
        const msg =
          err.code === 'EADDRINUSE'
            ? `rank 0 could not listen on ${addr}:${port}: the port is in use. Choose another one (MASTER_PORT, or --master-port with s4 train)`
            : `rank 0 could not listen on ${addr}:${port}: ${err.message}`;
        reject(new ProcessGroupError(msg));
      });
      server.listen({ port, host: isLoopback(addr) ? addr : '0.0.0.0', exclusive: true });
    });
  }

  /** Rank 0: the rank a Hello claims, or why it is refused. */
  private checkHello(h: Record<string, unknown>, runId: string): number | string {
    if (h.protocol !== PROTOCOL) return `a process spoke protocol ${String(h.protocol)}, not ${PROTOCOL} (another version of s4-cuda?)`;
    if (h.runId !== runId) return `a process presented run id '${String(h.runId)}', expected '${runId}' (S4_RUN_ID: is it from another run?)`;
    if (h.worldSize !== this.worldSize) return `rank ${String(h.rank)} expects ${String(h.worldSize)} processes, rank 0 expects ${this.worldSize} (WORLD_SIZE differs)`;
    const r = h.rank;
    if (typeof r !== 'number' || !Number.isInteger(r) || r < 1 || r >= this.worldSize) return `a process claimed rank ${String(r)}, not in [1, ${this.worldSize - 1}]`;
    if (this.peers[r] !== null) return `two processes claimed rank ${r} (RANK set twice?)`;
    return r;
  }

  private join(addr: string, port: number, runId: string, connectTimeoutMs: number): Promise<void> {
    const deadline = Date.now() + connectTimeoutMs;
    return new Promise<void>((resolve, reject) => {
      let welcomed = false;
      const attempt = (): void => {
        const socket = net.connect({ host: addr, port });
        socket.setNoDelay(true);
        const reader = new FrameReader();
        let connected = false;
        let ended = false;
        socket.once('connect', () => {
          connected = true;
          this.socket = socket;
          for (const b of encodeJson(FrameType.Hello, { rank: this.rank, worldSize: this.worldSize, runId, protocol: PROTOCOL })) socket.write(b);
        });
        socket.on('data', (chunk) => {
          const frames = this.read(reader, chunk, socket, `rank ${this.rank}`);
          for (const f of frames) {
            if (f.type === FrameType.Welcome) {
              welcomed = true;
              clearTimeout(timer);
              resolve();
            } else if (f.type === FrameType.Refuse) {
              clearTimeout(timer);
              this.failure = new ProcessGroupError(`rank ${this.rank}: rank 0 at ${addr}:${port} refused this process: ${String(decodeJson(f).message)}`);
              socket.destroy();
              reject(this.failure);
            } else if (f.type === FrameType.Result) this.settle(f.seq, f.payload);
            else if (f.type === FrameType.Abort) this.fail(new ProcessGroupError(String(decodeJson(f).message ?? 'rank 0 aborted the process group')));
          }
        });
        const lost = (err?: NodeJS.ErrnoException) => {
          // 'error' is followed by 'close': act once per connection.
          if (ended) return;
          ended = true;
          if (!connected || (!welcomed && !this.failure)) {
            if (this.failure) return;
            // Rank 0 may not listen yet (ranks start in any order), or may be restarting the
            // rendezvous: try again until the deadline.
            socket.destroy();
            if (Date.now() + 200 < deadline) setTimeout(attempt, 200);
            else {
              clearTimeout(timer);
              this.failure = new ProcessGroupError(`rank ${this.rank}: could not join rank 0 at ${addr}:${port} within ${connectTimeoutMs / 1000} s (${err?.code ?? err?.message ?? 'no welcome'})`);
              reject(this.failure);
            }
            return;
          }
          if (!this.closed) this.fail(new ProcessGroupError(`rank 0 exited or lost its connection (${err ? err.message : 'connection closed'}); rank ${this.rank} stops`));
        };
        socket.on('error', lost);
        socket.on('close', () => lost());
      };
      const timer = setTimeout(() => {
        if (welcomed || this.failure) return;
        this.failure = new ProcessGroupError(`rank ${this.rank}: rank 0 at ${addr}:${port} did not start the group within ${connectTimeoutMs / 1000} s (other ranks missing?)`);
        this.socket?.destroy();
        reject(this.failure);
      }, connectTimeoutMs);
      attempt();
    });
  }
}

function isFloatArray(d: unknown): d is Float32Array | Float64Array {
  return d instanceof Float32Array || d instanceof Float64Array;
}

/** A rank's part of a collective: the operation, the dtype, the data. */
function encodePart(op: Op, dtype: DTypeCode, data: Uint8Array): Buffer {
  const part = Buffer.allocUnsafe(2 + data.byteLength);
  part.writeUInt8(op, 0);
  part.writeUInt8(dtype, 1);
  part.set(data, 2);
  return part;
}

function firstPart(g: Gathering): Buffer {
  return g.parts.find((p) => p !== null)!;
}

/** The result of a collective from the parts of ranks 0..W-1 (each: op, dtype, data). */
function combine(op: Op, parts: Buffer[]): Buffer {
  if (op === Op.Barrier) return Buffer.alloc(0);
  if (op === Op.Broadcast) return parts[0].subarray(2);
  const dtype = parts[0].readUInt8(1) as DTypeCode;
  for (const p of parts) if (p.readUInt8(1) !== dtype) throw new Error('the ranks passed arrays of different types');
  const size = dtype === DTypeCode.F32 ? 4 : 8;
  const n = (parts[0].length - 2) / size;
  const view = (p: Buffer): Float32Array | Float64Array => {
    // Copied into aligned memory: a frame's payload may start at any byte.
    const bytes = new Uint8Array(p.length - 2);
    bytes.set(p.subarray(2));
    return dtype === DTypeCode.F32 ? new Float32Array(bytes.buffer) : new Float64Array(bytes.buffer);
  };
  const acc = Float64Array.from(view(parts[0]));
  for (let r = 1; r < parts.length; r++) {
    const v = view(parts[r]);
    if (op === Op.Sum) for (let i = 0; i < n; i++) acc[i] += v[i];
    else for (let i = 0; i < n; i++) acc[i] = acc[i] >= v[i] || Number.isNaN(acc[i]) ? acc[i] : v[i];
  }
  const out = dtype === DTypeCode.F32 ? Float32Array.from(acc) : acc;
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}
