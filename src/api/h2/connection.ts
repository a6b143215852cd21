// Server side of one HTTP/2 connection (RFC 9113) over any net.Socket (h2c or TLS): the
// connection and stream state machine between the FrameReader (bytes → frames) and the
// FrameWriter (frames → bytes).
//
// Contract:
// - Input: socket chunks go to the reader, which calls back here frame by frame. Peer
//   misbehaviour that breaks the connection is an H2Error, answered with GOAWAY and a
//   close; stream-level problems get RST_STREAM.
// - Output: frames are appended to the writer and leave in one socket write per
//   event-loop turn (a shared setImmediate flushes every connection with output). DATA
//   waits in per-stream queues and moves to the writer at flush time, as the peer's
//   windows and the socket allow.
// - Resources a client can make us hold are bounded per connection (see the limits
//   below): request bytes delivered and not yet consumed (the receive window reopens as
//   the handler consumes), response bytes queued (past the bound, new streams wait and
//   write() returns false), handler work still running for streams the client reset
//   (counted against MAX_CONCURRENT_STREAMS, so new streams wait), and client resets
//   (a token bucket; past it GOAWAY ENHANCE_YOUR_CALM). Work per frame is O(1) in the
//   number of open streams.

import type { Socket } from 'node:net';
import { DEFAULT_WINDOW_SIZE, ErrorCode, H2Error, MAX_WINDOW_SIZE } from './frames.js';
import { FrameReader, type FrameSink, type PeerSettings } from './frame-reader.js';
import { ReceiveFlow, SendFlow } from './flow-control.js';
import { Guards } from './guards.js';
import { requestHeaders, trailerHeaders } from './headers.js';
import { DecodeStatus } from './hpack-decoder.js';
import { SocketLink } from './link.js';
import { prefaceEntries, resolveSettings } from './settings.js';
import { Drains, RecentResets, ServerStream } from './stream.js';
import type { H2Connection, H2ServerStream, H2Settings, OutgoingHeaders } from './types.js';

/** DATA bytes moved to the output per flush before yielding to the event loop. */
const FLUSH_DATA_BUDGET = 256 * 1024;
/**
 * Response bytes queued per connection (stream queues, output, socket buffer) above
 * which new streams wait to start and write() returns false, until the client reads.
 * A client that never opens its windows cannot make the member buffer more than this
 * plus the responses of handlers already running; one reading normally never gets near.
 */
export const MAX_QUEUED_RESPONSE_BYTES = 16 << 20;
/**
 * Handler work (holdWork: unary calls) running at once per connection; further streams
 * wait (nginx's default http2_max_concurrent_streams is also 128). The bound
 * also caps what handlers already running can add to the queued responses above.
 */
export const MAX_RUNNING_WORK = 128;

const TOO_LARGE_RESPONSE: OutgoingHeaders = Object.freeze({ ':status': 431 });

/**
 * Takes over a socket whose first bytes (already read: none, part of the client
 * preface, or the preface and more) are given, and serves HTTP/2 on it.
 */
export function serveHttp2(socket: Socket, alreadyRead: Buffer, onStream: (s: H2ServerStream) => void, settings?: H2Settings): H2Connection {
  return new Connection(socket, alreadyRead, onStream, settings ?? {});
}

export class Connection extends SocketLink implements H2Connection, FrameSink {
  private readonly s: Required<H2Settings>;
  private readonly reader: FrameReader;
  private readonly guards: Guards;
  private readonly streams = new Map<number, ServerStream>();
  private readonly recv: ReceiveFlow;
  private readonly send = new SendFlow<ServerStream>();
  private readonly drains = new Drains();
  /** new streams waiting to be handed to onStream, oldest first */
  private deferred: ServerStream[] = [];
  /** streams we reset or refused lately */
  private readonly resets = new RecentResets();

  /** highest stream id the client has opened */
  private lastStreamId = 0;
  private settingsAcked = false;
  /** holdWork() still running for streams that are closed */
  private orphanedWork = 0;
  /** holdWork() still running, for open or closed streams */
  private runningWork = 0;

  private goawaySent = false;
  private goawayLastId = MAX_WINDOW_SIZE;
  private goawayReceived = false;
  /** no streams left after a GOAWAY: end the socket at the next flush */
  private ending = false;
  /** set when we send HEADERS or DATA: the next ping is forgiven, as gRPC servers do */
  private forgivePing = false;
  lastReadMs = performance.now();

  constructor(
    socket: Socket,
    alreadyRead: Buffer,
    private readonly onStream: (s: H2ServerStream) => void,
    settings: H2Settings,
  ) {
    super(socket);
    const s = (this.s = resolveSettings(settings));
    this.reader = new FrameReader(this, { maxFrameSize: s.maxFrameSize, maxHeaderListSize: s.maxHeaderListSize });
    this.guards = new Guards(this, { ...s, nowMs: () => performance.now() });
    socket.on('data', (chunk: Buffer) => this.onSocketData(chunk));
    // A client that half-closes can start nothing new: finish what is open, then end.
    socket.on('end', () => this.goaway(0, ErrorCode.NO_ERROR));

    // Server preface: our SETTINGS, then the connection window raised.
    this.writer.settings(prefaceEntries(s));
    this.recv = new ReceiveFlow(s.connectionWindowSize, this.writer);
    // The caller may have paused the socket while it looked at the first bytes.
    socket.resume();
    if (alreadyRead.length > 0) this.onSocketData(alreadyRead);
    this.requestFlush();
  }

  get openStreams(): number {
    return this.streams.size;
  }

  get established(): boolean {
    return this.reader.established;
  }

  /** @internal The connection holds as many response bytes as it may: producers should wait. */
  get outputFull(): boolean {
    return this.send.queuedBytes + this.writer.bytes + (this.socket.writableLength ?? 0) > MAX_QUEUED_RESPONSE_BYTES;
  }

  close(): void {
    if (this.dead) return;
    if (!this.goawaySent) {
      this.goawaySent = true;
      this.goawayLastId = this.lastStreamId;
      this.writer.goaway(this.lastStreamId, ErrorCode.NO_ERROR, '');
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

  // ---- guards' hooks -------------------------------------------------------------

  /** @internal */
  sendPing(): void {
    this.writer.ping(false);
    this.requestFlush();
  }

  /** @internal */
  closeIdle(): void {
    this.close();
  }

  /** @internal */
  drop(reason: string): void {
    this.report(new H2Error(ErrorCode.PROTOCOL_ERROR, reason));
    this.destroy();
  }

  // ---- input: FrameSink ------------------------------------------------------------

  private onSocketData(chunk: Buffer): void {
    if (this.dead) return;
    this.lastReadMs = performance.now();
    this.takeTurn(chunk.length);
    try {
      this.reader.push(chunk);
    } catch (err) {
      if (err instanceof H2Error) {
        this.fail(err);
      } else {
        // A bug of ours: report it, but tell the peer no more than that.
        this.report(err);
        this.fail(new H2Error(ErrorCode.INTERNAL_ERROR, 'internal error'), false);
      }
    }
    if (this.writer.bytes > 0) this.requestFlush();
  }

  /** @internal */
  data(id: number, endStream: boolean, payload: Buffer, flowLength: number): void {
    this.recv.take(flowLength);
    const stream = this.streams.get(id);
    if (stream === undefined || stream.remoteClosed || flowLength > stream.recvWindow) {
      this.recv.release(flowLength);
      if (stream !== undefined) return this.resetStream(stream, stream.remoteClosed ? ErrorCode.STREAM_CLOSED : ErrorCode.FLOW_CONTROL_ERROR);
      if (this.isIdle(id)) throw new H2Error(ErrorCode.PROTOCOL_ERROR, `DATA on idle stream ${id}`);
      if (!this.resets.has(id)) this.writeRst(id, ErrorCode.STREAM_CLOSED);
      return;
    }
    stream.recvWindow -= flowLength;
    // Padding is consumed on arrival; the payload when the handler says so.
    this.recv.release(flowLength - payload.length);
    // Set before onData, so that an end() from inside it does not reset a finished request.
    if (endStream) stream.remoteClosed = true;
    if (payload.length > 0) {
      stream.receivedLength += payload.length;
      stream.held += payload.length;
      this.recv.delivered(payload.length);
      if (stream.started) this.deliver(stream, payload);
      else stream.early.push(payload);
    }
    if (stream.closed) return;
    if (endStream) {
      if (stream.started) this.remoteEnded(stream);
      else stream.early.push(null);
    } else {
      stream.recvUnacked += flowLength;
      if (stream.recvUnacked >= this.s.initialWindowSize / 2 && stream.recvUnacked > 0) {
        this.writer.windowUpdate(stream.id, stream.recvUnacked);
        stream.recvWindow += stream.recvUnacked;
        stream.recvUnacked = 0;
      }
    }
    this.recv.widenIfStarved();
  }

  private deliver(stream: ServerStream, payload: Buffer): void {
    try {
      stream.onData(payload);
    } catch (err) {
      this.callbackFailed(stream, err);
    }
    if (stream.consumeOnDelivery && !stream.closed) this.consume(stream, payload.length);
  }

  /** @internal The handler is done with `n` delivered bytes: they may be sent again. */
  consume(stream: ServerStream, n: number): void {
    stream.held -= n;
    this.recv.consumed(n);
    this.requestFlush();
  }

  /** @internal A complete header block: a new request, or trailers of an open one. */
  headers(id: number, endStream: boolean, selfDependent: boolean, status: DecodeStatus, fields: string[]): void {
    const existing = this.streams.get(id);
    if (existing !== undefined) return this.trailerBlock(existing, endStream, status, fields);
    if ((id & 1) === 0) throw new H2Error(ErrorCode.PROTOCOL_ERROR, `client opened even stream ${id}`);
    if (id <= this.lastStreamId) {
      // Late trailers of a stream we reset are fine; anything else reuses a closed id.
      if (this.resets.has(id)) return;
      throw new H2Error(ErrorCode.STREAM_CLOSED, `HEADERS on closed stream ${id}`);
    }
    this.lastStreamId = id;
    if (this.goawaySent && id > this.goawayLastId) return this.resets.add(id);
    if (selfDependent) return this.refuse(id, ErrorCode.PROTOCOL_ERROR);
    if (status === DecodeStatus.TOO_LARGE) {
      this.writer.headers(id, TOO_LARGE_RESPONSE, true);
      if (!endStream) this.writeRst(id, ErrorCode.NO_ERROR);
      return this.resets.add(id);
    }
    if (status === DecodeStatus.MALFORMED) return this.refuse(id, ErrorCode.PROTOCOL_ERROR);
    if (this.streams.size >= this.s.maxConcurrentStreams) return this.refuse(id, ErrorCode.REFUSED_STREAM);
    const headers = requestHeaders(fields);
    if (headers === null) return this.refuse(id, ErrorCode.PROTOCOL_ERROR);
    const initial = this.s.initialWindowSize;
    const stream = new ServerStream(id, headers, this, this.settingsAcked ? initial : Math.max(initial, DEFAULT_WINDOW_SIZE));
    const contentLength = headers['content-length'];
    if (contentLength !== undefined) {
      if (!/^[0-9]{1,15}$/.test(contentLength)) return this.refuse(id, ErrorCode.PROTOCOL_ERROR);
      stream.expectedLength = Number(contentLength);
    }
    this.streams.set(id, stream);
    if (this.streams.size === 1) this.guards.streamsChanged(1);
    if (endStream) stream.remoteClosed = true;
    if (this.mustDefer()) {
      this.deferred.push(stream);
      if (endStream) stream.early.push(null);
      return;
    }
    this.start(stream);
    if (endStream && !stream.closed) this.remoteEnded(stream);
  }

  /** New streams wait while earlier ones wait, the output is full, or reset streams' work fills the stream limit. */
  private mustDefer(): boolean {
    return this.deferred.length > 0 || !this.canStart(this.streams.size - this.deferred.length - 1);
  }

  /** A stream may start beside `others` started ones (see the contract; MAX_RUNNING_WORK). */
  private canStart(others: number): boolean {
    if (this.outputFull || this.runningWork >= MAX_RUNNING_WORK) return false;
    return others + this.orphanedWork < this.s.maxConcurrentStreams;
  }

  /** Hands a stream to the user and replays input that arrived meanwhile. */
  private start(stream: ServerStream): void {
    stream.started = true;
    try {
      this.onStream(stream);
    } catch (err) {
      this.callbackFailed(stream, err);
    }
    const early = stream.early;
    stream.early = [];
    for (const chunk of early) {
      if (stream.closed) return;
      if (chunk === null) this.remoteEnded(stream);
      else this.deliver(stream, chunk);
    }
  }

  private startDeferred(): void {
    while (this.deferred.length > 0 && !this.dead) {
      const next = this.deferred[0]!;
      if (!next.closed && !this.canStart(this.streams.size - this.deferred.length)) return;
      this.deferred.shift();
      if (!next.closed) this.start(next);
    }
  }

  private trailerBlock(stream: ServerStream, endStream: boolean, status: DecodeStatus, fields: string[]): void {
    if (stream.remoteClosed) return this.resetStream(stream, ErrorCode.STREAM_CLOSED);
    if (!endStream || status !== DecodeStatus.OK) return this.resetStream(stream, ErrorCode.PROTOCOL_ERROR);
    const trailers = trailerHeaders(fields);
    if (trailers === null) return this.resetStream(stream, ErrorCode.PROTOCOL_ERROR);
    stream.trailers = trailers;
    if (stream.started) this.remoteEnded(stream);
    else {
      stream.remoteClosed = true;
      stream.early.push(null);
    }
  }

  /** The client finished its side of the stream. */
  private remoteEnded(stream: ServerStream): void {
    stream.remoteClosed = true;
    if (stream.expectedLength >= 0 && stream.expectedLength !== stream.receivedLength) {
      return this.resetStream(stream, ErrorCode.PROTOCOL_ERROR);
    }
    try {
      stream.onEnd();
    } catch (err) {
      this.callbackFailed(stream, err);
    }
    if (!stream.closed && stream.localClosed) this.closeStream(stream);
  }

  /** @internal */
  priorityError(id: number, code: number): void {
    const stream = this.streams.get(id);
    if (stream !== undefined) this.resetStream(stream, code);
    else this.refuse(id, code);
  }

  /** @internal */
  rstStream(id: number): void {
    const stream = this.streams.get(id);
    if (stream === undefined) {
      if (this.isIdle(id)) throw new H2Error(ErrorCode.PROTOCOL_ERROR, `RST_STREAM on idle stream ${id}`);
      return;
    }
    stream.resetByPeer = true;
    this.closeStream(stream);
    if (!this.guards.takeReset()) throw new H2Error(ErrorCode.ENHANCE_YOUR_CALM, 'too many stream resets');
  }

  /** @internal Applies what a SETTINGS frame changed: O(1), whatever the number of streams. */
  settings(changed: Readonly<PeerSettings>): void {
    if (!this.guards.takeSettings()) throw new H2Error(ErrorCode.ENHANCE_YOUR_CALM, 'too many SETTINGS frames');
    if (changed.headerTableSize >= 0) this.writer.setPeerTableSize(changed.headerTableSize);
    if (changed.maxFrameSize >= 0) this.writer.peerMaxFrameSize = changed.maxFrameSize;
    if (changed.initialWindowSize >= 0) this.send.setInitialWindow(changed.initialWindowSize);
    this.writer.settingsAck();
    if (this.send.ready) this.requestFlush();
  }

  /** @internal */
  settingsAck(): void {
    if (this.settingsAcked) return;
    this.settingsAcked = true;
    // Streams opened before the ACK were allowed the default window; now ours applies.
    const shrink = DEFAULT_WINDOW_SIZE - this.s.initialWindowSize;
    if (shrink > 0) for (const stream of this.streams.values()) stream.recvWindow -= shrink;
  }

  /** @internal */
  ping(ack: boolean, payload: Buffer): void {
    if (ack) return;
    if (this.s.keepaliveMinTimeMs > 0) {
      const forgiven = this.forgivePing;
      this.forgivePing = false;
      // grpc-go clients compare the debug data with exactly this, and slow their pings down
      if (!this.guards.pingAllowed(this.s.keepaliveMinTimeMs, forgiven)) {
        throw new H2Error(ErrorCode.ENHANCE_YOUR_CALM, 'client pings too often', 'too_many_pings');
      }
    }
    this.writer.ping(true, payload);
  }

  /** @internal The client opens no more streams; those it opened run to completion. */
  goaway(_lastId: number, _code: number): void {
    this.goawayReceived = true;
    if (this.streams.size === 0) {
      this.ending = true;
      this.requestFlush();
    }
  }

  /** @internal */
  windowUpdate(id: number, increment: number): void {
    if (id === 0) {
      this.send.connectionUpdate(increment);
      if (this.send.ready) this.requestFlush();
      return;
    }
    const stream = this.streams.get(id);
    if (stream === undefined) {
      if (this.isIdle(id)) throw new H2Error(ErrorCode.PROTOCOL_ERROR, `WINDOW_UPDATE on idle stream ${id}`);
      return;
    }
    const error = this.send.streamUpdate(stream, increment);
    if (error !== 0) return this.resetStream(stream, error);
    if (this.send.ready) this.requestFlush();
  }

  /** A stream the client can no longer have sent anything on (it was never opened). */
  private isIdle(id: number): boolean {
    return (id & 1) === 0 || id > this.lastStreamId;
  }

  // ---- stream operations (called by ServerStream) ---------------------------

  /** @internal */
  sendResponseHeaders(stream: ServerStream, headers: OutgoingHeaders, endStream: boolean): void {
    if (this.dead) return;
    this.forgivePing = true;
    this.writer.headers(stream.id, headers, endStream);
    if (endStream) this.localEnded(stream);
    else this.requestFlush();
  }

  /** @internal */
  dataQueued(stream: ServerStream, n: number): void {
    this.send.queued(stream, n);
    if (n > 0 && this.outputFull) this.drains.waitForRoom(stream);
    this.requestFlush();
  }

  /** @internal end() was called; finish now if nothing is queued, else when the queue drains. */
  endQueued(stream: ServerStream): void {
    if (stream.queuedBytes === 0) this.finish(stream);
    else this.dataQueued(stream, 0);
  }

  /** @internal Resets a stream (ours or the user's decision) and closes it. */
  resetStream(stream: ServerStream, code: number): void {
    if (stream.closed) return;
    this.writeRst(stream.id, code);
    this.resets.add(stream.id);
    this.closeStream(stream);
  }

  /** @internal */
  workStarted(): void {
    this.runningWork++;
  }

  /** @internal holdWork() released; work for a closed stream no longer counts as orphaned. */
  workEnded(stream: ServerStream): void {
    this.runningWork--;
    if (stream.closed) this.orphanedWork--;
    if (this.deferred.length > 0) this.requestFlush();
  }

  /** All queued DATA is out: send the trailers or END_STREAM. */
  private finish(stream: ServerStream): void {
    if (this.dead || stream.closed) return;
    this.forgivePing = true;
    if (stream.pendingTrailers !== undefined) {
      this.writer.headers(stream.id, stream.pendingTrailers, true);
      stream.pendingTrailers = undefined;
    } else {
      this.writer.endStream(stream.id);
    }
    this.localEnded(stream);
  }

  /** Our END_STREAM is written. */
  private localEnded(stream: ServerStream): void {
    stream.localClosed = true;
    if (!stream.remoteClosed) {
      // The response is complete; ask the client to stop sending (RFC 9113 8.1).
      this.writeRst(stream.id, ErrorCode.NO_ERROR);
      this.resets.add(stream.id);
    }
    this.closeStream(stream);
    this.requestFlush();
  }

  private closeStream(stream: ServerStream): void {
    if (stream.closed) return;
    stream.closed = true;
    this.streams.delete(stream.id);
    if (this.streams.size === 0) this.guards.streamsChanged(0);
    this.drains.forget(stream);
    this.send.remove(stream, stream.clearQueue());
    this.recv.consumed(stream.held);
    stream.held = 0;
    this.orphanedWork += stream.workHeld;
    if (stream.started) {
      try {
        stream.onClose();
      } catch (err) {
        this.report(err);
      }
    }
    if ((this.goawaySent || this.goawayReceived) && this.streams.size === 0 && !this.dead) {
      this.ending = true;
      this.requestFlush();
    }
  }

  private closeAllStreams(): void {
    this.send.clear();
    this.deferred = [];
    for (const stream of [...this.streams.values()]) this.closeStream(stream);
    this.guards.stop();
  }

  private callbackFailed(stream: ServerStream, err: unknown): void {
    this.report(err);
    if (!stream.closed && !this.dead) this.resetStream(stream, ErrorCode.INTERNAL_ERROR);
  }

  /** Refuses a new stream that never reaches the user. */
  private refuse(id: number, code: number): void {
    this.writeRst(id, code);
    this.resets.add(id);
  }

  private writeRst(id: number, code: number): void {
    this.writer.rst(id, code);
    this.requestFlush();
  }

  // ---- output ------------------------------------------------------------------

  /** Moves one DATA frame from the stream's queue to the writer; returns its payload length. */
  private readonly sendData = (stream: ServerStream, window: number): number => {
    const n = Math.min(stream.queuedBytes, window, this.send.connWindow, this.writer.peerMaxFrameSize);
    this.forgivePing = true;
    const last = n === stream.queuedBytes && stream.endRequested && stream.pendingTrailers === undefined;
    this.writer.data(stream.id, stream, n, last);
    stream.dequeue(n);
    this.drains.sent(stream);
    if (last) this.localEnded(stream);
    else if (stream.queuedBytes === 0 && stream.endRequested) this.finish(stream);
    return n;
  };

  /** @internal Runs once per event-loop turn when there is output or sendable data. */
  flush(): void {
    if (!this.beginFlush()) return;
    this.inFlush = true;
    try {
      if (!this.dead && !this.socketBlocked) this.send.pump(FLUSH_DATA_BUDGET, this.sendData);
      this.writeOut();
    } catch (err) {
      if (err instanceof H2Error) this.fail(err);
      else throw err;
    } finally {
      this.inFlush = false;
    }
    this.drains.run(!this.outputFull, (stream, err) => this.callbackFailed(stream, err));
    if (!this.dead && this.deferred.length > 0) this.startDeferred();
    if (this.ending && !this.dead && this.streams.size === 0) {
      this.writeOut();
      this.dead = true;
      this.endSocket();
      return;
    }
    // More to send that only the budget held back (or callbacks added): next turn.
    if ((!this.socketBlocked && this.send.ready) || this.writer.bytes > 0) {
      this.requestFlush();
    }
  }

  // ---- teardown ------------------------------------------------------------------

  /** Connection error: GOAWAY with the code, then close. */
  private fail(err: H2Error, report = true): void {
    if (this.dead) return;
    if (report) this.report(err);
    this.reader.stop();
    this.writer.goaway(this.lastStreamId, err.code, err.debugData ?? err.message);
    this.dead = true;
    this.writeOut();
    this.endSocket();
    this.closeAllStreams();
  }

  protected socketClosed(): void {
    this.closeAllStreams();
  }
}
