/**
 * The frames the ranks of a process group exchange over TCP (lib/distributed/process_group.ts):
 *
 *   u32 body length (little endian) | u8 type | u32 sequence number | payload
 *
 * The body is the type, the sequence number and the payload. FrameReader reassembles frames
 * from a stream of chunks, copying each payload once into a buffer of its final size (a
 * gradient bucket arrives in many 64 KiB chunks).
 */

export enum FrameType {
  /** Client -> rank 0: JSON { rank, worldSize, runId, protocol }. */
  Hello = 1,
  /** Rank 0 -> client: every rank has joined. */
  Welcome = 2,
  /** Rank 0 -> client: JSON { message }; the client is not part of the group. */
  Refuse = 3,
  /** Client -> rank 0: one rank's part of collective number `seq`. */
  Contribute = 4,
  /** Rank 0 -> client: the result of collective number `seq`. */
  Result = 5,
  /** Either way: JSON { message }; the group has failed. */
  Abort = 6,
  /** Client -> rank 0: this rank closes the group on purpose. */
  Bye = 7,
}

export interface Frame {
  type: FrameType;
  seq: number;
  payload: Buffer;
}

const HEADER = 4;
const BODY_HEADER = 5;
/** Largest frame body: a bucket of gradients is far smaller; a checkpoint broadcast may be large. */
export const MAX_FRAME_BYTES = 2 ** 32 - 1;

export function encodeFrame(type: FrameType, seq: number, payload: Uint8Array = new Uint8Array(0)): Buffer[] {
  const bodyLength = BODY_HEADER + payload.byteLength;
  if (bodyLength > MAX_FRAME_BYTES) throw new RangeError(`process group: a message of ${payload.byteLength} bytes is larger than a frame holds (4 GiB)`);
  const head = Buffer.allocUnsafe(HEADER + BODY_HEADER);
  head.writeUInt32LE(bodyLength, 0);
  head.writeUInt8(type, 4);
  head.writeUInt32LE(seq >>> 0, 5);
  return payload.byteLength > 0 ? [head, Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)] : [head];
}

export function encodeJson(type: FrameType, value: unknown): Buffer[] {
  return encodeFrame(type, 0, Buffer.from(JSON.stringify(value), 'utf8'));
}

export function decodeJson(frame: Frame): Record<string, unknown> {
  try {
    const v = JSON.parse(frame.payload.toString('utf8')) as unknown;
    return v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** Reassembles frames from chunks; push() returns the frames a chunk completed. */
export class FrameReader {
  private head = Buffer.alloc(HEADER + BODY_HEADER);
  private headFill = 0;
  private body: Buffer | null = null;
  private bodyFill = 0;
  private type: FrameType = FrameType.Hello;
  private seq = 0;

  push(chunk: Buffer): Frame[] {
    const frames: Frame[] = [];
    let at = 0;
    while (at < chunk.length) {
      if (this.body === null) {
        const take = Math.min(HEADER + BODY_HEADER - this.headFill, chunk.length - at);
        chunk.copy(this.head, this.headFill, at, at + take);
        this.headFill += take;
        at += take;
        if (this.headFill < HEADER + BODY_HEADER) break;
        const bodyLength = this.head.readUInt32LE(0);
        if (bodyLength < BODY_HEADER) throw new Error(`process group: a malformed frame (body of ${bodyLength} bytes); the peer is not an s4 process group`);
        this.type = this.head.readUInt8(4) as FrameType;
        this.seq = this.head.readUInt32LE(5);
        this.body = Buffer.allocUnsafe(bodyLength - BODY_HEADER);
        this.bodyFill = 0;
      }
      const take = Math.min(this.body.length - this.bodyFill, chunk.length - at);
      chunk.copy(this.body, this.bodyFill, at, at + take);
      this.bodyFill += take;
      at += take;
      if (this.bodyFill === this.body.length) {
        frames.push({ type: this.type, seq: this.seq, payload: this.body });
        this.body = null;
        this.headFill = 0;
      }
    }
    return frames;
  }
}
