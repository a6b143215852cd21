// Proves the LMDB file reader (src/lmdbfile/reader.ts), which the Snapshot RPC uses to read
// the database with positioned reads instead of LMDB's memory map, returns exactly what
// lmdb-js itself reads: every key and value, in order, for trees with inline values,
// values on overflow pages of one and many pages, empty values and empty trees, trees three
// and more levels deep; that a read view keeps returning its own revision while the data is
// rewritten under it (LMDB may not reuse the pages the open transaction pins); that a
// snapshot made from it is byte for byte the one made through lmdb-js; and that damaged,
// foreign and unsupported (duplicate-key) files give an LmdbFileError instead of garbage; and
// that a file bulk-loaded through the map (restore) is cut back to its pages and reopens.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { open } from 'lmdb';
import { Backend, type BackendView } from '../../src/backend/backend.js';
import { LmdbFileError, LmdbFileReader, lmdbUsedBytes, parseDbRecord } from '../../src/lmdbfile/reader.js';
import { etcdSnapshotStream } from '../../src/snapshot/export.js';
import { tempDir } from '../helpers/tmp.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/**
 * every entry of a scan, copied (the reader's buffers are reused from entry to entry), as
 * key and a digest of the value (so a failure prints short lines)
 */
function copied(entries: Iterable<readonly [Buffer, Buffer]>): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const [k, v] of entries) out.push([hex(k), `${v.length}:${crypto.createHash('sha256').update(v).digest('hex').slice(0, 16)}`]);
  return out;
}

/** An LMDB environment opened the way the backend opens its own, for trees it never builds. */
function rawEnv(file: string, extra: Record<string, unknown> = {}) {
  return open<Buffer, Buffer>({ path: file, noSubdir: true, noSync: true, maxDbs: 8, compression: false, cache: false, keyEncoding: 'binary', encoding: 'binary', ...extra });
}

/** a tree's record, read from the main database as the backend reads it */
function treeOf(env: ReturnType<typeof rawEnv>, name: string): ReturnType<typeof parseDbRecord> {
  // lmdb-js stores a tree's name with a NUL byte
  for (const { key, value } of env.getRange({ start: Buffer.from(name), limit: 1 })) if (key.toString() === `${name}\0`) return parseDbRecord(value);
  throw new Error(`no tree ${name}`);
}

/** value sizes around LMDB's inline/overflow boundary (about half a 4 KiB page) and well past it */
const VALUE_SIZES = [0, 1, 100, 1000, 1990, 2000, 2010, 2100, 4072, 4073, 4096, 8200, 100_000, 1_100_000];

test('values of every size, inline and on overflow pages, read as lmdb-js reads them', async () => {
  const { dir, cleanup } = tempDir();
  const b = Backend.open(path.join(dir, 'db'));
  try {
    b.write(() => {
      VALUE_SIZES.forEach((n, i) => b.put('key', Buffer.from(`k${String(i).padStart(3, '0')}`), crypto.randomBytes(n)));
      for (let i = 0; i < 3000; i++) b.put('lease', Buffer.from(`lease-${i}`), crypto.randomBytes(i % 300));
    });
    const view = b.readView();
    try {
      for (const bucket of ['key', 'lease', 'alarm'] as const) {
        const want = copied(view.range(bucket));
        assert.deepEqual(copied(view.rangeFromFile(bucket)), want, `${bucket}: entries from the file equal lmdb-js's`);
        assert.deepEqual(
          Array.from(view.sizesFromFile(bucket), ([k, n]) => [hex(k), n]),
          want.map(([k, v]) => [k, Number(v.split(':')[0])]),
          `${bucket}: sizes from the file equal the values' lengths`,
        );
      }
      assert.equal(copied(view.rangeFromFile('key')).length, VALUE_SIZES.length);
      assert.equal([...view.rangeFromFile('alarm')].length, 0, 'an empty bucket has no entries');
    } finally {
      view.release();
    }
  } finally {
    await b.close();
    cleanup();
  }
});

test('trees three and four levels deep are walked completely and in order', async () => {
  const { dir, cleanup } = tempDir();
  const file = path.join(dir, 'deep.mdb');
  const env = rawEnv(file);
  try {
    // long keys make branch pages hold few children, so the tree grows deep with few entries
    const cases = [
      { name: 'deep3', keyBytes: 64, n: 20_000 },
      { name: 'deep4', keyBytes: 480, n: 6000 },
    ];
    for (const c of cases) {
      const db = env.openDB<Buffer, Buffer>({ name: c.name, keyEncoding: 'binary', encoding: 'binary' });
      env.transactionSync(() => {
        // inserted out of order, so pages split in the middle as well as at the end
        for (let j = 0; j < c.n; j++) {
          const i = (j * 7919) % c.n;
          const key = Buffer.alloc(c.keyBytes, 0x61);
          key.write(String(i).padStart(8, '0'));
          db.putSync(key, i % 97 === 0 ? crypto.randomBytes(5000) : Buffer.from(`v${i}`));
        }
      });
      const stats = db.getStats() as { treeDepth: number };
      const tree = treeOf(env, c.name);
      assert.equal(tree.depth, stats.treeDepth);
      assert.ok(tree.depth >= (c.name === 'deep3' ? 3 : 4), `${c.name} is ${tree.depth} levels deep`);
      const fd = fs.openSync(file, 'r');
      try {
        const got = copied(LmdbFileReader.onFd(fd).entries(tree));
        const want = copied([...db.getRange()].map(({ key, value }) => [key, value] as const));
        assert.equal(got.length, c.n);
        assert.deepEqual(got, want);
      } finally {
        fs.closeSync(fd);
      }
    }
  } finally {
    await env.close();
    cleanup();
  }
});

test('a read view keeps its revision while everything is deleted and rewritten under it', async () => {
  const { dir, cleanup } = tempDir();
  const b = Backend.open(path.join(dir, 'db'));
  try {
    const put = (tag: string): void =>
      b.write(() => {
        for (let i = 0; i < 400; i++) b.put('key', Buffer.from(`k${String(i).padStart(4, '0')}`), Buffer.alloc(i % 2 ? 9000 : 300, `${tag}${i}`));
      });
    put('old');
    b.commit();
    const view = b.readView();
    try {
      const before = copied(view.range('key'));
      // many commits that free every page of the view's snapshot: LMDB would reuse them
      // for the new data if the view's transaction did not pin them
      for (let round = 0; round < 6; round++) {
        b.write(() => {
          for (let i = 0; i < 400; i += 1 + (round % 2)) b.delete('key', Buffer.from(`k${String(i).padStart(4, '0')}`));
        });
        b.commit();
        put(`new${round}`);
        b.commit();
      }
      assert.notDeepEqual(copied([...b.range('key')].map(({ key, value }) => [key, value] as const)), before, 'the data did change');
      assert.deepEqual(copied(view.rangeFromFile('key')), before, 'the view still reads its own revision from the file');
    } finally {
      view.release();
    }
  } finally {
    await b.close();
    cleanup();
  }
});

test('a snapshot read from the file is byte for byte the one read through lmdb-js', async () => {
  const { dir, cleanup } = tempDir();
  const b = Backend.open(path.join(dir, 'db'));
  try {
    b.write(() => {
      VALUE_SIZES.forEach((n, i) => b.put('key', Buffer.from(`k${String(i).padStart(3, '0')}`), crypto.randomBytes(n)));
      for (let i = 0; i < 5000; i++) b.put('key', Buffer.from(`small${i}`), crypto.randomBytes(i % 50));
      b.put('meta', Buffer.from('consistent_index'), Buffer.alloc(8, 1));
    });
    const view = b.readView();
    // the same view, with the file scans replaced by lmdb-js's reads
    const throughLmdbJs: BackendView = {
      ...view,
      rangeFromFile: (bucket) => view.range(bucket),
      sizesFromFile: (bucket) => [...view.range(bucket)].map(([k, v]) => [k, v.length] as const),
    };
    try {
      const digest = (v: BackendView): string => {
        const h = crypto.createHash('sha256');
        for (const chunk of etcdSnapshotStream(v, {}).chunks) h.update(chunk);
        return h.digest('hex');
      };
      assert.equal(digest(view), digest(throughLmdbJs));
    } finally {
      view.release();
    }
  } finally {
    await b.close();
    cleanup();
  }
});

/** A one-bucket file to damage: returns its path and the bucket's tree record. */
async function smallFile(dir: string, extra: Record<string, unknown> = {}) {
  const file = path.join(dir, extra.dupSort ? 'dup.mdb' : 'small.mdb');
  const env = rawEnv(file);
  const db = env.openDB<Buffer, Buffer>({ name: 'b', keyEncoding: 'binary', encoding: 'binary', ...extra });
  env.transactionSync(() => {
    for (let i = 0; i < 50; i++) db.putSync(Buffer.from(`k${i}`), Buffer.alloc(i === 7 && !extra.dupSort ? 20_000 : 10, i));
    if (extra.dupSort) db.putSync(Buffer.from('k1'), Buffer.from('second value'));
  });
  const tree = treeOf(env, 'b');
  await env.close();
  return { file, tree };
}

function readAll(file: string, tree: ReturnType<typeof parseDbRecord>): void {
  const fd = fs.openSync(file, 'r');
  try {
    for (const _ of LmdbFileReader.onFd(fd).entries(tree)) void _;
  } finally {
    fs.closeSync(fd);
  }
}

test('damaged, foreign and duplicate-key files give an LmdbFileError, not garbage', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const { file, tree } = await smallFile(dir);
    readAll(file, tree); // intact: reads fine
    const pageBytes = 4096;
    const bytes = fs.readFileSync(file);
    const damaged = path.join(dir, 'damaged.mdb');
    const variants: Array<[string, (b: Buffer) => Buffer, RegExp]> = [
      ['leaf page flags', (b) => (b.writeUInt16LE(0x01, tree.root! * pageBytes + 18), b), /damaged: flags 1 where a leaf page belongs/],
      ['page number', (b) => (b.writeUInt32LE(999, tree.root! * pageBytes), b), /damaged: read at page/],
      ['node offset', (b) => (b.writeUInt16LE(0xfff0, tree.root! * pageBytes + 24), b), /damaged: node 0 at offset/],
      ['truncated', (b) => b.subarray(0, (tree.root! - 1) * pageBytes), /outside the file's/],
      ['not LMDB', (b) => Buffer.alloc(b.length, 0x42), /not an LMDB data file/],
    ];
    for (const [what, damage, message] of variants) {
      fs.writeFileSync(damaged, damage(Buffer.from(bytes)));
      assert.throws(() => readAll(damaged, tree), (e: unknown) => e instanceof LmdbFileError && message.test(e.message), what);
    }
    assert.throws(() => readAll(file, { ...tree, entries: tree.entries + 1 }), /50 entries found, its record says 51/);
    assert.throws(() => readAll(file, { ...tree, depth: 2 }), LmdbFileError);

    const dup = await smallFile(dir, { dupSort: true });
    assert.throws(() => readAll(dup.file, dup.tree), /MDB_DUPSORT.*not supported/);
  } finally {
    cleanup();
  }
});

test('a backend loaded through the memory map is cut back to its pages and reopens with its data', async () => {
  const { dir, cleanup } = tempDir();
  const file = path.join(dir, 'db');
  try {
    const loader = Backend.open(file, { writeMap: true });
    const rows = Array.from({ length: 300 }, (_, i) => [Buffer.from(`k${String(i).padStart(4, '0')}`), crypto.randomBytes(i % 3 ? 100 : 50_000)] as const);
    loader.importRecords('key', rows);
    await loader.close();
    const size = fs.statSync(file).size;
    // LMDB grew the file to the whole map (16 GiB) while it wrote through it
    assert.ok(size < 32 * 1024 * 1024, `the file is its pages in use, not the map size (${size} bytes)`);
    const fd = fs.openSync(file, 'r');
    try {
      assert.equal(lmdbUsedBytes(fd), size);
    } finally {
      fs.closeSync(fd);
    }
    const b = Backend.open(file);
    try {
      assert.deepEqual(copied(Array.from(b.range('key'), ({ key, value }) => [key, value] as const)), copied(rows));
      b.write(() => b.put('key', Buffer.from('later'), Buffer.alloc(200_000, 1)));
      b.commit();
      assert.equal(b.count('key'), 301, 'the cut file takes new writes');
    } finally {
      await b.close();
    }
  } finally {
    cleanup();
  }
});
