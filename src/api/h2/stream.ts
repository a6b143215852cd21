// One request/response exchange on a connection. The stream keeps its own state and
// send queue; every frame it causes is written by its connection.

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
  headersSent = false;
  closed = false;

  // Everything below belongs to the connection.
  /** bytes we may still send (the peer's window; negative after a SETTINGS shrink) */
  sendWindow: number;
  /** bytes the peer may still send us */
  recvWindow: number;
  /** bytes delivered since our last WINDOW_UPDATE for this stream */
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

  constructor(
    readonly id: number,
    readonly headers: Record<string, string>,
    readonly connection: Connection,
    sendWindow: number,
    recvWindow: number,
  ) {
    this.sendWindow = sendWindow;
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
      this.connection.dataQueued(this);
    }
    if (this.queuedBytes > STREAM_HIGH_WATER_MARK) {
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

  /** Drops all queued data (the stream is closing). */
  clearQueue(): void {
    this.queue = [];
    this.queueHead = 0;
    this.queueOffset = 0;
    this.queuedBytes = 0;
  }
}
