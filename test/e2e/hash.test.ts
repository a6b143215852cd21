// Proves HashKV and Hash agree with real etcd 3.4: the same history of puts, deletes,
// txns and compactions applied to etcd and to tsetcd gives the same `etcdctl endpoint
// hashkv -w json` (hash and compact revision) at the current revision, at historical
// revisions, before and after compactions (including one that lands on a tombstone), and
// the same errors for compacted and future revisions. Then Maintenance.Hash of the whole
// backend, computed over the etcd view of tsetcd's buckets, equals etcd's own Hash, and
// every record of that backend survives tsetcd -> etcd -> tsetcd.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { UnaryClient } from '../../src/client/unary-client.js';
import { Backend, BUCKETS, type BucketName } from '../../src/backend/backend.js';
import { HashRequest, HashResponse, LeaseGrantRequest, LeaseGrantResponse } from '../../src/proto/etcdserverpb.js';
import { etcdBackendHash } from '../../src/snapshot/etcd-hash.js';
import { bucketRecords, fromEtcdBucket, toEtcdBucket, type Record } from '../../src/snapshot/etcd-schema.js';
import { tempDir } from '../helpers/tmp.js';
import { etcdctl, freePorts, haveBinary, startMember, TSETCD_BIN, type MemberPorts, type RunningMember } from './harness.js';

interface HashKv {
  hash?: number;
  compact_revision?: number;
  error?: string;
}

async function hashkv(ep: string, rev?: number): Promise<HashKv> {
  const args = ['endpoint', 'hashkv', '-w', 'json', ...(rev === undefined ? [] : [`--rev=${rev}`])];
  const r = await etcdctl(ep, args);
  if (r.code !== 0) return { error: r.stderr.trim().replaceAll(ep, 'EP') };
  const out = JSON.parse(r.stdout) as { HashKV: { hash: number; compact_revision?: number } }[];
  return { hash: out[0]!.HashKV.hash, compact_revision: out[0]!.HashKV.compact_revision ?? 0 };
}

/** Runs one etcdctl command on both members and insists both succeed alike. */
async function both(eps: string[], args: string[], stdin?: string): Promise<void> {
  const [a, b] = await Promise.all(eps.map((ep) => etcdctl(ep, args, stdin)));
  assert.equal(a!.code, 0, `etcd: ${args.join(' ')}: ${a!.stderr}`);
  assert.equal(b!.code, 0, `tsetcd: ${args.join(' ')}: ${b!.stderr}`);
  assert.equal(b!.stdout, a!.stdout, `output of ${args.join(' ')}`);
}

async function sameHashKv(eps: string[], what: string, rev?: number): Promise<HashKv> {
  const [etcd, ts] = await Promise.all(eps.map((ep) => hashkv(ep, rev)));
  assert.deepEqual(ts, etcd, `hashkv ${what}`);
  return etcd!;
}

async function start(bin: string, dir: string, name: string, ports?: MemberPorts): Promise<RunningMember> {
  return startMember({ bin, dataDir: path.join(dir, name), ports: ports ?? (await freePorts()), name: 'hash', extraArgs: ['--initial-cluster-token=hash-test'] });
}

function portsOf(m: RunningMember): MemberPorts {
  const args = m.proc.spawnargs;
  const port = (flag: string): number => Number(/:(\d+)$/.exec(args.find((a) => a.startsWith(flag))!)![1]);
  return { client: port('--listen-client-urls='), peer: port('--listen-peer-urls=') };
}

test('HashKV equals etcd 3.4 for the same history', { skip: !haveBinary('etcd') && 'etcd not on PATH', timeout: 180_000 }, async () => {
  const { dir, cleanup } = tempDir();
  let etcd = await start('etcd', dir, 'etcd');
  let ts = await start(TSETCD_BIN, dir, 'ts');
  const eps = [etcd.clientUrl, ts.clientUrl];
  try {
    const empty = await sameHashKv(eps, 'of an empty store');
    assert.equal(empty.compact_revision, -1, 'no compaction yet');
    for (const [k, v] of [['a', '1'], ['b', '2'], ['a', '3'], ['c', '4'], ['dir/x', '5'], ['dir/y', '6']]) await both(eps, ['put', k!, v!]);
    await both(eps, ['del', 'b']); // rev 8: a tombstone
    await both(eps, ['txn'], 'value("a") = "3"\n\nput t1 7\nput t2 8\ndel c\n\n\n'); // rev 9
    await both(eps, ['del', 'dir/', '--prefix']); // rev 10
    await both(eps, ['put', 'empty', '']); // rev 11: an empty value is left out of the KeyValue bytes
    const before = await sameHashKv(eps, 'at the current revision');
    for (const rev of [1, 2, 5, 8, 9, 10]) await sameHashKv(eps, `at revision ${rev}`, rev);
    await sameHashKv(eps, 'at a future revision', 99);

    await both(eps, ['compact', '8']); // lands on the tombstone of b
    const after = await sameHashKv(eps, 'after compacting at 8');
    assert.equal(after.compact_revision, 8);
    assert.notEqual(after.hash, before.hash, 'revisions the compaction drops leave the hash');
    for (const rev of [9, 10]) await sameHashKv(eps, `at revision ${rev} after compacting`, rev);
    const compacted = await sameHashKv(eps, 'at a compacted revision', 5);
    assert.match(compacted.error ?? '', /required revision has been compacted/);

    await both(eps, ['put', 'b', 'again']); // rev 12
    await both(eps, ['put', 'a', '10']); // rev 13
    await both(eps, ['compact', '12', '--physical']);
    await sameHashKv(eps, 'after a physical compaction at 12');
    await sameHashKv(eps, 'at revision 13 after compacting at 12', 13);

    // both rebuild their index from the backend at a restart: the hashes must not move
    const expected = await sameHashKv(eps, 'before restarting');
    const ports = [portsOf(etcd), portsOf(ts)];
    await Promise.all([etcd.stop(), ts.stop()]);
    etcd = await start('etcd', dir, 'etcd', ports[0]);
    ts = await start(TSETCD_BIN, dir, 'ts', ports[1]);
    assert.deepEqual(await sameHashKv(eps, 'after restarting'), expected);
    await sameHashKv(eps, 'at revision 12 after restarting', 12);
    await sameHashKv(eps, 'at a compacted revision after restarting', 11);
  } finally {
    await Promise.all([etcd.stop(), ts.stop()]);
    cleanup();
  }
});

async function call<T>(ep: string, method: string, req: Uint8Array, decode: (b: Uint8Array) => T): Promise<T> {
  const c = new UnaryClient(ep);
  try {
    return decode(await c.call(method, req, { timeoutMs: 10_000 }));
  } finally {
    c.close();
  }
}

const backendHash = async (ep: string): Promise<number> =>
  (await call(ep, '/etcdserverpb.Maintenance/Hash', HashRequest.encode(HashRequest.create({})), (b) => HashResponse.decode(b))).hash;

/** A history that touches every bucket a single member can: keys, compaction, leases, users, roles. */
async function backendHistory(ep: string): Promise<void> {
  const ok = async (args: string[], stdin?: string): Promise<void> => {
    const r = await etcdctl(ep, args, stdin);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
  };
  for (const [k, v] of [['a', '1'], ['b', '2'], ['a', '3'], ['c', '4']]) await ok(['put', k!, v!]);
  await ok(['del', 'b']);
  await ok(['txn'], 'value("a") = "3"\n\nput t1 7\ndel c\n\n\n');
  await ok(['compact', '5', '--physical']);
  // lease IDs are chosen by the member unless the client names one: name them
  for (const [id, ttl] of [[0x1234n, 3600], [0x7fff0000aaaabbbbn, 600]] as const) {
    await call(ep, '/etcdserverpb.Lease/LeaseGrant', LeaseGrantRequest.encode(LeaseGrantRequest.create({ ID: id, TTL: ttl })), (b) => LeaseGrantResponse.decode(b));
  }
  await ok(['put', 'leased', 'v', `--lease=${(0x1234).toString(16)}`]);
  // passwords are salted: users without one hash alike
  await ok(['user', 'add', 'alice', '--no-password']);
  await ok(['role', 'add', 'reader']);
  await ok(['role', 'grant-permission', 'reader', 'read', '/app', '--prefix=true']);
  await ok(['user', 'grant-role', 'alice', 'reader']);
}

test("Hash over the etcd view of tsetcd's backend equals etcd 3.4's Hash", { skip: !haveBinary('etcd') && 'etcd not on PATH', timeout: 180_000 }, async () => {
  const { dir, cleanup } = tempDir();
  // one member at a time on the same ports: member IDs and URLs are part of the hash
  const ports = await freePorts();
  const run = (bin: string, name: string): Promise<RunningMember> =>
    startMember({ bin, dataDir: path.join(dir, name), ports, name: 'hash', extraArgs: ['--initial-cluster-token=hash-test'] });
  try {
    const etcd = await run('etcd', 'etcd');
    let etcdHash: number;
    try {
      await backendHistory(etcd.clientUrl);
      etcdHash = await backendHash(etcd.clientUrl);
    } finally {
      await etcd.stop();
    }
    const ts = await run(TSETCD_BIN, 'ts');
    let tsHash: number;
    let memberId: bigint;
    try {
      await backendHistory(ts.clientUrl);
      tsHash = await backendHash(ts.clientUrl);
      // the ID as text: it does not fit a double
      const status = (await etcdctl(ts.clientUrl, ['endpoint', 'status', '-w', 'json'])).stdout;
      memberId = BigInt(/"member_id":(\d+)/.exec(status)![1]!);
    } finally {
      await ts.stop();
    }
    const backend = Backend.open(path.join(dir, 'ts/member/snap/db'));
    try {
      const read = (b: BucketName): Iterable<Record> => bucketRecords(backend, b);
      assert.equal(etcdBackendHash(read, { clusterVersion: '3.4.0' }), etcdHash, "etcd 3.4's hash, from tsetcd's records");
      assert.equal(etcdBackendHash(read, { clusterVersion: '3.5.0', confState: { voters: [memberId] } }), tsHash, 'tsetcd answers the hash of its etcd 3.5 view');
      // and every record tsetcd wrote survives tsetcd -> etcd -> tsetcd
      const clusterId = read('cluster')[Symbol.iterator]().next().value![1].readBigUInt64BE(0);
      for (const bucket of BUCKETS) {
        const original = [...read(bucket)];
        const back = [...fromEtcdBucket(bucket, toEtcdBucket(bucket, read(bucket), { clusterVersion: '3.5.0' }), { clusterId })];
        const text = (rs: Record[]): unknown => rs.map(([k, v]) => [k.toString('hex'), bucket === 'members' ? JSON.parse(v.toString()) : v.toString('hex')]);
        assert.deepEqual(text(back), text(original), `bucket ${bucket}`);
      }
    } finally {
      await backend.close();
    }
  } finally {
    cleanup();
  }
});
