// The history of one key: a list of generations. A generation runs from the put that
// created the key to the delete (tombstone) that ended it; the last generation is the
// live one and is empty while the key does not exist.
import type { Revision } from './revision.js';

export class Generation {
  /** number of puts in this generation so far (the key's version) */
  ver = 0;
  created: Revision = { main: 0, sub: 0 };
  revs: Revision[] = [];

  isEmpty(): boolean {
    return this.revs.length === 0;
  }

  /** Index of the last revision with main <= atRev, or -1. */
  lastAtOrBefore(atRev: number): number {
    for (let i = this.revs.length - 1; i >= 0; i--) if (this.revs[i]!.main <= atRev) return i;
    return -1;
  }
}

export interface KeyAtRevision {
  modified: Revision;
  created: Revision;
  ver: number;
}

export class KeyIndex {
  modified: Revision = { main: 0, sub: 0 };
  generations: Generation[] = [new Generation()];

  constructor(readonly key: string) {}

  put(rev: Revision): void {
    if (rev.main < this.modified.main) {
      throw new Error(`mvcc: put of key ${JSON.stringify(this.key)} at revision ${rev.main} below its last modification ${this.modified.main}`);
    }
    const g = this.generations[this.generations.length - 1]!;
    if (g.isEmpty()) g.created = rev;
    g.revs.push(rev);
    g.ver++;
    this.modified = rev;
  }

  /** Rebuilds a key met first during a backend scan (its older history may be compacted away). */
  restore(created: Revision, modified: Revision, ver: number): void {
    const g = this.generations[this.generations.length - 1]!;
    g.created = created;
    g.ver = ver;
    g.revs = [modified];
    this.modified = modified;
  }

  /** Records a delete at rev and opens a new, empty generation. */
  tombstone(rev: Revision): void {
    const g = this.generations[this.generations.length - 1]!;
    if (g.isEmpty()) throw new Error(`mvcc: tombstone of key ${JSON.stringify(this.key)} that does not exist`);
    this.put(rev);
    this.generations.push(new Generation());
  }

  isLive(): boolean {
    return !this.generations[this.generations.length - 1]!.isEmpty();
  }

  isEmpty(): boolean {
    return this.generations.length === 1 && this.generations[0]!.isEmpty();
  }

  /** The key as it was at atRev, or undefined if it did not exist then. */
  get(atRev: number): KeyAtRevision | undefined {
    const g = this.findGeneration(atRev);
    if (!g) return undefined;
    const n = g.lastAtOrBefore(atRev);
    if (n < 0) return undefined;
    return { modified: g.revs[n]!, created: g.created, ver: g.ver - (g.revs.length - n - 1) };
  }

  private findGeneration(atRev: number): Generation | undefined {
    const last = this.generations.length - 1;
    for (let i = last; i >= 0; i--) {
      const g = this.generations[i]!;
      if (g.isEmpty()) continue;
      // a closed generation whose tombstone is at or before atRev: the key was deleted then
      if (i !== last && g.revs[g.revs.length - 1]!.main <= atRev) return undefined;
      if (g.revs[0]!.main <= atRev) return g;
    }
    return undefined;
  }

  /** Every revision with main >= rev, oldest first (the history a watcher must replay). */
  since(rev: number): Revision[] {
    const out: Revision[] = [];
    for (const g of this.generations) {
      for (const r of g.revs) if (r.main >= rev) out.push(r);
    }
    return out;
  }

  /**
   * Where a compaction at atRev cuts this key's history: the first generation that
   * still matters (skipping those whose tombstone is at or before atRev) and in it
   * the newest revision at or before atRev (-1: none).
   */
  private compactionPoint(atRev: number): { gi: number; n: number } {
    let gi = 0;
    while (gi < this.generations.length - 1) {
      const g = this.generations[gi]!;
      if (g.revs[g.revs.length - 1]!.main > atRev) break;
      gi++;
    }
    return { gi, n: this.generations[gi]!.lastAtOrBefore(atRev) };
  }

  /** True when the kept revision is the tombstone closing an older generation. */
  private keptOnlyTombstone(gi: number, n: number): boolean {
    const g = this.generations[gi]!;
    return n === g.revs.length - 1 && gi !== this.generations.length - 1;
  }

  /**
   * Drops history older than atRev, keeping the newest revision at or before it so reads
   * at atRev still work. Revisions that must survive in the backend go into `keep`.
   */
  compact(atRev: number, keep: Set<string>): void {
    if (this.isEmpty()) return;
    let { gi, n } = this.compactionPoint(atRev);
    const g = this.generations[gi]!;
    if (n >= 0) {
      if (this.keptOnlyTombstone(gi, n)) {
        // a closed generation reduced to its tombstone carries nothing worth keeping
        gi++;
      } else {
        keep.add(revKey(g.revs[n]!));
        g.revs = g.revs.slice(n);
      }
    }
    this.generations = this.generations.slice(gi);
  }

  /** Adds to `keep` the revisions a compaction at atRev would keep, without changing anything. */
  keep(atRev: number, keep: Set<string>): void {
    if (this.isEmpty()) return;
    const { gi, n } = this.compactionPoint(atRev);
    if (n >= 0 && !this.keptOnlyTombstone(gi, n)) keep.add(revKey(this.generations[gi]!.revs[n]!));
  }
}

export function revKey(r: Revision): string {
  return `${r.main}_${r.sub}`;
}
