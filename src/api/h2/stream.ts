// One request/response exchange on a connection. The stream keeps its own state and
// send queue; every frame it causes is written by its connection.
//
// Contract: the user-facing methods (respond, write, end, reset, consumed, holdWork)
// may be called at any time, also after close (then they do nothing). Input that
// arrives before the connection starts the stream (see Connection: starts wait while
// the connection is over its work or output bounds) is kept here and replayed in
// order by start().

import type { Connection } from './connection.js';
import { ErrorCode } from './frames.js';
import type { H2ServerStream, OutgoingHeaders } from './types.js';

/** write() returns false above this many queued, unsent bytes. */
export const STREAM_HIGH_WATER_MARK = 64 * 1024;

const DEFAULT_RESPONSE: OutgoingHeaders = Object.freeze({ ':status': 200 });
const EMPTY = Buffer.alloc(0);
const noop = (): void => {};

export class ServerStream implements H2ServerStream {
  onData: (chunk: Buffer) => void = noop;
  onEnd: () => void = noop;
  onClose: () => void = noop;
  onDrain: () => void = noop;
  trailers: Record<string, string> | undefined = undefined;
  consumeOnDelivery = true;
  headersSent = false;
  closed = false;

  // Everything below belongs to the connection.
  /**
   * WINDOW_UPDATE increments minus DATA bytes sent. The peer's window for this stream is
   * this plus the connection's current peer INITIAL_WINDOW_SIZE, so a SETTINGS change
   * moves every stream's window without visiting any (RFC 9113 6.9.2).
   */
  sendCredit = 0;
  /** bytes the peer may still send us */
  recvWindow: number;
  /** bytes delivered to the user and not yet consumed */
  held = 0;
  /** bytes consumed since our last WINDOW_UPDATE for this stream */
  recvUnacked = 0;
  /** the peer sent END_STREAM */
  remoteClosed = false;
  /** our END_STREAM has been written */
  localClosed = false;
  /** end() (or a header-only respond()) was called: no more writes */
  endRequested = false;
  pendingTrailers: OutgoingHeaders | undefined = undefined;
  /** queued DATA: queue[queueHead..], the first one from queueOffset */
  queue: Buffer[] = [];
  queueHead = 0;
  queueOffset = 0;
  queuedBytes = 0;
  needDrain = false;
  /** content-length of the request, or -1 */
  expectedLength = -1;
  receivedLength = 0;
  /** handed to the user (onStream called); until then input waits in `early` */
  started = false;
  /** DATA chunks, then null for END_STREAM, that arrived before start() */
  early: Array<Buffer | null> = [];
  /** holdWork() calls not yet released */
  workHeld = 0;
  /** closed by the client's RST_STREAM */
  resetByPeer = false;

  constructor(
    readonly id: number,
    readonly headers: Record<string, string>,
    readonly connection: Connection,
    recvWindow: number,
  ) {
    this.recvWindow = recvWindow;
  }

  respond(headers: OutgoingHeaders, endStream = false): void {
    if (this.closed || this.endRequested) return;
    if (this.headersSent) throw new Error(`h2: stream ${this.id}: response headers already sent`);
    if (headers[':status'] === undefined) throw new Error(`h2: stream ${this.id}: response headers without ':status'`);
    this.headersSent = true;
    if (endStream) this.endRequested = true;
    this.connection.sendResponseHeaders(this, headers, endStream);
  }

  write(data: Uint8Array): boolean {
    if (this.closed || this.endRequested) return false;
    if (!this.headersSent) this.respond(DEFAULT_RESPONSE);
    if (data.length > 0) {
      this.queue.push(Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength));
      this.queuedBytes += data.length;
      this.connection.dataQueued(this, data.length);
    }
    if (this.queuedBytes > STREAM_HIGH_WATER_MARK || this.connection.outputFull) {
      this.needDrain = true;
      return false;
    }
    return true;
  }

  end(trailers?: OutgoingHeaders): void {
    if (this.closed || this.endRequested) return;
    if (!this.headersSent) {
      if (trailers === undefined && this.queuedBytes === 0) {
        this.respond(DEFAULT_RESPONSE, true);
        return;
      }
      this.respond(DEFAULT_RESPONSE);
    }
    this.endRequested = true;
    this.pendingTrailers = trailers;
    this.connection.endQueued(this);
  }

  reset(code: number = ErrorCode.CANCEL): void {
    if (this.closed) return;
    this.connection.resetStream(this, code);
  }

  consumed(n: number): void {
    if (this.closed || n <= 0) return;
    this.connection.consume(this, Math.min(n, this.held));
  }

  holdWork(): () => void {
    this.workHeld++;
    this.connection.workStarted();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.workHeld--;
      this.connection.workEnded(this);
    };
  }

  /** Takes `n` bytes off the front of the queue (the caller has copied or referenced them). */
  dequeue(n: number): void {
    this.queuedBytes -= n;
    while (n > 0) {
      const first = this.queue[this.queueHead]!;
      const left = first.length - this.queueOffset;
      if (n < left) {
        this.queueOffset += n;
        return;
      }
      n -= left;
      this.queue[this.queueHead++] = EMPTY;
      this.queueOffset = 0;
    }
    if (this.queueHead === this.queue.length) {
      this.queue.length = 0;
      this.queueHead = 0;
    }
  }

  /** Drops all queued data (the stream is closing); returns how many bytes were queued. */
  clearQueue(): number {
    const n = this.queuedBytes;
    this.queue = [];
    this.queueHead = 0;
    this.queueOffset = 0;
    this.queuedBytes = 0;
    this.early = [];
    return n;
  }
}

/**
 * Streams to tell they may write again (onDrain): those whose queue fell to the
 * high-water mark, and those that wait for the connection's output to fall below its
 * bound. Collected while sending, told at the end of a flush.
 */
export class Drains {
  private ready: ServerStream[] = [];
  private readonly waitingForRoom = new Set<ServerStream>();

  waitForRoom(stream: ServerStream): void {
    this.waitingForRoom.add(stream);
  }

  forget(stream: ServerStream): void {
    this.waitingForRoom.delete(stream);
  }

  /** DATA left the stream's queue. */
  sent(stream: ServerStream): void {
    if (stream.needDrain && stream.queuedBytes <= STREAM_HIGH_WATER_MARK && !this.waitingForRoom.has(stream)) {
      stream.needDrain = false;
      this.ready.push(stream);
    }
  }

  /** Calls onDrain where due; `roomLeft`: the connection's output is below its bound. */
  run(roomLeft: boolean, failed: (stream: ServerStream, err: unknown) => void): void {
    if (roomLeft && this.waitingForRoom.size > 0) {
      for (const stream of this.waitingForRoom) {
        if (!stream.needDrain || stream.queuedBytes > STREAM_HIGH_WATER_MARK) continue;
        stream.needDrain = false;
        this.ready.push(stream);
      }
      this.waitingForRoom.clear();
    }
    if (this.ready.length === 0) return;
    const list = this.ready;
    this.ready = [];
    for (const stream of list) {
      // closed, or written to again past the mark since
      if (stream.closed || stream.needDrain) continue;
      try {
        stream.onDrain();
      } catch (err) {
        failed(stream, err);
      }
    }
  }
}

/** Streams we remember as reset by us, so late frames on them are ignored quietly. */
const RESET_MEMORY = 512;

/** The ids of the last RESET_MEMORY streams we reset or refused. */
export class RecentResets {
  private readonly ids = new Set<number>();
  private readonly order: number[] = [];

  has(id: number): boolean {
    return this.ids.has(id);
  }

  add(id: number): void {
    if (this.ids.has(id)) return;
    this.ids.add(id);
    this.order.push(id);
    if (this.order.length > RESET_MEMORY) this.ids.delete(this.order.shift()!);
  }
}
