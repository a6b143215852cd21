// gRPC length-prefixed message framing: 1 byte compressed flag, 4 bytes big-endian
// length, then the message.
import { GrpcCode, GrpcError } from './status.js';

export const FRAME_HEADER_BYTES = 5;

export function frameMessage(message: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + message.length);
  frame[0] = 0;
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, FRAME_HEADER_BYTES);
  return frame;
}

/**
 * A message encoded with FRAME_HEADER_BYTES of headroom (the generated codecs' encode(m, 5))
 * gets its frame header written in place: no copy of the message.
 */
export class Framed {
  constructor(readonly bytes: Buffer) {
    bytes[0] = 0;
    bytes.writeUInt32BE(bytes.length - FRAME_HEADER_BYTES, 1);
  }
}

/**
 * Splits a byte stream into gRPC messages. Chunks are kept as they arrive and only
 * joined when a message spans several of them, so a large request is copied once.
 */
export class MessageDeframer {
  private chunks: Buffer[] = [];
  private bufferedBytes = 0;

  constructor(private readonly maxMessageBytes: number) {}

  /** Feeds bytes; returns the complete messages now available. Throws GrpcError on a bad frame. */
  push(chunk: Buffer): Uint8Array[] {
    this.chunks.push(chunk);
    this.bufferedBytes += chunk.length;
    const messages: Uint8Array[] = [];
    for (;;) {
      if (this.bufferedBytes < FRAME_HEADER_BYTES) break;
      const head = this.peek(FRAME_HEADER_BYTES);
      const compressed = head[0];
      const length = head.readUInt32BE(1);
      if (compressed !== 0) {
        throw new GrpcError(
          GrpcCode.Unimplemented,
          'grpc: Decompressor is not installed for grpc-encoding "identity"',
        );
      }
      if (length > this.maxMessageBytes) {
        throw new GrpcError(
          GrpcCode.ResourceExhausted,
          `grpc: received message larger than max (${length} vs. ${this.maxMessageBytes})`,
        );
      }
      if (this.bufferedBytes < FRAME_HEADER_BYTES + length) break;
      const frame = this.take(FRAME_HEADER_BYTES + length);
      messages.push(frame.subarray(FRAME_HEADER_BYTES));
    }
    return messages;
  }

  get pendingBytes(): number {
    return this.bufferedBytes;
  }

  private peek(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length >= n) return first;
    return Buffer.concat(this.chunks, Math.max(n, 0)).subarray(0, n);
  }

  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length === n) {
      this.chunks.shift();
      this.bufferedBytes -= n;
      return first;
    }
    if (first.length > n) {
      this.chunks[0] = first.subarray(n);
      this.bufferedBytes -= n;
      return first.subarray(0, n);
    }
    const joined = Buffer.concat(this.chunks, this.bufferedBytes);
    this.chunks = joined.length > n ? [joined.subarray(n)] : [];
    this.bufferedBytes -= n;
    return joined.subarray(0, n);
  }
}

/** Parses a grpc-timeout header ("100m", "5S", ...) into milliseconds. */
export function parseGrpcTimeoutMs(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const m = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (!m) return undefined;
  const n = Number(m[1]);
  switch (m[2]) {
    case 'H': return n * 3_600_000;
    case 'M': return n * 60_000;
    case 'S': return n * 1000;
    case 'm': return n;
    case 'u': return Math.ceil(n / 1000);
    default: return Math.ceil(n / 1_000_000);
  }
}
