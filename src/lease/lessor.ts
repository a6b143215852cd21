// The lessor: leases, their TTLs and the keys attached to them. State changes (grant,
// revoke) arrive through the applied log, so every member holds the same leases; only
// the leader (the "primary") runs expiry clocks and renews. An expired lease is not
// revoked here: the lessor reports it, and the server proposes the revoke through the
// log like a client's.
import type { Backend } from '../backend/backend.js';
import type { LeaseAttachments } from '../mvcc/store.js';
import { ExpiryHeap } from './expiry-heap.js';
import { systemClock, type Clock, type Timer } from '../pkg/clock.js';
import type { LeaseCheckpointer } from './checkpoint.js';

/** etcd's limit on a lease TTL, in seconds */
export const MAX_LEASE_TTL_SEC = 9_000_000_000;
/** at most this many expired leases are handed out per expiry pass (etcd's revoke rate) */
export const LEASE_REVOKE_RATE_PER_SEC = 1000;

export class LeaseError extends Error {
  constructor(readonly kind: 'not-found' | 'exists' | 'ttl-too-large') {
    super(kind === 'not-found' ? 'lease not found' : kind === 'exists' ? 'lease already exists' : 'too large lease TTL');
  }
}

export interface Lease {
  readonly id: bigint;
  /** granted TTL in seconds (after the minimum is applied) */
  ttlSec: number;
  /** when the lease expires on the primary; Infinity elsewhere */
  expiresAtMs: number;
  /** seconds left at the last applied checkpoint (0: none); a new primary starts from it */
  remainingTtlSec: number;
  readonly keys: Set<string>;
}

export interface LessorClock {
  now(): number;
  /** one timer at a time; a new call replaces the previous one */
  setTimer(atMs: number, fn: () => void): void;
  clearTimer(): void;
}

/** The lessor's view of the member's clock: one timer, re-armed as the earliest expiry moves. */
export function lessorClock(clock: Clock): LessorClock {
  let t: Timer | undefined;
  return {
    // monotonic: a change of the system time must not expire or prolong a lease
    now: () => clock.nowMs(),
    setTimer(atMs, fn) {
      t?.cancel();
      t = clock.after(atMs - clock.nowMs(), fn);
    },
    clearTimer() {
      t?.cancel();
      t = undefined;
    },
  };
}

export interface LessorOptions {
  minTtlSec: number;
  clock?: LessorClock;
  /** called with expired leases on the primary; the server proposes their revokes */
  onExpired: (ids: bigint[]) => void;
  /** set with --experimental-enable-lease-checkpoint */
  checkpointer?: LeaseCheckpointer;
}

export class Lessor implements LeaseAttachments {
  private readonly leases = new Map<bigint, Lease>();
  private readonly heap = new ExpiryHeap();
  private primary = false;
  private readonly clock: LessorClock;
  /** leases reported expired and not yet revoked: not reported again */
  private readonly expiring = new Set<bigint>();

  constructor(
    private readonly backend: Backend,
    private readonly opts: LessorOptions,
  ) {
    this.clock = opts.clock ?? lessorClock(systemClock);
  }

  get minTtlSec(): number {
    return this.opts.minTtlSec;
  }

  get size(): number {
    return this.leases.size;
  }

  /** Forgets every lease, before restore() from a backend that was replaced. */
  reset(): void {
    this.leases.clear();
    this.heap.clear();
    this.expiring.clear();
    this.clock.clearTimer();
    this.opts.checkpointer?.stop();
  }

  /** Loads persisted leases after a restart; their clocks start when the member is promoted. */
  restore(attached: Map<string, bigint>): void {
    for (const { key, value } of this.backend.range('lease')) {
      const id = key.readBigInt64BE(0);
      const ttlSec = Number(value.readBigInt64BE(0));
      // a persisted checkpoint follows the TTL (--experimental-enable-lease-checkpoint-persist)
      const remainingTtlSec = value.length >= 16 ? Number(value.readBigInt64BE(8)) : 0;
      this.leases.set(id, { id, ttlSec, remainingTtlSec, expiresAtMs: Infinity, keys: new Set() });
    }
    for (const [k, id] of attached) this.leases.get(id)?.keys.add(k);
  }

  lookup(id: bigint): Lease | undefined {
    return this.leases.get(id);
  }

  exists(id: bigint): boolean {
    return this.leases.has(id);
  }

  ids(): bigint[] {
    return [...this.leases.keys()];
  }

  /** Applies a grant. Must run inside a backend write group. */
  grant(id: bigint, ttlSec: number): Lease {
    if (id === 0n) throw new LeaseError('not-found');
    if (ttlSec > MAX_LEASE_TTL_SEC) throw new LeaseError('ttl-too-large');
    if (this.leases.has(id)) throw new LeaseError('exists');
    const lease: Lease = { id, ttlSec: Math.max(ttlSec, this.opts.minTtlSec), remainingTtlSec: 0, expiresAtMs: Infinity, keys: new Set() };
    this.leases.set(id, lease);
    this.persist(lease);
    if (this.primary) {
      this.refresh(lease, 0);
      this.opts.checkpointer?.schedule(lease, this.clock.now());
    }
    return lease;
  }

  /**
   * Applies a revoke: returns the attached keys, sorted (the caller deletes them in the
   * same write group, so every member deletes in the same order), and forgets the lease.
   */
  revoke(id: bigint): string[] {
    const lease = this.leases.get(id);
    if (!lease) throw new LeaseError('not-found');
    const keys = [...lease.keys].sort();
    this.leases.delete(id);
    this.expiring.delete(id);
    this.backend.delete('lease', idBytes(id));
    return keys;
  }

  /** Keep-alive on the primary: a full TTL again. Returns the TTL in seconds. */
  renew(id: bigint): number {
    const lease = this.leases.get(id);
    if (!lease || this.expiring.has(id) || (this.primary && lease.expiresAtMs <= this.clock.now())) {
      throw new LeaseError('not-found');
    }
    const cp = this.opts.checkpointer;
    if (cp && lease.remainingTtlSec > 0) {
      // the full TTL again here, and through the log on every member
      lease.remainingTtlSec = 0;
      cp.clear(id);
    }
    this.refresh(lease, 0);
    cp?.schedule(lease, this.clock.now());
    return lease.ttlSec;
  }

  /** Applies a checkpoint from the log: the TTL a future primary restarts the lease with. */
  checkpoint(id: bigint, remainingTtlSec: number): void {
    const lease = this.leases.get(id);
    if (!lease) return;
    lease.remainingTtlSec = remainingTtlSec;
    const cp = this.opts.checkpointer;
    if (cp?.persist) this.persist(lease);
    if (this.primary) cp?.schedule(lease, this.clock.now());
  }

  /** Seconds left (truncated, as etcd reports it); the TTL when this member runs no clock. */
  remainingSec(lease: Lease): number {
    if (lease.expiresAtMs === Infinity) return lease.ttlSec;
    return Math.trunc((lease.expiresAtMs - this.clock.now()) / 1000);
  }

  attach(id: bigint, key: string): void {
    this.leases.get(id)?.keys.add(key);
  }

  detach(id: bigint, key: string): void {
    this.leases.get(id)?.keys.delete(key);
  }

  /**
   * This member became leader: every lease's clock restarts (plus `extendMs`), from its
   * checkpointed TTL if it has one, else from the full TTL, as etcd does.
   */
  promote(extendMs: number): void {
    this.primary = true;
    this.heap.clear();
    const cp = this.opts.checkpointer;
    cp?.start(() => cp.collect(this.clock.now(), (id) => this.leases.get(id)));
    for (const lease of this.leases.values()) {
      this.refresh(lease, extendMs);
      cp?.schedule(lease, this.clock.now());
    }
    this.armTimer();
  }

  /** This member is no longer leader: clocks stop until it is promoted again. */
  demote(): void {
    this.primary = false;
    this.heap.clear();
    this.expiring.clear();
    this.clock.clearTimer();
    this.opts.checkpointer?.stop();
    for (const lease of this.leases.values()) lease.expiresAtMs = Infinity;
  }

  stop(): void {
    this.clock.clearTimer();
    this.opts.checkpointer?.stop();
  }

  private refresh(lease: Lease, extendMs: number): void {
    const ttlSec = lease.remainingTtlSec > 0 ? lease.remainingTtlSec : lease.ttlSec;
    lease.expiresAtMs = this.clock.now() + extendMs + ttlSec * 1000;
    this.heap.push({ id: lease.id, expiresAtMs: lease.expiresAtMs });
    const top = this.heap.peek();
    if (top && top.id === lease.id) this.armTimer();
  }

  /** One timer, at the earliest expiry: idle leases cost nothing. */
  private armTimer(): void {
    const top = this.heap.peek();
    if (!this.primary || !top) {
      this.clock.clearTimer();
      return;
    }
    this.clock.setTimer(top.expiresAtMs, () => this.expire());
  }

  private expire(): void {
    const now = this.clock.now();
    const expired: bigint[] = [];
    while (expired.length < LEASE_REVOKE_RATE_PER_SEC) {
      const top = this.heap.peek();
      if (!top || top.expiresAtMs > now) break;
      this.heap.pop();
      const lease = this.leases.get(top.id);
      // a stale entry: the lease was renewed (a later entry exists) or revoked
      if (!lease || lease.expiresAtMs !== top.expiresAtMs || this.expiring.has(top.id)) continue;
      this.expiring.add(top.id);
      expired.push(top.id);
    }
    if (expired.length > 0) this.opts.onExpired(expired);
    // more expired than the rate allows: the rest go a second later
    if (expired.length >= LEASE_REVOKE_RATE_PER_SEC) this.clock.setTimer(now + 1000, () => this.expire());
    else this.armTimer();
  }

  /**
   * A revoke proposed for an expired lease failed (e.g. the member stepped down); let it
   * be reported again on the next pass.
   */
  retryExpired(id: bigint): void {
    const lease = this.leases.get(id);
    if (!lease || !this.expiring.delete(id)) return;
    lease.expiresAtMs = this.clock.now() + 500;
    this.heap.push({ id, expiresAtMs: lease.expiresAtMs });
    this.armTimer();
  }

  /** The TTL, then the checkpointed remaining TTL when there is one (16 bytes then). */
  private persist(lease: Lease): void {
    const v = Buffer.alloc(lease.remainingTtlSec > 0 ? 16 : 8);
    v.writeBigInt64BE(BigInt(lease.ttlSec));
    if (lease.remainingTtlSec > 0) v.writeBigInt64BE(BigInt(lease.remainingTtlSec), 8);
    this.backend.put('lease', idBytes(lease.id), v);
  }
}

function idBytes(id: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(id);
  return b;
}
