import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Wal, WalBusyError, WalCorruptError, WalLockedError } from '../../src/wal/index.js';
import type { Entry, HardState } from '../../src/raft/types.js';
import { assertSameData, entries, entry, hashDir, segmentFiles, shape, tempDir } from './helpers.js';

const meta = Buffer.from('member=8e9e05c52164694d cluster=cdf818194e3a8c32');

describe('create, save, open', () => {
  test('round trip: metadata, entries, hard state', async () => {
    const dir = join(tempDir(), 'member', 'wal');
    assert.equal(Wal.exists(dir), false);
    const w = await Wal.create(dir, meta);
    assert.equal(Wal.exists(dir), true);
    const written = entries(1, 20, 1, 100);
    await w.save({ term: 1, vote: 0xffff_ffff_ffff_fff0n, commit: 0 }, written.slice(0, 10));
    await w.save({ term: 1, vote: 0xffff_ffff_ffff_fff0n, commit: 7 }, written.slice(10));
    assert.equal(w.lastIndex, 20);
    await w.close();

    const r = await Wal.open(dir);
    assert.ok(Buffer.from(r.metadata).equals(meta));
    assert.deepEqual(r.hardState, { term: 1, vote: 0xffff_ffff_ffff_fff0n, commit: 7 });
    assert.equal(r.entries.length, 20);
    r.entries.forEach((e, i) => assert.ok(assertSameData(e, written[i]!), `entry ${i + 1} differs`));
    assert.equal(r.repairedBytes, 0);
    assert.equal(r.wal.lastIndex, 20);
    await r.wal.save(null, [entry(21)]);
    await r.wal.close();
    assert.deepEqual(shape((await reopen(dir)).entries).at(-1), '21:1');
  });

  test('a fresh WAL opens empty, and leaves no temp dir or lock behind', async () => {
    const root = tempDir();
    const dir = join(root, 'wal');
    await (await Wal.create(dir, new Uint8Array())).close();
    assert.deepEqual(readdirSync(root), ['wal']);
    assert.deepEqual(readdirSync(dir), ['0000000000000000-0000000000000000.wal']);
    const r = await Wal.open(dir);
    assert.equal(r.entries.length, 0);
    assert.equal(r.metadata.length, 0);
    assert.deepEqual(r.hardState, { term: 0, vote: 0n, commit: 0 });
    await r.wal.close();
  });

  test('create refuses an existing WAL and a non-empty directory', async () => {
    const dir = join(tempDir(), 'wal');
    await (await Wal.create(dir, meta)).close();
    await assert.rejects(Wal.create(dir, meta), /already holds a WAL/);
    const other = tempDir();
    writeFileSync(join(other, 'something'), 'x');
    await assert.rejects(Wal.create(other, meta), /not an empty directory/);
    const empty = tempDir();
    await (await Wal.create(empty, meta)).close(); // an empty existing dir is fine
  });

  test('hard state: the last one saved wins, also across segments and without entries', async () => {
    const dir = join(tempDir(), 'wal');
    const w = await Wal.create(dir, meta, { segmentSizeBytes: 512 });
    for (let i = 1; i <= 30; i++) await w.save({ term: Math.ceil(i / 10), vote: BigInt(i % 3), commit: i - 1 }, [entry(i, Math.ceil(i / 10))]);
    await w.save({ term: 4, vote: 9n, commit: 30 }, []);
    assert.ok(w.segments().length > 3);
    await w.close();
    const r = await reopen(dir);
    assert.deepEqual(r.hardState, { term: 4, vote: 9n, commit: 30 });
    assert.equal(r.entries.length, 30);
  });

  test('a commit-only hard state saved without sync is on disk at once, for a kill -9 to keep', async () => {
    // --force-new-cluster keeps exactly the entries up to the saved commit: a survivor killed
    // right after learning a commit must still know it (an unsynced write survives kill -9)
    const dir = join(tempDir(), 'wal');
    const w = await Wal.create(dir, meta);
    await w.save({ term: 2, vote: 1n, commit: 0 }, entries(1, 5, 2, 10));
    await w.save({ term: 2, vote: 1n, commit: 5 }, [], false);
    assert.deepEqual((await openCopy(dir)).hardState, { term: 2, vote: 1n, commit: 5 });
    await w.save(null, [entry(6, 2)]);
    const copy = await openCopy(dir);
    assert.deepEqual(copy.hardState, { term: 2, vote: 1n, commit: 5 });
    assert.equal(copy.entries.length, 6);
    await w.close();
  });

  test('an unchanged hard state and no entries writes nothing', async () => {
    const dir = join(tempDir(), 'wal');
    const w = await Wal.create(dir, meta);
    await w.save({ term: 1, vote: 1n, commit: 0 }, []);
    const before = hashDir(dir);
    await w.save({ term: 1, vote: 1n, commit: 0 }, []);
    await w.save(null, []);
    assert.deepEqual(hashDir(dir), before);
    await w.close();
  });
});

describe('suffix overwrite (raft truncation)', () => {
  test('a rewritten index replaces it and drops everything after', async () => {
    const dir = join(tempDir(), 'wal');
    const w = await Wal.create(dir, meta);
    await w.save({ term: 1, vote: 1n, commit: 2 }, entries(1, 10, 1));
    await w.save({ term: 2, vote: 2n, commit: 2 }, entries(5, 6, 2));
    assert.equal(w.lastIndex, 6);
    await w.save(null, entries(7, 7, 2));
    await w.close();
    const r = await reopen(dir);
    assert.deepEqual(shape(r.entries), ['1:1', '2:1', '3:1', '4:1', '5:2', '6:2', '7:2']);
  });

  test('overwrite across a segment boundary, then more segments', async () => {
    const dir = join(tempDir(), 'wal');
    const w = await Wal.create(dir, meta, { segmentSizeBytes: 400 });
    for (let i = 1; i <= 20; i++) await w.save(null, [entry(i, 1, 40)]);
    const segsBefore = w.segments().length;
    await w.save({ term: 3, vote: 0n, commit: 1 }, entries(3, 4, 3, 40)); // index 3 lives in an old segment
    for (let i = 5; i <= 12; i++) await w.save(null, [entry(i, 3, 40)]);
    assert.ok(w.segments().length > segsBefore);
    await w.close();
    const r = await reopen(dir);
    assert.deepEqual(shape(r.entries), ['1:1', '2:1', ...Array.from({ length: 10 }, (_, k) => `${k + 3}:3`)]);
  });

  test('save refuses a gap, non-contiguous entries, and decreasing term or commit', async () => {
    const dir = join(tempDir(), 'wal');
    const w = await Wal.create(dir, meta);
    await w.save({ term: 2, vote: 1n, commit: 3 }, entries(1, 3));
    await assert.rejects(w.save(null, [entry(5)]), /gap/);
    await assert.rejects(w.save(null, [entry(4), entry(6)]), /not contiguous/);
    await assert.rejects(w.save({ term: 1, vote: 1n, commit: 3 }, []), /term 1 is lower/);
    await assert.rejects(w.save({ term: 2, vote: 1n, commit: 2 }, []), /commit 2 is lower/);
    await w.save(null, [entry(4)]); // still usable: the checks ran before any write
    await w.close();
    assert.deepEqual(shape((await reopen(dir)).entries), ['1:1', '2:1', '3:1', '4:1']);
  });
});

describe('segments', () => {
  test('cut at the size limit; names carry sequence and first index; reading spans them', async () => {
    const dir = join(tempDir(), 'wal');
    const w = await Wal.create(dir, meta, { segmentSizeBytes: 1024 });
    const all = entries(1, 200, 1, 50);
    for (let i = 0; i < all.length; i += 4) await w.save({ term: 1, vote: 0n, commit: i }, all.slice(i, i + 4));
    const names = w.segments();
    assert.deepEqual(segmentFiles(dir), names);
    assert.ok(names.length >= 10, `only ${names.length} segments`);
    let lastFirst = -1;
    names.forEach((n, i) => {
      const [seq, first] = n.replace('.wal', '').split('-').map((h) => parseInt(h, 16));
      assert.equal(seq, i);
      assert.ok(first! > lastFirst);
      lastFirst = first!;
    });
    await w.close();
    const r = await reopen(dir);
    assert.equal(r.entries.length, 200);
    r.entries.forEach((e, i) => assert.ok(assertSameData(e, all[i]!)));
    assert.equal(r.hardState.commit, 196);
  });

  test('open from a snapshot reads from the segment holding it', async () => {
    const dir = join(tempDir(), 'wal');
    const w = await Wal.create(dir, meta, { segmentSizeBytes: 1024 });
    for (let i = 1; i <= 100; i++) await w.save({ term: 1, vote: 0n, commit: i }, [entry(i, 1, 50)]);
    await w.saveSnapshotMarker({ index: 60, term: 1 });
    for (let i = 101; i <= 110; i++) await w.save({ term: 1, vote: 0n, commit: i }, [entry(i, 1, 50)]);
    await w.close();
    const r = await Wal.open(dir, { index: 60, term: 1 });
    assert.deepEqual(r.entries.map((e) => e.index), Array.from({ length: 50 }, (_, k) => 61 + k));
    await r.wal.close();
  });

  test('releaseTo removes only segments a later one makes redundant, never the live one', async () => {
    const dir = join(tempDir(), 'wal');
    const w = await Wal.create(dir, meta, { segmentSizeBytes: 1024, keepSegments: 1 });
    for (let i = 1; i <= 100; i++) await w.save({ term: 1, vote: 0n, commit: i }, [entry(i, 1, 50)]);
    const firsts = w.segments().map((n) => parseInt(n.slice(17, 33), 16));
    await w.saveSnapshotMarker({ index: 50, term: 1 });
    const holding = firsts.filter((f) => f <= 50).length - 1; // index of the segment open(50) starts at
    assert.equal(await w.releaseTo(50), holding);
    assert.equal(w.segments().length, firsts.length - holding);
    assert.ok(parseInt(w.segments()[0]!.slice(17, 33), 16) <= 50, 'the segment holding index 51 survives');
    assert.equal(await w.releaseTo(50), 0);
    // keep bounds it from below
    assert.equal(await w.releaseTo(10_000, w.segments().length), 0);
    // and it never removes the live segment
    const removed = await w.releaseTo(10_000, 1);
    assert.equal(w.segments().length, 1);
    assert.ok(removed >= 1);
    await w.close();
    const err = await Wal.open(dir).then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(err instanceof WalCorruptError && /no segment holds snapshot index 0/.test(err.message), String(err));
  });

  test('open from a snapshot after releaseTo', async () => {
    const dir = join(tempDir(), 'wal');
    const w = await Wal.create(dir, meta, { segmentSizeBytes: 600, keepSegments: 1 });
    for (let i = 1; i <= 60; i++) await w.save({ term: 2, vote: 0n, commit: i }, [entry(i, 2, 30)]);
    await w.saveSnapshotMarker({ index: 40, term: 2 });
    assert.ok((await w.releaseTo(40)) > 0);
    for (let i = 61; i <= 70; i++) await w.save({ term: 2, vote: 0n, commit: i }, [entry(i, 2, 30)]);
    await w.close();
    const r = await Wal.open(dir, { index: 40, term: 2 });
    assert.equal(r.entries[0]!.index, 41);
    assert.equal(r.entries.at(-1)!.index, 70);
    await r.wal.close();
  });

  test('readSnapshotMarkers returns markers covered by the saved commit', async () => {
    const dir = join(tempDir(), 'wal');
    const w = await Wal.create(dir, meta, { segmentSizeBytes: 512 });
    for (let i = 1; i <= 30; i++) await w.save({ term: 1, vote: 0n, commit: i - 1 }, [entry(i)]);
    await w.saveSnapshotMarker({ index: 10, term: 1 });
    await w.saveSnapshotMarker({ index: 29, term: 1 });
    await w.saveSnapshotMarker({ index: 30, term: 1 }); // commit is 29: not yet trusted
    assert.deepEqual(await Wal.readSnapshotMarkers(dir), [
      { index: 0, term: 0 },
      { index: 10, term: 1 },
      { index: 29, term: 1 },
    ]);
    await w.close();
  });

  test('a follower installing a snapshot saves the marker, then entries after it', async () => {
    const dir = join(tempDir(), 'wal');
    const w = await Wal.create(dir, meta);
    await w.save({ term: 1, vote: 0n, commit: 2 }, entries(1, 3));
    await w.saveSnapshotMarker({ index: 100, term: 5 });
    await w.save({ term: 5, vote: 0n, commit: 100 }, entries(101, 102, 5));
    await w.close();
    const r = await Wal.open(dir, { index: 100, term: 5 });
    assert.deepEqual(shape(r.entries), ['101:5', '102:5']);
    await r.wal.close();
  });

  test('leftover temp segment from a crash during a cut is ignored and removed', async () => {
    const dir = join(tempDir(), 'wal');
    await (await Wal.create(dir, meta)).close();
    writeFileSync(join(dir, '0000000000000001-0000000000000005.wal.tmp'), Buffer.alloc(100, 7));
    const r = await Wal.open(dir);
    assert.equal(existsSync(join(dir, '0000000000000001-0000000000000005.wal.tmp')), false);
    await r.wal.close();
  });
});

describe('one call at a time', () => {
  test('a second call while a save is in flight throws WalBusyError', async () => {
    const dir = join(tempDir(), 'wal');
    const w = await Wal.create(dir, meta);
    const first = w.save(null, [entry(1)]);
    await assert.rejects(w.save(null, [entry(2)]), WalBusyError);
    await assert.rejects(w.saveSnapshotMarker({ index: 1, term: 1 }), WalBusyError);
    await assert.rejects(w.close(), WalBusyError);
    await first;
    await w.save(null, [entry(2)]);
    await w.close();
    await w.close();
    await assert.rejects(w.save(null, [entry(3)]), /closed/);
    assert.deepEqual(shape((await reopen(dir)).entries), ['1:1', '2:1']);
  });
});

describe('open errors', () => {
  test('missing directory', async () => {
    const dir = join(tempDir(), 'nope');
    await assert.rejects(Wal.open(dir), (e: Error) => e.message.includes(dir) && /does not exist/.test(e.message));
  });

  test('directory without segments', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'README'), 'x');
    await assert.rejects(Wal.open(dir), (e: Error) => e.message.includes(dir) && /no segment files/.test(e.message));
  });

  test('unreadable segment names the file', async () => {
    const dir = join(tempDir(), 'wal');
    await (await Wal.create(dir, meta)).close();
    const bogus = join(dir, '0000000000000001-0000000000000001.wal');
    mkdirSync(bogus); // root can read any file, but nobody can read a directory as one
    await assert.rejects(Wal.open(dir), (e: Error) => e.message.includes(bogus) && /cannot (read|open)/.test(e.message));
    rmSync(bogus, { recursive: true });
    await (await Wal.open(dir)).wal.close(); // and the failed open left the lock free
  });
});

describe('directory lock', () => {
  test('a second open in this process is refused', async () => {
    const dir = join(tempDir(), 'wal');
    const w = await Wal.create(dir, meta);
    await assert.rejects(Wal.open(dir), (e: Error) => e instanceof WalLockedError && e.message === `wal: ${dir} is locked by process ${process.pid}`);
    await w.close();
    await (await Wal.open(dir)).wal.close();
  });

  test('another live process holding it is named in the refusal', async () => {
    const dir = join(tempDir(), 'wal');
    await (await Wal.create(dir, meta)).close();
    const child = spawn(process.execPath, [new URL('./child-appender.js', import.meta.url).pathname], {
      env: { ...process.env, WAL_CHILD_DIR: dir, WAL_CHILD_MODE: 'hold' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      await new Promise<void>((res, rej) => {
        child.stdout.once('data', () => res());
        child.once('exit', (code) => rej(new Error(`child exited ${code}`)));
      });
      await assert.rejects(Wal.open(dir), (e: Error) => e.message === `wal: ${dir} is locked by process ${child.pid}`);
    } finally {
      child.kill('SIGKILL');
      await new Promise((res) => child.once('exit', res));
    }
    // the holder died without releasing: the lock is stale and is taken over
    await (await Wal.open(dir)).wal.close();
  });

  test('a stale lock naming a dead process, or this pid from an earlier life, is taken over', async () => {
    const dir = join(tempDir(), 'wal');
    await (await Wal.create(dir, meta)).close();
    writeFileSync(join(dir, 'wal.lock'), '2147483646 12345\n');
    await (await Wal.open(dir)).wal.close();
    writeFileSync(join(dir, 'wal.lock'), `${process.pid} 1\n`);
    await (await Wal.open(dir)).wal.close();
    writeFileSync(join(dir, 'wal.lock'), 'garbage');
    const r = await Wal.open(dir);
    assert.ok(existsSync(join(dir, 'wal.lock')));
    await r.wal.close();
    assert.equal(existsSync(join(dir, 'wal.lock')), false);
  });
});

async function reopen(dir: string): Promise<{ entries: Entry[]; hardState: HardState }> {
  const r = await Wal.open(dir);
  await r.wal.close();
  return { entries: r.entries, hardState: r.hardState };
}

/** Opens a copy of the segment files of a WAL still open elsewhere: what a kill -9 leaves. */
async function openCopy(dir: string): Promise<{ hardState: HardState; entries: Entry[] }> {
  const copy = join(tempDir(), 'wal');
  mkdirSync(copy);
  for (const n of segmentFiles(dir)) writeFileSync(join(copy, n), readFileSync(join(dir, n)));
  const r = await Wal.open(copy);
  await r.wal.close();
  return { hardState: r.hardState, entries: r.entries };
}
