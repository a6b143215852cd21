// Proves crc32c computes CRC-32C (Castagnoli) as etcd's Go code does: the iSCSI check
// vectors (RFC 3720 B.4), chaining through `prev` like Go's crc32.Update, and that the
// native and table implementations agree at every length around the switch-over size.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { crc32c, crc32cTable, NATIVE_FROM_BYTES } from '../../src/pkg/crc32c.js';

test('check vectors', () => {
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  assert.equal(crc32c(Buffer.alloc(32, 0)), 0x8a9136aa);
  assert.equal(crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43);
  assert.equal(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => i))), 0x46dd794e);
  assert.equal(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => 31 - i))), 0x113fdb5c);
  assert.equal(crc32c(new Uint8Array(0)), 0);
});

test('chaining through prev equals one pass, on both sides of the native switch-over', () => {
  const data = randomBytes(3 * NATIVE_FROM_BYTES + 13);
  const whole = crc32c(data);
  for (const cut of [0, 1, 7, NATIVE_FROM_BYTES - 1, NATIVE_FROM_BYTES, 2 * NATIVE_FROM_BYTES + 5, data.length]) {
    assert.equal(crc32c(data.subarray(cut), crc32c(data.subarray(0, cut))), whole, `cut at ${cut}`);
  }
});

test('native and table implementations agree', () => {
  for (let len = NATIVE_FROM_BYTES - 20; len < NATIVE_FROM_BYTES + 20; len++) {
    const data = randomBytes(len);
    const prev = randomBytes(4).readUInt32BE(0);
    assert.equal(crc32c(data, prev), crc32cTable(data, prev), `length ${len}`);
  }
  const big = randomBytes(1 << 20);
  assert.equal(crc32c(big), crc32cTable(big));
});
