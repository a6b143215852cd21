// The output half of an HTTP/2 server connection: frames encoded into an OutputBuffer,
// and the buffer written to the socket in as few writes as possible.
//
// Contract: every method appends complete frames in call order and never writes to the
// socket itself; writeTo() hands everything appended so far to the socket in one write
// (or one corked series) and reports whether the socket took it without backing up.
// The writer keeps no stream state: windows and queues belong to the connection.

import type { Socket } from 'node:net';
import { FRAME_HEADER_LENGTH, Flags, FrameType, writeFrameHeader, writeUint32 } from './frames.js';
import { HpackEncoder } from './hpack-encoder.js';
import { OutputBuffer } from './output.js';
import type { OutgoingHeaders } from './types.js';

/** Payloads at least this big that sit in one queued buffer are referenced, not copied. */
const REFERENCE_PAYLOAD_BYTES = 1024;
/** Above this many bytes a write goes out as a corked series instead of one concatenation. */
const CONCAT_LIMIT = 64 * 1024;
/** GOAWAY debug data is for humans; a bound keeps a long message from making a large frame. */
const MAX_GOAWAY_DEBUG_CHARS = 256;

/** Queued DATA as a stream keeps it: queue[head..], the first from `offset`. */
export interface DataQueue {
  readonly queue: readonly Buffer[];
  readonly queueHead: number;
  readonly queueOffset: number;
}

export class FrameWriter {
  private readonly out = new OutputBuffer();
  private readonly encoder = new HpackEncoder();
  /** the peer's SETTINGS_MAX_FRAME_SIZE: header blocks are split at it */
  peerMaxFrameSize: number;

  constructor(peerMaxFrameSize: number) {
    this.peerMaxFrameSize = peerMaxFrameSize;
  }

  /** bytes appended and not yet handed to the socket */
  get bytes(): number {
    return this.out.bytes;
  }

  /** the peer's SETTINGS_HEADER_TABLE_SIZE */
  setPeerTableSize(size: number): void {
    this.encoder.setPeerTableSize(size);
  }

  /** HEADERS (+ CONTINUATIONs past the peer's frame size) carrying `headers`. */
  headers(id: number, headers: OutgoingHeaders, endStream: boolean): void {
    const block = this.encoder.encode(headers);
    const max = this.peerMaxFrameSize;
    let first = Math.min(block.length, max);
    let flags = (endStream ? Flags.END_STREAM : 0) | (first === block.length ? Flags.END_HEADERS : 0);
    let o = this.out.reserve(FRAME_HEADER_LENGTH + first);
    writeFrameHeader(this.out.buf, o, first, FrameType.HEADERS, flags, id);
    block.copy(this.out.buf, o + FRAME_HEADER_LENGTH, 0, first);
    for (let at = first; at < block.length; at += first) {
      first = Math.min(block.length - at, max);
      flags = at + first === block.length ? Flags.END_HEADERS : 0;
      o = this.out.reserve(FRAME_HEADER_LENGTH + first);
      writeFrameHeader(this.out.buf, o, first, FrameType.CONTINUATION, flags, id);
      block.copy(this.out.buf, o + FRAME_HEADER_LENGTH, at, at + first);
    }
  }

  rst(id: number, code: number): void {
    this.uint32Frame(FrameType.RST_STREAM, id, code);
  }

  windowUpdate(id: number, increment: number): void {
    this.uint32Frame(FrameType.WINDOW_UPDATE, id, increment);
  }

  settings(entries: ReadonlyArray<readonly [number, number]>): void {
    const o = this.out.reserve(FRAME_HEADER_LENGTH + entries.length * 6);
    const out = this.out.buf;
    writeFrameHeader(out, o, entries.length * 6, FrameType.SETTINGS, 0, 0);
    let p = o + FRAME_HEADER_LENGTH;
    for (const [key, value] of entries) {
      out[p] = key >>> 8;
      out[p + 1] = key & 0xff;
      writeUint32(out, p + 2, value);
      p += 6;
    }
  }

  settingsAck(): void {
    const o = this.out.reserve(FRAME_HEADER_LENGTH);
    writeFrameHeader(this.out.buf, o, 0, FrameType.SETTINGS, Flags.ACK, 0);
  }

  /** PING with `payload` (8 bytes), or zeros when none is given. */
  ping(ack: boolean, payload?: Uint8Array): void {
    const o = this.out.reserve(FRAME_HEADER_LENGTH + 8);
    const out = this.out.buf;
    writeFrameHeader(out, o, 8, FrameType.PING, ack ? Flags.ACK : 0, 0);
    if (payload === undefined) out.fill(0, o + FRAME_HEADER_LENGTH, o + FRAME_HEADER_LENGTH + 8);
    else out.set(payload, o + FRAME_HEADER_LENGTH);
  }

  goaway(lastId: number, code: number, debug: string): void {
    const debugBytes = Buffer.from(debug.slice(0, MAX_GOAWAY_DEBUG_CHARS), 'utf8');
    const o = this.out.reserve(FRAME_HEADER_LENGTH + 8 + debugBytes.length);
    const out = this.out.buf;
    writeFrameHeader(out, o, 8 + debugBytes.length, FrameType.GOAWAY, 0, 0);
    writeUint32(out, o + FRAME_HEADER_LENGTH, lastId & 0x7fffffff);
    writeUint32(out, o + FRAME_HEADER_LENGTH + 4, code);
    debugBytes.copy(out, o + FRAME_HEADER_LENGTH + 8);
  }

  /** An empty DATA frame with END_STREAM. */
  endStream(id: number): void {
    const o = this.out.reserve(FRAME_HEADER_LENGTH);
    writeFrameHeader(this.out.buf, o, 0, FrameType.DATA, Flags.END_STREAM, id);
  }

  /** One DATA frame with the first `n` queued bytes (the caller dequeues them after). */
  data(id: number, q: DataQueue, n: number, endStream: boolean): void {
    const flags = endStream ? Flags.END_STREAM : 0;
    const first = q.queue[q.queueHead]!;
    const offset = q.queueOffset;
    if (n >= REFERENCE_PAYLOAD_BYTES && first.length - offset >= n) {
      const o = this.out.reserve(FRAME_HEADER_LENGTH);
      writeFrameHeader(this.out.buf, o, n, FrameType.DATA, flags, id);
      this.out.append(first.subarray(offset, offset + n));
      return;
    }
    const o = this.out.reserve(FRAME_HEADER_LENGTH + n);
    const out = this.out.buf;
    writeFrameHeader(out, o, n, FrameType.DATA, flags, id);
    let p = o + FRAME_HEADER_LENGTH;
    let left = n;
    let i = q.queueHead;
    let from = offset;
    while (left > 0) {
      const chunk = q.queue[i++]!;
      const take = Math.min(left, chunk.length - from);
      chunk.copy(out, p, from, from + take);
      p += take;
      left -= take;
      from = 0;
    }
  }

  /**
   * Hands everything appended to the socket. Returns false when the socket's buffer is
   * above its high-water mark (wait for 'drain'); true when there was nothing to write.
   */
  writeTo(socket: Socket): boolean {
    if (this.out.bytes === 0 || socket.destroyed || !socket.writable) return true;
    const total = this.out.bytes;
    const parts = this.out.take();
    if (parts.length === 1) return socket.write(parts[0]!);
    if (total <= CONCAT_LIMIT) return socket.write(Buffer.concat(parts, total));
    socket.cork();
    let ok = true;
    for (const part of parts) ok = socket.write(part);
    socket.uncork();
    return ok;
  }

  private uint32Frame(type: number, id: number, value: number): void {
    const o = this.out.reserve(FRAME_HEADER_LENGTH + 4);
    writeFrameHeader(this.out.buf, o, 4, type, 0, id);
    writeUint32(this.out.buf, o + FRAME_HEADER_LENGTH, value);
  }
}
