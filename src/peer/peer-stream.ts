// The outgoing message stream to one peer: a bounded queue flushed with one socket
// write per event-loop turn. The stream is kept connected, as etcd keeps its peer
// streams: dialed when the peer is added and redialed with backoff when it drops, so a
// member knows which peers are reachable before raft has anything to say. Raft
// tolerates lost messages, so when the queue is full or the peer is down messages are
// dropped and the peer is reported unreachable (raft then probes it gently).
import type net from 'node:net';
import { dial, type PeerTlsOptions } from './dialer.js';
import { BAD_CERT_TEXT, encodeHello, frameAll, RAFT_PREFACE, REJECT_BAD_CERT, REJECT_REMOVED, type Hello } from './protocol.js';

/** queued messages per peer before new ones are dropped (etcd buffers 4096 per stream) */
export const MAX_QUEUED_MESSAGES = 4096;
const MAX_QUEUED_BYTES = 64 * 1024 * 1024;
const DIAL_TIMEOUT_MS = 1000;
const MAX_BACKOFF_MS = 1000;

export interface PeerStreamEvents {
  onUnreachable(): void;
  onActive(): void;
  /** the peer says this member was removed from the cluster */
  onRemoved(): void;
  log(msg: string, fields: Record<string, unknown>): void;
  warn(msg: string, fields: Record<string, unknown>): void;
}

/** Go's words for the TLS failures Node reports by code, so logs read as etcd's do. */
function goDialError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  switch (e?.code) {
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
      return 'x509: certificate signed by unknown authority';
    case 'CERT_HAS_EXPIRED':
    case 'CERT_NOT_YET_VALID':
      return 'x509: certificate has expired or is not yet valid';
    case 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE':
      return BAD_CERT_TEXT;
    case 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA':
      return 'remote error: tls: unknown certificate authority';
    case 'ECONNREFUSED':
      return `dial tcp ${e.message.replace(/^connect ECONNREFUSED /, '')}: connect: connection refused`;
    default:
      return e?.message ?? String(err);
  }
}

export class PeerStream {
  private socket: net.Socket | undefined;
  private connecting = false;
  private queue: Uint8Array[] = [];
  private queuedBytes = 0;
  private flushScheduled = false;
  /** a dial failure was logged and no stream has worked since */
  private failureLogged = false;
  private backoffMs = 50;
  private nextDialAtMs = 0;
  private closed = false;
  private wasConnected = false;
  private redialTimer: NodeJS.Timeout | undefined;

  constructor(
    private urls: string[],
    private readonly hello: Hello,
    private readonly tlsOpts: PeerTlsOptions | undefined,
    private readonly events: PeerStreamEvents,
  ) {}

  setUrls(urls: string[]): void {
    this.urls = urls;
  }

  /** Connects now and keeps the stream connected from then on. */
  start(): void {
    this.connect();
  }

  /** The peer just reached us: it is up, so dial it now rather than after the backoff. */
  kick(): void {
    if (this.socket || this.connecting || this.closed) return;
    this.backoffMs = 50;
    this.nextDialAtMs = 0;
    if (this.redialTimer) clearTimeout(this.redialTimer);
    this.redialTimer = undefined;
    this.connect();
  }

  private scheduleRedial(): void {
    if (this.closed || this.redialTimer) return;
    this.redialTimer = setTimeout(() => {
      this.redialTimer = undefined;
      if (!this.socket) this.connect();
    }, Math.max(0, this.nextDialAtMs - Date.now()));
    this.redialTimer.unref();
  }

  get connected(): boolean {
    return this.socket !== undefined;
  }

  send(message: Uint8Array): void {
    if (this.closed) return;
    if (this.queue.length >= MAX_QUEUED_MESSAGES || this.queuedBytes + message.length > MAX_QUEUED_BYTES) {
      this.events.onUnreachable();
      return;
    }
    this.queue.push(message);
    this.queuedBytes += message.length;
    if (!this.socket) {
      this.connect();
      return;
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    if (!this.socket || this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    this.queuedBytes = 0;
    this.socket.write(frameAll(batch));
  }

  private connect(): void {
    if (this.connecting || this.closed || Date.now() < this.nextDialAtMs) {
      // not yet: if the peer stays down, raft sees it as unreachable; the redial comes
      if (!this.connecting && !this.closed) {
        this.dropQueue();
        this.scheduleRedial();
      }
      return;
    }
    this.connecting = true;
    void this.dialAny().then(
      (socket) => {
        this.connecting = false;
        if (this.closed) {
          socket.destroy();
          return;
        }
        this.backoffMs = 50;
        socket.write(Buffer.concat([RAFT_PREFACE, encodeHello(this.hello)]));
        socket.on('error', () => {});
        socket.on('close', () => this.onClose(socket));
        // the receiver writes only to say this member was removed, or that it refuses our certificate
        socket.on('data', (b: Buffer) => {
          if (b[0] === REJECT_REMOVED) this.events.onRemoved();
          else if (b[0] === REJECT_BAD_CERT) this.dialFailed(BAD_CERT_TEXT);
        });
        this.socket = socket;
        if (!this.wasConnected) this.events.log('established a stream to the remote peer', { 'remote-peer-id': this.hello.to.toString(16) });
        this.failureLogged = false;
        this.wasConnected = true;
        this.events.onActive();
        this.flush();
      },
      (err) => {
        this.connecting = false;
        this.dialFailed(goDialError(err));
        this.nextDialAtMs = Date.now() + this.backoffMs;
        this.backoffMs = Math.min(this.backoffMs * 2, MAX_BACKOFF_MS);
        this.dropQueue();
        this.scheduleRedial();
      },
    );
  }

  /**
   * etcd's peer status: the first failure after the peer was reachable (or ever) is
   * logged as etcd logs it; repeats are not, until a stream works again.
   */
  private dialFailed(reason: string): void {
    if (this.failureLogged) return;
    this.failureLogged = true;
    const id = this.hello.to.toString(16);
    this.events.warn('peer became inactive (message send to peer failed)', { 'peer-id': id, error: `failed to dial ${id} on stream Message (${reason})` });
  }

  private dropQueue(): void {
    if (this.queue.length === 0) return;
    this.queue = [];
    this.queuedBytes = 0;
    this.events.onUnreachable();
  }

  private async dialAny(): Promise<net.Socket> {
    let last: unknown;
    for (const url of this.urls) {
      try {
        return await dial(url, this.tlsOpts, DIAL_TIMEOUT_MS);
      } catch (err) {
        last = err;
      }
    }
    throw last ?? new Error('peer has no URLs');
  }

  private onClose(socket: net.Socket): void {
    if (this.socket !== socket) return;
    this.socket = undefined;
    if (this.wasConnected && !this.closed) this.events.log('lost the stream to the remote peer', { 'remote-peer-id': this.hello.to.toString(16) });
    this.wasConnected = false;
    this.events.onUnreachable();
    this.nextDialAtMs = Date.now() + this.backoffMs;
    this.scheduleRedial();
  }

  close(): void {
    this.closed = true;
    if (this.redialTimer) clearTimeout(this.redialTimer);
    this.redialTimer = undefined;
    this.queue = [];
    this.socket?.destroy();
    this.socket = undefined;
  }
}
