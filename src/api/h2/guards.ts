// Time-based defences of one HTTP/2 server connection, apart from the protocol state:
// the preface and idle deadlines, server keepalive pings, gRPC's ping-rate enforcement
// and the client stream-reset budget (CVE-2023-44487, "rapid reset").
//
// Contract: each guard only reads the clock it is given and calls back into the
// connection through the small interface below; none writes frames or touches streams
// itself. Timers are unref'd (a connection never keeps the process alive) and all are
// stopped by Guards.stop().

/** The client preface and its first SETTINGS must arrive within this (Go's net/http2 prefaceTimeout). */
export const PREFACE_TIMEOUT_MS = 10_000;
/**
 * A client may reset this many streams at once, and this many more per second after
 * (nghttp2's stream reset rate limit defaults, which Node.js and Apache use); a client
 * past it is answered with GOAWAY ENHANCE_YOUR_CALM. Well-behaved clients cancel calls
 * far more slowly; a rapid-reset attacker opens and resets thousands per second.
 */
export const RESET_BURST = 1000;
export const RESET_RATE_PER_S = 33;
/**
 * SETTINGS frames a client may send at once, and per second after. A client sends one
 * when it connects and a few more as its windows grow; each costs us work in its size,
 * and on one event loop that work delays every other client (issue 13: floods of 16 KiB
 * frames). Past it: GOAWAY ENHANCE_YOUR_CALM.
 */
export const SETTINGS_BURST = 100;
export const SETTINGS_RATE_PER_S = 10;
/** gRPC servers allow this many pings too early; the next one closes the connection */
export const MAX_PING_STRIKES = 2;
/** without open streams a client may ping once per this (gRPC's defaultPingTimeout) */
export const IDLE_PING_INTERVAL_MS = 2 * 3600 * 1000;

export interface GuardedConnection {
  /** time of the last byte read from the client */
  readonly lastReadMs: number;
  readonly openStreams: number;
  /** the client preface and first SETTINGS have arrived */
  readonly established: boolean;
  sendPing(): void;
  /** closes gracefully (GOAWAY NO_ERROR) */
  closeIdle(): void;
  /** drops the connection at once: the client broke a deadline */
  drop(reason: string): void;
}

export interface GuardOptions {
  keepaliveIntervalMs: number;
  keepaliveTimeoutMs: number;
  idleTimeoutMs: number;
  prefaceTimeoutMs: number;
  /** a clock in ms (performance.now by default) */
  nowMs: () => number;
}

export class Guards {
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly resets: TokenBucket;
  private readonly settingsFrames: TokenBucket;
  private pingStrikes = 0;
  private lastPingAtMs = -Infinity;
  /** when the connection last had no open streams, or -1 while it has some */
  private idleSinceMs: number;

  constructor(
    private readonly conn: GuardedConnection,
    private readonly opts: GuardOptions,
  ) {
    const now = opts.nowMs();
    this.resets = new TokenBucket(RESET_BURST, RESET_RATE_PER_S, now);
    this.settingsFrames = new TokenBucket(SETTINGS_BURST, SETTINGS_RATE_PER_S, now);
    this.idleSinceMs = now;
    this.after(opts.prefaceTimeoutMs, () => {
      if (!conn.established) conn.drop('no HTTP/2 preface and SETTINGS within the preface timeout');
    });
    // as etcd: the server pings only when both the interval and the timeout are set
    if (opts.keepaliveIntervalMs > 0 && opts.keepaliveTimeoutMs > 0) this.keepalive(opts.keepaliveIntervalMs, opts.keepaliveTimeoutMs);
    if (opts.idleTimeoutMs > 0) this.idleCheck(opts.idleTimeoutMs);
  }

  stop(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.length = 0;
  }

  /** The number of open streams changed between zero and non-zero. */
  streamsChanged(open: number): void {
    if (open === 0) {
      if (this.idleSinceMs < 0) this.idleSinceMs = this.opts.nowMs();
    } else {
      this.idleSinceMs = -1;
    }
  }

  /** A client RST_STREAM closed an open stream; false when the client is past its budget. */
  takeReset(): boolean {
    return this.resets.take(this.opts.nowMs());
  }

  /** A SETTINGS frame (not an ACK) arrived; false when the client is past its budget. */
  takeSettings(): boolean {
    return this.settingsFrames.take(this.opts.nowMs());
  }

  /**
   * gRPC's keepalive enforcement policy (PermitWithoutStream false, as etcd sets it):
   * returns false when a ping comes too early once too often. `forgiven` is true when
   * we sent HEADERS or DATA since the last ping, which resets the strikes.
   */
  pingAllowed(minTimeMs: number, forgiven: boolean): boolean {
    const now = this.opts.nowMs();
    const last = this.lastPingAtMs;
    this.lastPingAtMs = now;
    if (forgiven) {
      this.pingStrikes = 0;
      return true;
    }
    const allowedMs = this.conn.openStreams === 0 ? IDLE_PING_INTERVAL_MS : minTimeMs;
    if (now - last < allowedMs) this.pingStrikes++;
    return this.pingStrikes <= MAX_PING_STRIKES;
  }

  private after(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      const i = this.timers.indexOf(t);
      if (i >= 0) this.timers.splice(i, 1);
      fn();
    }, ms);
    t.unref();
    this.timers.push(t);
  }

  /** Pings a client silent for intervalMs; drops it if it stays silent timeoutMs more. */
  private keepalive(intervalMs: number, timeoutMs: number): void {
    let pingSentAtMs: number | undefined;
    const check = (): void => {
      const now = this.opts.nowMs();
      const lastRead = this.conn.lastReadMs;
      if (pingSentAtMs !== undefined && lastRead < pingSentAtMs && now - pingSentAtMs >= timeoutMs) {
        return this.conn.drop('keepalive ping not answered');
      }
      if (lastRead > (pingSentAtMs ?? -Infinity)) pingSentAtMs = undefined;
      if (pingSentAtMs === undefined && now - lastRead >= intervalMs) {
        this.conn.sendPing();
        pingSentAtMs = now;
      }
      this.after(pingSentAtMs !== undefined ? Math.min(timeoutMs, intervalMs) : Math.max(1, intervalMs - (now - lastRead)), check);
    };
    this.after(intervalMs, check);
  }

  /** gRPC's MaxConnectionIdle: a connection without streams for idleMs is closed with GOAWAY. */
  private idleCheck(idleMs: number): void {
    const check = (): void => {
      const now = this.opts.nowMs();
      if (this.idleSinceMs >= 0 && now - this.idleSinceMs >= idleMs) return this.conn.closeIdle();
      this.after(this.idleSinceMs >= 0 ? Math.max(1, idleMs - (now - this.idleSinceMs)) : idleMs, check);
    };
    this.after(idleMs, check);
  }
}

/** `burst` tokens, refilled at `ratePerS`; take() spends one. */
class TokenBucket {
  private tokens: number;

  constructor(
    private readonly burst: number,
    private readonly ratePerS: number,
    private refilledAtMs: number,
  ) {
    this.tokens = burst;
  }

  take(nowMs: number): boolean {
    const refill = Math.floor(((nowMs - this.refilledAtMs) / 1000) * this.ratePerS);
    if (refill >= 1) {
      this.tokens = Math.min(this.burst, this.tokens + refill);
      this.refilledAtMs = nowMs;
    }
    if (this.tokens <= 0) return false;
    this.tokens--;
    return true;
  }
}
