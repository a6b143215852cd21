// Proves the backend reports the bytes in use (etcd's dbSizeInUse) apart from the file
// size: deletes free pages, which the file keeps but in-use no longer counts, and a
// defragmentation gives the file back down to about what is in use.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { Backend } from '../../src/backend/backend.js';
import { tempDir } from '../helpers/tmp.js';

const key = (i: number): Buffer => Buffer.from(`k${String(i).padStart(6, '0')}`);

test('in-use bytes fall with deletes while the file keeps its size; defrag shrinks the file', async () => {
  const { dir, cleanup } = tempDir();
  const b = Backend.open(path.join(dir, 'db'));
  try {
    const value = Buffer.alloc(1000, 7);
    b.write(() => {
      for (let i = 0; i < 4000; i++) b.put('key', key(i), value);
    });
    b.commit();
    const sizeFull = b.sizeBytes();
    const inUseFull = b.sizeInUseBytes();
    assert.ok(inUseFull >= 4000 * 1000, `4 MB of values are in use (${inUseFull})`);
    assert.ok(inUseFull <= sizeFull, `in use ${inUseFull} <= size ${sizeFull}`);

    b.write(() => {
      for (let i = 0; i < 3900; i++) b.delete('key', key(i));
    });
    b.commit();
    const inUseAfter = b.sizeInUseBytes();
    assert.ok(b.sizeBytes() >= sizeFull, 'the file does not shrink by itself');
    assert.ok(inUseAfter < inUseFull / 10, `after deleting 97.5% of the values in use fell from ${inUseFull} to ${inUseAfter}`);
    assert.ok(inUseAfter >= 100 * 1000, `the 100 values left are still counted (${inUseAfter})`);

    await b.defragment();
    assert.ok(b.sizeBytes() < sizeFull / 4, `defrag gave the space back: ${sizeFull} -> ${b.sizeBytes()}`);
    assert.ok(b.sizeInUseBytes() <= b.sizeBytes());
    assert.equal(b.count('key'), 100);
  } finally {
    await b.close();
    cleanup();
  }
});
