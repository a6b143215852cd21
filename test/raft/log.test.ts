// Unit tests of the log: MemoryStorage, the unstable tail, and RaftLog over both.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CompactedError, RaftInvariantError, SnapshotOutOfDateError, UnavailableError } from '../../src/raft/errors.js';
import { Unstable } from '../../src/raft/log-unstable.js';
import { RaftLog } from '../../src/raft/raft-log.js';
import { MemoryStorage } from '../../src/raft/storage.js';
import { type Entry, EntryType, type Snapshot } from '../../src/raft/types.js';

const enc = new TextEncoder();
function ent(index: number, term: number, data = ''): Entry {
  return { index, term, type: EntryType.Normal, data: enc.encode(data) };
}
/** entries from `first`, one per term in `terms` */
function ents(first: number, terms: number[]): Entry[] {
  return terms.map((t, i) => ent(first + i, t));
}
const terms = (es: Entry[]) => es.map((e) => e.term);
function snap(index: number, term: number): Snapshot {
  return { metadata: { index, term, confState: { voters: [1n], learners: [] } }, data: new Uint8Array(0) };
}

describe('MemoryStorage', () => {
  test('starts empty, with a dummy entry at 0', () => {
    const s = new MemoryStorage();
    assert.equal(s.firstIndex(), 1);
    assert.equal(s.lastIndex(), 0);
    assert.equal(s.term(0), 0);
    assert.throws(() => s.term(1), UnavailableError);
  });

  test('append replaces a conflicting suffix and ignores compacted entries', () => {
    const s = new MemoryStorage();
    s.append(ents(1, [1, 1, 2, 2]));
    s.append(ents(3, [3]));
    assert.equal(s.lastIndex(), 3);
    assert.equal(s.term(3), 3);
    s.compact(2);
    s.append(ents(1, [1, 1, 3, 4]));
    assert.deepEqual(terms(s.entries(3, 5, Infinity)), [3, 4]);
    assert.throws(() => s.append(ents(7, [4])), RaftInvariantError, 'gap');
  });

  test('entries respects bounds and the byte limit (at least one entry)', () => {
    const s = new MemoryStorage();
    s.append([ent(1, 1, 'aaaa'), ent(2, 1, 'bbbb'), ent(3, 1, 'cccc')]);
    assert.equal(s.entries(1, 4, 0).length, 1);
    assert.equal(s.entries(1, 4, 2 * (24 + 4)).length, 2);
    assert.equal(s.entries(1, 4, Infinity).length, 3);
    assert.throws(() => s.entries(1, 5, Infinity), UnavailableError);
    s.compact(1);
    assert.throws(() => s.entries(1, 3, Infinity), CompactedError);
    assert.throws(() => s.term(0), CompactedError);
    assert.equal(s.term(1), 1, 'the compaction point keeps its term');
  });

  test('snapshots: create, out of date, apply resets the log', () => {
    const s = new MemoryStorage();
    s.append(ents(1, [1, 1, 2]));
    const sn = s.createSnapshot(2, { voters: [1n, 2n], learners: [] }, enc.encode('state'));
    assert.deepEqual([sn.metadata.index, sn.metadata.term], [2, 1]);
    assert.throws(() => s.createSnapshot(2, { voters: [], learners: [] }, new Uint8Array(0)), SnapshotOutOfDateError);
    assert.deepEqual(s.initialState().confState.voters, [1n, 2n]);
    s.applySnapshot(snap(10, 5));
    assert.equal(s.firstIndex(), 11);
    assert.equal(s.lastIndex(), 10);
    assert.equal(s.term(10), 5);
    assert.throws(() => s.applySnapshot(snap(9, 5)), SnapshotOutOfDateError);
  });
});

describe('Unstable', () => {
  test('truncateAndAppend: append, replace all, or keep a prefix', () => {
    const u = new Unstable(5);
    u.truncateAndAppend(ents(5, [1, 1]));
    u.truncateAndAppend(ents(7, [1]));
    assert.deepEqual([u.offset, terms(u.entries)], [5, [1, 1, 1]]);
    u.truncateAndAppend(ents(6, [2, 2]));
    assert.deepEqual([u.offset, terms(u.entries)], [5, [1, 2, 2]]);
    u.truncateAndAppend(ents(4, [3]));
    assert.deepEqual([u.offset, terms(u.entries)], [4, [3]]);
  });

  test('stableTo only when the term still matches', () => {
    const u = new Unstable(5);
    u.truncateAndAppend(ents(5, [1, 1, 1]));
    u.stableTo(6, 2); // the entry at 6 is term 1: ignored
    assert.equal(u.offset, 5);
    u.stableTo(6, 1);
    assert.deepEqual([u.offset, terms(u.entries)], [7, [1]]);
    u.stableTo(4, 1); // below offset: ignored
    assert.equal(u.offset, 7);
  });

  test('a snapshot decides first/last index and the term at its index', () => {
    const u = new Unstable(3);
    u.restore(snap(10, 4));
    assert.equal(u.maybeFirstIndex(), 11);
    assert.equal(u.maybeLastIndex(), 10);
    assert.equal(u.maybeTerm(10), 4);
    assert.equal(u.maybeTerm(9), undefined);
    u.stableSnapTo(9);
    assert.ok(u.snapshot);
    u.stableSnapTo(10);
    assert.equal(u.snapshot, undefined);
  });
});

describe('RaftLog', () => {
  function logWith(stable: number[], unstable: number[] = [], compactTo = 0): RaftLog {
    const s = new MemoryStorage();
    s.append(ents(1, stable));
    if (compactTo > 0) s.compact(compactTo);
    const l = new RaftLog(s, Infinity);
    if (unstable.length > 0) l.append(ents(stable.length + 1, unstable));
    return l;
  }

  test('term: undefined outside [first-1, last]', () => {
    const l = logWith([1, 1, 2, 2], [3], 2);
    assert.equal(l.term(1), undefined, 'compacted');
    assert.equal(l.term(2), 1, 'the compaction point');
    assert.equal(l.term(5), 3, 'unstable');
    assert.equal(l.term(6), undefined);
  });

  test('maybeAppend: rejects on mismatch, skips duplicates, truncates conflicts, commits', () => {
    const l = logWith([1, 2, 2]);
    assert.equal(l.maybeAppend(3, 3, 3, ents(4, [3])), undefined, 'prev term mismatch');
    assert.equal(l.maybeAppend(2, 2, 2, ents(3, [2])), 3, 'duplicate');
    assert.equal(l.unstable.entries.length, 0, 'nothing new to write');
    assert.equal(l.committed, 2);
    assert.equal(l.maybeAppend(2, 2, 10, ents(3, [3, 3])), 4, 'conflict at 3 replaced');
    assert.deepEqual(terms(l.allEntries()), [1, 2, 3, 3]);
    assert.equal(l.committed, 4, 'commit capped at the last new entry');
    assert.throws(() => l.maybeAppend(1, 1, 4, ents(2, [9])), RaftInvariantError, 'may not overwrite committed entries');
  });

  test('findConflictByTerm walks down to a term <= the given one', () => {
    const l = logWith([1, 1, 2, 2, 5, 5]);
    assert.deepEqual(l.findConflictByTerm(6, 3), { index: 4, term: 2 });
    assert.deepEqual(l.findConflictByTerm(6, 5), { index: 6, term: 5 });
    assert.deepEqual(l.findConflictByTerm(6, 0), { index: 0, term: 0 });
    assert.deepEqual(l.findConflictByTerm(9, 5), { index: 9, term: 0 }, 'beyond the log');
    const c = logWith([1, 1, 2, 2, 5, 5], [], 3);
    assert.deepEqual(c.findConflictByTerm(6, 1), { index: 2, term: 0 }, 'compacted: unknown term');
  });

  test('isUpToDate compares last term, then last index', () => {
    const l = logWith([1, 2, 2]);
    assert.equal(l.isUpToDate(1, 3), true);
    assert.equal(l.isUpToDate(3, 2), true);
    assert.equal(l.isUpToDate(2, 2), false);
    assert.equal(l.isUpToDate(10, 1), false);
  });

  test('maybeCommit only for an entry of the given term (§5.4.2)', () => {
    const l = logWith([1, 1, 2]);
    assert.equal(l.maybeCommit(2, 2), false, 'entry 2 is from term 1');
    assert.equal(l.committed, 0);
    assert.equal(l.maybeCommit(3, 2), true);
    assert.equal(l.committed, 3);
  });

  test('committed entries are handed out only once persisted', () => {
    const l = logWith([1, 1], [1, 1]);
    l.commitTo(4);
    assert.deepEqual(l.nextCommittedEntries().map((e) => e.index), [1, 2]);
    assert.equal(l.persistedIndex(), 2);
    (l.storage as MemoryStorage).append(l.unstableEntries()); // the application persists...
    l.stableTo(4, 1); // ...and acknowledges
    assert.deepEqual(l.nextCommittedEntries().map((e) => e.index), [1, 2, 3, 4]);
    l.appliedTo(4);
    assert.equal(l.hasNextCommittedEntries(), false);
  });

  test('nothing applies while a snapshot waits to be persisted', () => {
    const l = logWith([1, 1]);
    l.commitTo(2);
    l.restore(snap(8, 3));
    assert.equal(l.hasNextCommittedEntries(), false);
    assert.equal(l.firstIndex(), 9);
    assert.equal(l.lastIndex(), 8);
    assert.equal(l.committed, 8);
  });

  test('slice spans storage and unstable, honours the byte limit, reports compaction', () => {
    const s = new MemoryStorage();
    s.append([ent(1, 1, 'aa'), ent(2, 1, 'bb'), ent(3, 1, 'cc')]);
    const l = new RaftLog(s, Infinity);
    l.append([ent(4, 1, 'dd'), ent(5, 1, 'ee')]);
    assert.deepEqual(l.slice(2, 6, Infinity)!.map((e) => e.index), [2, 3, 4, 5]);
    assert.deepEqual(l.slice(2, 6, 2 * 26)!.map((e) => e.index), [2, 3]);
    assert.deepEqual(l.slice(3, 6, 2 * 26)!.map((e) => e.index), [3, 4]);
    assert.deepEqual(l.slice(2, 6, 0)!.map((e) => e.index), [2]);
    s.compact(2);
    assert.equal(l.slice(2, 4, Infinity), undefined);
    assert.equal(l.entriesFrom(1, Infinity), undefined);
    assert.deepEqual(l.entriesFrom(6, Infinity), []);
  });

  test('a conflicting append moves the unstable offset below stable entries', () => {
    const l = logWith([1, 1, 1, 1]);
    l.append(ents(3, [2, 2]));
    assert.equal(l.unstable.offset, 3);
    assert.equal(l.persistedIndex(), 2);
    assert.deepEqual(terms(l.allEntries()), [1, 1, 2, 2]);
  });
});
