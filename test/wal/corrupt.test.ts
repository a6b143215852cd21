// Damage that is not a torn tail: open() must refuse with WalCorruptError naming the file and
// the byte offset, and must not change a single byte on disk.

import assert from 'node:assert/strict';
import { readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Wal, WalCorruptError } from '../../src/wal/index.js';
import { copyDir, entry, hashDir, recordSpans, resealRecord, segmentFiles, tempDir } from './helpers.js';

const KIND_HEAD = 1;
const KIND_METADATA = 2;
const KIND_ENTRY = 3;

let pristine: string | null = null;

/** a closed WAL of 4+ segments, 1 entry + hard state per save; built once, copied per test */
async function base(): Promise<string> {
  if (pristine !== null) return pristine;
  const dir = join(tempDir(), 'wal');
  const w = await Wal.create(dir, Buffer.from('corrupt'), { segmentSizeBytes: 2048 });
  let i = 1;
  while (w.segments().length < 5) {
    await w.save({ term: 1, vote: 2n, commit: i }, [entry(i, 1, 64)]);
    i++;
  }
  for (let k = 0; k < 6; k++, i++) await w.save({ term: 1, vote: 2n, commit: i }, [entry(i, 1, 64)]);
  await w.saveSnapshotMarker({ index: 5, term: 1 });
  await w.close();
  pristine = dir;
  return dir;
}

async function damagedCopy(edit: (dir: string) => void): Promise<string> {
  const dir = join(tempDir(), 'wal');
  copyDir(await base(), dir);
  edit(dir);
  return dir;
}

function editSegment(dir: string, which: number, edit: (buf: Buffer) => void): string {
  const path = join(dir, segmentFiles(dir).at(which)!);
  const buf = readFileSync(path);
  edit(buf);
  writeFileSync(path, buf);
  return path;
}

/** open must reject with WalCorruptError for `file` at `offset`, and leave every file as it was */
async function expectCorrupt(dir: string, file: string, offset: number, pattern: RegExp, snapshot?: { index: number; term: number }): Promise<WalCorruptError> {
  const before = hashDir(dir);
  const err = await Wal.open(dir, snapshot).then(
    (r) => r.wal.close().then(() => null),
    (e: unknown) => e,
  );
  assert.ok(err instanceof WalCorruptError, `expected WalCorruptError, got ${String(err)}`);
  assert.equal(err.file, file);
  assert.equal(err.offset, offset, err.message);
  assert.ok(err.message.includes(file) && err.message.includes(`byte offset ${offset}`), err.message);
  assert.match(err.message, pattern);
  assert.deepEqual(hashDir(dir), before, 'open() changed files on disk');
  return err;
}

describe('corruption in the middle', () => {
  test('a flipped byte anywhere in a middle record of the last segment', async () => {
    const spans = recordSpans(readFileSync(join(await base(), segmentFiles(await base()).at(-1)!)));
    const victim = spans.filter((s) => s.kind === KIND_ENTRY)[1]!;
    for (let at = victim.offset; at < victim.end; at += 3) {
      let file = '';
      const dir = await damagedCopy((d) => {
        file = editSegment(d, -1, (buf) => (buf[at]! ^= 0x01));
      });
      await expectCorrupt(dir, file, victim.offset, /later write follows|same write follow intact/);
    }
  });

  test('a flipped byte in an earlier segment, including its last record', async () => {
    for (const pick of ['middle', 'last'] as const) {
      let file = '';
      let off = 0;
      const dir = await damagedCopy((d) => {
        file = editSegment(d, 1, (buf) => {
          const spans = recordSpans(buf);
          const s = pick === 'last' ? spans.at(-1)! : spans[Math.floor(spans.length / 2)]!;
          off = s.offset;
          buf[s.offset + 20]! ^= 0x80;
        });
      });
      await expectCorrupt(dir, file, off, /not the last segment/);
    }
  });

  test('a gap in the segment sequence', async () => {
    let next = '';
    const dir = await damagedCopy((d) => {
      const names = segmentFiles(d);
      rmSync(join(d, names[2]!));
      next = join(d, names[3]!);
    });
    await expectCorrupt(dir, next, 0, /sequence gap/);
  });

  test('a CRC chain break between segments', async () => {
    let file = '';
    const dir = await damagedCopy((d) => {
      file = editSegment(d, 2, (buf) => {
        const head = recordSpans(buf)[0]!;
        assert.equal(head.kind, KIND_HEAD);
        buf.writeUInt32LE((buf.readUInt32LE(16 + 32) ^ 1) >>> 0, 16 + 32); // prevLastCrc
        resealRecord(buf, 0);
      });
    });
    await expectCorrupt(dir, file, 0, /continuity break/);
  });

  test('an earlier segment cut short at a record boundary breaks continuity', async () => {
    let file = '';
    const dir = await damagedCopy((d) => {
      const names = segmentFiles(d);
      const p = join(d, names[1]!);
      const spans = recordSpans(readFileSync(p));
      truncateSync(p, spans.at(-2)!.offset); // drop the last save (entry + hard state) whole
      file = join(d, names[2]!);
    });
    await expectCorrupt(dir, file, 0, /continuity break/);
  });

  test('metadata that differs between segments', async () => {
    let file = '';
    let off = 0;
    const dir = await damagedCopy((d) => {
      file = editSegment(d, 3, (buf) => {
        const m = recordSpans(buf)[1]!;
        assert.equal(m.kind, KIND_METADATA);
        off = m.offset;
        buf[m.offset + 16]! ^= 0x20;
        resealRecord(buf, m.offset);
      });
    });
    await expectCorrupt(dir, file, off, /metadata differs/);
  });

  test('a damaged head in the last segment is not a tear', async () => {
    let file = '';
    const dir = await damagedCopy((d) => {
      file = editSegment(d, -1, (buf) => (buf[20]! ^= 0x04));
    });
    await expectCorrupt(dir, file, 0, /segment head is damaged/);
  });

  test('an empty segment file', async () => {
    let file = '';
    const dir = await damagedCopy((d) => {
      const names = segmentFiles(d);
      const last = names.at(-1)!;
      const seq = parseInt(last.slice(0, 16), 16) + 1;
      file = join(d, `${seq.toString(16).padStart(16, '0')}-${last.slice(17, 33)}.wal`);
      writeFileSync(file, Buffer.alloc(0));
    });
    await expectCorrupt(dir, file, 0, /segment is empty/);
  });

  test('the snapshot to start from has no marker, or a different term', async () => {
    const dir = await damagedCopy(() => undefined);
    const last = join(dir, segmentFiles(dir).at(-1)!);
    const end = readFileSync(last).length;
    await expectCorrupt(dir, last, end, /without finding the marker of snapshot index 7, term 1/, { index: 7, term: 1 });
    const err = await Wal.open(dir, { index: 5, term: 9 }).then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(err instanceof WalCorruptError && /has term 1, the snapshot has term 9/.test(err.message), String(err));
    const ok = await Wal.open(dir, { index: 5, term: 1 });
    assert.equal(ok.entries[0]!.index, 6);
    await ok.wal.close();
  });
});
