// The part of the log not yet in stable storage: entries (and possibly a snapshot)
// that the application has been, or will be, handed in Ready and has not yet
// acknowledged with advance().
import { assert } from './errors.js';
import type { Entry, Snapshot } from './types.js';

export class Unstable {
  /** a snapshot received from the leader, waiting to be persisted */
  snapshot: Snapshot | undefined;
  entries: Entry[] = [];
  /** index of entries[0]; all indexes below it are stable (or in the snapshot) */
  offset: number;

  constructor(offset: number) {
    this.offset = offset;
  }

  /** first index of the log if the unstable snapshot decides it */
  maybeFirstIndex(): number | undefined {
    return this.snapshot ? this.snapshot.metadata.index + 1 : undefined;
  }

  maybeLastIndex(): number | undefined {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1;
    return this.snapshot ? this.snapshot.metadata.index : undefined;
  }

  maybeTerm(i: number): number | undefined {
    if (i < this.offset) {
      if (this.snapshot && this.snapshot.metadata.index === i) return this.snapshot.metadata.term;
      return undefined;
    }
    const last = this.maybeLastIndex();
    if (last === undefined || i > last) return undefined;
    return this.entries[i - this.offset]!.term;
  }

  /**
   * Entries up to (i, t) reached stable storage. Ignored when the log changed meanwhile
   * so that index i no longer holds term t (the entries were overwritten and the new
   * ones still need persisting).
   */
  stableTo(i: number, t: number): void {
    const gt = this.maybeTerm(i);
    if (gt === undefined) return;
    if (gt === t && i >= this.offset) {
      this.entries = this.entries.slice(i + 1 - this.offset);
      this.offset = i + 1;
    }
  }

  stableSnapTo(i: number): void {
    if (this.snapshot && this.snapshot.metadata.index === i) this.snapshot = undefined;
  }

  restore(s: Snapshot): void {
    this.offset = s.metadata.index + 1;
    this.entries = [];
    this.snapshot = s;
  }

  truncateAndAppend(ents: Entry[]): void {
    const after = ents[0]!.index;
    if (after === this.offset + this.entries.length) {
      // the common case: straight append
      for (const e of ents) this.entries.push(e);
    } else if (after <= this.offset) {
      // replace everything unstable; storage's entries >= after are superseded
      this.offset = after;
      this.entries = ents.slice();
    } else {
      // keep the unstable prefix before `after`, then the new entries
      this.entries = this.slice(this.offset, after).concat(ents);
    }
  }

  slice(lo: number, hi: number): Entry[] {
    const upper = this.offset + this.entries.length;
    assert(lo <= hi && lo >= this.offset && hi <= upper, () => `unstable.slice[${lo},${hi}) out of bound [${this.offset},${upper}]`);
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }
}
