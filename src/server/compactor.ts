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

import { monotonicMs } from '../pkg/clock.js';

export interface CompactorClock {
  now(): number;
  every(intervalMs: number, fn: () => void): { cancel(): void };
}

export const realClock: CompactorClock = {
  now: monotonicMs,
  every(intervalMs, fn) {
    const t = setInterval(fn, intervalMs);
    t.unref();
    return { cancel: () => clearInterval(t) };
  },
};

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

export function startPeriodicCompactor(retentionMs: number, target: CompactionTarget, clock: CompactorClock = realClock): Compactor {
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

export function startRevisionCompactor(retention: number, target: CompactionTarget, clock: CompactorClock = realClock): Compactor {
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
