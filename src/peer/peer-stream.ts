// The outgoing message stream to one peer: a bounded queue flushed with one socket
// write per event-loop turn. The stream is kept connected, as etcd keeps its peer
// streams: dialed when the peer is added and redialed with backoff when it drops, so a
// member knows which peers are reachable before raft has anything to say. Raft
// tolerates lost messages, so when the queue is full or the peer is down messages are
// dropped and the peer is reported unreachable (raft then probes it gently).
//
// Failed dials, refused streams (the peer says why: another cluster, a removed member)
// and streams that drop before they proved stable back off exponentially with jitter,
// so a peer of another cluster is not redialed many times a second. The log gets one
// line per change of state (up, unreachable for a reason, refused for a reason), not one
// per attempt.
import type net from 'node:net';
import { systemClock, type Clock, type Timer } from '../pkg/clock.js';
import { CertificateRefusedError, dial, type PeerTlsOptions } from './dialer.js';
import { DEFAULT_RAFT_TIMEOUTS, StreamLink, type RaftConnTimeouts } from './link-deadlines.js';
import { BAD_CERT_TEXT, encodeHello, frameAll, MAX_REJECT_REASON_BYTES, RAFT_PREFACE, REJECT_BAD_CERT, REJECT_REMOVED, REJECT_WITH_REASON, type Hello } from './protocol.js';

/** queued messages per peer before new ones are dropped (etcd buffers 4096 per stream) */
export const MAX_QUEUED_MESSAGES = 4096;
const MAX_QUEUED_BYTES = 64 * 1024 * 1024;
const DIAL_TIMEOUT_MS = 1000;
const BASE_BACKOFF_MS = 50;
/** a peer that is down is redialed at least this often: raft wants it back soon after it restarts */
export const MAX_BACKOFF_MS = 1000;
/** a peer that refuses us will not change its mind soon, and each try may cost a TLS handshake */
export const MAX_REFUSED_BACKOFF_MS = 10_000;
/** a stream that stays open this long was accepted: the backoff starts over */
export const STABLE_AFTER_MS = 2000;

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

/** Time, timers and randomness: the member's clock, injected so tests can pin the backoff. */
export type PeerStreamClock = Pick<Clock, 'nowMs' | 'random' | 'after' | 'every'>;

/** The next backoff after a failure, and the delay to wait now: half fixed, half random. */
export function nextBackoff(backoffMs: number, capMs: number, random: () => number): { backoffMs: number; delayMs: number } {
  const delayMs = Math.round(backoffMs / 2 + (random() * backoffMs) / 2);
  return { backoffMs: Math.min(backoffMs * 2, capMs), delayMs };
}

export class PeerStream {
  private socket: net.Socket | undefined;
  private link: StreamLink | undefined;
  private connecting = false;
  private queue: Uint8Array[] = [];
  private queuedBytes = 0;
  private flushScheduled = false;
  /** etcd's "peer became inactive" was logged and no stream has proved stable since */
  private failureLogged = false;
  private backoffMs = BASE_BACKOFF_MS;
  private nextDialAtMs = 0;
  private closed = false;
  private redialTimer: Timer | undefined;
  private stableTimer: Timer | undefined;
  /** the state last logged: 'up', 'unreachable: why' or 'refused: why' */
  private loggedState = '';
  /** the last stream closed before it proved stable (e.g. the peer refused our certificate) */
  private lastCloseWasShort = false;

  constructor(
    private urls: string[],
    private readonly hello: Hello,
    private readonly tlsOpts: PeerTlsOptions | undefined,
    private readonly events: PeerStreamEvents,
    private readonly clock: PeerStreamClock = systemClock,
    private readonly timeouts: RaftConnTimeouts = DEFAULT_RAFT_TIMEOUTS,
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
    // a peer that refuses our streams may still dial us: let its refusal's backoff run
    if (this.loggedState.startsWith('refused:')) return;
    this.backoffMs = BASE_BACKOFF_MS;
    this.nextDialAtMs = 0;
    this.redialTimer?.cancel();
    this.redialTimer = undefined;
    this.connect();
  }

  private scheduleRedial(): void {
    if (this.closed || this.redialTimer) return;
    this.redialTimer = this.clock.after(this.nextDialAtMs - this.clock.nowMs(), () => {
      this.redialTimer = undefined;
      if (!this.socket) this.connect();
    });
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
    this.link?.write(frameAll(batch));
  }

  private connect(): void {
    if (this.connecting || this.closed || this.clock.nowMs() < this.nextDialAtMs) {
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
        if (this.closed) socket.destroy();
        else this.attach(socket);
      },
      (err: Error) => {
        this.connecting = false;
        this.failed(err instanceof CertificateRefusedError ? `refused: ${err.message}` : `unreachable: ${goDialError(err)}`);
        this.dropQueue();
      },
    );
  }

  /** A dial succeeded: send the hello and the queue, and watch for a refusal. */
  private attach(socket: net.Socket): void {
    this.link = new StreamLink(socket, this.timeouts, this.clock);
    this.link.write(Buffer.concat([RAFT_PREFACE, encodeHello(this.hello)]));
    const connectedAtMs = this.clock.nowMs();
    let refusal: Buffer | undefined;
    let error = '';
    // a TLS alert (the peer refused our certificate) arrives as an error: it is the reason
    socket.on('error', (err) => (error ||= err.message));
    socket.on('close', () => this.onClose(socket, connectedAtMs, refusal, error));
    // the receiver writes only to refuse the stream, then closes it
    socket.on('data', (b: Buffer) => {
      if (refusal) refusal = Buffer.concat([refusal, b]).subarray(0, MAX_REJECT_REASON_BYTES + 1);
      else if (b[0] === REJECT_REMOVED) {
        refusal = Buffer.from([REJECT_REMOVED]);
        this.events.onRemoved();
      } else if (b[0] === REJECT_WITH_REASON) refusal = b.subarray(0, MAX_REJECT_REASON_BYTES + 1);
      // the receiver refused our certificate after the handshake (it cannot send a TLS alert then)
      else if (b[0] === REJECT_BAD_CERT) refusal = Buffer.from([REJECT_BAD_CERT]);
    });
    this.socket = socket;
    // after a refusal or a stream cut at once, "up" is believed only once the stream has lasted
    if (!this.loggedState.startsWith('refused:') && !this.lastCloseWasShort) this.logState('up');
    this.stableTimer = this.clock.after(STABLE_AFTER_MS, () => {
      this.stableTimer = undefined;
      this.backoffMs = BASE_BACKOFF_MS;
      this.lastCloseWasShort = false;
      this.failureLogged = false;
      if (this.socket === socket) this.logState('up');
    });
    this.events.onActive();
    this.flush();
  }

  /** Logs `state` if it is not the state last logged. */
  private logState(state: string): void {
    if (state === this.loggedState || this.closed) return;
    this.loggedState = state;
    const peer = { 'remote-peer-id': this.hello.to.toString(16) };
    if (state === 'up') return this.events.log('established a stream to the remote peer', peer);
    const [kind, reason] = [state.slice(0, state.indexOf(':')), state.slice(state.indexOf(':') + 2)];
    if (kind === 'refused') this.events.log('the remote peer refused the stream; backing off', { ...peer, reason });
    else this.events.log('lost the stream to the remote peer', { ...peer, reason });
  }

  /** A try failed (`state` says how): log it if new, and wait a growing, jittered while. */
  private failed(state: string): void {
    this.logState(state);
    this.warnInactive(state.slice(state.indexOf(':') + 2));
    const capMs = state.startsWith('refused:') ? MAX_REFUSED_BACKOFF_MS : MAX_BACKOFF_MS;
    const next = nextBackoff(this.backoffMs, capMs, () => this.clock.random());
    this.backoffMs = next.backoffMs;
    this.nextDialAtMs = this.clock.nowMs() + next.delayMs;
    this.scheduleRedial();
  }

  /**
   * etcd's peer status line: the first failure after the peer was reachable (or ever) is
   * logged as etcd logs it; repeats are not, until a stream works again.
   */
  private warnInactive(reason: string): void {
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

  private onClose(socket: net.Socket, connectedAtMs: number, refusal: Buffer | undefined, error: string): void {
    if (this.socket !== socket) return;
    this.socket = undefined;
    this.stableTimer?.cancel();
    this.stableTimer = undefined;
    this.events.onUnreachable();
    if (this.closed) return;
    if (refusal) {
      const why =
        refusal[0] === REJECT_REMOVED
          ? 'this member was removed from the cluster'
          : refusal[0] === REJECT_BAD_CERT
            ? BAD_CERT_TEXT
            : refusal.subarray(1, MAX_REJECT_REASON_BYTES + 1).toString('utf8');
      return this.failed(`refused: ${why}`);
    }
    const lastedMs = this.clock.nowMs() - connectedAtMs;
    // a stream that lasted was accepted: redial soon; one cut at once counts as a failure
    if (lastedMs >= STABLE_AFTER_MS) this.backoffMs = BASE_BACKOFF_MS;
    else this.lastCloseWasShort = true;
    this.failed(error ? `unreachable: ${error}` : 'unreachable: the stream was closed by the peer or the network');
  }

  close(): void {
    this.closed = true;
    this.redialTimer?.cancel();
    this.stableTimer?.cancel();
    this.redialTimer = undefined;
    this.queue = [];
    this.socket?.destroy();
    this.socket = undefined;
  }
}
