// Proves, on WALs written by a real etcd 3.4 member, that readEtcdWal reads what etcd's
// ReadAll reads, and that committedTail hands back exactly the writes the db is missing:
// after kill -9 with the backend never committing on its own, the writes after the last
// forced commit; after a clean stop, the lease grant that followed the last key change (etcd
// records the consistent index only with key-space changes). Membership and v2 entries
// (the member's own publish) are counted, not returned. Also: a torn last record of a real
// WAL, and a WAL over two 64 MB segments (70 puts of 1 MB).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { forEachField } from '../../src/etcdwal/proto.js';
import { readEtcdWal, type EtcdEntry } from '../../src/etcdwal/reader.js';
import { classifyEntry, committedTail } from '../../src/etcdwal/tail.js';
import {
  AuthRoleAddRequest,
  AuthUserAddRequest,
  CompactionRequest,
  DeleteRangeRequest,
  LeaseGrantRequest,
  LeaseRevokeRequest,
  PutRequest,
  TxnRequest,
} from '../../src/proto/etcdserverpb.js';
import { decodeRaftRequest } from '../../src/server/raft-request.js';
import { Backend } from '../../src/backend/backend.js';
import { MvccStore } from '../../src/mvcc/store.js';
import { Lessor } from '../../src/lease/lessor.js';
import { AlarmStore } from '../../src/server/alarms.js';
import { AuthStore } from '../../src/auth/store.js';
import { Membership } from '../../src/server/membership.js';
import { applyEntry } from '../../src/server/apply.js';
import { EntryType } from '../../src/raft/types.js';
import type { TailEntry } from '../../src/etcdwal/tail.js';
import { etcdctl, freePorts, haveBinary, startMember, type RunningMember } from '../e2e/harness.js';
import { tempDir } from '../helpers/tmp.js';
import { comparable, consistentIndexOf, frameOffsets, readWithEtcd, skipReason, waltool, withoutError } from './oracle.js';

const text = (b: Uint8Array) => Buffer.from(b).toString('utf8');
const hex = (id: bigint) => id.toString(16);

/** One line per InternalRaftRequest, decoded with tsetcd's own codecs. */
function describeRequest(data: Uint8Array): string {
  const { field, body } = decodeRaftRequest(data);
  switch (field) {
    case 4: {
      const p = PutRequest.decode(body);
      return `put ${text(p.key)}=${p.value.length > 64 ? `<${p.value.length} bytes>` : text(p.value)}${p.lease ? ` lease=${hex(p.lease)}` : ''}`;
    }
    case 5:
      return `delete ${text(DeleteRangeRequest.decode(body).key)}`;
    case 6: {
      const t = TxnRequest.decode(body);
      const op = (o: (typeof t.success)[number]) => `put ${text(o.request_put!.key)}=${text(o.request_put!.value)}`;
      return `txn ${text(t.compare[0]!.key)}=${text(t.compare[0]!.value ?? new Uint8Array())} ? ${op(t.success[0]!)} : ${op(t.failure[0]!)}`;
    }
    case 7:
      return `compact ${CompactionRequest.decode(body).revision}`;
    case 8: {
      const g = LeaseGrantRequest.decode(body);
      return `grant ${hex(g.ID)} ttl=${g.TTL}`;
    }
    case 9:
      return `revoke ${hex(LeaseRevokeRequest.decode(body).ID)}`;
    case 1100:
      return `user add ${AuthUserAddRequest.decode(body).name}`;
    case 1200:
      return `role add ${AuthRoleAddRequest.decode(body).name}`;
    default:
      return `field ${field}`;
  }
}

/** The entries tsetcd would apply, described, with their indexes. */
function applied(entries: EtcdEntry[]): { index: number; what: string }[] {
  return entries.filter((e) => classifyEntry(e).apply).map((e) => ({ index: e.index, what: describeRequest(e.data) }));
}

/** The Path of a legacy v2 pb.Request (field 3). */
function v2Path(data: Uint8Array): string {
  let p = '';
  forEachField(data, 'pb.Request', (f) => {
    if (f.no === 3) p = text(f.bytes);
  });
  return p;
}

interface KvJson {
  key: string;
  value: string;
  create_revision: number;
  mod_revision: number;
  version: number;
}

/** Applies `entries` with tsetcd's apply to a fresh store; returns what a full range shows and any apply errors. */
async function applyWithTsetcd(dir: string, entries: TailEntry[]): Promise<{ revision: number; kvs: KvJson[]; errors: string[] }> {
  const backend = Backend.open(path.join(dir, 'tsetcd.lmdb'));
  try {
    const store = new MvccStore(backend);
    store.restore();
    // a compaction's physical part runs on after apply: keep hold of it to await it before closing
    const compactions: Promise<void>[] = [];
    const compact = store.compact.bind(store);
    store.compact = (rev: number) => {
      const p = compact(rev);
      compactions.push(p);
      return p;
    };
    const lessor = new Lessor(backend, { minTtlSec: 1, onExpired: () => {} });
    store.leases = lessor;
    const auth = new AuthStore(backend, { bcryptCost: 4 });
    const ctx = { store, lessor, auth, alarms: new AlarmStore(backend), membership: new Membership(backend), leases: { exists: (id: bigint) => lessor.exists(id) } };
    const errors: string[] = [];
    for (const e of entries) {
      const out = backend.write(() => applyEntry({ index: e.index, term: e.term, type: EntryType.Normal, data: e.data }, ctx));
      if (out.error !== undefined) errors.push(`${e.kind} at ${e.index}: ${String(out.error)}`);
    }
    await Promise.all(compactions);
    const r = store.range({ start: '', end: '' });
    const kvs = r.kvs.map((kv) => ({ key: text(kv.key), value: text(kv.value), create_revision: kv.create_revision, mod_revision: kv.mod_revision, version: kv.version }));
    return { revision: r.rev, kvs, errors };
  } finally {
    await backend.close();
  }
}

/** What etcd shows for a full range: `etcdctl get "" --prefix -w json`. */
async function etcdKvs(m: RunningMember): Promise<{ revision: number; kvs: KvJson[] }> {
  const out = JSON.parse(await ctl(m, ['get', '', '--prefix', '-w', 'json'])) as {
    header: { revision: number };
    kvs?: { key: string; value: string; create_revision: number; mod_revision: number; version: number }[];
  };
  const b64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');
  return {
    revision: out.header.revision,
    kvs: (out.kvs ?? []).map((kv) => ({ key: b64(kv.key), value: b64(kv.value), create_revision: kv.create_revision, mod_revision: kv.mod_revision, version: kv.version })),
  };
}

async function ctl(m: RunningMember, args: string[], stdin?: string): Promise<string> {
  const r = await etcdctl(m.clientUrl, args, stdin);
  assert.equal(r.code, 0, `etcdctl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

async function grant(m: RunningMember, ttl: number): Promise<string> {
  const out = await ctl(m, ['lease', 'grant', String(ttl)]);
  const id = /^lease ([0-9a-f]+) granted/.exec(out)?.[1];
  assert.ok(id, out);
  // etcdctl prints %016x; the decoded requests are compared in plain hex (no leading zeros)
  return BigInt(`0x${id}`).toString(16);
}

const skip = !haveBinary('etcd') || !haveBinary('etcdctl') ? 'etcd or etcdctl not on the PATH' : waltool() === null ? skipReason() : false;

describe('etcd WAL of a real etcd 3.4 member', { skip, timeout: 600_000 }, () => {
  let tmp: ReturnType<typeof tempDir>;
  let n = 0;
  const running: RunningMember[] = [];

  async function start(extraArgs: string[] = []): Promise<{ m: RunningMember; dataDir: string }> {
    const dataDir = path.join(tmp.dir, `m${n++}`);
    const m = await startMember({ bin: 'etcd', dataDir, ports: await freePorts(), name: 'wal', extraArgs });
    running.push(m);
    return { m, dataDir };
  }

  before(() => {
    tmp = tempDir('tsetcd-etcdwal-e2e-');
  });
  after(async () => {
    for (const m of running) await m.kill();
    tmp.cleanup();
  });

  test('kill -9: the tail holds exactly the writes after the last backend commit', async () => {
    // the backend commits only when forced (compaction), so the crash loses what follows
    const { m, dataDir } = await start(['--backend-batch-interval=1h', '--backend-batch-limit=1000000']);
    await ctl(m, ['put', 'a', '1']);
    await ctl(m, ['put', 'b', '2']);
    await ctl(m, ['compaction', '2']);
    await ctl(m, ['put', 'a', '3']);
    await ctl(m, ['del', 'b']);
    await ctl(m, ['txn'], 'value("a") = "3"\n\nput c 4\n\nput c 5\n\n');
    const lease = await grant(m, 600);
    await ctl(m, ['put', 'd', '6', `--lease=${lease}`]);
    await ctl(m, ['lease', 'revoke', lease]);
    await ctl(m, ['user', 'add', 'alice:secret', '--interactive=false']);
    await ctl(m, ['role', 'add', 'r1']);
    // once this answers, every earlier entry is on disk (raft saves one batch before the next)
    await ctl(m, ['put', 'fence', 'x']);
    const seen = await etcdKvs(m);
    await m.kill();

    const walDir = path.join(dataDir, 'member/wal');
    const full = readEtcdWal(walDir);
    assert.equal(full.torn, undefined);
    assert.deepEqual(comparable(full), withoutError(readWithEtcd(walDir, 0, 0)));
    const expected = [
      'put a=1',
      'put b=2',
      'compact 2',
      'put a=3',
      'delete b',
      'txn a=3 ? put c=4 : put c=5',
      `grant ${lease} ttl=600`,
      `put d=6 lease=${lease}`,
      `revoke ${lease}`,
      'user add alice',
      'role add r1',
    ];
    const ops = applied(full.entries);
    assert.deepEqual(
      ops.map((o) => o.what).filter((w) => w !== 'put fence=x'),
      expected,
    );

    const ci = consistentIndexOf(path.join(dataDir, 'member/snap/db'));
    assert.ok(ci < ops[3]!.index, `consistent index ${ci} should be before the first write after the compaction (${ops[3]!.index})`);
    const tail = committedTail(walDir, ci);
    assert.deepEqual(
      tail.entries.map((e) => ({ index: e.index, what: describeRequest(e.data) })),
      ops.filter((o) => o.index > ci && o.index <= full.hardState.commit),
    );
    assert.equal(tail.hardState.commit, full.hardState.commit);
    assert.equal(tail.metadata.nodeId, full.metadata.nodeId);

    // from the start: the bootstrap conf change, the leader's no-op, the member's publish
    const all = committedTail(walDir, 0);
    assert.equal(all.skipped.get('conf-change'), 1);
    assert.ok((all.skipped.get('empty') ?? 0) >= 1);
    assert.ok((all.skipped.get('v2-request') ?? 0) >= 1);
    const publish = full.entries.filter((e) => classifyEntry(e).kind === 'v2-request').map((e) => v2Path(e.data));
    assert.ok(publish.includes(`/0/members/${hex(full.metadata.nodeId)}/attributes`), publish.join(', '));

    // tsetcd's apply runs etcd's bytes as they are: replaying the whole log on an empty
    // store gives the keys, values and revisions etcd showed
    const replayed = await applyWithTsetcd(tmp.dir, all.entries);
    assert.deepEqual(replayed.errors, []);
    assert.deepEqual({ revision: replayed.revision, kvs: replayed.kvs }, seen);
  });

  test('clean stop: a lease grant after the last key change is committed but not in the consistent index', async () => {
    const { m, dataDir } = await start();
    await ctl(m, ['put', 'x', '1']);
    await ctl(m, ['put', 'y', '2']);
    const lease = await grant(m, 300);
    await m.stop(); // etcd exits by re-raising SIGTERM after a clean shutdown

    const walDir = path.join(dataDir, 'member/wal');
    const full = readEtcdWal(walDir);
    assert.deepEqual(comparable(full), withoutError(readWithEtcd(walDir, 0, 0)));
    const ops = applied(full.entries);
    assert.deepEqual(
      ops.map((o) => o.what),
      ['put x=1', 'put y=2', `grant ${lease} ttl=300`],
    );
    const ci = consistentIndexOf(path.join(dataDir, 'member/snap/db'));
    assert.equal(ci, ops[1]!.index);
    assert.equal(full.hardState.commit, ops[2]!.index);
    const tail = committedTail(walDir, ci);
    assert.deepEqual(
      tail.entries.map((e) => describeRequest(e.data)),
      [`grant ${lease} ttl=300`],
    );
    assert.equal(tail.uncommitted, 0);
  });

  test('a torn last record in a real WAL: the tail ends before it and says where', async () => {
    const { m, dataDir } = await start();
    for (let i = 0; i < 5; i++) await ctl(m, ['put', `k${i}`, `v${i}`]);
    await m.stop(); // etcd exits by re-raising SIGTERM after a clean shutdown
    const walDir = path.join(dataDir, 'member/wal');
    const segment = path.join(walDir, fs.readdirSync(walDir).filter((f) => f.endsWith('.wal')).sort().at(-1)!);
    const buf = fs.readFileSync(segment);
    const frames = frameOffsets(buf);
    // the last put's entry record is followed by its hard state record: cut inside the entry
    const lastEntry = frames.at(-2)!;
    fs.writeFileSync(segment, buf.subarray(0, lastEntry + 12));

    const tail = committedTail(walDir, 0);
    assert.deepEqual(tail.torn && [tail.torn.file, tail.torn.offset], [segment, lastEntry]);
    assert.deepEqual(
      tail.entries.map((e) => describeRequest(e.data)),
      ['put k0=v0', 'put k1=v1', 'put k2=v2', 'put k3=v3'],
    );
    assert.deepEqual(comparable(readEtcdWal(walDir)), withoutError(readWithEtcd(walDir, 0, 0)));
  });

  test('70 puts of 1 MB: two segments, read across the cut as etcd reads them', async () => {
    const { m, dataDir } = await start(['--quota-backend-bytes=1073741824']);
    const value = (i: number) => Buffer.alloc(1_000_000, `value-${i}-`).toString();
    for (let i = 0; i < 70; i++) await ctl(m, ['put', `big${i}`], value(i));
    await m.stop(); // etcd exits by re-raising SIGTERM after a clean shutdown

    const walDir = path.join(dataDir, 'member/wal');
    const full = readEtcdWal(walDir);
    assert.ok(full.segments.length >= 2, `expected a cut, got ${full.segments.join(', ')}`);
    assert.deepEqual(comparable(full, true), withoutError(readWithEtcd(walDir, 0, 0, true)));
    const puts = full.entries.filter((e) => classifyEntry(e).apply).map((e) => PutRequest.decode(decodeRaftRequest(e.data).body));
    assert.deepEqual(
      puts.map((p) => text(p.key)),
      Array.from({ length: 70 }, (_, i) => `big${i}`),
    );
    assert.ok(puts.every((p, i) => text(p.value) === value(i)));
    // starting in the second segment reads only from there
    const second = Number.parseInt(full.segments[1]!.slice(17, 33), 16);
    const fromSecond = readEtcdWal(walDir, { startIndex: second });
    assert.deepEqual(fromSecond.segments, full.segments.slice(1));
    assert.equal(fromSecond.entries[0]?.index, second + 1);
  });
});
