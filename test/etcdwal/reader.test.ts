// Proves that readEtcdWal reads what etcd 3.4's own wal package writes, as etcd's ReadAll
// reads it: several segments, conflicting entries replacing the tail, snapshot marks and
// start points; that damage is reported naming the file and offset, a torn last record is
// cut as etcd's repair would, and that no corruption makes it crash or disagree with etcd.
// The WALs are written, and read back for comparison, by test/etcdwal/go/waltool.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EtcdWalError, readEtcdWal, type EtcdWalContents } from '../../src/etcdwal/reader.js';
import { tempDir } from '../helpers/tmp.js';
import { comparable, frameOffsets, readWithEtcd, skipReason, waltool, withoutError, writeWithEtcd, type Plan, type PlanOp } from './oracle.js';

const SEGMENT_BYTES = 4096;
/** ETCDWAL_FUZZ_SEED / ETCDWAL_FUZZ_CASES widen the random-damage comparisons when run by hand */
const SEED = Number(process.env.ETCDWAL_FUZZ_SEED ?? 20261208);
const CASES = Number(process.env.ETCDWAL_FUZZ_CASES ?? 60);
const NODE_ID = '10501334649042878790'; // above 2^63: IDs must survive as uint64
const CLUSTER_ID = '17237436991929493444';

function payload(index: number, term: number): string {
  return Buffer.from(`entry-${String(index).padStart(4, '0')}-term-${term}-${'x'.repeat(index % 97)}`).toString('hex');
}

function save(from: number, to: number, term: number, commit: number): PlanOp {
  const entries = [];
  for (let i = from; i <= to; i++) entries.push({ index: i, term, type: i % 17 === 0 ? 1 : 0, data: payload(i, term) });
  return { entries, hardState: { term, vote: NODE_ID, commit } };
}

/** 150 entries over several segments: marks at 30, 60 and 120, entries 100..110 rewritten at term 2. */
function plan(): Plan {
  const ops: PlanOp[] = [];
  for (let i = 1; i <= 90; i += 3) {
    ops.push(save(i, i + 2, 1, i + 2));
    if (i + 2 === 30 || i + 2 === 60) ops.push({ snapshot: { index: i + 2, term: 1 } });
  }
  ops.push(save(91, 120, 1, 90)); // appended, never committed
  ops.push(save(100, 110, 2, 110)); // a new leader's log replaces 100..120
  ops.push(save(111, 120, 2, 120));
  ops.push({ snapshot: { index: 120, term: 2 } });
  ops.push(save(121, 150, 2, 150));
  ops.push({ entries: [], hardState: { term: 2, vote: NODE_ID, commit: 150 } });
  return { nodeId: NODE_ID, clusterId: CLUSTER_ID, ops };
}

function copyDir(from: string, to: string): string {
  fs.cpSync(from, to, { recursive: true });
  return to;
}

function segmentPaths(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((n) => n.endsWith('.wal'))
    .sort()
    .map((n) => path.join(dir, n));
}

function rejects(dir: string, match: RegExp): EtcdWalError {
  try {
    readEtcdWal(dir);
  } catch (err) {
    assert.ok(err instanceof EtcdWalError, `expected EtcdWalError, got ${String(err)}`);
    assert.match(err.message, match);
    return err;
  }
  assert.fail(`reading ${dir} should have failed`);
}

/** A small deterministic generator, so a failing case can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

/** Damage of kind `how` at `at`: 0 a flipped bit, 1 cut there, 2 a zeroed sector, 3 16 random bytes. */
function damage(buf: Buffer, at: number, how: number, next: () => number): Buffer {
  if (how === 1) return buf.subarray(0, at);
  const out = Buffer.from(buf);
  if (how === 0) out[at] ^= 1 << Math.floor(next() * 8);
  else if (how === 2) out.fill(0, at - (at % 512), Math.min(out.length, at - (at % 512) + 512));
  else for (let k = 0; k < 16 && at + k < out.length; k++) out[at + k] = Math.floor(next() * 256);
  return out;
}

const skip = waltool() === null ? skipReason() : false;

describe('etcd WAL reader against etcd 3.4 wal package', { skip, timeout: 600_000 }, () => {
  let tmp: ReturnType<typeof tempDir>;
  let pristine: string;
  let n = 0;
  const fresh = () => copyDir(pristine, path.join(tmp.dir, `copy-${n++}`));

  before(() => {
    tmp = tempDir('tsetcd-etcdwal-');
    pristine = path.join(tmp.dir, 'wal');
    writeWithEtcd(pristine, SEGMENT_BYTES, plan());
  });
  after(() => tmp.cleanup());

  test('reads every segment as etcd ReadAll does: metadata, last hard state, conflicts resolved', () => {
    const r = readEtcdWal(pristine);
    assert.ok(r.segments.length >= 4, `expected several segments, got ${r.segments.join(', ')}`);
    assert.deepEqual(r.segments, fs.readdirSync(pristine).sort());
    assert.equal(r.torn, undefined);
    const etcd = readWithEtcd(pristine, 0, 0);
    assert.equal(etcd.error, '');
    assert.deepEqual(comparable(r), withoutError(etcd));
    assert.equal(r.entries.length, 150);
    assert.deepEqual(
      r.entries.filter((e) => e.index >= 100 && e.index <= 120).map((e) => e.term),
      new Array(21).fill(2),
    );
    assert.deepEqual(r.snapshots, [
      { index: 0, term: 0 },
      { index: 30, term: 1 },
      { index: 60, term: 1 },
      { index: 120, term: 2 },
    ]);
  });

  test('starts at a snapshot mark as etcd does, and checks its term', () => {
    for (const [index, term] of [
      [60, 1],
      [120, 2],
    ] as const) {
      const r = readEtcdWal(pristine, { startIndex: index, startTerm: term });
      const etcd = readWithEtcd(pristine, index, term);
      assert.equal(etcd.error, '');
      assert.deepEqual(comparable(r), withoutError(etcd));
      assert.equal(r.entries[0]!.index, index + 1);
    }
    assert.equal(readWithEtcd(pristine, 30, 7).error, 'wal: snapshot mismatch');
    assert.throws(() => readEtcdWal(pristine, { startIndex: 30, startTerm: 7 }), /wal: snapshot mismatch/);
    assert.equal(readWithEtcd(pristine, 61, 1).error, 'wal: snapshot not found');
    assert.throws(() => readEtcdWal(pristine, { startIndex: 61, startTerm: 1 }), /wal: snapshot not found/);
  });

  test('a start index alone (a consistent index) needs no mark and skips the segments before it', () => {
    const r = readEtcdWal(pristine, { startIndex: 133 });
    assert.deepEqual(
      r.entries.map((e) => e.index),
      Array.from({ length: 17 }, (_, i) => 134 + i),
    );
    assert.ok(r.segments.length < fs.readdirSync(pristine).length, 'earlier segments are not read');
    assert.equal(r.hardState.commit, 150);
  });

  test('a WAL whose segments start after the start index is refused (entries are missing)', () => {
    const dir = fresh();
    fs.rmSync(segmentPaths(dir)[0]!);
    rejects(dir, /wal: file not found/);
    assert.match(readWithEtcd(dir, 0, 0).error, /file not found/);
  });

  test('a missing middle segment is refused', () => {
    const dir = fresh();
    fs.rmSync(segmentPaths(dir)[2]!);
    const err = rejects(dir, /sequence gap/);
    assert.equal(readWithEtcd(dir, 0, 0).error, 'wal: file not found');
    assert.equal(err.file, dir);
  });

  test('a flipped byte in a middle segment names the file and the record offset', () => {
    const dir = fresh();
    const file = segmentPaths(dir)[2]!;
    const buf = fs.readFileSync(file);
    const frames = frameOffsets(buf);
    const victim = frames[Math.floor(frames.length / 2)]!;
    buf[victim + 8 + 12] ^= 0x40; // inside the record, past the length word
    fs.writeFileSync(file, buf);
    const err = rejects(dir, /crc mismatch/);
    assert.equal(err.file, file);
    assert.equal(err.offset, victim);
    assert.notEqual(readWithEtcd(dir, 0, 0).error, '');
  });

  test('a flipped byte in the last segment, not in its last record, is an error too', () => {
    const dir = fresh();
    const file = segmentPaths(dir).at(-1)!;
    const buf = fs.readFileSync(file);
    const frames = frameOffsets(buf);
    assert.ok(frames.length >= 3);
    buf[frames[1]! + 8 + 10] ^= 0x01;
    fs.writeFileSync(file, buf);
    const err = rejects(dir, /crc mismatch/);
    assert.deepEqual([err.file, err.offset], [file, frames[1]]);
  });

  test('a last record cut short (crash mid-write) ends the log where etcd repair cuts it', () => {
    const dir = fresh();
    const file = segmentPaths(dir).at(-1)!;
    const buf = fs.readFileSync(file);
    const frames = frameOffsets(buf);
    const last = frames.at(-1)!;
    fs.writeFileSync(file, buf.subarray(0, last + 11));
    const r = readEtcdWal(dir);
    assert.deepEqual(r.torn && [r.torn.file, r.torn.offset], [file, last]);
    const etcd = readWithEtcd(dir, 0, 0);
    assert.equal(etcd.error, ''); // read mode accepts the torn tail
    assert.deepEqual(comparable(r), withoutError(etcd));
  });

  test('a last record whose sectors were never written (zeros) is a torn write', () => {
    const dir = fresh();
    const file = segmentPaths(dir).at(-1)!;
    const buf = fs.readFileSync(file);
    const frames = frameOffsets(buf);
    const last = frames.at(-2)!; // the entry before the final hard state
    const end = frames.at(-1)!;
    buf.fill(0, last + 8, end);
    fs.writeFileSync(file, buf);
    const r = readEtcdWal(dir);
    assert.equal(r.torn?.offset, last);
    assert.deepEqual(comparable(r), withoutError(readWithEtcd(dir, 0, 0)));
  });

  test('a middle segment cut short is an error, not a torn tail', () => {
    const dir = fresh();
    const file = segmentPaths(dir)[1]!;
    const buf = fs.readFileSync(file);
    const frames = frameOffsets(buf);
    fs.writeFileSync(file, buf.subarray(0, frames.at(-1)! + 20));
    const err = rejects(dir, /unexpected EOF/);
    assert.deepEqual([err.file, err.offset], [file, frames.at(-1)]);
  });

  test('random bytes, an empty directory, a missing directory: clear errors', () => {
    const dir = path.join(tmp.dir, `random-${n++}`);
    fs.mkdirSync(dir);
    const next = rng(7);
    const junk = Buffer.alloc(64 * 1024, 0).map(() => Math.floor(next() * 256));
    fs.writeFileSync(path.join(dir, '0000000000000000-0000000000000000.wal'), junk);
    rejects(dir, /max entry size limit exceeded|crc mismatch|unexpected/);
    assert.notEqual(readWithEtcd(dir, 0, 0).error, '');

    const empty = path.join(tmp.dir, `empty-${n++}`);
    fs.mkdirSync(empty);
    fs.writeFileSync(path.join(empty, 'notes.txt'), 'not a segment');
    rejects(empty, /wal: file not found/);
    rejects(path.join(tmp.dir, 'no-such-dir'), /cannot list the WAL directory/);
  });

  test('random damage to the last segment: the same verdict and entries as etcd', () => {
    const next = rng(SEED);
    for (let i = 0; i < CASES; i++) {
      const dir = fresh();
      const file = segmentPaths(dir).at(-1)!;
      const buf = fs.readFileSync(file);
      const used = frameOffsets(buf);
      const span = used.length > 0 ? used.at(-1)! + 64 : buf.length;
      const at = Math.floor(next() * span);
      const damaged = damage(buf, at, i % 4, next);
      fs.writeFileSync(file, damaged);
      const etcd = readWithEtcd(dir, 0, 0);
      const label = `case ${i} (damage ${i % 4} at ${at})`;
      let r: EtcdWalContents | undefined;
      try {
        r = readEtcdWal(dir);
      } catch (err) {
        assert.ok(err instanceof EtcdWalError, `${label}: ${String(err)}`);
        // the record type is outside the CRC: a flipped type can make etcd read an ID as an
        // index; indexes past 2^53 - 1 are the one thing refused here that etcd would take
        if (/beyond what this reader handles/.test(err.message)) continue;
        assert.notEqual(etcd.error, '', `${label}: we refused (${err.message}) what etcd reads`);
        continue;
      }
      assert.equal(etcd.error, '', `${label}: etcd refuses (${etcd.error}), we read ${r.entries.length} entries`);
      assert.deepEqual(comparable(r), withoutError(etcd), label);
    }
  });

  test('random damage to a middle segment: refused whenever etcd refuses it', () => {
    const next = rng(SEED + 1);
    for (let i = 0; i < CASES / 2; i++) {
      const dir = fresh();
      const file = segmentPaths(dir)[1 + (i % 2)]!;
      const buf = fs.readFileSync(file);
      const at = Math.floor(next() * buf.length);
      fs.writeFileSync(file, damage(buf, at, i % 4, next));
      const etcd = readWithEtcd(dir, 0, 0);
      const label = `case ${i} (damage ${i % 4} at ${at} of ${path.basename(file)})`;
      let r: EtcdWalContents | undefined;
      try {
        r = readEtcdWal(dir);
      } catch (err) {
        assert.ok(err instanceof EtcdWalError, `${label}: ${String(err)}`);
        // a zeroed length word ends a segment early: the next segment's crc record catches it
        assert.ok(err.file !== undefined && path.basename(err.file) >= path.basename(file), `${label}: ${err.message}`);
        // etcd reads up to a torn record in any segment in read mode, but its server
        // refuses one outside the last segment (repair only cuts the last)
        if (etcd.error === '') assert.match(err.message, /unexpected EOF|torn|beyond what this reader handles/, label);
        continue;
      }
      assert.equal(etcd.error, '', `${label}: etcd refuses (${etcd.error}), we read ${r.entries.length} entries`);
      assert.deepEqual(comparable(r), withoutError(etcd), label);
    }
  });
});
