// Lease checkpoints (--experimental-enable-lease-checkpoint, etcd 3.4+): the leader
// periodically writes each long lease's remaining TTL into the log (InternalRaftRequest
// field lease_checkpoint), so a member that becomes leader later restarts the lease's
// clock from what was left instead of from the full TTL. Without checkpoints a lease
// that outlives many leader changes would never expire.
//
// Contract, as etcd's lessor:
// - Only the primary schedules. A lease is scheduled when it is granted, renewed, when the
//   member is promoted, and again each time its checkpoint is applied, but only while its
//   remaining TTL is longer than the interval (short leases expire before it matters).
// - Every CHECKPOINT_TICK_MS the due leases are batched, at most MAX_CHECKPOINT_BATCH per
//   proposal and CHECKPOINTS_PER_TICK per tick, with the remaining TTL rounded up to whole
//   seconds; a lease whose remaining TTL is still its full TTL, or that already expired,
//   is skipped.
// - A renewal of a checkpointed lease proposes a checkpoint of 0 (clear), so the next
//   leader goes back to the full TTL.
// - --experimental-enable-lease-checkpoint-persist also stores the remaining TTL in the
//   lease record, so it survives a restart of every member (etcd 3.6 always does this).
import { systemClock } from '../pkg/clock.js';
import { ExpiryHeap } from './expiry-heap.js';

/** etcd's default wait between two checkpoints of one lease */
export const DEFAULT_CHECKPOINT_INTERVAL_MS = 5 * 60 * 1000;
/** how often due checkpoints are collected (etcd's lessor loop runs every 500 ms) */
export const CHECKPOINT_TICK_MS = 500;
/** etcd's maxLeaseCheckpointBatchSize: checkpoints in one log entry */
export const MAX_CHECKPOINT_BATCH = 1000;
/** etcd's leaseCheckpointRate (per second), so half of it per 500 ms tick */
export const CHECKPOINTS_PER_TICK = 500;

export interface LeaseCheckpoint {
  readonly id: bigint;
  /** whole seconds left; 0 clears an earlier checkpoint */
  readonly remainingTtlSec: number;
}

/** What the scheduler reads of a lease. */
export interface CheckpointedLease {
  readonly id: bigint;
  readonly ttlSec: number;
  /** expiry on the primary (Infinity elsewhere) */
  readonly expiresAtMs: number;
}

export interface CheckpointOptions {
  /** --experimental-lease-checkpoint-interval; 0 means etcd's 5 minutes */
  intervalMs: number;
  /** --experimental-enable-lease-checkpoint-persist */
  persist: boolean;
  /** proposes one LeaseCheckpointRequest through the log */
  propose: (checkpoints: LeaseCheckpoint[]) => void;
  /** runs `fn` every `ms` until the returned function is called (injected for tests) */
  every?: (ms: number, fn: () => void) => () => void;
}

function realEvery(ms: number, fn: () => void): () => void {
  const t = systemClock.every(ms, fn);
  return () => t.cancel();
}

export class LeaseCheckpointer {
  private readonly heap = new ExpiryHeap();
  private stopTimer: (() => void) | undefined;
  readonly intervalMs: number;

  constructor(private readonly opts: CheckpointOptions) {
    this.intervalMs = opts.intervalMs > 0 ? opts.intervalMs : DEFAULT_CHECKPOINT_INTERVAL_MS;
  }

  get persist(): boolean {
    return this.opts.persist;
  }

  /** Queues a checkpoint one interval from now if the lease will still be alive then. */
  schedule(lease: CheckpointedLease, nowMs: number): void {
    if (lease.expiresAtMs - nowMs <= this.intervalMs) return;
    this.heap.push({ id: lease.id, expiresAtMs: nowMs + this.intervalMs });
  }

  /** The member became primary: collect due checkpoints from now on. */
  start(collect: () => void): void {
    this.stop();
    this.stopTimer = (this.opts.every ?? realEvery)(CHECKPOINT_TICK_MS, collect);
  }

  /** The member stepped down (or stops): nothing is scheduled any more. */
  stop(): void {
    this.stopTimer?.();
    this.stopTimer = undefined;
    this.heap.clear();
  }

  /** Proposes the checkpoints due at `nowMs`, reading leases through `lookup`. */
  collect(nowMs: number, lookup: (id: bigint) => CheckpointedLease | undefined): void {
    let budget = CHECKPOINTS_PER_TICK;
    while (budget > 0) {
      const batch = this.due(nowMs, lookup, Math.min(budget, MAX_CHECKPOINT_BATCH));
      if (batch.length === 0) return;
      budget -= batch.length;
      this.opts.propose(batch);
    }
  }

  /** A renewal of a lease with a checkpointed TTL: the log must forget that TTL. */
  clear(id: bigint): void {
    this.opts.propose([{ id, remainingTtlSec: 0 }]);
  }

  private due(nowMs: number, lookup: (id: bigint) => CheckpointedLease | undefined, limit: number): LeaseCheckpoint[] {
    const out: LeaseCheckpoint[] = [];
    while (out.length < limit) {
      const top = this.heap.peek();
      if (!top || top.expiresAtMs > nowMs) break;
      this.heap.pop();
      const lease = lookup(top.id);
      if (!lease || lease.expiresAtMs <= nowMs) continue;
      const remainingTtlSec = Math.ceil((lease.expiresAtMs - nowMs) / 1000);
      if (remainingTtlSec >= lease.ttlSec) continue;
      out.push({ id: lease.id, remainingTtlSec });
    }
    return out;
  }
}
