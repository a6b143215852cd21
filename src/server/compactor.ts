// Auto-compaction as etcd 3.4 schedules it.
//
// periodic (--auto-compaction-retention=1h): the current revision is sampled every
// retention/10 (at most every 6 minutes); once a whole retention period has passed
// since the start (and then every min(retention, 1h)), the store is compacted to the
// oldest sample, i.e. the revision of about one retention period ago.
//
// revision (--auto-compaction-retention=1000): every 5 minutes, compact to
// current revision - retention, if that moved since the last compaction.
//
// The clock is injected so the schedule can be tested without waiting.

import { systemClock, type Clock } from '../pkg/clock.js';

export interface CompactorClock {
  now(): number;
  every(intervalMs: number, fn: () => void): { cancel(): void };
}

/** The compactor's view of the member's clock. */
export function compactorClock(clock: Clock): CompactorClock {
  return { now: () => clock.nowMs(), every: (intervalMs, fn) => clock.every(intervalMs, fn) };
}

export interface CompactionTarget {
  /** the store's current revision */
  revision(): number;
  /** compacts to rev; resolves when the request has been applied */
  compact(rev: number): Promise<void>;
}

const HOUR_MS = 3_600_000;
const RETRY_DIVISOR = 10;
export const REVISION_MODE_INTERVAL_MS = 5 * 60_000;

export interface Compactor {
  stop(): void;
}

export function startPeriodicCompactor(retentionMs: number, target: CompactionTarget, clock: CompactorClock = compactorClock(systemClock)): Compactor {
  const compactIntervalMs = Math.min(retentionMs, HOUR_MS);
  const sampleIntervalMs = compactIntervalMs / RETRY_DIVISOR;
  const keepSamples = Math.floor(retentionMs / sampleIntervalMs) + 1;
  const samples: number[] = [target.revision()];
  let lastSuccessMs = clock.now();
  let waitMs = retentionMs;
  let busy = false;
  const timer = clock.every(sampleIntervalMs, () => {
    samples.push(target.revision());
    if (samples.length > keepSamples) samples.shift();
    if (busy || clock.now() - lastSuccessMs < waitMs) return;
    waitMs = compactIntervalMs;
    const rev = samples[0]!;
    busy = true;
    target.compact(rev).then(
      () => {
        lastSuccessMs = clock.now();
        busy = false;
      },
      () => {
        busy = false; // retried at the next sample
      },
    );
  });
  return { stop: () => timer.cancel() };
}

export function startRevisionCompactor(retention: number, target: CompactionTarget, clock: CompactorClock = compactorClock(systemClock)): Compactor {
  let lastCompacted = 0;
  let busy = false;
  const timer = clock.every(REVISION_MODE_INTERVAL_MS, () => {
    const rev = target.revision() - retention;
    if (busy || rev <= 0 || rev === lastCompacted) return;
    busy = true;
    target.compact(rev).then(
      () => {
        lastCompacted = rev;
        busy = false;
      },
      () => {
        busy = false;
      },
    );
  });
  return { stop: () => timer.cancel() };
}

export interface AutoCompactionSettings {
  mode: 'periodic' | 'revision';
  /** periodic: keep this much history */
  retentionMs?: number;
  /** revision: keep this many revisions */
  retentionRevisions?: number;
}

/**
 * --auto-compaction-mode/-retention on the member: only the leader compacts (through the
 * log); it starts when the member becomes leader and stops when it no longer is.
 */
export class AutoCompaction {
  private compactor: Compactor | undefined;

  constructor(
    private readonly settings: AutoCompactionSettings | undefined,
    private readonly target: CompactionTarget,
    private readonly clock: CompactorClock,
  ) {}

  leading(isLeader: boolean): void {
    if (!isLeader) return this.stop();
    const ac = this.settings;
    if (!ac || this.compactor) return;
    if (ac.mode === 'periodic' && (ac.retentionMs ?? 0) > 0) this.compactor = startPeriodicCompactor(ac.retentionMs!, this.target, this.clock);
    else if (ac.mode === 'revision' && (ac.retentionRevisions ?? 0) > 0) this.compactor = startRevisionCompactor(ac.retentionRevisions!, this.target, this.clock);
  }

  stop(): void {
    this.compactor?.stop();
    this.compactor = undefined;
  }
}
