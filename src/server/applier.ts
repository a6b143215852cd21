// The member's apply loop (etcd's applyAll): committed entries, in log order, in one
// backend write group per batch together with the consistent index; normal entries go
// to apply.ts, configuration changes to membership-apply.ts; then the proposers waiting
// on them are answered and the reads waiting for an index are released.
import type { ConfState } from '../raft/index.js';
import { EntryType, type Entry } from '../raft/types.js';
import { applyEntry, type ApplyContext, type ApplyOutcome } from './apply.js';
import { writeConsistentIndex } from './bootstrap.js';
import type { ConfChangeApplier } from './membership-apply.js';
import type { ServerParts } from './parts.js';

/** etcd's default --experimental-warning-apply-duration */
const DEFAULT_WARNING_APPLY_MS = 100;

export class Applier {
  /** the last entry applied to the backend */
  appliedIndex: number;
  confState: ConfState;
  private appliedWaiters: Array<{ index: number; resolve: () => void }> = [];

  constructor(
    private readonly m: ServerParts,
    private readonly ctx: ApplyContext,
    private readonly confChanges: ConfChangeApplier,
    start: { appliedIndex: number; confState: ConfState },
    /** called after each batch (the member may campaign once its log is applied) */
    private readonly afterBatch: () => void,
  ) {
    this.appliedIndex = start.appliedIndex;
    this.confState = start.confState;
  }

  /** Applies committed entries in one backend write group and wakes their proposers. */
  applyEntries(entries: Entry[]): void {
    const outcomes: ApplyOutcome[] = [];
    let last = this.appliedIndex;
    this.m.backend.write(() => {
      for (const e of entries) {
        if (e.index <= this.appliedIndex) {
          // the backend had it already (restart, snapshot); raft still needs its configuration
          if (e.type === EntryType.ConfChange) this.confState = this.confChanges.replay(e);
          continue;
        }
        if (e.type === EntryType.ConfChange) {
          const applied = this.confChanges.apply(e);
          this.confState = applied.confState;
          outcomes.push(applied.outcome);
        } else outcomes.push(this.applyNormal(e));
        last = e.index;
      }
      if (last > this.appliedIndex) writeConsistentIndex(this.m.backend, last);
    });
    this.appliedIndex = last;
    this.m.proposals.settle(outcomes);
    this.afterBatch();
    this.releaseReads();
  }

  /** Resolves once the entry at `index` is applied. */
  waitApplied(index: number): Promise<void> {
    if (this.appliedIndex >= index) return Promise.resolve();
    return new Promise((resolve) => this.appliedWaiters.push({ index, resolve }));
  }

  /** After a snapshot replaced the backend: it holds everything up to `index`. */
  restored(index: number, confState: ConfState): void {
    this.appliedIndex = index;
    this.confState = confState;
  }

  private applyNormal(e: Entry): ApplyOutcome {
    const startMs = this.m.clock.nowMs();
    const outcome = applyEntry(e, this.ctx, this.m.proposals.pending(decodeIdFast(e)));
    this.warnSlowApply(e, this.m.clock.nowMs() - startMs);
    return outcome;
  }

  private releaseReads(): void {
    if (this.appliedWaiters.length === 0) return;
    const ready = this.appliedWaiters.filter((w) => w.index <= this.appliedIndex);
    this.appliedWaiters = this.appliedWaiters.filter((w) => w.index > this.appliedIndex);
    for (const w of ready) w.resolve();
  }

  /** etcd's warning for an entry whose apply took longer than --experimental-warning-apply-duration. */
  private warnSlowApply(e: Entry, tookMs: number): void {
    const expectedMs = this.m.opts.warningApplyDurationMs ?? DEFAULT_WARNING_APPLY_MS;
    if (tookMs <= expectedMs) return;
    this.m.opts.logger.warn('apply request took too long', { took: `${tookMs.toFixed(3)}ms`, 'expected-duration': `${expectedMs}ms`, index: e.index });
  }
}

/** The request ID of a normal entry, read without decoding the request. */
function decodeIdFast(e: Entry): number {
  if (e.type !== EntryType.Normal || e.data.length < 4) return 0;
  // layout written by encodeRaftRequest: header tag (2 bytes), header length, then 0x08 + varint ID
  const d = e.data;
  if (d[0] !== 0xa2 || d[1] !== 0x06) return 0;
  let pos = 2;
  while (d[pos]! & 0x80) pos++;
  pos++;
  if (d[pos] !== 0x08) return 0;
  pos++;
  let id = 0;
  let mul = 1;
  for (let i = 0; i < 8 && pos < d.length; i++) {
    const b = d[pos++]!;
    id += (b & 0x7f) * mul;
    if (b < 0x80) return id;
    mul *= 128;
  }
  return 0;
}
