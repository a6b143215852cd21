// Proves what committedTail returns from a WAL written by etcd's wal package: only committed
// entries after the consistent index, only the requests tsetcd applies (as the bytes etcd
// wrote), every other kind counted under its name (no-ops, conf changes, legacy and wrapped
// v2 requests, reads, lease checkpoints, authenticate, 3.5 cluster records, unknown fields
// and entry types), and clear errors for missing committed entries, undecodable entries and
// a consistent index older than the WAL.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EtcdWalError } from '../../src/etcdwal/reader.js';
import { committedTail } from '../../src/etcdwal/tail.js';
import { encodeRaftRequest } from '../../src/server/raft-request.js';
import { tempDir } from '../helpers/tmp.js';
import { skipReason, waltool, writeWithEtcd, type PlanEntry } from './oracle.js';

const NODE = '42';

/** A length-delimited protobuf field. */
function field(no: number, body: Uint8Array | string): Buffer {
  const b = typeof body === 'string' ? Buffer.from(body) : Buffer.from(body);
  return Buffer.concat([uvarint(no * 8 + 2), uvarint(b.length), b]);
}

function uvarint(v: number): Buffer {
  const out: number[] = [];
  while (v >= 0x80) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
}

/** An InternalRaftRequest as etcd builds it: header {ID}, one request field. */
function request(no: number, body: Uint8Array = Buffer.from([0x0a, 0x01, 0x6b]), id = 7): Buffer {
  return encodeRaftRequest({ id, username: '', authRevision: 0 }, no, body);
}

/** A legacy v2 pb.Request as etcd 3.4's publish writes it: ID, Method, Path, Val. */
function legacyV2(): Buffer {
  return Buffer.concat([Buffer.from([0x08, 0x05]), field(2, 'PUT'), field(3, '/0/members/2a/attributes'), field(4, '{"name":"m"}')]);
}

interface Case {
  data: Buffer;
  type?: number;
  /** the kind committedTail gives it */
  kind: string;
  applied: boolean;
}

const CASES: Case[] = [
  { data: Buffer.alloc(0), kind: 'empty', applied: false },
  { data: Buffer.from([0x08, 0x01]), type: 1, kind: 'conf-change', applied: false },
  { data: Buffer.from([0x08, 0x01]), type: 2, kind: 'conf-change', applied: false },
  { data: Buffer.from([0x08, 0x01]), type: 9, kind: 'entry-type-9', applied: false },
  { data: legacyV2(), kind: 'v2-request', applied: false },
  { data: Buffer.concat([field(100, Buffer.from([0x08, 0x03])), field(2, legacyV2())]), kind: 'v2-request', applied: false },
  { data: request(3), kind: 'read-only', applied: false },
  { data: request(1102), kind: 'read-only', applied: false },
  { data: request(11), kind: 'lease-checkpoint', applied: false },
  { data: request(1012), kind: 'authenticate', applied: false },
  { data: request(1301), kind: 'cluster-metadata', applied: false },
  { data: request(777), kind: 'field-777', applied: false },
  { data: field(100, Buffer.from([0x08, 0x03])), kind: 'no-single-request', applied: false },
  { data: Buffer.concat([request(4), field(5, Buffer.from([0x0a, 0x01, 0x6b]))]), kind: 'no-single-request', applied: false },
  { data: request(4), kind: 'put', applied: true },
  { data: request(5), kind: 'delete-range', applied: true },
  { data: request(6), kind: 'txn', applied: true },
  { data: request(7), kind: 'compaction', applied: true },
  { data: request(8), kind: 'lease-grant', applied: true },
  { data: request(9), kind: 'lease-revoke', applied: true },
  { data: request(10), kind: 'alarm', applied: true },
  { data: request(1000), kind: 'auth-enable', applied: true },
  { data: request(1100), kind: 'auth-user-add', applied: true },
  { data: request(1204), kind: 'auth-role-revoke-permission', applied: true },
];

function entries(from: number, cases: Case[], term = 1): PlanEntry[] {
  return cases.map((c, i) => ({ index: from + i, term, type: c.type ?? 0, data: c.data.toString('hex') }));
}

const skip = waltool() === null ? skipReason() : false;

describe('committedTail on WALs written by etcd 3.4 wal package', { skip, timeout: 600_000 }, () => {
  let tmp: ReturnType<typeof tempDir>;
  let n = 0;
  /** writes one Save of `ents` with `commit`, and returns the WAL directory */
  function wal(ents: PlanEntry[], commit: number, segmentBytes = 1 << 20): string {
    const dir = path.join(tmp.dir, `wal-${n++}`);
    writeWithEtcd(dir, segmentBytes, { nodeId: NODE, clusterId: '43', ops: [{ entries: ents, hardState: { term: 1, vote: NODE, commit } }] });
    return dir;
  }

  before(() => {
    tmp = tempDir('tsetcd-etcdwal-tail-');
  });
  after(() => tmp.cleanup());

  test('every kind of entry: applied ones returned as written, the others counted by kind', () => {
    const dir = wal(entries(1, CASES), CASES.length);
    const tail = committedTail(dir, 0);
    const want = CASES.map((c, i) => ({ c, index: i + 1 })).filter(({ c }) => c.applied);
    assert.deepEqual(
      tail.entries.map((e) => ({ index: e.index, kind: e.kind, data: e.data.toString('hex') })),
      want.map(({ c, index }) => ({ index, kind: c.kind, data: c.data.toString('hex') })),
    );
    const counts = new Map<string, number>();
    for (const c of CASES) if (!c.applied) counts.set(c.kind, (counts.get(c.kind) ?? 0) + 1);
    assert.deepEqual(Object.fromEntries(tail.skipped), Object.fromEntries(counts));
    assert.equal(tail.metadata.nodeId, 42n);
  });

  test('only entries after the consistent index and up to the commit index', () => {
    const puts = Array.from({ length: 10 }, () => ({ data: request(4), kind: 'put', applied: true }));
    const dir = wal(entries(1, puts), 7);
    const tail = committedTail(dir, 4);
    assert.deepEqual(
      tail.entries.map((e) => e.index),
      [5, 6, 7],
    );
    assert.equal(tail.uncommitted, 3);
    assert.equal(committedTail(dir, 7).entries.length, 0);
    // the db may have applied past what this WAL recorded as committed
    assert.deepEqual(committedTail(dir, 9).entries, []);
  });

  test('a commit index past the last entry is refused: committed entries are missing', () => {
    const dir = path.join(tmp.dir, `wal-${n++}`);
    const puts = Array.from({ length: 3 }, () => ({ data: request(4), kind: 'put', applied: true }));
    writeWithEtcd(dir, 1 << 20, { nodeId: NODE, clusterId: '43', ops: [{ entries: entries(1, puts), hardState: { term: 1, vote: NODE, commit: 5 } }] });
    assert.throws(() => committedTail(dir, 0), (err: unknown) => err instanceof EtcdWalError && /commit index 5 is past the last entry in the WAL \(3\)/.test(err.message));
  });

  test('an entry that is no protobuf at all is refused, naming its index', () => {
    const bad: Case = { data: Buffer.from([0x0a, 0xff, 0xff, 0x01]), kind: '', applied: false };
    const dir = wal(entries(1, [{ data: request(4), kind: 'put', applied: true }, bad]), 2);
    assert.throws(() => committedTail(dir, 0), (err: unknown) => err instanceof EtcdWalError && /entry 2 is not an InternalRaftRequest nor a v2 request/.test(err.message));
  });

  test('a consistent index older than the oldest segment is refused', () => {
    const dir = path.join(tmp.dir, `wal-${n++}`);
    const big = (i: number): PlanEntry => ({ index: i, term: 1, type: 0, data: request(4, Buffer.alloc(600, 1)).toString('hex') });
    const ops = Array.from({ length: 30 }, (_, i) => ({ entries: [big(i + 1)], hardState: { term: 1, vote: NODE, commit: i + 1 } }));
    writeWithEtcd(dir, 4096, { nodeId: NODE, clusterId: '43', ops });
    const segments = committedTail(dir, 0);
    assert.equal(segments.entries.length, 30);
    // drop the first segment, as etcd's purge does once a snapshot covers it
    const names = fs.readdirSync(dir).sort();
    assert.ok(names.length >= 3);
    fs.rmSync(path.join(dir, names[0]!));
    const firstIndex = Number.parseInt(names[1]!.slice(17, 33), 16);
    assert.throws(() => committedTail(dir, firstIndex - 1), /wal: file not found/);
    assert.deepEqual(
      committedTail(dir, firstIndex).entries.map((e) => e.index),
      Array.from({ length: 30 - firstIndex }, (_, i) => firstIndex + 1 + i),
    );
  });
});
