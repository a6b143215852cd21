// tsetcdutl hashkv: the hash it prints for a database file equals what
// `etcdctl endpoint hashkv` got from the live member at the same revision — real etcd
// (for its snapshot and its member/snap/db) and tsetcd (for its data dir) — after puts,
// an overwrite, a delete and a compaction; --rev, the output formats, and the errors
// (a compacted revision, a missing file, protobuf) exit as etcdutl does; a running
// tsetcd member's data dir is refused.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../helpers/tmp.js';
import { BIN, haveBinary, run, startMember, type Member } from './helpers.js';

interface LiveHash {
  hash: number;
  compact: number;
}

/** A history with a compaction in the middle; the store ends at revision 9, compacted at 4. */
async function writeHistory(ctlBin: string, endpoint: string): Promise<void> {
  const ctl = (...a: string[]) => run(ctlBin, [`--endpoints=${endpoint}`, ...a]);
  for (let i = 1; i <= 5; i++) assert.equal((await ctl('put', `k${i}`, `v${i}`)).code, 0);
  assert.equal((await ctl('put', 'k1', 'again')).code, 0);
  assert.equal((await ctl('del', 'k2')).code, 0);
  assert.equal((await ctl('compact', '4')).code, 0);
  assert.equal((await ctl('put', 'k6', 'v6')).code, 0);
}

async function liveHash(ctlBin: string, m: Member, rev: number): Promise<LiveHash> {
  const r = await run(ctlBin, [`--endpoints=${m.endpoint}`, 'endpoint', 'hashkv', `--rev=${rev}`, '-w', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const [first] = JSON.parse(r.stdout.toString()) as Array<{ HashKV: { hash: number; compact_revision: number } }>;
  return { hash: first!.HashKV.hash, compact: first!.HashKV.compact_revision };
}

async function utlHash(file: string, rev: number): Promise<{ hash: number; hashRevision: number; compactRevision: number }> {
  const r = await run(BIN.tsetcdutl, ['hashkv', file, `--rev=${rev}`, '-w', 'json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout.toString());
}

test('hashkv of a real etcd snapshot and member/snap/db equals endpoint hashkv of that member', { skip: !haveBinary('etcd') && 'etcd is not installed', timeout: 120_000 }, async () => {
  const { dir, cleanup } = tempDir('tsetcdutl-hashkv-');
  const m = await startMember('etcd', path.join(dir, 'etcd'));
  try {
    await writeHistory('etcdctl', m.endpoint);
    const live9 = await liveHash('etcdctl', m, 9);
    const live6 = await liveHash('etcdctl', m, 6);
    const snap = path.join(dir, 'snap.db');
    assert.equal((await run('etcdctl', [`--endpoints=${m.endpoint}`, 'snapshot', 'save', snap])).code, 0);
    assert.deepEqual(await utlHash(snap, 0), { hash: live9.hash, hashRevision: 9, compactRevision: 4 });
    assert.deepEqual(await utlHash(snap, 6), { hash: live6.hash, hashRevision: 6, compactRevision: 4 });
    await m.stop();
    assert.deepEqual(await utlHash(path.join(dir, 'etcd', 'member', 'snap', 'db'), 9), { hash: live9.hash, hashRevision: 9, compactRevision: 4 });
  } finally {
    await m.stop();
    cleanup();
  }
});

test('hashkv of a tsetcd data dir equals endpoint hashkv of the member; formats and errors', { timeout: 120_000 }, async () => {
  const { dir, cleanup } = tempDir('tsetcdutl-hashkv-');
  const dataDir = path.join(dir, 'ts');
  const m = await startMember(BIN.tsetcd, dataDir);
  try {
    await writeHistory(BIN.tsetcdctl, m.endpoint);
    const live9 = await liveHash(BIN.tsetcdctl, m, 9);
    const live7 = await liveHash(BIN.tsetcdctl, m, 7);
    const busy = await run(BIN.tsetcdutl, ['hashkv', dataDir]);
    assert.equal(busy.code, 1);
    assert.match(busy.stderr, /^Error: .*db is in use by a running member; stop it first, or ask it: tsetcdctl endpoint hashkv\n$/);
    await m.stop();
    assert.deepEqual(await utlHash(dataDir, 0), { hash: live9.hash, hashRevision: 9, compactRevision: 4 });
    assert.deepEqual(await utlHash(path.join(dataDir, 'member', 'snap', 'db'), 7), { hash: live7.hash, hashRevision: 7, compactRevision: 4 });

    const out = async (...a: string[]) => (await run(BIN.tsetcdutl, ['hashkv', dataDir, ...a])).stdout.toString();
    assert.equal(await out(), `${live9.hash}, 9, 4\n`);
    assert.equal(await out('-w', 'fields'), `"Hash" : ${live9.hash}\n"Hash revision" : 9\n"Compact revision" : 4\n`);
    assert.match(await out('-w', 'table'), new RegExp(`HASH REVISION \\| COMPACT REVISION \\|\\n.*\\n\\| +${live9.hash} \\| +9 \\| +4 \\|`));

    const compacted = await run(BIN.tsetcdutl, ['hashkv', dataDir, '--rev=3']);
    assert.deepEqual([compacted.code, compacted.stderr], [1, 'Error: mvcc: required revision has been compacted\n']);
    const future = await run(BIN.tsetcdutl, ['hashkv', dataDir, '--rev=10']);
    assert.deepEqual([future.code, future.stderr], [1, 'Error: mvcc: required revision is a future revision\n']);
    const pb = await run(BIN.tsetcdutl, ['hashkv', dataDir, '-w', 'protobuf']);
    assert.deepEqual([pb.code, pb.stderr], [4, 'Error: protobuf not supported as output format\n']);
    const xml = await run(BIN.tsetcdutl, ['hashkv', dataDir, '-w', 'xml']);
    assert.deepEqual([xml.code, xml.stderr], [4, 'Error: unsupported output format\n']);
    const missing = await run(BIN.tsetcdutl, ['hashkv', path.join(dir, 'nope.db')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^Error: open .*nope\.db: no such file or directory\n$/);
    const noArg = await run(BIN.tsetcdutl, ['hashkv']);
    assert.deepEqual([noArg.code, noArg.stderr], [1, 'Error: accepts 1 arg(s), received 0\n']);
  } finally {
    await m.stop();
    cleanup();
  }
});
