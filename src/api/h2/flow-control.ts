// HTTP/2 flow control (RFC 9113 5.2, 6.9) for one server connection, as bookkeeping the
// connection consults: how much the client may still send us (ReceiveFlow), and how
// much we may send it and which streams can (SendFlow).
//
// Contract: both are plain counters and sets; ReceiveFlow writes only WINDOW_UPDATE
// frames (stream 0) to the writer it is given, SendFlow writes nothing. Every method
// is O(1) in the number of streams except SendFlow.pump, which visits the streams it
// sends from (and, once after the peer's initial window grew, the blocked ones).

import { DEFAULT_MAX_FRAME_SIZE, DEFAULT_WINDOW_SIZE, ErrorCode, H2Error, MAX_WINDOW_SIZE } from './frames.js';
import type { FrameWriter } from './frame-writer.js';

/**
 * Request bytes delivered to handlers and not yet consumed, per connection. The
 * connection window reopens as handlers consume; when it runs dry while handlers hold
 * partial messages it is widened, up to this, so concurrent large requests cannot
 * deadlock — and a client cannot make the member buffer more than this.
 */
export const MAX_HELD_REQUEST_BYTES = 64 << 20;

/** The connection's receive window: reopened as handlers consume what they were given. */
export class ReceiveFlow {
  /** bytes the client may still send */
  private window = DEFAULT_WINDOW_SIZE;
  /** bytes consumed since our last WINDOW_UPDATE */
  private unacked = 0;
  /** window granted beyond `size` so that partial messages cannot deadlock */
  private extra = 0;
  /** bytes delivered to streams and not consumed */
  held = 0;

  constructor(
    /** the window we keep open: our connectionWindowSize */
    private readonly size: number,
    private readonly writer: FrameWriter,
  ) {
    if (size > DEFAULT_WINDOW_SIZE) {
      writer.windowUpdate(0, size - DEFAULT_WINDOW_SIZE);
      this.window = size;
    }
  }

  /** A DATA frame of `flowLength` arrived; a connection error beyond the window. */
  take(flowLength: number): void {
    if (flowLength > this.window) {
      throw new H2Error(ErrorCode.FLOW_CONTROL_ERROR, `DATA of ${flowLength} bytes beyond the connection window`);
    }
    this.window -= flowLength;
  }

  /** Bytes that never reach a handler (padding, DATA on closed streams): free at once. */
  release(n: number): void {
    this.unacked += n;
    if (this.unacked < this.size / 2) return;
    // window granted to get past partial messages is taken back first
    const back = Math.min(this.extra, this.unacked);
    this.extra -= back;
    this.unacked -= back;
    if (this.unacked === 0) return;
    this.writer.windowUpdate(0, this.unacked);
    this.window += this.unacked;
    this.unacked = 0;
  }

  delivered(n: number): void {
    this.held += n;
  }

  consumed(n: number): void {
    this.held -= n;
    this.release(n);
  }

  /**
   * The window is (nearly) used up by bytes handlers hold unconsumed, which may be
   * partial messages waiting for the rest: widen it, within MAX_HELD_REQUEST_BYTES.
   */
  widenIfStarved(): void {
    if (this.window >= DEFAULT_MAX_FRAME_SIZE || this.held < this.size / 2) return;
    const grant = Math.min(this.size / 2, MAX_HELD_REQUEST_BYTES - this.size - this.extra);
    if (grant <= 0) return;
    this.extra += grant;
    this.window += grant;
    this.writer.windowUpdate(0, grant);
  }
}

/** What SendFlow needs of a stream. */
export interface SendingStream {
  readonly id: number;
  readonly closed: boolean;
  readonly queuedBytes: number;
  /** WINDOW_UPDATE increments minus DATA bytes sent; the window is this plus the peer's initial window */
  sendCredit: number;
}

/** The peer's windows, and which streams have DATA the windows may let out. */
export class SendFlow<S extends SendingStream> {
  /** the peer's SETTINGS_INITIAL_WINDOW_SIZE */
  private peerInitialWindow = DEFAULT_WINDOW_SIZE;
  /** the peer's connection window */
  connWindow = DEFAULT_WINDOW_SIZE;
  /** DATA bytes waiting in stream queues */
  queuedBytes = 0;
  /** streams with queued DATA that the windows may let out */
  private readonly sendable = new Set<S>();
  /** streams with queued DATA and a stream window ≤ 0 */
  private readonly blocked = new Set<S>();
  /** the peer's initial window grew: blocked streams may send again */
  private recheckBlocked = false;

  /** The peer's window for the stream (RFC 9113 6.9.2: moves with every INITIAL_WINDOW_SIZE change). */
  windowOf(stream: S): number {
    return stream.sendCredit + this.peerInitialWindow;
  }

  /** Something may be sent once the socket allows. */
  get ready(): boolean {
    return (this.sendable.size > 0 || this.recheckBlocked) && this.connWindow > 0;
  }

  /** The peer's SETTINGS_INITIAL_WINDOW_SIZE: O(1), every stream's window moves with it. */
  setInitialWindow(value: number): void {
    if (value > this.peerInitialWindow && this.blocked.size > 0) this.recheckBlocked = true;
    this.peerInitialWindow = value;
  }

  connectionUpdate(increment: number): void {
    if (increment === 0) throw new H2Error(ErrorCode.PROTOCOL_ERROR, 'WINDOW_UPDATE of 0 on the connection');
    this.connWindow += increment;
    if (this.connWindow > MAX_WINDOW_SIZE) throw new H2Error(ErrorCode.FLOW_CONTROL_ERROR, 'connection window overflow');
  }

  /** A stream WINDOW_UPDATE; returns a stream error code, or 0. */
  streamUpdate(stream: S, increment: number): number {
    if (increment === 0) return ErrorCode.PROTOCOL_ERROR;
    stream.sendCredit += increment;
    const window = this.windowOf(stream);
    if (window > MAX_WINDOW_SIZE) return ErrorCode.FLOW_CONTROL_ERROR;
    if (stream.queuedBytes > 0 && window > 0) {
      this.blocked.delete(stream);
      this.sendable.add(stream);
    }
    return 0;
  }

  queued(stream: S, n: number): void {
    this.queuedBytes += n;
    this.sendable.add(stream);
  }

  /** The stream closed with `dropped` bytes still queued. */
  remove(stream: S, dropped: number): void {
    this.queuedBytes -= dropped;
    this.sendable.delete(stream);
    this.blocked.delete(stream);
  }

  clear(): void {
    this.sendable.clear();
    this.blocked.clear();
  }

  /**
   * Calls send(stream, window) round-robin, one frame per stream, while the windows and
   * `budget` bytes allow; send returns the payload bytes it sent (it dequeues them).
   */
  pump(budget: number, send: (stream: S, window: number) => number): void {
    if (this.recheckBlocked) {
      this.recheckBlocked = false;
      for (const stream of this.blocked) this.sendable.add(stream);
      this.blocked.clear();
    }
    while (this.sendable.size > 0 && this.connWindow > 0 && budget > 0) {
      for (const stream of this.sendable) {
        const window = this.windowOf(stream);
        if (stream.queuedBytes === 0 || window <= 0 || stream.closed) {
          this.sendable.delete(stream);
          if (window <= 0 && stream.queuedBytes > 0 && !stream.closed) this.blocked.add(stream);
          continue;
        }
        // a window SETTINGS pushed past the maximum, found when it is used (RFC 9113 6.9.2)
        if (window > MAX_WINDOW_SIZE) throw new H2Error(ErrorCode.FLOW_CONTROL_ERROR, `stream ${stream.id} window overflow`);
        const n = send(stream, window);
        budget -= n;
        this.queuedBytes -= n;
        stream.sendCredit -= n;
        this.connWindow -= n;
        if (stream.queuedBytes === 0) this.sendable.delete(stream);
        if (this.connWindow <= 0 || budget <= 0) break;
      }
    }
  }
}
