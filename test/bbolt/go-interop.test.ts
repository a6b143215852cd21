// Proves the bbolt files we write pass real bbolt's tx.Check() and read back identically
// through bbolt's own cursor, and that our reader reads files real bbolt wrote: inline
// and regular buckets, big values, nested buckets (skipped), empty buckets, and files after
// deletes whose freelist is not empty (synced or not, as etcd on Linux writes them).
// Skipped, with the reason printed, where Go or Debian's bbolt sources are missing.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { BboltFile } from '../../src/bbolt/reader.js';
import { writeBboltFile } from '../../src/bbolt/writer.js';
import { tempDir } from '../helpers/tmp.js';
import { bucketOf, entryDigest, generatedBucket, goCheck, goMake, goSkip, hex, type Entries, type GoOp } from './helpers.js';

const skip = goSkip();
const tmp = tempDir('tsetcd-bbolt-go-');
after(() => tmp.cleanup());
let fileNo = 0;
const nextFile = (): string => path.join(tmp.dir, `f${fileNo++}.db`);

const key = fc.uint8Array({ minLength: 1, maxLength: 30 }).map((a) => Buffer.from(a));
const value = fc.oneof({ weight: 6, arbitrary: fc.uint8Array({ maxLength: 50 }).map((a) => Buffer.from(a)) }, { weight: 1, arbitrary: fc.nat(12_000).map((n) => Buffer.alloc(n, 7)) });
const bucketArb = fc.record({
  name: fc.uint8Array({ minLength: 1, maxLength: 10 }).map((a) => Buffer.from(a)),
  entries: fc.array(fc.tuple(key, value), { maxLength: 400 }),
});

/** our reader's view of every top-level bucket, hex-encoded like bbolttool -dump */
function ours(file: string): { name: string; entries: [string, string][] }[] {
  const f = BboltFile.open(file);
  try {
    return f.bucketNames().map((n) => ({ name: hex(n), entries: [...f.entries(n)].map(([k, v]) => [hex(k), hex(v)] as [string, string]) }));
  } finally {
    f.close();
  }
}

describe('bbolt files we write, checked by real bbolt', { skip }, () => {
  it('random buckets pass tx.Check and bbolt reads the same entries', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(bucketArb, { maxLength: 4, selector: (b) => hex(b.name) }), fc.constantFrom(1024, 4096), async (bs, pageSizeBytes) => {
        const buckets = bs.map((b) => bucketOf(b.name, b.entries as Entries));
        const file = nextFile();
        const size = await writeBboltFile(file, buckets, { pageSizeBytes });
        const go = goCheck(file);
        assert.deepEqual(go.errors, []);
        assert.equal(go.pageSize, pageSizeBytes);
        assert.equal(go.size, size, "tx.Size() is the file's size");
        assert.equal(go.freePages, 0);
        const want = [...buckets].sort((a, b) => Buffer.compare(a.name, b.name)).map((b) => ({ name: hex(b.name), entries: b.sorted.map(([k, v]) => [hex(k), hex(v)]) }));
        assert.deepEqual(go.buckets.map((b) => ({ name: b.name, entries: b.entries ?? [] })), want);
      }),
      { numRuns: 25 },
    );
  });

  it('200,000 keys in a multi-level tree, plus 2 MiB values: tx.Check passes, digests match', async () => {
    const buckets = [generatedBucket('key', 200_000, (i) => 30 + (i % 70)), generatedBucket('lease', 3, () => 2 * 1024 * 1024), generatedBucket('members', 0, () => 0)];
    const file = nextFile();
    await writeBboltFile(file, buckets);
    const go = goCheck(file, false);
    assert.deepEqual(go.errors, []);
    for (const b of buckets) {
      const g = go.buckets.find((x) => x.name === hex(b.name));
      assert.deepEqual({ count: g?.count, sha256: g?.sha256 }, entryDigest(b.entries()), Buffer.from(b.name).toString());
    }
  });

  it('keys of the 32,768-byte maximum on 1 KiB pages: overflow leaves and overflow branch pages pass tx.Check', async () => {
    const entries: Entries = [];
    for (let i = 0; i < 40; i++) entries.push([Buffer.alloc(i % 2 === 0 ? 32768 : 100, 0x41 + i), Buffer.from(`v${i}`)]);
    const b = bucketOf('big-keys', entries);
    const file = nextFile();
    await writeBboltFile(file, [b], { pageSizeBytes: 1024 });
    const go = goCheck(file);
    assert.deepEqual(go.errors, []);
    assert.deepEqual(go.buckets[0].entries, b.sorted.map(([k, v]) => [hex(k), hex(v)]));
    assert.deepEqual(ours(file)[0].entries, go.buckets[0].entries);
  });
});

describe('bbolt files real bbolt wrote, read by our reader', { skip }, () => {
  const put = (bucket: string, k: string, v: string): GoOp => ({ op: 'put', bucket: hex(Buffer.from(bucket)), key: hex(Buffer.from(k)), value: hex(Buffer.from(v)) });
  const del = (bucket: string, k: string): GoOp => ({ op: 'del', bucket: hex(Buffer.from(bucket)), key: hex(Buffer.from(k)) });
  const create = (bucket: string): GoOp => ({ op: 'create', bucket: hex(Buffer.from(bucket)) });

  function scenario(): GoOp[][] {
    const txs: GoOp[][] = [[create('key'), create('meta'), create('small'), create('empty'), create('gone'), create('nest')]];
    for (let t = 0; t < 5; t++) {
      const ops: GoOp[] = [];
      for (let i = 0; i < 2000; i++) ops.push(put('key', `k${String(t * 2000 + i).padStart(7, '0')}`, `value-${t}-${i}-${'x'.repeat(i % 90)}`));
      txs.push(ops);
    }
    txs.push([put('small', 'a', '1'), put('small', 'b', ''), put('meta', 'consistent_index', '\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0009')]);
    txs.push([{ op: 'put', bucket: hex(Buffer.from('meta')), key: hex(Buffer.from('big')), fillLen: 3 * 1024 * 1024 + 5, fillByte: 0xab }]);
    txs.push([{ op: 'createNested', bucket: hex(Buffer.from('nest')), nested: hex(Buffer.from('inner')) }, put('nest', 'plain', 'v')]);
    txs.push([{ op: 'putNested', bucket: hex(Buffer.from('nest')), nested: hex(Buffer.from('inner')), key: hex(Buffer.from('deep')), value: hex(Buffer.from('x')) }]);
    // deletes free pages: the freelist is no longer empty
    const dels: GoOp[] = [];
    for (let i = 0; i < 10_000; i += 3) dels.push(del('key', `k${String(i).padStart(7, '0')}`));
    txs.push(dels, [{ op: 'deleteBucket', bucket: hex(Buffer.from('gone')) }]);
    return txs;
  }

  for (const noFreelistSync of [false, true]) {
    it(`same buckets and entries as bbolt's cursor, and the same free page count (NoFreelistSync=${noFreelistSync})`, () => {
      const file = nextFile();
      goMake(file, scenario(), { noFreelistSync });
      const go = goCheck(file);
      assert.deepEqual(go.errors, []);
      assert.ok(go.freePages > 0, 'the deletes left free pages');
      const mine = ours(file);
      assert.deepEqual(
        mine,
        go.buckets.map((b) => ({ name: b.name, entries: b.entries ?? [] })),
      );
      assert.deepEqual(mine.map((b) => Buffer.from(b.name, 'hex').toString()), ['empty', 'key', 'meta', 'nest', 'small']);
      assert.deepEqual(mine.find((b) => b.name === hex(Buffer.from('nest')))?.entries, [[hex(Buffer.from('plain')), hex(Buffer.from('v'))]], 'nested bucket skipped');
      const f = BboltFile.open(file);
      assert.equal(f.freePageCount(), go.freePages);
      assert.equal(f.sizeBytes(), go.size);
      assert.equal(f.txid, BigInt(go.txid));
      f.close();
    });
  }

  it('random puts and deletes by bbolt with a random fill percent read back the same (page size 1024)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 3000 }), fc.nat(3000)), { minLength: 1, maxLength: 2500 }),
        fc.constantFrom(0.1, 0.5, 1.0),
        (ops, fillPercent) => {
          const file = nextFile();
          const txs: GoOp[][] = [[create('b')]];
          let cur: GoOp[] = [];
          for (const [isPut, k, vlen] of ops) {
            const kk = `key${k}`;
            cur.push(isPut ? { op: 'put', bucket: hex(Buffer.from('b')), key: hex(Buffer.from(kk)), fillLen: vlen % 7 === 0 ? vlen : vlen % 40, fillByte: k % 256 } : del('b', kk));
            if (cur.length === 300) txs.push(cur), (cur = []);
          }
          txs.push(cur);
          goMake(file, txs, { pageSize: 1024, fillPercent });
          const go = goCheck(file);
          assert.deepEqual(go.errors, []);
          assert.deepEqual(ours(file), go.buckets.map((b) => ({ name: b.name, entries: b.entries ?? [] })));
          const f = BboltFile.open(file);
          assert.equal(f.freePageCount(), go.freePages);
          f.close();
        },
      ),
      { numRuns: 15 },
    );
  });
});
