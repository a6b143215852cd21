// Proves the record mapping between tsetcd's buckets and etcd's against bytes real etcd
// 3.4 wrote (fixtures/etcd34-buckets.json, made by fixtures/make-etcd34.sh): every etcd
// bucket read into tsetcd's form gives the values tsetcd's own code reads (lease TTLs,
// the NOSPACE alarm, members with names, learners and removals, compaction revisions,
// users, roles, auth enabled and revision), and written back gives etcd's bytes exactly;
// records written by tsetcd's own stores survive tsetcd -> etcd -> tsetcd; and the
// Maintenance.Hash and `snapshot status` hash computed over the etcd view equal what
// etcd's own code computed for that file.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Backend, BUCKETS, type BucketName } from '../../src/backend/backend.js';
import { AuthField, AuthStore } from '../../src/auth/index.js';
import { Lessor } from '../../src/lease/lessor.js';
import { MvccStore } from '../../src/mvcc/store.js';
import { readConsistentIndex } from '../../src/server/bootstrap.js';
import { AlarmType } from '../../src/proto/etcdserverpb.js';
import { AlarmStore } from '../../src/server/alarms.js';
import { Membership } from '../../src/server/membership.js';
import { etcdBackendHash, etcdSnapshotHash } from '../../src/snapshot/etcd-hash.js';
import { confStateJson, ETCD_BUCKET_ORDER, fromEtcdBucket, goJsonString, toEtcdBucket, type Record } from '../../src/snapshot/etcd-schema.js';
import { tempDir } from '../helpers/tmp.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const FIXTURE = path.resolve(here, '../../../test/snapshot/fixtures/etcd34-buckets.json');

interface Fixture {
  backendHash: number;
  snapshotStatus: { hash: number };
  buckets: { [bucket: string]: [string, string][] };
}

const fixture = JSON.parse(fs.readFileSync(FIXTURE, 'utf8')) as Fixture;
const etcdRecords = (bucket: string): Record[] => (fixture.buckets[bucket] ?? []).map(([k, v]) => [Buffer.from(k, 'hex'), Buffer.from(v, 'hex')]);
const hex = (records: Iterable<Record>): [string, string][] => [...records].map(([k, v]) => [k.toString('hex'), v.toString('hex')]);

/** The member the fixture's etcd ran as: the one named "fx". */
function fixtureMemberId(): bigint {
  const rec = etcdRecords('members').find(([, v]) => JSON.parse(v.toString()).name === 'fx');
  return BigInt('0x' + rec![0].toString());
}

const imported = new Map<string, Record[]>(Object.keys(fixture.buckets).map((b) => [b, [...fromEtcdBucket(b, etcdRecords(b), { clusterId: 42n })]]));

test('the fixture has every bucket tsetcd has, and only those', () => {
  assert.deepEqual(Object.keys(fixture.buckets).sort(), [...BUCKETS].sort());
  assert.deepEqual([...ETCD_BUCKET_ORDER], Object.keys(fixture.buckets), 'bbolt order');
});

test('etcd -> tsetcd gives the values tsetcd reads', () => {
  const leaseTtls = imported.get('lease')!.map(([, v]) => v.readBigInt64BE(0));
  assert.deepEqual(leaseTtls.sort((a, b) => Number(a - b)), [60n, 3600n], 'the script granted leases of 60 s and 3600 s');

  const me = fixtureMemberId();
  const alarms = imported.get('alarm')!;
  assert.equal(alarms.length, 1);
  assert.equal(alarms[0]![0].readBigUInt64BE(0), me, 'NOSPACE raised by the member itself');
  assert.equal(alarms[0]![0][8], AlarmType.NOSPACE);

  const members = imported.get('members')!.map(([k, v]) => ({ key: k.toString(), m: JSON.parse(v.toString()) }));
  const fx = members.find((x) => x.m.name === 'fx')!;
  assert.equal(fx.key, me.toString(16).padStart(16, '0'));
  assert.equal(fx.m.id, me.toString(16));
  assert.equal(fx.m.isLearner, false);
  assert.match(fx.m.clientURLs[0], /^http:\/\/127\.0\.0\.1:\d+$/);
  const learner = members.find((x) => x.m.name !== 'fx')!;
  assert.deepEqual({ ...learner.m, id: undefined }, { id: undefined, name: '', peerURLs: ['http://127.0.0.1:2'], clientURLs: [], isLearner: true });
  assert.equal(imported.get('members_removed')!.length, 1);
  assert.deepEqual(imported.get('members_removed')![0]![1], Buffer.from([1]));
  assert.equal(imported.get('members_removed')![0]![0].length, 16, 'padded to 16 hex digits');

  const meta = new Map(imported.get('meta')!.map(([k, v]) => [k.toString(), v]));
  assert.equal(meta.get('scheduledCompactRev')!.readBigUInt64BE(0), 4n, 'the script compacted at 4');
  assert.equal(meta.get('finishedCompactRev')!.readBigUInt64BE(0), 4n);
  assert.ok(meta.get('consistent_index')!.readBigUInt64BE(0) > 0n);

  const auth = new Map(imported.get('auth')!.map(([k, v]) => [k.toString(), v]));
  assert.deepEqual(auth.get('authEnabled'), Buffer.from([1]));
  assert.ok(auth.get('authRevision')!.readBigUInt64BE(0) > 1n);
  assert.deepEqual(imported.get('authUsers')!.map(([k]) => k.toString()), ['alice', 'root']);
  assert.deepEqual(imported.get('authRoles')!.map(([k]) => k.toString()), ['reader']);

  assert.deepEqual(hex(imported.get('cluster')!), [[Buffer.from('clusterID').toString('hex'), '000000000000002a']], 'cluster ID from the context');
});

test('etcd -> tsetcd -> etcd reproduces etcd bytes exactly', () => {
  for (const bucket of ETCD_BUCKET_ORDER) {
    const back = toEtcdBucket(bucket, imported.get(bucket)!, { clusterVersion: '3.4.0' });
    assert.deepEqual(hex(back), fixture.buckets[bucket], `bucket ${bucket}`);
  }
});

test('records etcd has and tsetcd does not are reported as dropped', () => {
  const dropped: string[] = [];
  const meta: Record[] = [
    [Buffer.from('confState'), Buffer.from('{"voters":[1],"auto_leave":false}')],
    [Buffer.from('consistent_index'), Buffer.alloc(8, 1)],
    [Buffer.from('storageVersion'), Buffer.from('3.6.0')],
    [Buffer.from('term'), Buffer.alloc(8, 2)],
  ];
  const kept = [...fromEtcdBucket('meta', meta, { onDropped: (b, k) => dropped.push(`${b}/${k}`) })];
  assert.deepEqual(kept.map(([k]) => k.toString()), ['consistent_index']);
  [...fromEtcdBucket('cluster', etcdRecords('cluster'), { onDropped: (b, k) => dropped.push(`${b}/${k}`) })];
  [...fromEtcdBucket('unknownBucket', [[Buffer.from('x'), Buffer.from('y')]], { onDropped: (b, k) => dropped.push(`${b}/${k}`) })];
  assert.deepEqual(dropped, ['meta/confState', 'meta/storageVersion', 'meta/term', 'cluster/clusterVersion', 'unknownBucket/x']);
});

test('etcd 3.5 meta records come from the context', () => {
  const meta = [...toEtcdBucket('meta', etcdRecords('meta'), { term: 7n, confState: { voters: [0xf0e39285df6fd1e4n, 3n], learners: [9n] } })];
  const byKey = new Map(meta.map(([k, v]) => [k.toString(), v]));
  assert.deepEqual(byKey.get('term'), Buffer.from('0000000000000007', 'hex'));
  // as Go's json.Marshal(raftpb.ConfState) prints it (checked with etcd 3.4's raftpb)
  assert.equal(byKey.get('confState')!.toString(), '{"voters":[3,17357878492492976612],"learners":[9],"auto_leave":false}');
  assert.equal(confStateJson({ voters: [1n] }), '{"voters":[1],"auto_leave":false}');
  assert.deepEqual(
    meta.map(([k]) => k.toString()),
    ['confState', 'consistent_index', 'finishedCompactRev', 'scheduledCompactRev', 'term'],
    'sorted',
  );
});

test('strings in member JSON are escaped as Go escapes them', () => {
  assert.equal(goJsonString('a<b>&"\\\n\u0001\u2028é'), '"a\\u003cb\\u003e\\u0026\\"\\\\\\n\\u0001\\u2028é"');
});

test('Maintenance.Hash and the snapshot status hash over the etcd view equal what etcd computed for the file', () => {
  const read = (b: BucketName): Record[] => imported.get(b)!;
  assert.equal(etcdBackendHash(read, { clusterVersion: '3.4.0' }), fixture.backendHash);
  assert.notEqual(etcdBackendHash(read, { clusterVersion: '3.5.0' }), fixture.backendHash, 'the cluster version is hashed');
  assert.equal(etcdBackendHash(read, { clusterVersion: '3.4.0', term: 9n }), fixture.backendHash, 'meta/term is ignored, as etcd 3.5 ignores it');
  assert.equal(etcdSnapshotHash(read, { clusterVersion: '3.4.0' }), fixture.snapshotStatus.hash, 'etcdctl snapshot status hashes everything');
});

test("a backend loaded with etcd's records serves what etcd served", async () => {
  const { dir, cleanup } = tempDir();
  const backend = Backend.open(path.join(dir, 'db'));
  try {
    backend.write(() => {
      for (const bucket of BUCKETS) for (const [k, v] of imported.get(bucket)!) backend.put(bucket, k, v);
    });
    // the script's history: puts at 2..7 (e attached to the 60 s lease), compaction at 4
    const store = new MvccStore(backend);
    store.restore();
    assert.equal(store.rev, 7);
    assert.equal(store.compactRev, 4);
    assert.equal(Buffer.from(store.get('a')!.value).toString(), '3');
    assert.equal(store.get('b'), undefined, 'b was deleted');
    const leaseOfE = store.get('e')!.lease;
    const lessor = new Lessor(backend, { minTtlSec: 2, onExpired: () => {} });
    lessor.restore(store.attachedLeases());
    assert.equal(lessor.lookup(leaseOfE)!.ttlSec, 60);
    assert.deepEqual([...lessor.lookup(leaseOfE)!.keys], ['e']);
    assert.ok(readConsistentIndex(backend) > 0);

    const auth = new AuthStore(backend, { bcryptCost: 4 });
    assert.equal(auth.enabled, true);
    assert.equal(auth.revision, Number(imported.get('auth')!.find(([k]) => k.toString() === 'authRevision')![1].readBigUInt64BE(0)));
    // etcd's bcrypt hashes check here: the passwords the script set
    await auth.prepare(AuthField.authenticate, { name: 'alice', password: 'alicepw' });
    await assert.rejects(auth.prepare(AuthField.authenticate, { name: 'alice', password: 'wrong' }));
    const alice = { username: 'alice', revision: auth.revision };
    auth.checkRange(alice, Buffer.from('/app/x'), Buffer.alloc(0));
    auth.checkPut(alice, Buffer.from('k5'), false);
    assert.throws(() => auth.checkPut(alice, Buffer.from('/app/x'), false), /permission denied/);
    auth.checkAdmin({ username: 'root', revision: auth.revision });
    auth.close();

    const membership = new Membership(backend);
    membership.load();
    assert.deepEqual(membership.list().map((m) => [m.name, m.isLearner]).sort(), [['', true], ['fx', false]]);
    const alarms = new AlarmStore(backend);
    alarms.load();
    assert.deepEqual(alarms.get(AlarmType.NONE), [{ memberID: fixtureMemberId(), alarm: AlarmType.NOSPACE }]);
  } finally {
    await backend.close();
    cleanup();
  }
});

test('records written by tsetcd survive tsetcd -> etcd -> tsetcd', async () => {
  const { dir, cleanup } = tempDir();
  const backend = Backend.open(path.join(dir, 'db'));
  try {
    const membership = new Membership(backend);
    const alarms = new AlarmStore(backend);
    const lessor = new Lessor(backend, { minTtlSec: 2, onExpired: () => {} });
    backend.write(() => {
      membership.setClusterId(0xcdef0123456789abn);
      membership.add({ id: 0x8e9e05c52164694dn, name: '', peerURLs: ['http://127.0.0.1:2380'], clientURLs: [], isLearner: false });
      membership.setAttributes(0x8e9e05c52164694dn, 'default<&>', ['http://127.0.0.1:2379', 'http://10.0.0.1:2379']);
      membership.add({ id: 0x1234n, name: '', peerURLs: ['http://127.0.0.1:2382'], clientURLs: [], isLearner: true });
      membership.add({ id: 0x5678n, name: 'gone', peerURLs: ['http://127.0.0.1:2384'], clientURLs: [], isLearner: false });
      membership.remove(0x5678n);
      alarms.activate(0x8e9e05c52164694dn, AlarmType.NOSPACE);
      alarms.activate(0x1234n, AlarmType.CORRUPT);
      lessor.grant(0x694d7b0a1c2e3f40n, 1); // raised to the minimum TTL
      lessor.grant(7n, 3600);
    });
    const buckets: BucketName[] = ['members', 'members_removed', 'alarm', 'lease', 'cluster'];
    for (const bucket of buckets) {
      const original = [...backend.range(bucket)].map(({ key, value }) => [key, value] as Record);
      assert.ok(original.length > 0, `tsetcd wrote records to ${bucket}`);
      const etcd = [...toEtcdBucket(bucket, original, { clusterVersion: '3.5.0' })];
      const back = [...fromEtcdBucket(bucket, etcd, { clusterId: 0xcdef0123456789abn })];
      if (bucket === 'members') {
        const parse = (rs: Record[]): unknown => rs.map(([k, v]) => [k.toString(), JSON.parse(v.toString())]);
        assert.deepEqual(parse(back), parse(original), bucket);
      } else {
        assert.deepEqual(hex(back), hex(original), bucket);
      }
    }
    const etcdMembers = [...toEtcdBucket('members', [...backend.range('members')].map(({ key, value }) => [key, value] as Record))];
    assert.deepEqual(
      etcdMembers.map(([k, v]) => [k.toString(), v.toString()]),
      [
        ['1234', '{"id":4660,"peerURLs":["http://127.0.0.1:2382"],"isLearner":true}'],
        ['8e9e05c52164694d', '{"id":10276657743932975437,"peerURLs":["http://127.0.0.1:2380"],"name":"default\\u003c\\u0026\\u003e","clientURLs":["http://127.0.0.1:2379","http://10.0.0.1:2379"]}'],
      ],
      'unpadded keys, Go field order and escaping',
    );
    // restored stores read the round-tripped records as they read their own
    const restored = Backend.open(path.join(dir, 'db2'));
    restored.write(() => {
      for (const bucket of buckets) {
        const etcd = toEtcdBucket(bucket, [...backend.range(bucket)].map(({ key, value }) => [key, value] as Record), { clusterVersion: '3.5.0' });
        for (const [k, v] of fromEtcdBucket(bucket, etcd, { clusterId: 0xcdef0123456789abn })) restored.put(bucket, k, v);
      }
    });
    const m2 = new Membership(restored);
    m2.load();
    assert.deepEqual(m2.list(), membership.list());
    assert.ok(m2.isRemoved(0x5678n));
    assert.equal(m2.clusterId, 0xcdef0123456789abn);
    const a2 = new AlarmStore(restored);
    a2.load();
    const byMember = (l: { memberID: bigint }[]): unknown[] => l.sort((x, y) => (x.memberID < y.memberID ? -1 : 1));
    assert.deepEqual(byMember(a2.get(AlarmType.NONE)), byMember(alarms.get(AlarmType.NONE)));
    const l2 = new Lessor(restored, { minTtlSec: 2, onExpired: () => {} });
    l2.restore(new Map());
    const ttls = (l: Lessor): string[] => l.ids().map((id) => `${id}:${l.lookup(id)!.ttlSec}`).sort();
    assert.deepEqual(ttls(l2), ttls(lessor));
    await restored.close();
  } finally {
    await backend.close();
    cleanup();
  }
});

test("a persisted lease checkpoint travels as leasepb.Lease's RemainingTTL (field 3), both ways", () => {
  const key = Buffer.alloc(8);
  key.writeBigInt64BE(0x1234n);
  const ours = Buffer.alloc(16);
  ours.writeBigInt64BE(600n, 0);
  ours.writeBigInt64BE(420n, 8);
  const [[, etcd]] = [...toEtcdBucket('lease', [[key, ours]], {} as never)] as Record[];
  // ID=0x1234 (field 1), TTL=600 (field 2), RemainingTTL=420 (field 3), as varints
  assert.deepEqual([...etcd!], [0x08, 0xb4, 0x24, 0x10, 0xd8, 0x04, 0x18, 0xa4, 0x03]);
  const [[, back]] = [...fromEtcdBucket('lease', [[key, etcd!]])] as Record[];
  assert.deepEqual(back, ours);
  const plain = Buffer.alloc(8);
  plain.writeBigInt64BE(600n);
  const [[, noCheckpoint]] = [...toEtcdBucket('lease', [[key, plain]], {} as never)] as Record[];
  assert.deepEqual([...noCheckpoint!], [0x08, 0xb4, 0x24, 0x10, 0xd8, 0x04], 'no field 3 without a checkpoint');
});
