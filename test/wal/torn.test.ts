// Torn tails: a crash in the middle of the last write. open() must cut the partial write off,
// keep every complete one, say how many bytes it cut, and leave a WAL that takes appends.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { appendFileSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { HardState } from '../../src/raft/types.js';
import { Wal, WalCorruptError } from '../../src/wal/index.js';
import { copyDir, entry, lastSegment, recordSpans, segmentFiles, shape, tempDir } from './helpers.js';

const meta = Buffer.from('torn');
const fast = { unsafeNoFsync: true };

interface Built {
  dir: string;
  /** offset in the last segment where the last save() begins */
  lastStart: number;
  lastEnd: number;
  /** entries and hard state before the last save */
  before: number;
  hsBefore: HardState;
}

/** a WAL of several segments whose last save() is `lastSave`, entirely inside the last segment */
async function build(lastSave: { hs: HardState | null; count: number; size: number }): Promise<Built> {
  const dir = join(tempDir(), 'wal');
  const segmentSizeBytes = 8192;
  const w = await Wal.create(dir, meta, { segmentSizeBytes, unsafeNoFsync: true });
  const lastBytes = 200 + lastSave.count * (lastSave.size + 40);
  let i = 1;
  // bounded: each save grows the log; a cut resets the tail size
  while (w.segments().length < 3 || statSync(lastSegment(dir)).size + lastBytes >= segmentSizeBytes) {
    await w.save({ term: 1, vote: 3n, commit: i - 1 }, [entry(i, 1, 100)]);
    i++;
  }
  await w.save({ term: 1, vote: 3n, commit: i - 1 }, [entry(i, 1, 10)]);
  const before = i;
  const hsBefore = { term: 1, vote: 3n, commit: i - 1 };
  const lastStart = statSync(lastSegment(dir)).size;
  const batch = Array.from({ length: lastSave.count }, (_, k) => entry(before + 1 + k, 2, lastSave.size));
  await w.save(lastSave.hs, batch);
  await w.close();
  const lastEnd = statSync(lastSegment(dir)).size;
  assert.ok(lastEnd > lastStart, 'the last save must land in the last segment');
  return { dir, lastStart, lastEnd, before, hsBefore };
}

/** opens a damaged copy; checks the repair; appends; checks the append survives a reopen */
async function expectRepaired(b: Built, damage: (tail: string) => void, label: string): Promise<void> {
  const dir = join(tempDir(), 'wal');
  copyDir(b.dir, dir);
  const tail = lastSegment(dir);
  damage(tail);
  const damagedBytes = statSync(tail).size;
  const r = await Wal.open(dir, undefined, fast);
  assert.equal(r.entries.length, b.before, `${label}: entries`);
  assert.equal(r.entries.at(-1)!.index, b.before, label);
  assert.deepEqual(r.hardState, b.hsBefore, `${label}: hard state`);
  assert.equal(r.repairedBytes, damagedBytes - b.lastStart, `${label}: repaired bytes`);
  assert.equal(statSync(tail).size, b.lastStart, `${label}: truncated where the torn write began`);
  await r.wal.save({ term: 3, vote: 0n, commit: b.before }, [entry(b.before + 1, 3, 200)]);
  await r.wal.close();
  const again = await Wal.open(dir, undefined, fast);
  assert.equal(again.repairedBytes, 0, label);
  assert.deepEqual(shape(again.entries.slice(-2)), [`${b.before}:1`, `${b.before + 1}:3`], label);
  assert.deepEqual(again.hardState, { term: 3, vote: 0n, commit: b.before }, label);
  await again.wal.close();
}

describe('torn tail', () => {
  test('cut at every byte offset of the last record', async () => {
    const b = await build({ hs: null, count: 1, size: 150 });
    for (let k = b.lastStart + 1; k < b.lastEnd; k++) {
      await expectRepaired(b, (t) => truncateSync(t, k), `truncated at ${k}`);
    }
  });

  test('cut at every byte offset of the last record, then garbage', async () => {
    const b = await build({ hs: null, count: 1, size: 150 });
    for (let k = b.lastStart; k < b.lastEnd; k++) {
      const junk = randomBytes(1 + ((k * 37) % 700));
      await expectRepaired(
        b,
        (t) => {
          // the garbage must differ at the cut, or it may rebuild the record as written (a
          // cut inside the zero padding, then a zero byte: 1 in 256) and nothing is torn
          const original = readFileSync(t)[k];
          if (junk[0] === original) junk[0] = junk[0]! ^ 0xff;
          truncateSync(t, k);
          appendFileSync(t, junk);
        },
        `truncated at ${k} + ${junk.length} random bytes`,
      );
    }
  });

  test('cut at every byte offset of the last record, then zeros (unwritten blocks)', async () => {
    const b = await build({ hs: null, count: 1, size: 150 });
    const bodyEnd = b.lastStart + 16 + 20 + 150;
    for (let k = b.lastStart; k < bodyEnd; k++) {
      await expectRepaired(
        b,
        (t) => {
          truncateSync(t, k);
          appendFileSync(t, Buffer.alloc(4096 - (k % 512)));
        },
        `truncated at ${k} + zeros`,
      );
    }
    // cut inside the zero padding: the zeros put the padding back, so the record is whole
    for (let k = bodyEnd; k < b.lastEnd; k++) {
      const dir = join(tempDir(), 'wal');
      copyDir(b.dir, dir);
      truncateSync(lastSegment(dir), k);
      appendFileSync(lastSegment(dir), Buffer.alloc(100));
      const r = await Wal.open(dir, undefined, fast);
      assert.equal(r.entries.length, b.before + 1);
      assert.equal(r.repairedBytes, k + 100 - b.lastEnd);
      await r.wal.close();
    }
  });

  test('the record is whole but its bytes were never written (zeros over it)', async () => {
    const b = await build({ hs: null, count: 1, size: 150 });
    await expectRepaired(
      b,
      (t) => {
        const buf = readFileSync(t);
        buf.fill(0, b.lastStart);
        writeFileSync(t, buf);
      },
      'zeroed last record',
    );
  });

  test('a save is atomic: a tear anywhere in a multi-record save drops all of it', async () => {
    const b = await build({ hs: { term: 2, vote: 1n, commit: 9999 }, count: 3, size: 90 });
    const spans = recordSpans(readFileSync(lastSegment(b.dir))).filter((s) => s.offset >= b.lastStart);
    assert.equal(spans.length, 4);
    for (const s of spans) {
      for (const k of [s.offset, s.offset + 1, s.offset + 15, s.offset + 16, Math.floor((s.offset + s.end) / 2), s.end - 1]) {
        if (k === b.lastStart) continue; // nothing of the save was written: not a tear
        await expectRepaired(b, (t) => truncateSync(t, k), `multi-record save truncated at ${k}`);
      }
    }
  });

  test('clean end: nothing to repair', async () => {
    const b = await build({ hs: null, count: 1, size: 150 });
    const dir = join(tempDir(), 'wal');
    copyDir(b.dir, dir);
    truncateSync(lastSegment(dir), b.lastStart); // exactly at a save boundary
    const r = await Wal.open(dir);
    assert.equal(r.repairedBytes, 0);
    assert.equal(r.entries.length, b.before);
    await r.wal.close();
  });

  test('sectors persisted out of order: a zeroed sector inside the last save, later records intact', async () => {
    const b = await build({ hs: { term: 2, vote: 1n, commit: 9999 }, count: 4, size: 1000 });
    const sector = Math.ceil((b.lastStart + 1200) / 512) * 512; // inside the second record
    assert.ok(sector + 512 < b.lastEnd - 1100);
    await expectRepaired(
      b,
      (t) => {
        const buf = readFileSync(t);
        buf.fill(0, sector, sector + 512);
        writeFileSync(t, buf);
      },
      'unwritten middle sector',
    );
  });

  test('the same damage without an unwritten sector is corruption, not a tear', async () => {
    const b = await build({ hs: { term: 2, vote: 1n, commit: 9999 }, count: 4, size: 1000 });
    const dir = join(tempDir(), 'wal');
    copyDir(b.dir, dir);
    const tail = lastSegment(dir);
    const buf = readFileSync(tail);
    const second = recordSpans(buf).filter((s) => s.offset >= b.lastStart)[1]!;
    buf[second.offset + 600]! ^= 0x10;
    writeFileSync(tail, buf);
    await assert.rejects(Wal.open(dir), (e: unknown) => e instanceof WalCorruptError && e.offset === second.offset && /same write follow intact/.test(e.message));
  });

  test('a tear is only ever in the last segment', async () => {
    const b = await build({ hs: null, count: 1, size: 150 });
    const dir = join(tempDir(), 'wal');
    copyDir(b.dir, dir);
    const middle = join(dir, segmentFiles(dir)[1]!);
    const size = statSync(middle).size;
    truncateSync(middle, size - 5);
    await assert.rejects(Wal.open(dir), (e: unknown) => e instanceof WalCorruptError && e.file === middle && /not the last segment/.test(e.message));
    assert.equal(statSync(middle).size, size - 5);
  });
});
