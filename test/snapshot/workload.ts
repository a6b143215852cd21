// A history that exercises everything a snapshot carries, applied the same way to etcd
// and to tsetcd: many keys (some overwritten, some deleted, some attached to leases), one
// compaction in the middle, users and roles with permissions. `dump` reads it back through
// the real etcdctl in a form two servers can be compared by.
import assert from 'node:assert/strict';
import { UnaryClient } from '../../src/client/unary-client.js';
import {
  CompactionRequest,
  DeleteRangeRequest,
  LeaseGrantRequest,
  LeaseGrantResponse,
  PutRequest,
} from '../../src/proto/etcdserverpb.js';
import { etcdctl } from '../e2e/harness.js';

/** requests in flight at once while loading keys */
const CONCURRENCY = 64;
const CALL_TIMEOUT_MS = 30_000;

export interface WorkloadResult {
  leaseIds: bigint[];
  compactedAt: number;
}

async function inParallel(n: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, n) }, worker));
}

export function keyName(i: number): string {
  return `/k/${String(i).padStart(7, '0')}`;
}

/** Loads `keys` keys plus overwrites, deletes, leases, a compaction, users and roles. */
export async function applyWorkload(endpoint: string, keys: number): Promise<WorkloadResult> {
  const c = new UnaryClient(endpoint);
  try {
    const leaseIds: bigint[] = [];
    for (const ttl of [3000, 6000, 9000]) {
      const r = LeaseGrantResponse.decode(await c.call('/etcdserverpb.Lease/LeaseGrant', LeaseGrantRequest.encode(LeaseGrantRequest.create({ TTL: ttl })), { timeoutMs: CALL_TIMEOUT_MS }));
      leaseIds.push(r.ID);
    }
    const put = (key: string, value: string, lease = 0n): Promise<Buffer> =>
      c.call('/etcdserverpb.KV/Put', PutRequest.encode(PutRequest.create({ key: Buffer.from(key), value: Buffer.from(value), lease })), { timeoutMs: CALL_TIMEOUT_MS });
    await inParallel(keys, (i) => put(keyName(i), `value-${i}-${'v'.repeat(i % 97)}`, i % 50 === 0 ? leaseIds[i % 3]! : 0n));
    // overwrite every 10th key, so versions and create/mod revisions differ
    await inParallel(Math.ceil(keys / 10), (j) => put(keyName(j * 10), `second-${j}`));
    const compactedAt = keys + 3 + Math.ceil(keys / 10) - 5;
    await c.call('/etcdserverpb.KV/Compact', CompactionRequest.encode(CompactionRequest.create({ revision: compactedAt, physical: true })), { timeoutMs: CALL_TIMEOUT_MS });
    // delete every 7th key after the compaction: tombstones in the kept history
    await inParallel(Math.ceil(keys / 7), (j) =>
      c.call('/etcdserverpb.KV/DeleteRange', DeleteRangeRequest.encode(DeleteRangeRequest.create({ key: Buffer.from(keyName(j * 7)) })), { timeoutMs: CALL_TIMEOUT_MS }),
    );
    await put('/binary/\u00ff', 'x');
    for (const args of [
      ['role', 'add', 'reader'],
      ['role', 'grant-permission', 'reader', 'read', '/k/', '--prefix'],
      ['role', 'add', 'writer'],
      ['role', 'grant-permission', 'writer', 'readwrite', '/w', '/x'],
      ['user', 'add', 'alice:alicepw'],
      ['user', 'grant-role', 'alice', 'reader'],
      ['user', 'add', 'bob:bobpw'],
      ['user', 'grant-role', 'bob', 'writer'],
      ['user', 'grant-role', 'bob', 'reader'],
    ]) {
      const r = await etcdctl(endpoint, args);
      assert.equal(r.code, 0, `etcdctl ${args.join(' ')}: ${r.stderr}`);
    }
    return { leaseIds, compactedAt };
  } finally {
    c.close();
  }
}

export interface Dump {
  revision: number;
  kvs: Array<{ key: string; value: string; create_revision: number; mod_revision: number; version: number; lease?: number }>;
  leases: string[];
  leaseTtls: Record<string, number>;
  users: string;
  roles: Record<string, string>;
  compactedRead: string;
}

async function ctlOk(endpoint: string, args: string[]): Promise<string> {
  const r = await etcdctl(endpoint, args);
  assert.equal(r.code, 0, `etcdctl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** Everything a restore must carry, read through etcdctl. */
export async function dump(endpoint: string, compactedAt: number): Promise<Dump> {
  const got = JSON.parse(await ctlOk(endpoint, ['get', '', '--prefix', '-w', 'json'])) as { header: { revision: number }; kvs: Dump['kvs'] };
  const leases = (await ctlOk(endpoint, ['lease', 'list'])).split('\n').slice(1).filter(Boolean).sort();
  const leaseTtls: Record<string, number> = {};
  for (const id of leases) {
    const t = JSON.parse(await ctlOk(endpoint, ['lease', 'timetolive', id, '-w', 'json'])) as { 'granted-ttl': number };
    leaseTtls[id] = t['granted-ttl'];
  }
  const roles: Record<string, string> = {};
  for (const r of (await ctlOk(endpoint, ['role', 'list'])).split('\n').filter(Boolean)) roles[r] = await ctlOk(endpoint, ['role', 'get', r]);
  const compacted = await etcdctl(endpoint, ['get', keyName(1), `--rev=${compactedAt - 1}`]);
  return {
    revision: got.header.revision,
    kvs: got.kvs,
    leases,
    leaseTtls,
    users: await ctlOk(endpoint, ['user', 'list']),
    roles,
    compactedRead: compacted.stderr.trim(),
  };
}

/** Asserts two dumps describe the same data, key by key. */
export function assertSameData(actual: Dump, expected: Dump, what: string): void {
  assert.equal(actual.kvs.length, expected.kvs.length, `${what}: number of keys`);
  for (let i = 0; i < expected.kvs.length; i++) assert.deepEqual(actual.kvs[i], expected.kvs[i], `${what}: key #${i}`);
  assert.equal(actual.revision, expected.revision, `${what}: store revision`);
  assert.deepEqual(actual.leases, expected.leases, `${what}: leases`);
  assert.deepEqual(actual.leaseTtls, expected.leaseTtls, `${what}: lease TTLs`);
  assert.equal(actual.users, expected.users, `${what}: users`);
  assert.deepEqual(actual.roles, expected.roles, `${what}: roles`);
  assert.equal(actual.compactedRead, expected.compactedRead, `${what}: read below the compaction`);
}
