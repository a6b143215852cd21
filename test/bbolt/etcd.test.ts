// Proves real etcd 3.4 accepts a snapshot file made by our bbolt writer (etcd's buckets,
// then the SHA-256 trailer): `etcdctl snapshot status` passes its integrity check and
// reports our revision, key count, size and bucket hash; `etcdctl snapshot restore`
// verifies the trailer and rewrites the file; etcd started on the restored data dir
// serves our keys and takes new writes; and our reader then reads the db etcd itself
// wrote (freelist not synced, as etcd on Linux runs bbolt) and a snapshot etcd streamed.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { BboltFile } from '../../src/bbolt/reader.js';
import { etcdSnapshotChunks } from '../../src/bbolt/snapshot.js';
import { openSnapshot } from '../../src/snapshot/snapshot-file.js';
import { KeyValue } from '../../src/proto/mvccpb.js';
import { etcdctl, freePorts, haveBinary, startMember } from '../e2e/harness.js';
import { tempDir } from '../helpers/tmp.js';
import { bucketOf, goCheck, goSkip, type Entries } from './helpers.js';

const skip = !(haveBinary('etcd') && haveBinary('etcdctl')) && 'etcd and etcdctl are not installed';
const tmp = tempDir('tsetcd-bbolt-etcd-');
after(() => tmp.cleanup());

const ETCD_BUCKETS = ['key', 'meta', 'lease', 'members', 'members_removed', 'cluster', 'alarm', 'auth', 'authUsers', 'authRoles'];

/** etcd's revision key: 8-byte big-endian main, '_', 8-byte big-endian sub */
function revKey(main: number, sub = 0): Buffer {
  const b = Buffer.alloc(17);
  b.writeBigUInt64BE(BigInt(main), 0);
  b[8] = 0x5f;
  b.writeBigUInt64BE(BigInt(sub), 9);
  return b;
}

function kv(key: string, value: string, create: number, mod: number, version: number): Buffer {
  return KeyValue.encode({ key: Buffer.from(key), value: Buffer.from(value), create_revision: create, mod_revision: mod, version, lease: 0n });
}

/** CRC-32C (Castagnoli), the hash `etcdctl snapshot status` reports */
function crc32c(parts: Iterable<Uint8Array>): number {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[i] = c >>> 0;
  }
  let crc = 0xffffffff;
  for (const p of parts) for (const byte of p) crc = table[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

describe('a snapshot file from our writer, in real etcd', { skip }, () => {
  const keyEntries: Entries = [[revKey(2), kv('foo', 'v1', 2, 2, 1)], [revKey(3), kv('bar', 'b1', 3, 3, 1)]];
  for (let r = 4; r < 300; r++) keyEntries.push([revKey(r), kv('foo', `v${r - 2}-${'x'.repeat(r % 50)}`, 2, r, r - 2)]);
  const index = Buffer.alloc(8);
  index.writeBigUInt64BE(300n);
  const buckets = ETCD_BUCKETS.map((name) => bucketOf(name, name === 'key' ? keyEntries : name === 'meta' ? [[Buffer.from('consistent_index'), index]] : []));
  const snap = path.join(tmp.dir, 'snap.db');

  it('etcdctl snapshot status: integrity check passes, revision, key count, size and hash are ours', () => {
    const file = Buffer.concat([...etcdSnapshotChunks(buckets)]);
    const db = file.subarray(0, file.length - 32);
    assert.deepEqual(file.subarray(db.length), crypto.createHash('sha256').update(db).digest(), 'the trailer is the SHA-256 of the db bytes');
    fs.writeFileSync(snap, file);
    const r = spawnSync('etcdctl', ['snapshot', 'status', snap, '-w', 'json'], { encoding: 'utf8', env: { ...process.env, ETCDCTL_API: '3' }, timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    const status = JSON.parse(r.stdout) as { hash: number; revision: number; totalKey: number; totalSize: number };
    const sorted = [...buckets].sort((a, b) => Buffer.compare(a.name, b.name));
    const hashed = sorted.flatMap((b) => [b.name, ...b.sorted.flat()]);
    assert.deepEqual(status, { hash: crc32c(hashed), revision: 299, totalKey: keyEntries.length + 1, totalSize: db.length });
  });

  it('a snapshot whose bytes do not match its trailer: refused by etcdctl snapshot restore and by us, in the same words', () => {
    const bad = path.join(tmp.dir, 'bad.db');
    const bytes = fs.readFileSync(snap);
    bytes[5 * 4096 + 100] ^= 1;
    fs.writeFileSync(bad, bytes);
    const r = spawnSync('etcdctl', ['snapshot', 'restore', bad, `--data-dir=${path.join(tmp.dir, 'never')}`], { encoding: 'utf8', env: { ...process.env, ETCDCTL_API: '3' }, timeout: 60_000 });
    assert.notEqual(r.status, 0);
    const etcdSays = /expected sha256 \[[0-9 ]+\], got \[[0-9 ]+\]/.exec(r.stderr)?.[0];
    assert.ok(etcdSays, r.stderr);
    assert.throws(() => openSnapshot(bad, { skipHashCheck: false }), (e: Error) => e.message.endsWith(etcdSays));
    openSnapshot(bad, { skipHashCheck: true }).db.close();
  });

  it('etcdctl snapshot restore accepts it, etcd serves its keys and takes writes, and we read the db etcd wrote', { timeout: 120_000 }, async () => {
    const ports = await freePorts();
    const dataDir = path.join(tmp.dir, 'restored');
    const peer = `http://127.0.0.1:${ports.peer}`;
    const restore = spawnSync('etcdctl', ['snapshot', 'restore', snap, `--data-dir=${dataDir}`, '--name=default', `--initial-cluster=default=${peer}`, `--initial-advertise-peer-urls=${peer}`], {
      encoding: 'utf8',
      env: { ...process.env, ETCDCTL_API: '3' },
      timeout: 60_000,
    });
    assert.equal(restore.status, 0, restore.stderr);
    const member = await startMember({ bin: 'etcd', dataDir, ports });
    try {
      const foo = await etcdctl(member.clientUrl, ['get', 'foo', '-w', 'json']);
      const got = JSON.parse(foo.stdout) as { kvs: { value: string; mod_revision: number; version: number; create_revision: number }[] };
      const [{ value, mod_revision, version, create_revision }] = got.kvs;
      assert.deepEqual({ value: Buffer.from(value, 'base64').toString(), mod_revision, version, create_revision }, { value: `v297-${'x'.repeat(299 % 50)}`, mod_revision: 299, version: 297, create_revision: 2 });
      assert.equal((await etcdctl(member.clientUrl, ['get', 'bar', '--print-value-only'])).stdout, 'b1\n');
      assert.equal((await etcdctl(member.clientUrl, ['put', 'new', 'n1'])).stdout, 'OK\n');
      // and a snapshot etcd streams (db bytes + SHA-256) reads back with the trailer cut off
      const saved = path.join(tmp.dir, 'saved.db');
      const save = await etcdctl(member.clientUrl, ['snapshot', 'save', saved]);
      assert.equal(save.code, 0, save.stderr);
      const bytes = fs.readFileSync(saved);
      const db = bytes.subarray(0, bytes.length - 32);
      assert.deepEqual(bytes.subarray(bytes.length - 32), crypto.createHash('sha256').update(db).digest());
      const s = openSnapshot(saved, { skipHashCheck: false }).db;
      assert.equal(s.sizeBytes(), db.length);
      assert.deepEqual(s.bucketNames().map(String), [...ETCD_BUCKETS].sort());
      assert.equal([...s.entries(Buffer.from('key'))].length, keyEntries.length + 1);
      s.close();
    } finally {
      await member.stop();
    }
    const f = BboltFile.open(path.join(dataDir, 'member/snap/db'));
    try {
      const last = [...f.entries(Buffer.from('key'))].at(-1)!;
      assert.equal(last[0].readBigUInt64BE(0), 300n, 'the put after restore is revision 300');
      assert.equal(Buffer.from(KeyValue.decode(last[1]).value).toString(), 'n1');
      if (!goSkip()) {
        const go = goCheck(path.join(dataDir, 'member/snap/db'), false);
        assert.deepEqual(go.errors, []);
        assert.equal(f.freePageCount(), go.freePages, 'free pages found by walking the trees, as bbolt counts them');
        assert.equal(f.sizeBytes(), go.size);
      }
    } finally {
      f.close();
    }
  });
});
