// Read and write deadlines on raft stream connections (--raft-read-timeout and
// --raft-write-timeout, etcd 3.5, both 5 s by default). etcd sets them on every read and
// write of its peer connections; here:
//  - the receiving end closes a stream on which nothing arrived for the read timeout
//    (a peer that vanished without a FIN, a cut cable), so the sender redials;
//  - the sending end closes a stream whose written bytes were not taken by the network
//    within the write timeout (the receiver stopped reading);
//  - so that an idle stream (between two followers nothing else flows) is not cut, the
//    sender writes a link heartbeat, an empty frame, every third of the read timeout when
//    it wrote nothing else, as etcd's stream writer does. Receivers skip empty frames.
// A timeout of 0 sets no deadline.
import type net from 'node:net';
import { destroyWhenIdle, systemClock, type Clock, type Timer } from '../pkg/clock.js';

export const DEFAULT_RAFT_TIMEOUT_MS = 5_000;
/** an empty length-prefixed frame: no raft message is empty */
export const LINK_HEARTBEAT = Buffer.alloc(4);

export interface RaftConnTimeouts {
  readTimeoutMs: number;
  writeTimeoutMs: number;
}

export const DEFAULT_RAFT_TIMEOUTS: RaftConnTimeouts = { readTimeoutMs: DEFAULT_RAFT_TIMEOUT_MS, writeTimeoutMs: DEFAULT_RAFT_TIMEOUT_MS };

/** The sending end of one stream: writes with a deadline, heartbeats while idle. */
export class StreamLink {
  private wroteSinceTick = false;
  private writeTimer: Timer | undefined;
  private readonly heartbeat: Timer | undefined;

  constructor(
    private readonly socket: net.Socket,
    private readonly timeouts: RaftConnTimeouts,
    private readonly clock: Pick<Clock, 'after' | 'every'> = systemClock,
  ) {
    socket.on('drain', () => this.clearWriteTimer());
    socket.once('close', () => this.close());
    if (timeouts.readTimeoutMs > 0) {
      this.heartbeat = clock.every(Math.max(1, Math.floor(timeouts.readTimeoutMs / 3)), () => {
        if (!this.wroteSinceTick) this.write(LINK_HEARTBEAT);
        this.wroteSinceTick = false;
      });
    }
  }

  write(bytes: Uint8Array): void {
    this.wroteSinceTick = true;
    if (this.socket.write(bytes) || this.timeouts.writeTimeoutMs <= 0 || this.writeTimer) return;
    // the kernel's buffer is full: the receiver must take the bytes before the deadline
    this.writeTimer = this.clock.after(this.timeouts.writeTimeoutMs, () => {
      this.socket.destroy(new Error(`write ${this.socket.remoteAddress}:${this.socket.remotePort}: i/o timeout`));
    });
  }

  close(): void {
    this.heartbeat?.cancel();
    this.clearWriteTimer();
  }

  private clearWriteTimer(): void {
    this.writeTimer?.cancel();
    this.writeTimer = undefined;
  }
}

/** The receiving end: close the stream when nothing arrives for the read timeout. */
export function armReadDeadline(socket: net.Socket, readTimeoutMs: number): void {
  if (readTimeoutMs <= 0) return;
  destroyWhenIdle(socket, readTimeoutMs, () => new Error(`read ${socket.remoteAddress}:${socket.remotePort}: i/o timeout`));
}
