import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { Snapshot } from '../../src/raft/types.js';
import { Snapshotter, Wal, snapshotFileName } from '../../src/wal/index.js';
import { entry, tempDir } from './helpers.js';

function snap(index: number, term: number, data = `state at ${index}`): Snapshot {
  return {
    metadata: { index, term, confState: { voters: [1n, 0xffff_ffff_ffff_ffffn, 3n], learners: [42n] } },
    data: Buffer.from(data),
  };
}

describe('Snapshotter', () => {
  test('save and loadNewest round trip, newest by term then index', async () => {
    const dir = join(tempDir(), 'member', 'snap');
    const s = new Snapshotter(dir);
    assert.equal(await s.loadNewest(), null); // no directory yet
    await s.save(snap(10, 1));
    await s.save(snap(30, 2));
    await s.save(snap(20, 2));
    const got = await s.loadNewest();
    assert.ok(got !== null);
    assert.deepEqual(got.metadata, snap(30, 2).metadata);
    assert.equal(Buffer.from(got.data).toString(), 'state at 30');
    assert.deepEqual(readdirSync(dir).sort(), [snapshotFileName(1, 10), snapshotFileName(2, 20), snapshotFileName(2, 30)]);
    assert.equal(snapshotFileName(2, 30), '0000000000000002-000000000000001e.snap');
  });

  test('large and empty data survive', async () => {
    const s = new Snapshotter(tempDir());
    const big = Buffer.alloc(3 * 1024 * 1024 + 5);
    for (let i = 0; i < big.length; i += 4096) big[i] = i & 0xff;
    await s.save({ metadata: { index: 7, term: 1, confState: { voters: [], learners: [] } }, data: big });
    assert.ok(Buffer.from((await s.loadNewest())!.data).equals(big));
    await s.save({ metadata: { index: 8, term: 1, confState: { voters: [9n], learners: [] } }, data: new Uint8Array() });
    const got = (await s.loadNewest())!;
    assert.equal(got.data.length, 0);
    assert.deepEqual(got.metadata.confState.voters, [9n]);
  });

  test('a corrupt newest file is renamed *.broken and the next one is used', async () => {
    const dir = tempDir();
    const s = new Snapshotter(dir);
    await s.save(snap(10, 1));
    await s.save(snap(20, 1));
    await s.save(snap(30, 1));
    const newest = join(dir, snapshotFileName(1, 30));
    const buf = readFileSync(newest);
    buf[buf.length - 3]! ^= 0x01;
    writeFileSync(newest, buf);
    writeFileSync(join(dir, snapshotFileName(1, 25)), Buffer.alloc(0)); // empty: also broken
    const got = await s.loadNewest();
    assert.equal(got?.metadata.index, 20);
    assert.equal(existsSync(newest), false);
    assert.equal(existsSync(newest + '.broken'), true);
    assert.equal(existsSync(join(dir, snapshotFileName(1, 25) + '.broken')), true);
  });

  test('purge keeps the newest N and removes temp leftovers', async () => {
    const dir = tempDir();
    const s = new Snapshotter(dir);
    for (let i = 1; i <= 8; i++) await s.save(snap(i * 10, 1));
    writeFileSync(join(dir, snapshotFileName(1, 90) + '.tmp'), 'partial');
    writeFileSync(join(dir, 'db'), 'not ours');
    assert.equal(await s.purge(5), 3);
    assert.deepEqual(await s.names(), [80, 70, 60, 50, 40].map((i) => snapshotFileName(1, i)));
    assert.ok(existsSync(join(dir, 'db')));
    assert.equal(existsSync(join(dir, snapshotFileName(1, 90) + '.tmp')), false);
    assert.equal(await s.purge(5), 0);
    await assert.rejects(s.purge(0), RangeError);
  });

  test('loadNewest(markers) picks the newest snapshot the WAL has a marker for', async () => {
    const root = tempDir();
    const s = new Snapshotter(join(root, 'snap'));
    const w = await Wal.create(join(root, 'wal'), Buffer.from('m'));
    for (let i = 1; i <= 30; i++) await w.save({ term: 1, vote: 0n, commit: i }, [entry(i)]);
    await s.save(snap(10, 1));
    await w.saveSnapshotMarker({ index: 10, term: 1 });
    await s.save(snap(20, 1)); // crash before its marker: the WAL cannot start from it
    await w.close();
    const markers = await Wal.readSnapshotMarkers(join(root, 'wal'));
    const got = await s.loadNewest(markers);
    assert.equal(got?.metadata.index, 10);
    const r = await Wal.open(join(root, 'wal'), got!.metadata);
    assert.equal(r.entries[0]!.index, 11);
    await r.wal.close();
  });

  test('save refuses an empty snapshot', async () => {
    await assert.rejects(new Snapshotter(tempDir()).save(snap(0, 0)), RangeError);
  });
});
