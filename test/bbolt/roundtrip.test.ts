// Proves that what the bbolt writer writes, the bbolt reader reads back unchanged: random
// buckets (empty ones, empty values, values spanning overflow pages, enough keys for
// multi-level branches) at several page sizes; that the stream is whole pages in bounded
// chunks; and that bad input to the writer is refused with a clear error.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { BboltFile } from '../../src/bbolt/reader.js';
import { bboltFileChunks, writeBboltFile, type BboltBucket } from '../../src/bbolt/writer.js';
import { tempDir } from '../helpers/tmp.js';
import { bucketOf, entryDigest, generatedBucket, type Entries } from './helpers.js';

const tmp = tempDir('tsetcd-bbolt-rt-');
after(() => tmp.cleanup());
let fileNo = 0;
const nextFile = (): string => path.join(tmp.dir, `f${fileNo++}.db`);

function readAll(file: string): Map<string, Entries> {
  const f = BboltFile.open(file);
  try {
    const out = new Map<string, Entries>();
    for (const name of f.bucketNames()) out.set(name.toString('hex'), [...f.entries(name)].map(([k, v]) => [Buffer.from(k), Buffer.from(v)]));
    return out;
  } finally {
    f.close();
  }
}

const bytes = (max: number) => fc.uint8Array({ minLength: 0, maxLength: max }).map((a) => Buffer.from(a));
// mostly short keys; now and then one longer than a 1 KiB page (overflow leaves and branches)
const key = fc.oneof(
  { weight: 30, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 40 }).map((a) => Buffer.from(a)) },
  { weight: 1, arbitrary: fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 8 }), fc.integer({ min: 900, max: 5000 })).map(([head, n]) => Buffer.concat([Buffer.from(head), Buffer.alloc(n, 0x5a)])) },
);
// mostly small values, some bigger than a page, a few empty
const value = fc.oneof({ weight: 8, arbitrary: bytes(64) }, { weight: 1, arbitrary: fc.nat(20_000).map((n) => Buffer.alloc(n, n % 256)) });
const bucketArb = fc.record({
  name: fc.uint8Array({ minLength: 1, maxLength: 12 }).map((a) => Buffer.from(a)),
  entries: fc.array(fc.tuple(key, value), { maxLength: 300 }),
});

describe('bbolt writer -> reader', () => {
  it('random buckets round-trip at page sizes 1024, 4096 and 16384', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(bucketArb, { maxLength: 5, selector: (b) => b.name.toString('hex') }), fc.constantFrom(1024, 4096, 16384), async (bs, pageSizeBytes) => {
        const buckets = bs.map((b) => bucketOf(b.name, b.entries as Entries));
        const file = nextFile();
        const size = await writeBboltFile(file, buckets, { pageSizeBytes });
        assert.equal(fs.statSync(file).size, size);
        const got = readAll(file);
        const want = new Map([...buckets].sort((a, b) => Buffer.compare(a.name, b.name)).map((b) => [Buffer.from(b.name).toString('hex'), b.sorted]));
        assert.deepEqual([...got.keys()], [...want.keys()], 'bucket names in order');
        for (const [name, entries] of want) assert.deepEqual(got.get(name), entries, `bucket ${name}`);
        const f = BboltFile.open(file);
        assert.equal(f.pageSizeBytes, pageSizeBytes);
        assert.equal(f.sizeBytes(), size);
        assert.equal(f.freePageCount(), 0);
        f.close();
        fs.rmSync(file);
      }),
      { numRuns: 60 },
    );
  });

  it('multi-level branches: 60,000 keys on 1 KiB pages, with a 3 MiB value in the middle', async () => {
    const n = 60_000;
    const big = 3 * 1024 * 1024;
    const b = generatedBucket('key', n, (i) => (i === 30_000 ? big : i % 40));
    const file = nextFile();
    await writeBboltFile(file, [b], { pageSizeBytes: 1024 });
    const f = BboltFile.open(file);
    assert.deepEqual(entryDigest(f.entries(Buffer.from('key'))), entryDigest(b.entries()));
    // 60,000 leaf entries need far more than one branch page of 1 KiB: the root is at least 3 levels up
    assert.ok(f.sizeBytes() > big + n * 24, 'the file holds the data');
    f.close();
  });

  it('no buckets at all, and an empty bucket, make valid files', async () => {
    const none = nextFile();
    await writeBboltFile(none, []);
    assert.deepEqual(BboltFile.open(none).bucketNames(), []);
    const empty = nextFile();
    await writeBboltFile(empty, [bucketOf('alarm', [])]);
    const f = BboltFile.open(empty);
    assert.deepEqual(f.bucketNames().map(String), ['alarm']);
    assert.deepEqual([...f.entries(Buffer.from('alarm'))], []);
  });

  it('chunks are whole pages, at most 64 KiB unless one overflow run is bigger, and nothing is read before the first pull', () => {
    let layoutCalls = 0;
    const b: BboltBucket = {
      name: Buffer.from('b'),
      *entries() {
        layoutCalls++;
        for (let i = 0; i < 5000; i++) yield [Buffer.from(`k${String(i).padStart(6, '0')}`), Buffer.alloc(i === 100 ? 200_000 : 50)] as const;
      },
    };
    const gen = bboltFileChunks([b], { pageSizeBytes: 4096 });
    assert.equal(layoutCalls, 0, 'creating the generator reads nothing');
    let total = 0;
    let oversized = 0;
    for (const chunk of gen) {
      assert.equal(chunk.length % 4096, 0);
      if (chunk.length > 64 * 1024) oversized++;
      total += chunk.length;
    }
    assert.equal(layoutCalls, 2, 'entries() called once per pass');
    assert.equal(oversized, 1, 'only the 200,000-byte value makes a bigger chunk');
    assert.ok(total > 5000 * 66 + 200_000);
  });

  it('refuses unsorted, duplicate or empty keys, duplicate bucket names, bad page sizes, and a second pass that differs', () => {
    const drain = (bs: BboltBucket[], opts = {}) => {
      for (const _ of bboltFileChunks(bs, opts)) void _;
    };
    const raw = (name: string, es: [string, string][]): BboltBucket => ({ name: Buffer.from(name), entries: () => es.map(([k, v]) => [Buffer.from(k), Buffer.from(v)] as const) });
    assert.throws(() => drain([raw('b', [['b', ''], ['a', '']])]), /bucket "b": keys are not sorted and unique/);
    assert.throws(() => drain([raw('b', [['a', ''], ['a', '']])]), /keys are not sorted and unique/);
    assert.throws(() => drain([raw('b', [['', 'x']])]), /a key is empty/);
    assert.throws(() => drain([raw('b', []), raw('b', [])]), /bucket "b" is given twice/);
    assert.throws(() => drain([raw('', [])]), /bucket name is empty/);
    assert.throws(() => drain([], { pageSizeBytes: 3000 }), /page size must be a power of two/);
    let pass = 0;
    const shifty: BboltBucket = { name: Buffer.from('s'), entries: () => (pass++ === 0 ? [[Buffer.from('a'), Buffer.from('1')]] : [[Buffer.from('b'), Buffer.from('1')]]) };
    assert.throws(() => drain([shifty]), /different sequence on its second call/);
  });

  it('meta pages: txid option lands on the newer meta, and the reader picks it', async () => {
    for (const txid of [1, 2, 7, 1000]) {
      const file = nextFile();
      await writeBboltFile(file, [bucketOf('k', [[Buffer.from('a'), Buffer.from('b')]])], { txid });
      const f = BboltFile.open(file);
      assert.equal(f.txid, BigInt(txid));
      f.close();
    }
  });
});
