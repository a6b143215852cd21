// The input half of an HTTP/2 server connection (RFC 9113 sections 3.4, 4, 6): bytes in,
// frames out. Pure: no sockets, timers or clocks, so it can be fed any byte sequence in
// any split (the fuzz test does).
//
// Contract:
// - push(chunk) consumes the client preface, then cuts frames; a frame that spans chunks
//   is copied once into a buffer of exactly its size, others are views into the chunk.
// - Everything the frame syntax alone decides is checked here: sizes, padding, stream 0
//   rules, SETTINGS values, the first frame being SETTINGS, header blocks continued only
//   by CONTINUATION on the same stream (and bounded). Violations throw H2Error (a
//   connection error); nothing else is thrown for any input.
// - Header blocks are HPACK-decoded here, in arrival order, whatever becomes of their
//   stream: the dynamic table must stay in step with the peer's encoder.
// - Each frame is handed to the FrameSink once, in order. A SETTINGS frame is handed as
//   the last value of each setting it carries: the sink's work per frame is O(1) however
//   many entries the frame repeats.

import {
  CLIENT_PREFACE,
  DEFAULT_HEADER_TABLE_SIZE,
  DEFAULT_MAX_FRAME_SIZE,
  ErrorCode,
  FRAME_HEADER_LENGTH,
  Flags,
  FrameType,
  H2Error,
  MAX_ALLOWED_FRAME_SIZE,
  MAX_WINDOW_SIZE,
  SettingId,
  readUint32,
} from './frames.js';
import { type DecodeStatus, HpackDecoder } from './hpack-decoder.js';

/** Frames in one header block (HEADERS + CONTINUATIONs): more is a CONTINUATION flood. */
export const MAX_HEADER_BLOCK_FRAMES = 256;

/** The settings a SETTINGS frame changed; -1 where it did not carry the setting. */
export interface PeerSettings {
  headerTableSize: number;
  initialWindowSize: number;
  maxFrameSize: number;
}

export interface FrameSink {
  /** DATA; `payload` excludes padding, `flowLength` is the whole payload (flow control counts padding) */
  data(id: number, endStream: boolean, payload: Buffer, flowLength: number): void;
  /** A complete header block, decoded into flat name, value pairs (reused: copy to keep). */
  headers(id: number, endStream: boolean, selfDependent: boolean, status: DecodeStatus, fields: string[]): void;
  /** PRIORITY: ignored unless malformed, which is a stream error with `code` */
  priorityError(id: number, code: number): void;
  rstStream(id: number, code: number): void;
  settings(changed: Readonly<PeerSettings>): void;
  settingsAck(): void;
  /** `payload` is a view of 8 bytes, valid during the call */
  ping(ack: boolean, payload: Buffer): void;
  goaway(lastId: number, code: number): void;
  windowUpdate(id: number, increment: number): void;
}

export interface FrameReaderLimits {
  /** our SETTINGS_MAX_FRAME_SIZE */
  maxFrameSize: number;
  /** our SETTINGS_MAX_HEADER_LIST_SIZE: larger lists decode to DecodeStatus.TOO_LARGE */
  maxHeaderListSize: number;
}

export class FrameReader {
  private readonly decoder = new HpackDecoder(DEFAULT_HEADER_TABLE_SIZE);
  private readonly fields: string[] = [];
  private readonly changed: PeerSettings = { headerTableSize: -1, initialWindowSize: -1, maxFrameSize: -1 };
  /** Room for any block whose decoded list fits, even one of badly-compressing literals. */
  private readonly maxHeaderBlockBytes: number;

  private prefaceLeft = CLIENT_PREFACE.length;
  private settingsSeen = false;
  // A frame whose header or payload is split across chunks.
  private readonly partialHead = Buffer.allocUnsafe(FRAME_HEADER_LENGTH);
  private partialHeadLength = 0;
  private partialBody: Buffer | null = null;
  private partialBodyLength = 0;
  // The frame being read.
  private type = 0;
  private flags = 0;
  private stream = 0;
  // A header block waiting for CONTINUATION frames.
  private blockStream = 0;
  private blockFlags = 0;
  private blockSelfDependent = false;
  private blockParts: Buffer[] = [];
  private blockBytes = 0;
  /** set by stop(): the sink wants nothing more */
  private stopped = false;

  constructor(
    private readonly sink: FrameSink,
    private readonly limits: FrameReaderLimits,
  ) {
    this.maxHeaderBlockBytes = limits.maxHeaderListSize * 2 + 64 * 1024;
  }

  /** The preface and the first SETTINGS have arrived (the connection is established). */
  get established(): boolean {
    return this.settingsSeen;
  }

  /** Ignore everything after the current frame (the connection is closing). */
  stop(): void {
    this.stopped = true;
  }

  push(chunk: Buffer): void {
    const n = chunk.length;
    let pos = 0;
    if (this.stopped) return;
    if (this.prefaceLeft > 0) {
      pos = this.preface(chunk);
      if (this.prefaceLeft > 0) return;
    }
    if (this.partialHeadLength > 0) {
      const take = Math.min(FRAME_HEADER_LENGTH - this.partialHeadLength, n - pos);
      chunk.copy(this.partialHead, this.partialHeadLength, pos, pos + take);
      this.partialHeadLength += take;
      pos += take;
      if (this.partialHeadLength < FRAME_HEADER_LENGTH) return;
      this.partialHeadLength = 0;
      const length = this.header(this.partialHead, 0);
      if (n - pos < length) return this.startPartialBody(chunk, pos, length);
      this.frame(chunk, pos, pos + length);
      pos += length;
    } else if (this.partialBody !== null) {
      const body = this.partialBody;
      const take = Math.min(body.length - this.partialBodyLength, n - pos);
      chunk.copy(body, this.partialBodyLength, pos, pos + take);
      this.partialBodyLength += take;
      pos += take;
      if (this.partialBodyLength < body.length) return;
      this.partialBody = null;
      this.frame(body, 0, body.length);
    }
    while (pos < n && !this.stopped) {
      if (n - pos < FRAME_HEADER_LENGTH) {
        chunk.copy(this.partialHead, 0, pos, n);
        this.partialHeadLength = n - pos;
        return;
      }
      const length = this.header(chunk, pos);
      pos += FRAME_HEADER_LENGTH;
      if (n - pos < length) return this.startPartialBody(chunk, pos, length);
      this.frame(chunk, pos, pos + length);
      pos += length;
    }
  }

  /** Matches preface bytes at the start of the chunk; returns how many it used. */
  private preface(chunk: Buffer): number {
    const at = CLIENT_PREFACE.length - this.prefaceLeft;
    const take = Math.min(this.prefaceLeft, chunk.length);
    if (chunk.compare(CLIENT_PREFACE, at, at + take, 0, take) !== 0) {
      throw new H2Error(ErrorCode.PROTOCOL_ERROR, 'invalid connection preface');
    }
    this.prefaceLeft -= take;
    return take;
  }

  private startPartialBody(chunk: Buffer, pos: number, length: number): void {
    const body = Buffer.allocUnsafe(length);
    chunk.copy(body, 0, pos);
    this.partialBody = body;
    this.partialBodyLength = chunk.length - pos;
  }

  /** Reads a frame header into type/flags/stream and returns the payload length. */
  private header(buf: Buffer, off: number): number {
    const length = (buf[off]! << 16) | (buf[off + 1]! << 8) | buf[off + 2]!;
    this.type = buf[off + 3]!;
    this.flags = buf[off + 4]!;
    this.stream = readUint32(buf, off + 5) & 0x7fffffff;
    if (length > this.limits.maxFrameSize) {
      throw new H2Error(ErrorCode.FRAME_SIZE_ERROR, `frame of ${length} bytes exceeds ${this.limits.maxFrameSize}`);
    }
    return length;
  }

  private frame(buf: Buffer, start: number, end: number): void {
    const { type, flags, stream: id } = this;
    if (this.blockStream !== 0 && type !== FrameType.CONTINUATION) {
      throw new H2Error(ErrorCode.PROTOCOL_ERROR, `frame type ${type} inside a header block`);
    }
    if (!this.settingsSeen) {
      if (type !== FrameType.SETTINGS || (flags & Flags.ACK) !== 0) {
        throw new H2Error(ErrorCode.PROTOCOL_ERROR, 'the client preface must be followed by SETTINGS');
      }
    }
    if (id === 0 && STREAM_ONLY[type] === 1) throw new H2Error(ErrorCode.PROTOCOL_ERROR, `frame type ${type} on stream 0`);
    if (id !== 0 && STREAM_ONLY[type] === 0) throw new H2Error(ErrorCode.PROTOCOL_ERROR, `frame type ${type} on a stream`);
    switch (type) {
      case FrameType.DATA:
        return this.data(flags, id, buf, start, end);
      case FrameType.HEADERS:
        return this.headers(flags, id, buf, start, end);
      case FrameType.PRIORITY:
        if (end - start !== 5) return this.sink.priorityError(id, ErrorCode.FRAME_SIZE_ERROR);
        if ((readUint32(buf, start) & 0x7fffffff) === id) return this.sink.priorityError(id, ErrorCode.PROTOCOL_ERROR);
        return; // advisory and deprecated (RFC 9113 5.3)
      case FrameType.RST_STREAM:
        if (end - start !== 4) throw new H2Error(ErrorCode.FRAME_SIZE_ERROR, 'RST_STREAM length must be 4');
        return this.sink.rstStream(id, readUint32(buf, start));
      case FrameType.SETTINGS:
        return this.settings(flags, buf, start, end);
      case FrameType.PUSH_PROMISE:
        throw new H2Error(ErrorCode.PROTOCOL_ERROR, 'PUSH_PROMISE from a client');
      case FrameType.PING:
        if (end - start !== 8) throw new H2Error(ErrorCode.FRAME_SIZE_ERROR, 'PING length must be 8');
        return this.sink.ping((flags & Flags.ACK) !== 0, buf.subarray(start, end));
      case FrameType.GOAWAY:
        if (end - start < 8) throw new H2Error(ErrorCode.FRAME_SIZE_ERROR, 'GOAWAY shorter than 8 bytes');
        return this.sink.goaway(readUint32(buf, start) & 0x7fffffff, readUint32(buf, start + 4));
      case FrameType.WINDOW_UPDATE:
        if (end - start !== 4) throw new H2Error(ErrorCode.FRAME_SIZE_ERROR, 'WINDOW_UPDATE length must be 4');
        return this.sink.windowUpdate(id, readUint32(buf, start) & 0x7fffffff);
      case FrameType.CONTINUATION:
        return this.continuation(flags, id, buf, start, end);
      default:
        return; // unknown frame types are ignored (RFC 9113 5.5)
    }
  }

  private data(flags: number, id: number, buf: Buffer, start: number, end: number): void {
    let dataStart = start;
    let dataEnd = end;
    if (flags & Flags.PADDED) {
      if (end - start < 1) throw new H2Error(ErrorCode.FRAME_SIZE_ERROR, 'padded DATA without pad length');
      const pad = buf[start]!;
      dataStart++;
      if (pad > dataEnd - dataStart) throw new H2Error(ErrorCode.PROTOCOL_ERROR, 'DATA padding exceeds payload');
      dataEnd -= pad;
    }
    this.sink.data(id, (flags & Flags.END_STREAM) !== 0, buf.subarray(dataStart, dataEnd), end - start);
  }

  private headers(flags: number, id: number, buf: Buffer, start: number, end: number): void {
    let s = start;
    let pad = 0;
    if (flags & Flags.PADDED) {
      if (end - s < 1) throw new H2Error(ErrorCode.FRAME_SIZE_ERROR, 'padded HEADERS without pad length');
      pad = buf[s++]!;
    }
    let selfDependent = false;
    if (flags & Flags.PRIORITY) {
      if (end - s < 5) throw new H2Error(ErrorCode.FRAME_SIZE_ERROR, 'HEADERS too short for its priority');
      selfDependent = (readUint32(buf, s) & 0x7fffffff) === id;
      s += 5;
    }
    if (pad > end - s) throw new H2Error(ErrorCode.PROTOCOL_ERROR, 'HEADERS padding exceeds payload');
    const e = end - pad;
    if (flags & Flags.END_HEADERS) return this.block(id, flags, selfDependent, buf, s, e);
    this.blockStream = id;
    this.blockFlags = flags;
    this.blockSelfDependent = selfDependent;
    this.blockParts = [buf.subarray(s, e)];
    this.blockBytes = e - s;
    this.checkBlockLimits();
  }

  private continuation(flags: number, id: number, buf: Buffer, start: number, end: number): void {
    if (this.blockStream === 0 || id !== this.blockStream) {
      throw new H2Error(ErrorCode.PROTOCOL_ERROR, `unexpected CONTINUATION on stream ${id}`);
    }
    this.blockParts.push(buf.subarray(start, end));
    this.blockBytes += end - start;
    this.checkBlockLimits();
    if ((flags & Flags.END_HEADERS) === 0) return;
    const block = Buffer.concat(this.blockParts, this.blockBytes);
    this.blockStream = 0;
    this.blockParts = [];
    this.blockBytes = 0;
    this.block(id, this.blockFlags, this.blockSelfDependent, block, 0, block.length);
  }

  private checkBlockLimits(): void {
    if (this.blockBytes > this.maxHeaderBlockBytes || this.blockParts.length > MAX_HEADER_BLOCK_FRAMES) {
      throw new H2Error(ErrorCode.ENHANCE_YOUR_CALM, 'header block too large');
    }
  }

  private block(id: number, flags: number, selfDependent: boolean, buf: Buffer, start: number, end: number): void {
    const fields = this.fields;
    fields.length = 0;
    const status = this.decoder.decode(buf, start, end, fields, this.limits.maxHeaderListSize);
    this.sink.headers(id, (flags & Flags.END_STREAM) !== 0, selfDependent, status, fields);
  }

  private settings(flags: number, buf: Buffer, start: number, end: number): void {
    if (flags & Flags.ACK) {
      if (end !== start) throw new H2Error(ErrorCode.FRAME_SIZE_ERROR, 'SETTINGS ACK with a payload');
      return this.sink.settingsAck();
    }
    if ((end - start) % 6 !== 0) throw new H2Error(ErrorCode.FRAME_SIZE_ERROR, 'SETTINGS length not a multiple of 6');
    const changed = this.changed;
    changed.headerTableSize = changed.initialWindowSize = changed.maxFrameSize = -1;
    for (let p = start; p < end; p += 6) {
      const key = (buf[p]! << 8) | buf[p + 1]!;
      const value = readUint32(buf, p + 2);
      switch (key) {
        case SettingId.HEADER_TABLE_SIZE:
          changed.headerTableSize = value;
          break;
        case SettingId.ENABLE_PUSH:
          if (value > 1) throw new H2Error(ErrorCode.PROTOCOL_ERROR, `SETTINGS_ENABLE_PUSH ${value}`);
          break;
        case SettingId.INITIAL_WINDOW_SIZE:
          if (value > MAX_WINDOW_SIZE) throw new H2Error(ErrorCode.FLOW_CONTROL_ERROR, `SETTINGS_INITIAL_WINDOW_SIZE ${value}`);
          changed.initialWindowSize = value;
          break;
        case SettingId.MAX_FRAME_SIZE:
          if (value < DEFAULT_MAX_FRAME_SIZE || value > MAX_ALLOWED_FRAME_SIZE) {
            throw new H2Error(ErrorCode.PROTOCOL_ERROR, `SETTINGS_MAX_FRAME_SIZE ${value}`);
          }
          changed.maxFrameSize = value;
          break;
        default:
          // MAX_CONCURRENT_STREAMS (we never push), MAX_HEADER_LIST_SIZE (advisory) and
          // unknown settings need nothing from us.
          break;
      }
    }
    this.settingsSeen = true;
    this.sink.settings(changed);
  }
}

/** Per frame type: 1 = only on a stream, 0 = only on stream 0, undefined = either or checked later. */
const STREAM_ONLY: Array<0 | 1 | undefined> = [];
STREAM_ONLY[FrameType.DATA] = 1;
STREAM_ONLY[FrameType.HEADERS] = 1;
STREAM_ONLY[FrameType.PRIORITY] = 1;
STREAM_ONLY[FrameType.RST_STREAM] = 1;
STREAM_ONLY[FrameType.SETTINGS] = 0;
STREAM_ONLY[FrameType.PING] = 0;
STREAM_ONLY[FrameType.GOAWAY] = 0;
