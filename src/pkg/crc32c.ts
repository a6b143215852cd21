// CRC-32C (Castagnoli, reflected polynomial 0x82f63b78), the checksum etcd computes for
// Maintenance.Hash, HashKV and `snapshot status`. Contract: crc32c(data, prev) continues
// the checksum `prev` (the result of an earlier call, 0 to start) over `data`, so
// crc32c(b, crc32c(a)) === crc32c(a ++ b), as Go's crc32.Update does.
//
// Two implementations, chosen by input size (measured, see docs/ARCHITECTURE.md): a
// slice-by-8 table in JS for short inputs (a key or a KeyValue: no native call overhead)
// and @node-rs/crc32's SIMD code for long ones (pages, whole files). If the native
// package is missing for this platform the JS code does everything.
import { createRequire } from 'node:module';

type NativeCrc = (input: Uint8Array, initialState?: number) => number;

/** below this many bytes the JS table is faster than a native call */
export const NATIVE_FROM_BYTES = 256;

const POLY = 0x82f63b78;
const TABLE = buildTable();

function buildTable(): Int32Array {
  const t = new Int32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[n] = c;
  }
  // t[k*256 + n]: the CRC of byte n followed by k zero bytes, for eight bytes per step
  for (let n = 0; n < 256; n++) {
    let c = t[n]!;
    for (let k = 1; k < 8; k++) {
      c = t[c & 0xff]! ^ (c >>> 8);
      t[k * 256 + n] = c;
    }
  }
  return t;
}

function loadNative(): NativeCrc | undefined {
  try {
    const mod = createRequire(import.meta.url)('@node-rs/crc32') as { crc32c?: NativeCrc };
    return typeof mod.crc32c === 'function' ? mod.crc32c : undefined;
  } catch {
    return undefined;
  }
}

const native = loadNative();

/** The table implementation alone (tests compare the two; the bench measures both). */
export function crc32cTable(data: Uint8Array, prev = 0): number {
  const t = TABLE;
  let c = ~prev;
  let i = 0;
  const n = data.length;
  for (; i + 8 <= n; i += 8) {
    c ^= data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    c =
      t[1792 + (c & 0xff)]! ^
      t[1536 + ((c >>> 8) & 0xff)]! ^
      t[1280 + ((c >>> 16) & 0xff)]! ^
      t[1024 + (c >>> 24)]! ^
      t[768 + data[i + 4]!]! ^
      t[512 + data[i + 5]!]! ^
      t[256 + data[i + 6]!]! ^
      t[data[i + 7]!]!;
  }
  for (; i < n; i++) c = t[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/** True when the native implementation is loaded. */
export const hasNativeCrc32c = native !== undefined;

export function crc32c(data: Uint8Array, prev = 0): number {
  if (native && data.length >= NATIVE_FROM_BYTES) return native(data, prev >>> 0) >>> 0;
  return crc32cTable(data, prev);
}
