// Server side of one HTTP/2 connection (RFC 9113) over any net.Socket (h2c or TLS).
//
// Input: socket chunks are cut into frames in place; only a frame that spans chunks is
// copied, into a buffer of exactly its size. Output: frames go into an OutputBuffer
// and leave in one socket write per event-loop turn (a shared setImmediate flushes
// every connection that has output). DATA waits in per-stream queues and is moved to
// the output at flush time, as the peer's windows and the socket allow.
//
// Peer misbehaviour that breaks the connection is thrown as H2Error inside frame
// handling and answered with GOAWAY; stream-level problems get RST_STREAM.

import type { Socket } from 'node:net';
import {
  CLIENT_PREFACE,
  DEFAULT_HEADER_TABLE_SIZE,
  DEFAULT_MAX_FRAME_SIZE,
  DEFAULT_WINDOW_SIZE,
  ErrorCode,
  FRAME_HEADER_LENGTH,
  Flags,
  FrameType,
  H2Error,
  MAX_ALLOWED_FRAME_SIZE,
  MAX_WINDOW_SIZE,
  SettingId,
  readUint32,
  writeFrameHeader,
  writeUint32,
} from './frames.js';
import { requestHeaders, trailerHeaders } from './headers.js';
import { DecodeStatus, HpackDecoder } from './hpack-decoder.js';
import { HpackEncoder } from './hpack-encoder.js';
import { OutputBuffer } from './output.js';
import { STREAM_HIGH_WATER_MARK, ServerStream } from './stream.js';
import type { H2Connection, H2ServerStream, H2Settings, OutgoingHeaders } from './types.js';

const DEFAULTS: Required<H2Settings> = {
  maxConcurrentStreams: 1000,
  initialWindowSize: 1 << 20,
  maxFrameSize: DEFAULT_MAX_FRAME_SIZE,
  maxHeaderListSize: 1 << 20,
  connectionWindowSize: 8 << 20,
  keepaliveMinTimeMs: 0,
  keepaliveIntervalMs: 0,
  keepaliveTimeoutMs: 20_000,
};

/** gRPC servers allow this many pings too early; the next one closes the connection */
const MAX_PING_STRIKES = 2;
/** without open streams a client may ping once per this (gRPC's defaultPingTimeout) */
const IDLE_PING_INTERVAL_MS = 2 * 3600 * 1000;

/** DATA bytes moved to the output per flush before yielding to the event loop. */
const FLUSH_DATA_BUDGET = 256 * 1024;
/** Payloads at least this big that sit in one queued buffer are referenced, not copied. */
const REFERENCE_PAYLOAD_BYTES = 1024;
/** Above this many bytes a write goes out as a corked series instead of one concatenation. */
const CONCAT_LIMIT = 64 * 1024;
/** The peer stopped reading while making us write (PING, SETTINGS, ...): give up. */
const MAX_SOCKET_BACKLOG = 8 << 20;
/** Frames in one header block (HEADERS + CONTINUATIONs). */
const MAX_HEADER_BLOCK_FRAMES = 256;
/** Streams we remember as reset by us, so late frames on them are ignored quietly. */
const RESET_MEMORY = 512;
/** Time given to a GOAWAY to leave before the socket is destroyed. */
const LINGER_MS = 2000;

const TOO_LARGE_RESPONSE: OutgoingHeaders = Object.freeze({ ':status': 431 });

/**
 * Takes over a socket whose first bytes (already read: none, part of the client
 * preface, or the preface and more) are given, and serves HTTP/2 on it.
 */
export function serveHttp2(
  socket: Socket,
  alreadyRead: Buffer,
  onStream: (s: H2ServerStream) => void,
  settings?: H2Settings,
): H2Connection {
  return new Connection(socket, alreadyRead, onStream, settings ?? {});
}

// One setImmediate flushes every connection with pending output.
let flushList: Connection[] = [];
let flushScheduled = false;

function runFlushes(): void {
  flushScheduled = false;
  const list = flushList;
  flushList = [];
  for (const c of list) c.flush();
}

export class Connection implements H2Connection {
  onError: ((err: Error) => void) | undefined = undefined;

  private readonly maxConcurrentStreams: number;
  private readonly initialWindowSize: number;
  private readonly maxFrameSize: number;
  private readonly maxHeaderListSize: number;
  private readonly connectionWindowSize: number;
  private readonly maxHeaderBlockBytes: number;

  private readonly decoder = new HpackDecoder(DEFAULT_HEADER_TABLE_SIZE);
  private readonly encoder = new HpackEncoder();
  private readonly out = new OutputBuffer();
  private readonly streams = new Map<number, ServerStream>();
  /** streams with queued DATA that may be sendable */
  private readonly sendable = new Set<ServerStream>();
  /** streams whose write() returned false and which may now be drained */
  private drainable: ServerStream[] = [];
  private readonly fields: string[] = [];
  private readonly resetIds = new Set<number>();
  private readonly resetOrder: number[] = [];

  /** highest stream id the client has opened */
  private lastStreamId = 0;
  private prefaceLeft = CLIENT_PREFACE.length;
  private settingsReceived = false;
  private settingsAcked = false;
  private peerMaxFrameSize = DEFAULT_MAX_FRAME_SIZE;
  private peerInitialWindow = DEFAULT_WINDOW_SIZE;
  private connSendWindow = DEFAULT_WINDOW_SIZE;
  private connRecvWindow = DEFAULT_WINDOW_SIZE;
  private connRecvUnacked = 0;

  // A frame whose header or payload is split across socket chunks.
  private readonly partialHead = Buffer.allocUnsafe(FRAME_HEADER_LENGTH);
  private partialHeadLength = 0;
  private partialBody: Buffer | null = null;
  private partialBodyLength = 0;
  // The frame being handled.
  private frameType = 0;
  private frameFlags = 0;
  private frameStream = 0;

  // A header block waiting for CONTINUATION frames.
  private blockStream = 0;
  private blockFlags = 0;
  private blockSelfDependent = false;
  private blockParts: Buffer[] = [];
  private blockBytes = 0;

  private goawaySent = false;
  private goawayLastId = MAX_WINDOW_SIZE;
  private goawayReceived = false;
  /** no streams left after a GOAWAY: end the socket at the next flush */
  private ending = false;
  /** connection failed or socket gone: ignore input, write nothing more */
  private dead = false;
  private socketBlocked = false;
  private flushQueued = false;
  private inFlush = false;
  private lingerTimer: NodeJS.Timeout | undefined = undefined;
  private readonly keepaliveMinTimeMs: number;
  private pingStrikes = 0;
  private lastPingAtMs = -Infinity;
  /** set when we send HEADERS or DATA: the next ping is forgiven, as gRPC servers do */
  private forgivePing = false;
  private lastReadMs = performance.now();
  private keepaliveTimer: NodeJS.Timeout | undefined = undefined;

  constructor(
    readonly socket: Socket,
    alreadyRead: Buffer,
    private readonly onStream: (s: H2ServerStream) => void,
    settings: H2Settings,
  ) {
    const s = { ...DEFAULTS, ...dropUndefined(settings) };
    if (!(s.maxFrameSize >= DEFAULT_MAX_FRAME_SIZE && s.maxFrameSize <= MAX_ALLOWED_FRAME_SIZE)) {
      throw new RangeError(`h2: maxFrameSize ${s.maxFrameSize} outside [16384, 16777215]`);
    }
    if (!(s.initialWindowSize >= 0 && s.initialWindowSize <= MAX_WINDOW_SIZE)) {
      throw new RangeError(`h2: initialWindowSize ${s.initialWindowSize} outside [0, 2^31-1]`);
    }
    if (!(s.connectionWindowSize >= DEFAULT_WINDOW_SIZE && s.connectionWindowSize <= MAX_WINDOW_SIZE)) {
      throw new RangeError(`h2: connectionWindowSize ${s.connectionWindowSize} outside [65535, 2^31-1]`);
    }
    this.maxConcurrentStreams = s.maxConcurrentStreams;
    this.initialWindowSize = s.initialWindowSize;
    this.maxFrameSize = s.maxFrameSize;
    this.maxHeaderListSize = s.maxHeaderListSize;
    this.connectionWindowSize = s.connectionWindowSize;
    this.keepaliveMinTimeMs = s.keepaliveMinTimeMs;
    // as etcd: server pings only when both the interval and the timeout are set
    if (s.keepaliveIntervalMs > 0 && s.keepaliveTimeoutMs > 0) this.startKeepalive(s.keepaliveIntervalMs, s.keepaliveTimeoutMs);
    // Room for any block whose decoded list fits, even one of badly-compressing literals.
    this.maxHeaderBlockBytes = s.maxHeaderListSize * 2 + 64 * 1024;

    socket.setNoDelay?.(true);
    socket.on('data', (chunk: Buffer) => this.onSocketData(chunk));
    socket.on('drain', () => {
      this.socketBlocked = false;
      this.requestFlush();
    });
    socket.on('error', (err: Error) => this.report(err));
    // A client that half-closes can start nothing new: finish what is open, then end.
    socket.on('end', () => {
      this.goawayReceived = true;
      if (this.streams.size === 0) {
        this.ending = true;
        this.requestFlush();
      }
    });
    socket.on('close', () => this.onSocketClose());

    // Server preface: our SETTINGS, then the connection window raised.
    const entries: Array<[number, number]> = [
      [SettingId.MAX_CONCURRENT_STREAMS, this.maxConcurrentStreams],
      [SettingId.INITIAL_WINDOW_SIZE, this.initialWindowSize],
      [SettingId.MAX_HEADER_LIST_SIZE, this.maxHeaderListSize],
    ];
    if (this.maxFrameSize !== DEFAULT_MAX_FRAME_SIZE) entries.push([SettingId.MAX_FRAME_SIZE, this.maxFrameSize]);
    this.writeSettings(entries);
    if (this.connectionWindowSize > DEFAULT_WINDOW_SIZE) {
      this.writeWindowUpdate(0, this.connectionWindowSize - DEFAULT_WINDOW_SIZE);
      this.connRecvWindow = this.connectionWindowSize;
    }
    // The caller may have paused the socket while it looked at the first bytes.
    socket.resume();
    if (alreadyRead.length > 0) this.onSocketData(alreadyRead);
    this.requestFlush();
  }

  get openStreams(): number {
    return this.streams.size;
  }

  close(): void {
    if (this.dead) return;
    if (!this.goawaySent) {
      this.goawaySent = true;
      this.goawayLastId = this.lastStreamId;
      this.writeGoaway(this.lastStreamId, ErrorCode.NO_ERROR, '');
    }
    if (this.streams.size === 0) this.ending = true;
    this.requestFlush();
  }

  destroy(): void {
    if (this.dead && this.socket.destroyed) return;
    this.dead = true;
    this.socket.destroy();
    this.closeAllStreams();
  }

  // ---- input ---------------------------------------------------------------

  private onSocketData(chunk: Buffer): void {
    if (this.dead) return;
    this.lastReadMs = performance.now();
    try {
      this.receive(chunk);
    } catch (err) {
      if (err instanceof H2Error) {
        this.fail(err);
      } else {
        // A bug of ours: report it, but tell the peer no more than that.
        this.report(err);
        this.fail(new H2Error(ErrorCode.INTERNAL_ERROR, 'internal error'), false);
      }
    }
    if (this.out.bytes > 0) this.requestFlush();
  }

  private receive(chunk: Buffer): void {
    const n = chunk.length;
    let pos = 0;
    if (this.prefaceLeft > 0) {
      const at = CLIENT_PREFACE.length - this.prefaceLeft;
      const take = Math.min(this.prefaceLeft, n);
      if (chunk.compare(CLIENT_PREFACE, at, at + take, 0, take) !== 0) {
        throw new H2Error(ErrorCode.PROTOCOL_ERROR, 'invalid connection preface');
      }
      this.prefaceLeft -= take;
      pos = take;
      if (this.prefaceLeft > 0) return;
    }
    // Finish a frame begun in an earlier chunk.
    if (this.partialHeadLength > 0) {
      const take = Math.min(FRAME_HEADER_LENGTH - this.partialHeadLength, n - pos);
      chunk.copy(this.partialHead, this.partialHeadLength, pos, pos + take);
      this.partialHeadLength += take;
      pos += take;
      if (this.partialHeadLength < FRAME_HEADER_LENGTH) return;
      this.partialHeadLength = 0;
      const length = this.frameHeader(this.partialHead, 0);
      if (n - pos < length) {
        this.startPartialBody(chunk, pos, length);
        return;
      }
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
    while (pos < n && !this.dead) {
      if (n - pos < FRAME_HEADER_LENGTH) {
        chunk.copy(this.partialHead, 0, pos, n);
        this.partialHeadLength = n - pos;
        return;
      }
      const length = this.frameHeader(chunk, pos);
      pos += FRAME_HEADER_LENGTH;
      if (n - pos < length) {
        this.startPartialBody(chunk, pos, length);
        return;
      }
      this.frame(chunk, pos, pos + length);
      pos += length;
    }
  }

  private startPartialBody(chunk: Buffer, pos: number, length: number): void {
    const body = Buffer.allocUnsafe(length);
    chunk.copy(body, 0, pos);
    this.partialBody = body;
    this.partialBodyLength = chunk.length - pos;
  }

  /** Reads a frame header into frameType/Flags/Stream and returns the payload length. */
  private frameHeader(buf: Buffer, off: number): number {
    const length = (buf[off]! << 16) | (buf[off + 1]! << 8) | buf[off + 2]!;
    this.frameType = buf[off + 3]!;
    this.frameFlags = buf[off + 4]!;
    this.frameStream = readUint32(buf, off + 5) & 0x7fffffff;
    if (length > this.maxFrameSize) {
      throw new H2Error(ErrorCode.FRAME_SIZE_ERROR, `frame of ${length} bytes exceeds ${this.maxFrameSize}`);
    }
    return length;
  }

  private frame(buf: Buffer, start: number, end: number): void {
    const type = this.frameType;
    const flags = this.frameFlags;
    const id = this.frameStream;
    if (this.blockStream !== 0 && type !== FrameType.CONTINUATION) {
      throw new H2Error(ErrorCode.PROTOCOL_ERROR, `frame type ${type} inside a header block`);
    }
    if (!this.settingsReceived && (type !== FrameType.SETTINGS || (flags & Flags.ACK) !== 0)) {
      throw new H2Error(ErrorCode.PROTOCOL_ERROR, 'the client preface must be followed by SETTINGS');
    }
    switch (type) {
      case FrameType.DATA:
        return this.onData(flags, id, buf, start, end);
      case FrameType.HEADERS:
        return this.onHeaders(flags, id, buf, start, end);
      case FrameType.PRIORITY:
        return this.onPriority(id, buf, start, end);
      case FrameType.RST_STREAM:
        return this.onRstStream(id, start, end);
      case FrameType.SETTINGS:
        return this.onSettings(flags, id, buf, start, end);
      case FrameType.PUSH_PROMISE:
        throw new H2Error(ErrorCode.PROTOCOL_ERROR, 'PUSH_PROMISE from a client');
      case FrameType.PING:
        return this.onPing(flags, id, buf, start, end);
      case FrameType.GOAWAY:
        return this.onGoaway(id, start, end);
      case FrameType.WINDOW_UPDATE:
        return this.onWindowUpdate(id, buf, start, end);
      case FrameType.CONTINUATION:
        return this.onContinuation(flags, id, buf, start, end);
      default:
        // Unknown frame types are ignored (RFC 9113 5.5).
        return;
    }
  }

  private onData(flags: number, id: number, buf: Buffer, start: number, end: number): void {
    if (id === 0) throw new H2Error(ErrorCode.PROTOCOL_ERROR, 'DATA on stream 0');
    const length = end - start;
    if (length > this.connRecvWindow) {
      throw new H2Error(ErrorCode.FLOW_CONTROL_ERROR, `DATA of ${length} bytes beyond the connection window`);
    }
    this.connRecvWindow -= length;
    let dataEnd = end;
    let dataStart = start;
    if (flags & Flags.PADDED) {
      if (length < 1) throw new H2Error(ErrorCode.FRAME_SIZE_ERROR, 'padded DATA without pad length');
      const pad = buf[start]!;
      dataStart++;
      if (pad > dataEnd - dataStart) throw new H2Error(ErrorCode.PROTOCOL_ERROR, 'DATA padding exceeds payload');
      dataEnd -= pad;
    }
    const stream = this.streams.get(id);
    if (stream === undefined) {
      if (this.isIdle(id)) throw new H2Error(ErrorCode.PROTOCOL_ERROR, `DATA on idle stream ${id}`);
      this.replenishConnection(length);
      if (!this.resetIds.has(id)) this.writeRst(id, ErrorCode.STREAM_CLOSED);
      return;
    }
    if (stream.remoteClosed) {
      this.replenishConnection(length);
      this.resetStream(stream, ErrorCode.STREAM_CLOSED);
      return;
    }
    if (length > stream.recvWindow) {
      this.replenishConnection(length);
      this.resetStream(stream, ErrorCode.FLOW_CONTROL_ERROR);
      return;
    }
    stream.recvWindow -= length;
    const endStream = (flags & Flags.END_STREAM) !== 0;
    // Set before onData, so that an end() from inside it does not reset a finished request.
    if (endStream) stream.remoteClosed = true;
    if (dataEnd > dataStart) {
      stream.receivedLength += dataEnd - dataStart;
      try {
        stream.onData(buf.subarray(dataStart, dataEnd));
      } catch (err) {
        this.callbackFailed(stream, err);
      }
    }
    this.replenishConnection(length);
    if (stream.closed) return;
    if (endStream) {
      this.remoteEnded(stream);
    } else {
      stream.recvUnacked += length;
      if (stream.recvUnacked >= this.initialWindowSize / 2 && stream.recvUnacked > 0) {
        this.writeWindowUpdate(stream.id, stream.recvUnacked);
        stream.recvWindow += stream.recvUnacked;
        stream.recvUnacked = 0;
      }
    }
  }

  /** Counts bytes as consumed on the connection, and re-opens the window once half is used. */
  private replenishConnection(n: number): void {
    this.connRecvUnacked += n;
    if (this.connRecvUnacked >= this.connectionWindowSize / 2) {
      this.writeWindowUpdate(0, this.connRecvUnacked);
      this.connRecvWindow += this.connRecvUnacked;
      this.connRecvUnacked = 0;
    }
  }

  private onHeaders(flags: number, id: number, buf: Buffer, start: number, end: number): void {
    if (id === 0) throw new H2Error(ErrorCode.PROTOCOL_ERROR, 'HEADERS on stream 0');
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
    if (flags & Flags.END_HEADERS) {
      this.headerBlock(id, flags, selfDependent, buf, s, e);
      return;
    }
    this.blockStream = id;
    this.blockFlags = flags;
    this.blockSelfDependent = selfDependent;
    this.blockParts = [buf.subarray(s, e)];
    this.blockBytes = e - s;
    this.checkBlockLimits();
  }

  private onContinuation(flags: number, id: number, buf: Buffer, start: number, end: number): void {
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
    this.headerBlock(id, this.blockFlags, this.blockSelfDependent, block, 0, block.length);
  }

  private checkBlockLimits(): void {
    if (this.blockBytes > this.maxHeaderBlockBytes || this.blockParts.length > MAX_HEADER_BLOCK_FRAMES) {
      throw new H2Error(ErrorCode.ENHANCE_YOUR_CALM, 'header block too large');
    }
  }

  /** A complete header block: a new request, or trailers of an open one. */
  private headerBlock(id: number, flags: number, selfDependent: boolean, buf: Buffer, start: number, end: number): void {
    const endStream = (flags & Flags.END_STREAM) !== 0;
    const fields = this.fields;
    fields.length = 0;
    // Decode first, whatever happens to the stream: the HPACK state must advance.
    const status = this.decoder.decode(buf, start, end, fields, this.maxHeaderListSize);
    const existing = this.streams.get(id);
    if (existing !== undefined) {
      this.trailerBlock(existing, endStream, status, fields);
      return;
    }
    if ((id & 1) === 0) throw new H2Error(ErrorCode.PROTOCOL_ERROR, `client opened even stream ${id}`);
    if (id <= this.lastStreamId) {
      // Late trailers of a stream we reset are fine; anything else reuses a closed id.
      if (this.resetIds.has(id)) return;
      throw new H2Error(ErrorCode.STREAM_CLOSED, `HEADERS on closed stream ${id}`);
    }
    this.lastStreamId = id;
    if (this.goawaySent && id > this.goawayLastId) {
      this.rememberReset(id);
      return;
    }
    if (selfDependent) return this.refuse(id, ErrorCode.PROTOCOL_ERROR);
    if (status === DecodeStatus.TOO_LARGE) {
      this.writeHeaders(id, this.encoder.encode(TOO_LARGE_RESPONSE), true);
      if (!endStream) this.writeRst(id, ErrorCode.NO_ERROR);
      this.rememberReset(id);
      return;
    }
    if (status === DecodeStatus.MALFORMED) return this.refuse(id, ErrorCode.PROTOCOL_ERROR);
    if (this.streams.size >= this.maxConcurrentStreams) return this.refuse(id, ErrorCode.REFUSED_STREAM);
    const headers = requestHeaders(fields);
    if (headers === null) return this.refuse(id, ErrorCode.PROTOCOL_ERROR);
    const recvWindow = this.settingsAcked ? this.initialWindowSize : Math.max(this.initialWindowSize, DEFAULT_WINDOW_SIZE);
    const stream = new ServerStream(id, headers, this, this.peerInitialWindow, recvWindow);
    const contentLength = headers['content-length'];
    if (contentLength !== undefined) {
      if (!/^[0-9]{1,15}$/.test(contentLength)) return this.refuse(id, ErrorCode.PROTOCOL_ERROR);
      stream.expectedLength = Number(contentLength);
    }
    this.streams.set(id, stream);
    if (endStream) stream.remoteClosed = true;
    try {
      this.onStream(stream);
    } catch (err) {
      this.callbackFailed(stream, err);
    }
    if (endStream && !stream.closed) this.remoteEnded(stream);
  }

  private trailerBlock(stream: ServerStream, endStream: boolean, status: DecodeStatus, fields: string[]): void {
    if (stream.remoteClosed) return this.resetStream(stream, ErrorCode.STREAM_CLOSED);
    if (!endStream || status !== DecodeStatus.OK) return this.resetStream(stream, ErrorCode.PROTOCOL_ERROR);
    const trailers = trailerHeaders(fields);
    if (trailers === null) return this.resetStream(stream, ErrorCode.PROTOCOL_ERROR);
    stream.trailers = trailers;
    this.remoteEnded(stream);
  }

  /** The client finished its side of the stream. */
  private remoteEnded(stream: ServerStream): void {
    stream.remoteClosed = true;
    if (stream.expectedLength >= 0 && stream.expectedLength !== stream.receivedLength) {
      this.resetStream(stream, ErrorCode.PROTOCOL_ERROR);
      return;
    }
    try {
      stream.onEnd();
    } catch (err) {
      this.callbackFailed(stream, err);
    }
    if (!stream.closed && stream.localClosed) this.closeStream(stream);
  }

  private onPriority(id: number, buf: Buffer, start: number, end: number): void {
    if (id === 0) throw new H2Error(ErrorCode.PROTOCOL_ERROR, 'PRIORITY on stream 0');
    if (end - start !== 5) return this.streamError(id, ErrorCode.FRAME_SIZE_ERROR);
    if ((readUint32(buf, start) & 0x7fffffff) === id) return this.streamError(id, ErrorCode.PROTOCOL_ERROR);
    // Priorities are advisory and deprecated (RFC 9113 5.3); ignored.
  }

  private onRstStream(id: number, start: number, end: number): void {
    if (id === 0) throw new H2Error(ErrorCode.PROTOCOL_ERROR, 'RST_STREAM on stream 0');
    if (end - start !== 4) throw new H2Error(ErrorCode.FRAME_SIZE_ERROR, 'RST_STREAM length must be 4');
    const stream = this.streams.get(id);
    if (stream === undefined) {
      if (this.isIdle(id)) throw new H2Error(ErrorCode.PROTOCOL_ERROR, `RST_STREAM on idle stream ${id}`);
      return;
    }
    this.closeStream(stream);
  }

  private onSettings(flags: number, id: number, buf: Buffer, start: number, end: number): void {
    if (id !== 0) throw new H2Error(ErrorCode.PROTOCOL_ERROR, 'SETTINGS on a stream');
    if (flags & Flags.ACK) {
      if (end !== start) throw new H2Error(ErrorCode.FRAME_SIZE_ERROR, 'SETTINGS ACK with a payload');
      this.onSettingsAck();
      return;
    }
    if ((end - start) % 6 !== 0) throw new H2Error(ErrorCode.FRAME_SIZE_ERROR, 'SETTINGS length not a multiple of 6');
    for (let p = start; p < end; p += 6) {
      const key = (buf[p]! << 8) | buf[p + 1]!;
      const value = readUint32(buf, p + 2);
      switch (key) {
        case SettingId.HEADER_TABLE_SIZE:
          this.encoder.setPeerTableSize(value);
          break;
        case SettingId.ENABLE_PUSH:
          if (value > 1) throw new H2Error(ErrorCode.PROTOCOL_ERROR, `SETTINGS_ENABLE_PUSH ${value}`);
          break;
        case SettingId.INITIAL_WINDOW_SIZE: {
          if (value > MAX_WINDOW_SIZE) {
            throw new H2Error(ErrorCode.FLOW_CONTROL_ERROR, `SETTINGS_INITIAL_WINDOW_SIZE ${value}`);
          }
          const delta = value - this.peerInitialWindow;
          this.peerInitialWindow = value;
          for (const stream of this.streams.values()) {
            stream.sendWindow += delta;
            if (stream.sendWindow > MAX_WINDOW_SIZE) {
              throw new H2Error(ErrorCode.FLOW_CONTROL_ERROR, `stream ${stream.id} window overflow`);
            }
            if (delta > 0 && stream.queuedBytes > 0) this.sendable.add(stream);
          }
          break;
        }
        case SettingId.MAX_FRAME_SIZE:
          if (value < DEFAULT_MAX_FRAME_SIZE || value > MAX_ALLOWED_FRAME_SIZE) {
            throw new H2Error(ErrorCode.PROTOCOL_ERROR, `SETTINGS_MAX_FRAME_SIZE ${value}`);
          }
          this.peerMaxFrameSize = value;
          break;
        default:
          // MAX_CONCURRENT_STREAMS (we never push), MAX_HEADER_LIST_SIZE (advisory) and
          // unknown settings need nothing from us.
          break;
      }
    }
    this.settingsReceived = true;
    const o = this.out.reserve(FRAME_HEADER_LENGTH);
    writeFrameHeader(this.out.buf, o, 0, FrameType.SETTINGS, Flags.ACK, 0);
    if (this.sendable.size > 0) this.requestFlush();
  }

  private onSettingsAck(): void {
    if (this.settingsAcked) return;
    this.settingsAcked = true;
    // Streams opened before the ACK were allowed the default window; now ours applies.
    if (this.initialWindowSize < DEFAULT_WINDOW_SIZE) {
      for (const stream of this.streams.values()) stream.recvWindow -= DEFAULT_WINDOW_SIZE - this.initialWindowSize;
    }
  }

  private onPing(flags: number, id: number, buf: Buffer, start: number, end: number): void {
    if (id !== 0) throw new H2Error(ErrorCode.PROTOCOL_ERROR, 'PING on a stream');
    if (end - start !== 8) throw new H2Error(ErrorCode.FRAME_SIZE_ERROR, 'PING length must be 8');
    if (flags & Flags.ACK) return;
    if (this.keepaliveMinTimeMs > 0) this.checkPingRate();
    const o = this.out.reserve(FRAME_HEADER_LENGTH + 8);
    const out = this.out.buf;
    writeFrameHeader(out, o, 8, FrameType.PING, Flags.ACK, 0);
    buf.copy(out, o + FRAME_HEADER_LENGTH, start, end);
  }

  /** gRPC's keepalive enforcement policy (PermitWithoutStream false, as etcd sets it). */
  private checkPingRate(): void {
    const now = performance.now();
    const last = this.lastPingAtMs;
    this.lastPingAtMs = now;
    if (this.forgivePing) {
      this.forgivePing = false;
      this.pingStrikes = 0;
      return;
    }
    const allowedMs = this.streams.size === 0 ? IDLE_PING_INTERVAL_MS : this.keepaliveMinTimeMs;
    if (now - last < allowedMs) this.pingStrikes++;
    // grpc-go clients compare the debug data with exactly this, and slow their pings down
    if (this.pingStrikes > MAX_PING_STRIKES) throw new H2Error(ErrorCode.ENHANCE_YOUR_CALM, 'client pings too often', 'too_many_pings');
  }

  /** Pings a client that has been silent for intervalMs; closes it if it stays silent timeoutMs more. */
  private startKeepalive(intervalMs: number, timeoutMs: number): void {
    let pingSentAtMs: number | undefined;
    const check = (): void => {
      if (this.dead) return;
      const now = performance.now();
      if (pingSentAtMs !== undefined && this.lastReadMs < pingSentAtMs && now - pingSentAtMs >= timeoutMs) {
        this.socket.destroy();
        return;
      }
      if (this.lastReadMs > (pingSentAtMs ?? -Infinity)) pingSentAtMs = undefined;
      if (pingSentAtMs === undefined && now - this.lastReadMs >= intervalMs) {
        const o = this.out.reserve(FRAME_HEADER_LENGTH + 8);
        writeFrameHeader(this.out.buf, o, 8, FrameType.PING, 0, 0);
        this.out.buf.fill(0, o + FRAME_HEADER_LENGTH, o + FRAME_HEADER_LENGTH + 8);
        this.requestFlush();
        pingSentAtMs = now;
      }
      const waitMs = pingSentAtMs !== undefined ? Math.min(timeoutMs, intervalMs) : Math.max(1, intervalMs - (now - this.lastReadMs));
      this.keepaliveTimer = setTimeout(check, waitMs);
      this.keepaliveTimer.unref();
    };
    this.keepaliveTimer = setTimeout(check, intervalMs);
    this.keepaliveTimer.unref();
  }

  private onGoaway(id: number, start: number, end: number): void {
    if (id !== 0) throw new H2Error(ErrorCode.PROTOCOL_ERROR, 'GOAWAY on a stream');
    if (end - start < 8) throw new H2Error(ErrorCode.FRAME_SIZE_ERROR, 'GOAWAY shorter than 8 bytes');
    // The client opens no more streams; those it opened run to completion.
    this.goawayReceived = true;
    if (this.streams.size === 0) {
      this.ending = true;
      this.requestFlush();
    }
  }

  private onWindowUpdate(id: number, buf: Buffer, start: number, end: number): void {
    if (end - start !== 4) throw new H2Error(ErrorCode.FRAME_SIZE_ERROR, 'WINDOW_UPDATE length must be 4');
    const increment = readUint32(buf, start) & 0x7fffffff;
    if (id === 0) {
      if (increment === 0) throw new H2Error(ErrorCode.PROTOCOL_ERROR, 'WINDOW_UPDATE of 0 on the connection');
      this.connSendWindow += increment;
      if (this.connSendWindow > MAX_WINDOW_SIZE) {
        throw new H2Error(ErrorCode.FLOW_CONTROL_ERROR, 'connection window overflow');
      }
      if (this.sendable.size > 0) this.requestFlush();
      return;
    }
    const stream = this.streams.get(id);
    if (stream === undefined) {
      if (this.isIdle(id)) throw new H2Error(ErrorCode.PROTOCOL_ERROR, `WINDOW_UPDATE on idle stream ${id}`);
      return;
    }
    if (increment === 0) return this.resetStream(stream, ErrorCode.PROTOCOL_ERROR);
    stream.sendWindow += increment;
    if (stream.sendWindow > MAX_WINDOW_SIZE) return this.resetStream(stream, ErrorCode.FLOW_CONTROL_ERROR);
    if (stream.queuedBytes > 0 && stream.sendWindow > 0) {
      this.sendable.add(stream);
      this.requestFlush();
    }
  }

  /** A stream the client can no longer have sent anything on (it was never opened). */
  private isIdle(id: number): boolean {
    return (id & 1) === 0 || id > this.lastStreamId;
  }

  // ---- stream operations (called by ServerStream) ---------------------------

  /** @internal */
  sendResponseHeaders(stream: ServerStream, headers: OutgoingHeaders, endStream: boolean): void {
    if (this.dead) return;
    this.writeHeaders(stream.id, this.encoder.encode(headers), endStream);
    if (endStream) this.localEnded(stream);
    else this.requestFlush();
  }

  /** @internal */
  dataQueued(stream: ServerStream): void {
    this.sendable.add(stream);
    this.requestFlush();
  }

  /** @internal end() was called; finish now if nothing is queued, else when the queue drains. */
  endQueued(stream: ServerStream): void {
    if (stream.queuedBytes === 0) this.finish(stream);
    else this.dataQueued(stream);
  }

  /** @internal Resets a stream (ours or the user's decision) and closes it. */
  resetStream(stream: ServerStream, code: number): void {
    if (stream.closed) return;
    this.writeRst(stream.id, code);
    this.rememberReset(stream.id);
    this.closeStream(stream);
  }

  /** All queued DATA is out: send the trailers or END_STREAM. */
  private finish(stream: ServerStream): void {
    if (this.dead || stream.closed) return;
    if (stream.pendingTrailers !== undefined) {
      this.writeHeaders(stream.id, this.encoder.encode(stream.pendingTrailers), true);
      stream.pendingTrailers = undefined;
    } else {
      const o = this.out.reserve(FRAME_HEADER_LENGTH);
      writeFrameHeader(this.out.buf, o, 0, FrameType.DATA, Flags.END_STREAM, stream.id);
    }
    this.localEnded(stream);
  }

  /** Our END_STREAM is written. */
  private localEnded(stream: ServerStream): void {
    stream.localClosed = true;
    if (!stream.remoteClosed) {
      // The response is complete; ask the client to stop sending (RFC 9113 8.1).
      this.writeRst(stream.id, ErrorCode.NO_ERROR);
      this.rememberReset(stream.id);
    }
    this.closeStream(stream);
    this.requestFlush();
  }

  private closeStream(stream: ServerStream): void {
    if (stream.closed) return;
    stream.closed = true;
    this.streams.delete(stream.id);
    this.sendable.delete(stream);
    stream.clearQueue();
    try {
      stream.onClose();
    } catch (err) {
      this.report(err);
    }
    if ((this.goawaySent || this.goawayReceived) && this.streams.size === 0 && !this.dead) {
      this.ending = true;
      this.requestFlush();
    }
  }

  private closeAllStreams(): void {
    this.sendable.clear();
    for (const stream of [...this.streams.values()]) this.closeStream(stream);
  }

  private callbackFailed(stream: ServerStream, err: unknown): void {
    this.report(err);
    if (!stream.closed && !this.dead) this.resetStream(stream, ErrorCode.INTERNAL_ERROR);
  }

  /** Refuses a new stream that never reaches the user. */
  private refuse(id: number, code: number): void {
    this.writeRst(id, code);
    this.rememberReset(id);
  }

  private streamError(id: number, code: number): void {
    const stream = this.streams.get(id);
    if (stream !== undefined) this.resetStream(stream, code);
    else this.refuse(id, code);
  }

  private rememberReset(id: number): void {
    if (this.resetIds.has(id)) return;
    this.resetIds.add(id);
    this.resetOrder.push(id);
    if (this.resetOrder.length > RESET_MEMORY) this.resetIds.delete(this.resetOrder.shift()!);
  }

  // ---- output ------------------------------------------------------------------

  private writeHeaders(id: number, block: Buffer, endStream: boolean): void {
    this.forgivePing = true;
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

  private writeRst(id: number, code: number): void {
    const o = this.out.reserve(FRAME_HEADER_LENGTH + 4);
    writeFrameHeader(this.out.buf, o, 4, FrameType.RST_STREAM, 0, id);
    writeUint32(this.out.buf, o + FRAME_HEADER_LENGTH, code);
    this.requestFlush();
  }

  private writeWindowUpdate(id: number, increment: number): void {
    const o = this.out.reserve(FRAME_HEADER_LENGTH + 4);
    writeFrameHeader(this.out.buf, o, 4, FrameType.WINDOW_UPDATE, 0, id);
    writeUint32(this.out.buf, o + FRAME_HEADER_LENGTH, increment);
  }

  private writeSettings(entries: Array<[number, number]>): void {
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

  private writeGoaway(lastId: number, code: number, debug: string): void {
    const debugBytes = Buffer.from(debug.slice(0, 256), 'utf8');
    const o = this.out.reserve(FRAME_HEADER_LENGTH + 8 + debugBytes.length);
    const out = this.out.buf;
    writeFrameHeader(out, o, 8 + debugBytes.length, FrameType.GOAWAY, 0, 0);
    writeUint32(out, o + FRAME_HEADER_LENGTH, lastId & 0x7fffffff);
    writeUint32(out, o + FRAME_HEADER_LENGTH + 4, code);
    debugBytes.copy(out, o + FRAME_HEADER_LENGTH + 8);
  }

  /** Moves one DATA frame from the stream's queue to the output; returns its payload length. */
  private sendData(stream: ServerStream): number {
    const n = Math.min(stream.queuedBytes, stream.sendWindow, this.connSendWindow, this.peerMaxFrameSize);
    this.forgivePing = true;
    const last = n === stream.queuedBytes && stream.endRequested && stream.pendingTrailers === undefined;
    const flags = last ? Flags.END_STREAM : 0;
    const first = stream.queue[stream.queueHead]!;
    const offset = stream.queueOffset;
    if (n >= REFERENCE_PAYLOAD_BYTES && first.length - offset >= n) {
      const o = this.out.reserve(FRAME_HEADER_LENGTH);
      writeFrameHeader(this.out.buf, o, n, FrameType.DATA, flags, stream.id);
      this.out.append(first.subarray(offset, offset + n));
    } else {
      const o = this.out.reserve(FRAME_HEADER_LENGTH + n);
      const out = this.out.buf;
      writeFrameHeader(out, o, n, FrameType.DATA, flags, stream.id);
      let p = o + FRAME_HEADER_LENGTH;
      let left = n;
      let i = stream.queueHead;
      let from = offset;
      while (left > 0) {
        const chunk = stream.queue[i++]!;
        const take = Math.min(left, chunk.length - from);
        chunk.copy(out, p, from, from + take);
        p += take;
        left -= take;
        from = 0;
      }
    }
    stream.dequeue(n);
    stream.sendWindow -= n;
    this.connSendWindow -= n;
    if (stream.needDrain && stream.queuedBytes <= STREAM_HIGH_WATER_MARK) {
      stream.needDrain = false;
      this.drainable.push(stream);
    }
    if (last) this.localEnded(stream);
    else if (stream.queuedBytes === 0 && stream.endRequested) this.finish(stream);
    return n;
  }

  /** Moves DATA from stream queues to the output, round-robin one frame per stream. */
  private pump(): void {
    let budget = FLUSH_DATA_BUDGET;
    while (this.sendable.size > 0 && this.connSendWindow > 0 && budget > 0) {
      for (const stream of this.sendable) {
        if (stream.queuedBytes === 0 || stream.sendWindow <= 0 || stream.closed) {
          this.sendable.delete(stream);
          continue;
        }
        budget -= this.sendData(stream);
        if (stream.queuedBytes === 0) this.sendable.delete(stream);
        if (this.connSendWindow <= 0 || budget <= 0) break;
      }
    }
  }

  private requestFlush(): void {
    if (this.flushQueued || this.inFlush) return;
    this.flushQueued = true;
    flushList.push(this);
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(runFlushes);
    }
  }

  /** @internal Runs once per event-loop turn when there is output or sendable data. */
  flush(): void {
    this.flushQueued = false;
    if (this.socket.destroyed) return;
    this.inFlush = true;
    try {
      if (!this.dead && !this.socketBlocked) this.pump();
      this.writeOut();
    } finally {
      this.inFlush = false;
    }
    if (this.drainable.length > 0) {
      const list = this.drainable;
      this.drainable = [];
      for (const stream of list) {
        if (stream.closed || stream.needDrain) continue;
        try {
          stream.onDrain();
        } catch (err) {
          this.callbackFailed(stream, err);
        }
      }
    }
    if (this.ending && !this.dead && this.streams.size === 0) {
      this.writeOut();
      this.dead = true;
      this.endSocket();
      return;
    }
    // More to send that only the budget held back (or callbacks added): next turn.
    if ((!this.socketBlocked && this.sendable.size > 0 && this.connSendWindow > 0) || this.out.bytes > 0) {
      this.requestFlush();
    }
  }

  private writeOut(): void {
    if (this.out.bytes === 0 || this.socket.destroyed || !this.socket.writable) return;
    const total = this.out.bytes;
    const parts = this.out.take();
    let ok: boolean;
    if (parts.length === 1) {
      ok = this.socket.write(parts[0]!);
    } else if (total <= CONCAT_LIMIT) {
      ok = this.socket.write(Buffer.concat(parts, total));
    } else {
      this.socket.cork();
      ok = true;
      for (const part of parts) ok = this.socket.write(part);
      this.socket.uncork();
    }
    if (!ok) {
      this.socketBlocked = true;
      if (this.socket.writableLength > MAX_SOCKET_BACKLOG) {
        this.report(new H2Error(ErrorCode.ENHANCE_YOUR_CALM, 'peer is not reading; dropping the connection'));
        this.destroy();
      }
    }
  }

  // ---- teardown ------------------------------------------------------------------

  /** Connection error: GOAWAY with the code, then close. */
  private fail(err: H2Error, report = true): void {
    if (this.dead) return;
    if (report) this.report(err);
    this.writeGoaway(this.lastStreamId, err.code, err.debugData ?? err.message);
    this.dead = true;
    this.writeOut();
    this.endSocket();
    this.closeAllStreams();
  }

  private endSocket(): void {
    this.socket.end();
    // Keep reading (and discarding) so the GOAWAY is not lost to a TCP reset, but not forever.
    this.lingerTimer = setTimeout(() => this.socket.destroy(), LINGER_MS);
    this.lingerTimer.unref();
  }

  private onSocketClose(): void {
    if (this.lingerTimer !== undefined) clearTimeout(this.lingerTimer);
    if (this.keepaliveTimer !== undefined) clearTimeout(this.keepaliveTimer);
    this.dead = true;
    this.closeAllStreams();
  }

  private report(err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    if (this.onError !== undefined) {
      try {
        this.onError(error);
      } catch {
        // An error handler that throws has nowhere left to report to.
      }
    } else if (!(error instanceof H2Error) && !isSocketError(error)) {
      process.emitWarning(error);
    }
  }
}

function isSocketError(err: Error): boolean {
  return typeof (err as NodeJS.ErrnoException).code === 'string';
}

function dropUndefined(settings: H2Settings): H2Settings {
  const out: H2Settings = {};
  for (const [k, v] of Object.entries(settings)) if (v !== undefined) (out as Record<string, number>)[k] = v;
  return out;
}
