// The storage raft reads its stable log from, and an in-memory implementation.
//
// The application owns durability: it appends Ready.entries, saves Ready.hardState and
// applies Ready.snapshot to its storage before advance(). Raft only reads storage.
import {
  CompactedError,
  RaftInvariantError,
  SnapshotOutOfDateError,
  UnavailableError,
} from './errors.js';
import type { ConfState, Entry, HardState, Snapshot } from './types.js';
import { emptyHardState } from './types.js';
import { entrySizeBytes, limitSize } from './util.js';

export interface RaftStorage {
  /** the saved HardState and the ConfState of the last snapshot or applied conf change */
  initialState(): { hardState: HardState; confState: ConfState };
  /**
   * Entries in [lo, hi), at most maxBytes in total but always at least one when the
   * range is not empty. Throws CompactedError when lo < firstIndex(),
   * UnavailableError when hi > lastIndex() + 1.
   */
  entries(lo: number, hi: number, maxBytes: number): Entry[];
  /** Term of entry i, for i in [firstIndex()-1, lastIndex()]; throws as entries(). */
  term(i: number): number;
  /** index of the first entry still available (snapshot index + 1) */
  firstIndex(): number;
  lastIndex(): number;
  /** the latest snapshot; may throw SnapshotTemporarilyUnavailableError */
  snapshot(): Snapshot;
}

function emptySnapshot(): Snapshot {
  return { metadata: { index: 0, term: 0, confState: { voters: [], learners: [] } }, data: new Uint8Array(0) };
}

/**
 * Keeps the log in an array whose first element is a placeholder standing for the
 * snapshot (its index and term), like etcd's MemoryStorage. The server keeps one of
 * these in memory, filled from the WAL on restart and appended to on every Ready.
 */
export class MemoryStorage implements RaftStorage {
  private hardState: HardState = emptyHardState();
  private snap: Snapshot = emptySnapshot();
  /** ents[0] is the placeholder: index/term of the snapshot, no data */
  private ents: Entry[] = [{ term: 0, index: 0, type: 0, data: new Uint8Array(0) }];

  initialState(): { hardState: HardState; confState: ConfState } {
    const cs = this.snap.metadata.confState;
    return { hardState: { ...this.hardState }, confState: { voters: [...cs.voters], learners: [...cs.learners] } };
  }

  setHardState(hs: HardState): void {
    this.hardState = { ...hs };
  }

  hardStateNow(): HardState {
    return { ...this.hardState };
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    const offset = this.ents[0]!.index;
    if (lo <= offset) throw new CompactedError();
    if (hi > this.lastIndex() + 1) throw new UnavailableError();
    if (lo >= hi) return [];
    return limitSize(this.ents.slice(lo - offset, hi - offset), maxBytes);
  }

  term(i: number): number {
    const offset = this.ents[0]!.index;
    if (i < offset) throw new CompactedError();
    if (i - offset >= this.ents.length) throw new UnavailableError();
    return this.ents[i - offset]!.term;
  }

  firstIndex(): number {
    return this.ents[0]!.index + 1;
  }

  lastIndex(): number {
    return this.ents[0]!.index + this.ents.length - 1;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /** Replaces the whole log with the snapshot (a follower catching up via MsgSnap). */
  applySnapshot(snap: Snapshot): void {
    if (snap.metadata.index < this.snap.metadata.index) throw new SnapshotOutOfDateError();
    this.snap = snap;
    this.ents = [{ term: snap.metadata.term, index: snap.metadata.index, type: 0, data: new Uint8Array(0) }];
  }

  /**
   * Records a snapshot of the state machine at index i (i <= applied), with the
   * configuration in force there. Does not discard entries; call compact() for that.
   */
  createSnapshot(i: number, cs: ConfState, data: Uint8Array): Snapshot {
    if (i <= this.snap.metadata.index) throw new SnapshotOutOfDateError();
    const offset = this.ents[0]!.index;
    if (i > this.lastIndex()) {
      throw new RaftInvariantError(`snapshot ${i} is out of bound lastindex(${this.lastIndex()})`);
    }
    this.snap = {
      metadata: { index: i, term: this.ents[i - offset]!.term, confState: { voters: [...cs.voters], learners: [...cs.learners] } },
      data,
    };
    return this.snap;
  }

  /** Discards entries up to and including compactIndex (which must be <= applied). */
  compact(compactIndex: number): void {
    const offset = this.ents[0]!.index;
    if (compactIndex <= offset) throw new CompactedError();
    if (compactIndex > this.lastIndex()) {
      throw new RaftInvariantError(`compact ${compactIndex} is out of bound lastindex(${this.lastIndex()})`);
    }
    const i = compactIndex - offset;
    const head = this.ents[i]!;
    this.ents = [{ term: head.term, index: head.index, type: 0, data: new Uint8Array(0) }, ...this.ents.slice(i + 1)];
  }

  /**
   * Appends entries, replacing any stored suffix they conflict with. Entries at or
   * below the snapshot are ignored; a gap after lastIndex() is an error.
   */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const last = entries[0]!.index + entries.length - 1;
    if (last < first) return;
    let ents = entries as Entry[];
    if (first > ents[0]!.index) ents = ents.slice(first - ents[0]!.index);
    const offset = ents[0]!.index - this.ents[0]!.index;
    if (offset > this.ents.length) {
      throw new RaftInvariantError(`missing log entry [last: ${this.lastIndex()}, append at: ${ents[0]!.index}]`);
    }
    // truncate a conflicting suffix in place, then append: O(new entries), not O(log)
    this.ents.length = offset;
    for (const e of ents) this.ents.push(e);
  }

  /** total size of the stored entries, for tests and metrics */
  sizeBytes(): number {
    let n = 0;
    for (let i = 1; i < this.ents.length; i++) n += entrySizeBytes(this.ents[i]!);
    return n;
  }
}
