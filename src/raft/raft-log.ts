// The log as raft sees it: stable storage below, the unstable tail above, plus the
// commit and apply cursors.
import { assert, CompactedError, UnavailableError } from './errors.js';
import { Unstable } from './log-unstable.js';
import type { RaftStorage } from './storage.js';
import type { Entry, Snapshot } from './types.js';
import { limitSize } from './util.js';

export class RaftLog {
  readonly storage: RaftStorage;
  readonly unstable: Unstable;
  /** highest index known to be committed on a quorum */
  committed: number;
  /** highest index the application has applied (acknowledged via advance) */
  applied: number;
  /** limit on the committed entries handed out in one Ready */
  private readonly maxApplyBytes: number;

  constructor(storage: RaftStorage, maxApplyBytes: number) {
    this.storage = storage;
    this.maxApplyBytes = maxApplyBytes;
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    this.unstable = new Unstable(last + 1);
    // everything up to the snapshot is committed and applied by definition
    this.committed = first - 1;
    this.applied = first - 1;
  }

  toString(): string {
    return `committed=${this.committed}, applied=${this.applied}, unstable.offset=${this.unstable.offset}, len(unstable.entries)=${this.unstable.entries.length}`;
  }

  /**
   * Appends entries sent by the leader after (index, logTerm) if our log has that
   * entry; returns the index of the last new entry, or undefined on mismatch.
   */
  maybeAppend(index: number, logTerm: number, committed: number, ents: Entry[]): number | undefined {
    if (!this.matchTerm(index, logTerm)) return undefined;
    const lastNew = index + ents.length;
    const ci = this.findConflict(ents);
    if (ci !== 0) {
      assert(ci > this.committed, () => `entry ${ci} conflicts with committed entry [committed(${this.committed})]`);
      this.append(ents.slice(ci - (index + 1)));
    }
    this.commitTo(Math.min(committed, lastNew));
    return lastNew;
  }

  append(ents: Entry[]): number {
    if (ents.length === 0) return this.lastIndex();
    const after = ents[0]!.index - 1;
    assert(after >= this.committed, () => `after(${after}) is out of range [committed(${this.committed})]`);
    this.unstable.truncateAndAppend(ents);
    return this.lastIndex();
  }

  /**
   * Index of the first entry in `ents` that is not in our log with the same term
   * (a conflicting entry, or the first new one); 0 when all are present.
   */
  findConflict(ents: Entry[]): number {
    for (const e of ents) {
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * Walking down from `index`, the first entry whose term is <= `term`: the last
   * index that could possibly match a log whose entry at some point has that term.
   * Used for fast log backtracking on rejection. Returns the index and its term (0 if
   * unknown because compacted).
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    const last = this.lastIndex();
    if (index > last) return { index, term: 0 };
    for (;;) {
      const t = this.term(index);
      if (t === undefined) return { index, term: 0 };
      if (t <= term) return { index, term: t };
      index--;
    }
  }

  unstableEntries(): Entry[] {
    return this.unstable.entries.slice();
  }

  /**
   * Highest index that is in stable storage and belongs to this log. Entries above it
   * (or all, while a snapshot waits to be persisted) are not durable yet.
   */
  persistedIndex(): number {
    if (this.unstable.snapshot) return 0;
    return this.unstable.offset - 1;
  }

  /** The highest index that may be handed out for applying. */
  private applyLimit(): number {
    return Math.min(this.committed, this.persistedIndex());
  }

  hasNextCommittedEntries(): boolean {
    const off = Math.max(this.applied + 1, this.firstIndex());
    return this.applyLimit() + 1 > off;
  }

  /** Committed, persisted, not yet applied entries, limited in size per Ready. */
  nextCommittedEntries(): Entry[] {
    const off = Math.max(this.applied + 1, this.firstIndex());
    const hi = this.applyLimit() + 1;
    if (hi <= off) return [];
    const ents = this.slice(off, hi, this.maxApplyBytes);
    assert(ents !== undefined, () => `unexpected compaction reading committed entries [${off}, ${hi})`);
    return ents;
  }

  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  lastTerm(): number {
    const t = this.term(this.lastIndex());
    assert(t !== undefined, 'unexpected error when getting the last term');
    return t;
  }

  commitTo(toCommit: number): void {
    if (this.committed < toCommit) {
      assert(toCommit <= this.lastIndex(), () => `tocommit(${toCommit}) is out of range [lastIndex(${this.lastIndex()})]. Was the raft log corrupted, truncated, or lost?`);
      this.committed = toCommit;
    }
  }

  appliedTo(i: number): void {
    if (i === 0) return;
    assert(i <= this.committed && i >= this.applied, () => `applied(${i}) is out of range [prevApplied(${this.applied}), committed(${this.committed})]`);
    this.applied = i;
  }

  stableTo(i: number, t: number): void {
    this.unstable.stableTo(i, t);
  }

  stableSnapTo(i: number): void {
    this.unstable.stableSnapTo(i);
  }

  /**
   * Term of entry i, or undefined when i is outside [firstIndex()-1, lastIndex()]
   * (compacted away or not yet written).
   */
  term(i: number): number | undefined {
    const dummy = this.firstIndex() - 1;
    if (i < dummy || i > this.lastIndex()) return undefined;
    const ut = this.unstable.maybeTerm(i);
    if (ut !== undefined) return ut;
    try {
      return this.storage.term(i);
    } catch (err) {
      if (err instanceof CompactedError || err instanceof UnavailableError) return undefined;
      throw err;
    }
  }

  matchTerm(i: number, term: number): boolean {
    return this.term(i) === term;
  }

  /** Entries from i to the end, at most maxBytes (at least one); undefined if compacted. */
  entriesFrom(i: number, maxBytes: number): Entry[] | undefined {
    if (i > this.lastIndex()) return [];
    return this.slice(i, this.lastIndex() + 1, maxBytes);
  }

  /** Whether a candidate with this last entry is at least as up to date as we are (§5.4.1). */
  isUpToDate(lastIndex: number, term: number): boolean {
    const ourTerm = this.lastTerm();
    return term > ourTerm || (term === ourTerm && lastIndex >= this.lastIndex());
  }

  /** Commits maxIndex if it is an entry of `term` (§5.4.2: count replicas only for
   *  entries of the leader's current term). */
  maybeCommit(maxIndex: number, term: number): boolean {
    if (maxIndex > this.committed && (this.term(maxIndex) ?? 0) === term) {
      this.commitTo(maxIndex);
      return true;
    }
    return false;
  }

  restore(s: Snapshot): void {
    this.committed = s.metadata.index;
    this.unstable.restore(s);
  }

  /** Entries in [lo, hi), stable then unstable, size-limited; undefined if lo is compacted. */
  slice(lo: number, hi: number, maxBytes: number): Entry[] | undefined {
    const fi = this.firstIndex();
    if (lo < fi) return undefined;
    assert(lo <= hi && hi <= this.lastIndex() + 1, () => `slice[${lo},${hi}) out of bound [${fi},${this.lastIndex()}]`);
    if (lo === hi) return [];
    let ents: Entry[] = [];
    const uoff = this.unstable.offset;
    if (lo < uoff) {
      const stableHi = Math.min(hi, uoff);
      let stored: Entry[];
      try {
        stored = this.storage.entries(lo, stableHi, maxBytes);
      } catch (err) {
        if (err instanceof CompactedError) return undefined;
        if (err instanceof UnavailableError) {
          throw new Error(`entries[${lo}:${stableHi}) is unavailable from storage`);
        }
        throw err;
      }
      // storage stopped early because of the size limit: that is all we return
      if (stored.length < stableHi - lo) return stored;
      ents = stored;
    }
    if (hi > uoff) {
      const u = this.unstable.slice(Math.max(lo, uoff), hi);
      ents = ents.length > 0 ? ents.concat(u) : u;
    }
    return limitSize(ents, maxBytes);
  }

  /** every entry from firstIndex to lastIndex (tests and debugging) */
  allEntries(): Entry[] {
    return this.slice(this.firstIndex(), this.lastIndex() + 1, Number.POSITIVE_INFINITY) ?? [];
  }
}
