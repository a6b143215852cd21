// The in-memory index from key to its history, ordered by key bytes so ranges are
// walks. Keys are held as latin1 strings: one char per byte, so JavaScript's string
// order is exactly the byte order etcd sorts by.
import sortedBtree from 'sorted-btree';
import { KeyIndex, type KeyAtRevision } from './key-index.js';
import type { Revision } from './revision.js';

// sorted-btree is CommonJS: its class is the `default` property of module.exports
const BTree = sortedBtree.default;
type Tree = sortedBtree.default<string, KeyIndex>;

export function keyString(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
}

export function keyBytes(key: string): Buffer {
  return Buffer.from(key, 'latin1');
}

/**
 * A range as etcd's requests give it: `end` undefined is the single key `start`;
 * an empty `end` means every key >= start; otherwise [start, end).
 */
export interface KeyRange {
  start: string;
  end: string | undefined;
}

export function makeRange(key: Uint8Array, rangeEnd: Uint8Array | undefined): KeyRange {
  if (!rangeEnd || rangeEnd.length === 0) return { start: keyString(key), end: undefined };
  if (rangeEnd.length === 1 && rangeEnd[0] === 0) return { start: keyString(key), end: '' };
  return { start: keyString(key), end: keyString(rangeEnd) };
}

export interface IndexedKey extends KeyAtRevision {
  key: string;
}

export class TreeIndex {
  private tree: Tree = new BTree<string, KeyIndex>();

  get size(): number {
    return this.tree.size;
  }

  lookup(key: string): KeyIndex | undefined {
    return this.tree.get(key);
  }

  put(key: string, rev: Revision): void {
    let ki = this.tree.get(key);
    if (!ki) {
      ki = new KeyIndex(key);
      this.tree.set(key, ki);
    }
    ki.put(rev);
  }

  restore(key: string, created: Revision, modified: Revision, ver: number): void {
    let ki = this.tree.get(key);
    if (!ki) {
      ki = new KeyIndex(key);
      ki.restore(created, modified, ver);
      this.tree.set(key, ki);
      return;
    }
    ki.put(modified);
  }

  tombstone(key: string, rev: Revision): void {
    const ki = this.tree.get(key);
    if (!ki) throw new Error(`mvcc: tombstone of unknown key ${JSON.stringify(key)}`);
    ki.tombstone(rev);
  }

  get(key: string, atRev: number): KeyAtRevision | undefined {
    return this.tree.get(key)?.get(atRev);
  }

  /** Visits the key indexes in the range, in key order; stop by returning false. */
  visit(range: KeyRange, fn: (ki: KeyIndex) => boolean | void): void {
    if (range.end === undefined) {
      const ki = this.tree.get(range.start);
      if (ki) fn(ki);
      return;
    }
    if (range.end !== '' && range.end <= range.start) return;
    const high = range.end === '' ? undefined : range.end;
    if (high === undefined) {
      for (const [, ki] of this.tree.entries(range.start)) if (fn(ki) === false) return;
      return;
    }
    this.tree.forRange(range.start, high, false, (_k: string, ki: KeyIndex) => (fn(ki) === false ? { break: true } : undefined));
  }

  /** Keys alive at atRev in the range, with their revision at atRev, in key order. */
  revisions(range: KeyRange, atRev: number, limit = 0): { keys: IndexedKey[]; total: number } {
    const keys: IndexedKey[] = [];
    let total = 0;
    this.visit(range, (ki) => {
      const at = ki.get(atRev);
      if (!at) return;
      total++;
      if (limit <= 0 || keys.length < limit) keys.push({ key: ki.key, ...at });
    });
    return { keys, total };
  }

  countRevisions(range: KeyRange, atRev: number): number {
    let total = 0;
    this.visit(range, (ki) => {
      if (ki.get(atRev)) total++;
    });
    return total;
  }

  /** Compacts every key at atRev; returns the revisions the backend must keep. */
  compact(atRev: number): Set<string> {
    const keep = new Set<string>();
    const emptied: string[] = [];
    for (const [key, ki] of this.tree.entries()) {
      ki.compact(atRev, keep);
      if (ki.isEmpty()) emptied.push(key);
    }
    for (const key of emptied) this.tree.delete(key);
    return keep;
  }

  keep(atRev: number): Set<string> {
    const keep = new Set<string>();
    for (const [, ki] of this.tree.entries()) ki.keep(atRev, keep);
    return keep;
  }
}
