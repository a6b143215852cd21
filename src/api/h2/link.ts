// The socket end of an HTTP/2 server connection: the FrameWriter's output handed to the
// socket once per event-loop turn, back-pressure from the socket, input fairness between
// connections, the linger after a GOAWAY, and error reporting. Connection (the state machine) extends it.
//
// Contract: frames are only appended to `writer`; requestFlush() makes flush() run at
// the end of the turn; writeOut() is the only place bytes reach the socket.

import type { Socket } from 'node:net';
import { DEFAULT_MAX_FRAME_SIZE, ErrorCode, H2Error, reportError } from './frames.js';
import { FrameWriter } from './frame-writer.js';
import { scheduleFlush } from './output.js';

/** The peer stopped reading while making us write (PING, SETTINGS, ...): give up. */
const MAX_SOCKET_BACKLOG = 8 << 20;
/** Time given to a GOAWAY to leave before the socket is destroyed. */
const LINGER_MS = 2000;
/**
 * Input handled per connection per event-loop turn before its socket is paused until
 * the next: libuv reads up to 32 chunks from a busy socket at once, which would let one
 * flooding client delay every other connection by milliseconds per turn.
 */
const MAX_INPUT_BYTES_PER_TURN = 64 * 1024;

export abstract class SocketLink {
  onError: ((err: Error) => void) | undefined = undefined;
  protected readonly writer = new FrameWriter(DEFAULT_MAX_FRAME_SIZE);
  /** connection failed or socket gone: ignore input, write nothing more */
  protected dead = false;
  /** the socket's buffer is above its high-water mark: wait for 'drain' */
  protected socketBlocked = false;
  protected inFlush = false;
  private flushQueued = false;
  private lingerTimer: NodeJS.Timeout | undefined = undefined;
  /** bytes read since the socket was last paused for fairness */
  private turnBytes = 0;

  constructor(readonly socket: Socket) {
    socket.setNoDelay?.(true);
    socket.on('drain', () => {
      this.socketBlocked = false;
      this.requestFlush();
    });
    socket.on('error', (err: Error) => this.report(err));
    socket.on('close', () => {
      if (this.lingerTimer !== undefined) clearTimeout(this.lingerTimer);
      this.dead = true;
      this.socketClosed();
    });
  }

  /** Runs once per event-loop turn after requestFlush(). */
  abstract flush(): void;
  /** The socket is closed: release everything. */
  protected abstract socketClosed(): void;

  /** Reads at most MAX_INPUT_BYTES_PER_TURN from the socket per event-loop turn, so that one busy client cannot hold the loop. */
  protected takeTurn(n: number): void {
    this.turnBytes += n;
    if (this.turnBytes < MAX_INPUT_BYTES_PER_TURN || this.socket.isPaused?.() !== false) return;
    this.socket.pause();
    setImmediate(() => {
      this.turnBytes = 0;
      if (!this.dead) this.socket.resume();
    });
  }

  protected requestFlush(): void {
    if (this.flushQueued || this.inFlush) return;
    this.flushQueued = true;
    scheduleFlush(this);
  }

  /** flush() calls this first: false when the socket is gone. */
  protected beginFlush(): boolean {
    this.flushQueued = false;
    return !this.socket.destroyed;
  }

  protected writeOut(): void {
    if (this.writer.writeTo(this.socket)) return;
    this.socketBlocked = true;
    if (this.socket.writableLength > MAX_SOCKET_BACKLOG) {
      this.report(new H2Error(ErrorCode.ENHANCE_YOUR_CALM, 'peer is not reading; dropping the connection'));
      this.dead = true;
      this.socket.destroy();
    }
  }

  protected endSocket(): void {
    this.socket.end();
    // Keep reading (and discarding) so the GOAWAY is not lost to a TCP reset, but not forever.
    this.lingerTimer = setTimeout(() => this.socket.destroy(), LINGER_MS);
    this.lingerTimer.unref();
  }

  protected report(err: unknown): void {
    reportError(this.onError, err);
  }
}
