// The record layer on its own: CRC, framing, and what the reader calls a bad record.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { crc32 } from 'node:zlib';
import { hasBlankSector } from '../../src/wal/reader.js';
import { BatchWriter, ENTRY_FIXED_BYTES, HARD_STATE_BODY_BYTES, RecordKind, crc32Range, decodeEntry, decodeHardState, readRecord, recordBytes } from '../../src/wal/record.js';
import { entry } from './helpers.js';

describe('records', () => {
  test('the JS CRC equals zlib.crc32 for every length and alignment', () => {
    const buf = randomBytes(5000);
    for (let len = 0; len <= 1100; len += len < 40 ? 1 : 37) {
      for (const start of [0, 1, 3, 8, 13]) {
        assert.equal(crc32Range(buf, start, start + len), crc32(buf.subarray(start, start + len)), `len ${len} start ${start}`);
      }
    }
    assert.equal(crc32Range(buf, 0, 5000), crc32(buf));
  });

  test('a batch reads back record by record, END on the last, offsets relative to the batch', () => {
    const es = [entry(7, 2, 0), entry(8, 2, 1), entry(9, 2, 13)];
    const size = es.reduce((n, e) => n + recordBytes(ENTRY_FIXED_BYTES + e.data.length), recordBytes(HARD_STATE_BODY_BYTES));
    const w = new BatchWriter(size, 4);
    for (const e of es) w.entry(e);
    w.hardState({ term: 2, vote: 0xfedcba9876543210n, commit: 2 ** 53 - 1 });
    const buf = w.finish();
    let off = 0;
    for (let i = 0; i < 4; i++) {
      const r = readRecord(buf, off);
      assert.ok(typeof r !== 'string', String(r));
      assert.equal(r.offset % 8, 0);
      assert.equal(r.batchOffset, off);
      assert.equal(r.flags, i === 3 ? 1 : 0);
      if (i < 3) {
        assert.equal(r.kind, RecordKind.Entry);
        const e = decodeEntry(buf, r);
        assert.ok(typeof e !== 'string');
        assert.deepEqual({ ...e, data: Buffer.from(e.data) }, { ...es[i]!, data: Buffer.from(es[i]!.data) });
      } else {
        assert.deepEqual(decodeHardState(buf, r), { term: 2, vote: 0xfedcba9876543210n, commit: 2 ** 53 - 1 });
      }
      off = r.end;
    }
    assert.equal(off, buf.length);
    assert.equal(w.lastCrc, buf.readUInt32LE(buf.length - recordBytes(HARD_STATE_BODY_BYTES)));
  });

  test('the writer refuses numbers it could not read back, and miscounted batches', () => {
    assert.throws(() => new BatchWriter(recordBytes(40), 1).entry({ index: 2 ** 53, term: 1, type: 0, data: Buffer.alloc(20) }), RangeError);
    const w = new BatchWriter(recordBytes(ENTRY_FIXED_BYTES) * 2, 2);
    w.entry(entry(1, 1, 0));
    assert.throws(() => w.finish(), /missing/);
  });

  test('bad bytes are described, not thrown', () => {
    const w = new BatchWriter(recordBytes(ENTRY_FIXED_BYTES + 3), 1);
    w.entry(entry(1, 1, 3));
    const good = w.finish();
    assert.match(readRecord(Buffer.alloc(32), 0) as string, /zeroed/);
    assert.match(readRecord(good.subarray(0, 10), 0) as string, /too few for a record header/);
    assert.match(readRecord(good.subarray(0, good.length - 1), 0) as string, /past the end/);
    const flipped = Buffer.from(good);
    flipped[20]! ^= 1;
    assert.match(readRecord(flipped, 0) as string, /CRC mismatch/);
    const kind = Buffer.from(good);
    kind[8] = 77;
    assert.match(readRecord(kind, 0) as string, /unknown record kind 77/);
  });

  test('hasBlankSector looks at sector-aligned pieces', () => {
    const buf = Buffer.alloc(2048, 1);
    assert.equal(hasBlankSector(buf, 0, 2048), false);
    buf.fill(0, 1000, 1030); // zeros, but no whole piece between sector boundaries
    assert.equal(hasBlankSector(buf, 0, 2048), false);
    assert.equal(hasBlankSector(buf, 1010, 1020), true); // the whole range is one zero piece
    buf.fill(0, 1024, 1536);
    assert.equal(hasBlankSector(buf, 600, 1800), true);
  });
});
