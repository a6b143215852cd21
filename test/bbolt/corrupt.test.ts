// Proves the bbolt reader turns damaged or foreign files into BboltFormatError with a
// message naming the problem, and never crashes otherwise or loops: empty, short and
// truncated files, random bytes, an LMDB file (tsetcd's own backend), targeted damage
// (page ids, page pointers, element counts, key order, loops), and random byte flips
// anywhere in files written by us and by real bbolt. A damaged meta page falls back to
// the other one, as bbolt does.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { Backend } from '../../src/backend/backend.js';
import { BboltFile, BboltFormatError, looksLikeBbolt } from '../../src/bbolt/reader.js';
import { writeBboltFile } from '../../src/bbolt/writer.js';
import { tempDir } from '../helpers/tmp.js';
import { bucketOf, generatedBucket, goMake, goSkip, hex, type GoOp } from './helpers.js';

const tmp = tempDir('tsetcd-bbolt-corrupt-');
after(() => tmp.cleanup());
let fileNo = 0;
const nextFile = (): string => path.join(tmp.dir, `f${fileNo++}.db`);
const PAGE = 4096;

/** opens and reads everything the reader offers; returns how many entries it saw */
function readEverything(file: string, limitBytes?: number): number {
  const f = BboltFile.open(file, limitBytes === undefined ? undefined : { limitBytes });
  try {
    let n = 0;
    for (const name of f.bucketNames()) for (const _ of f.entries(name)) n++;
    f.freePageCount();
    return n;
  } finally {
    f.close();
  }
}

function expectFormatError(file: string, pattern: RegExp): void {
  assert.throws(() => readEverything(file), (e: unknown) => {
    assert.ok(e instanceof BboltFormatError, `want BboltFormatError, got ${String(e)}`);
    assert.match(e.message, pattern);
    return true;
  });
}

/** a copy of `src` with `edit` applied to its bytes */
function damaged(src: string, edit: (b: Buffer) => void): string {
  const b = fs.readFileSync(src);
  edit(b);
  const out = nextFile();
  fs.writeFileSync(out, b);
  return out;
}

let small = ''; // one bucket "b": k1 -> v, k2 -> v (leaf page 3, root bucket leaf page 4)
let multi = ''; // "key" with 3,000 entries (branch root) and one 20 KB value, plus "meta"

before(async () => {
  small = nextFile();
  await writeBboltFile(small, [bucketOf('b', [[Buffer.from('k1'), Buffer.from('v')], [Buffer.from('k2'), Buffer.from('v')]])]);
  multi = nextFile();
  await writeBboltFile(multi, [generatedBucket('key', 3000, (i) => (i === 1500 ? 20_000 : 20)), generatedBucket('meta', 5, () => 8)]);
});

describe('bbolt reader on damaged and foreign files', () => {
  it('the undamaged files read fine and look like bbolt', () => {
    assert.equal(readEverything(small), 2);
    assert.equal(readEverything(multi), 3005);
    assert.ok(looksLikeBbolt(fs.readFileSync(multi).subarray(0, 4096)));
  });

  it('empty, short and random files are not bbolt databases', () => {
    const empty = nextFile();
    fs.writeFileSync(empty, '');
    expectFormatError(empty, /0 bytes is too small for a bbolt database/);
    const short = nextFile();
    fs.writeFileSync(short, 'hello');
    expectFormatError(short, /too small/);
    for (let i = 0; i < 20; i++) {
      const rnd = nextFile();
      fs.writeFileSync(rnd, crypto.randomBytes(4096 * (1 + i)));
      expectFormatError(rnd, /not a bbolt database: meta page 0: bad magic/);
      assert.equal(looksLikeBbolt(fs.readFileSync(rnd)), false);
    }
  });

  it("tsetcd's own LMDB backend file is refused", async () => {
    const file = path.join(tmp.dir, 'lmdb', 'db');
    const be = Backend.open(file);
    be.write(() => be.put('key', Buffer.from('a'), Buffer.from('b')));
    await be.forceCommit();
    await be.close();
    expectFormatError(file, /not a bbolt database/);
    assert.equal(looksLikeBbolt(fs.readFileSync(file).subarray(0, 4096)), false);
  });

  it('a file cut short at any page, or read with a limit inside the data, is reported as truncated', () => {
    const size = fs.statSync(multi).size;
    for (const cut of [PAGE, 2 * PAGE, 3 * PAGE, size / 2, size - PAGE, size - 1]) {
      const file = damaged(multi, () => undefined);
      fs.truncateSync(file, cut);
      expectFormatError(file, cut < 2 * PAGE ? /too small|unexpected end/ : /truncated/);
    }
    assert.throws(() => readEverything(multi, size - PAGE), /truncated/);
    assert.throws(() => readEverything(multi, size + 1), /beyond the file/);
    // an etcd snapshot: the db, then a 32-byte SHA-256; the limit hides the trailer
    const snap = damaged(multi, () => undefined);
    fs.appendFileSync(snap, crypto.createHash('sha256').update(fs.readFileSync(multi)).digest());
    assert.equal(readEverything(snap, size), 3005);
  });

  it('a damaged meta page falls back to the other one; both damaged is refused', () => {
    const one = damaged(multi, (b) => (b[16 + 20] ^= 0xff)); // meta 0's root pgid: checksum fails
    assert.equal(readEverything(one), 3005);
    const f = BboltFile.open(one);
    assert.equal(f.txid, 1n, 'the older meta (page 1, txid 1) is used when the newer one is damaged');
    f.close();
    const g = BboltFile.open(multi);
    assert.equal(g.txid, 2n, 'otherwise the newer one');
    g.close();
    expectFormatError(damaged(multi, (b) => ((b[16] ^= 1), (b[PAGE + 16] ^= 1))), /meta page 0: bad magic.*meta page 1: bad magic/);
    expectFormatError(damaged(multi, (b) => ((b[16 + 50] ^= 1), (b[PAGE + 16 + 50] ^= 1))), /checksum mismatch/);
    expectFormatError(damaged(multi, (b) => (b.writeUInt32LE(3, 20), b.writeUInt32LE(3, PAGE + 20))), /version 3 \(want 2\)/);
  });

  it('targeted damage: page id, page pointer, element count, key order, a loop', () => {
    // leaf page 3 holds k1/k2; its data is the tail of the element area
    expectFormatError(damaged(small, (b) => b.writeUInt32LE(9, 3 * PAGE)), /page 3 has id 9/);
    expectFormatError(damaged(small, (b) => b.writeUInt16LE(0x10, 3 * PAGE + 8)), /page 3 has flags 0x10 \(want branch or leaf\)/);
    expectFormatError(damaged(small, (b) => b.writeUInt16LE(400, 3 * PAGE + 10)), /claims 400 elements/);
    // a run longer than its content is refused before it is read (no huge reads on damage)
    expectFormatError(damaged(small, (b) => b.writeUInt32LE(1, 3 * PAGE + 12)), /page 3 claims 1 overflow pages but its content ends at byte 54/);
    expectFormatError(damaged(small, (b) => b.writeUInt32LE(0xffffff, 3 * PAGE + 12)), /page 3 runs over 16777215 pages beyond the high-water mark 5/);
    expectFormatError(damaged(small, (b) => b.writeUInt32LE(5000, 3 * PAGE + 16 + 4)), /element 0 lies outside the page/);
    expectFormatError(
      damaged(small, (b) => {
        const at = b.indexOf('k1v', 3 * PAGE);
        b[at + 1] = 0x33; // k1 becomes k3, now after k2
      }),
      /keys are not sorted at page 3/,
    );
    // the root bucket's leaf (page 4) holds bucket "b"'s header: point it past the high-water mark
    expectFormatError(damaged(small, (b) => b.writeUInt32LE(77, b.indexOf('b', 4 * PAGE + 32) + 1)), /page 77 is outside 2\.\.4/);
    // multi: "key"'s root is a branch page; aim its second child at itself
    const f = BboltFile.open(multi);
    f.close();
    const looped = damaged(multi, (b) => {
      const root = findBranchRoot(b);
      b.writeUInt32LE(root, root * PAGE + 16 + 16 + 8);
    });
    expectFormatError(looped, /keys are not sorted|reached/);
    expectFormatError(damaged(multi, (b) => b.writeUInt32LE(1, findBranchRoot(b) * PAGE + 16 + 8)), /page 1 is outside/);
  });

  it('random byte flips in our file and in a bbolt-made file: BboltFormatError or a clean read, never a crash', { skip: false }, () => {
    const files = [multi];
    if (!goSkip()) files.push(goMadeFile());
    for (const src of files) {
      const original = fs.readFileSync(src);
      const work = nextFile();
      fc.assert(
        fc.property(fc.array(fc.tuple(fc.nat(original.length - 1), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 8 }), (flips) => {
          const b = Buffer.from(original);
          for (const [at, x] of flips) b[at] ^= x;
          fs.writeFileSync(work, b);
          try {
            readEverything(work);
          } catch (e) {
            if (!(e instanceof BboltFormatError)) throw e;
          }
        }),
        { numRuns: 400 },
      );
      // flips aimed at page headers and element areas, where the structure lives
      fc.assert(
        fc.property(fc.nat(original.length / PAGE - 1), fc.nat(63), fc.integer({ min: 1, max: 255 }), (pg, at, x) => {
          const b = Buffer.from(original);
          b[pg * PAGE + at] ^= x;
          fs.writeFileSync(work, b);
          try {
            readEverything(work);
          } catch (e) {
            if (!(e instanceof BboltFormatError)) throw e;
          }
        }),
        { numRuns: 600 },
      );
    }
  });
});

/** pgid of bucket "key"'s root, read from the root bucket's leaf (the last page) */
function findBranchRoot(b: Buffer): number {
  const last = b.length / PAGE - 1;
  const at = b.indexOf('key', last * PAGE + 32);
  const root = b.readUInt32LE(at + 3);
  assert.equal(b.readUInt16LE(root * PAGE + 8), 1, 'the root of "key" is a branch page');
  return root;
}

function goMadeFile(): string {
  const file = nextFile();
  const b = (s: string) => hex(Buffer.from(s));
  const txs: GoOp[][] = [[{ op: 'create', bucket: b('key') }, { op: 'create', bucket: b('inline') }, { op: 'create', bucket: b('nest') }]];
  const ops: GoOp[] = [];
  for (let i = 0; i < 1500; i++) ops.push({ op: 'put', bucket: b('key'), key: b(`k${String(i).padStart(5, '0')}`), value: b('v'.repeat(i % 50)) });
  ops.push({ op: 'put', bucket: b('inline'), key: b('a'), value: b('1') }, { op: 'createNested', bucket: b('nest'), nested: b('in') });
  ops.push({ op: 'put', bucket: b('key'), key: b('zz'), fillLen: 9000, fillByte: 1 });
  txs.push(ops);
  const dels: GoOp[] = [];
  for (let i = 0; i < 1500; i += 4) dels.push({ op: 'del', bucket: b('key'), key: b(`k${String(i).padStart(5, '0')}`) });
  txs.push(dels);
  goMake(file, txs);
  return file;
}
