// bbolt on-disk layout facts shared by the reader and the writer (see docs/bbolt-format.md).
// Contract: pure functions over little-endian bytes; no I/O. Everything here mirrors what
// go.etcd.io/bbolt lays out on amd64 (the only layout etcd ships files in).

/** page header: id u64, flags u16, count u16, overflow u32 */
export const PAGE_HEADER_BYTES = 16;
/** leaf element: flags u32, pos u32, ksize u32, vsize u32 (pos counts from the element itself) */
export const LEAF_ELEMENT_BYTES = 16;
/** branch element: pos u32, ksize u32, pgid u64 (pos counts from the element itself) */
export const BRANCH_ELEMENT_BYTES = 16;
/** bucket header stored as a bucket's value: root pgid u64 (0 = inline), sequence u64 */
export const BUCKET_HEADER_BYTES = 16;

export const BRANCH_PAGE_FLAG = 0x01;
export const LEAF_PAGE_FLAG = 0x02;
export const META_PAGE_FLAG = 0x04;
export const FREELIST_PAGE_FLAG = 0x10;
/** leaf element flag: the value is a bucket header (a nested bucket) */
export const BUCKET_LEAF_FLAG = 0x01;

export const MAGIC = 0xed0cdaed;
export const VERSION = 2;
/** meta.freelist when the freelist is not written to disk (NoFreelistSync, etcd on Linux) */
export const PGID_NO_FREELIST = 0xffffffffffffffffn;

/** bbolt's limits (bucket.go): bigger keys or values are refused by Put */
export const MAX_KEY_BYTES = 32768;
export const MAX_VALUE_BYTES = 2 ** 31 - 2;
/** page.count is a u16 and bbolt refuses to write 0xFFFF elements on one page */
export const MAX_ELEMENTS_PER_PAGE = 0xfffe;

/** meta starts right after the page header; checksum covers the 56 bytes before it */
export const META_OFFSET = PAGE_HEADER_BYTES;
export const META_CHECKSUMMED_BYTES = 56;
export const META_BYTES = 64;

export interface Meta {
  magic: number;
  version: number;
  pageSizeBytes: number;
  flags: number;
  rootPgid: bigint;
  rootSequence: bigint;
  freelistPgid: bigint;
  /** high-water mark: the number of pages the tree uses (bbolt's meta.pgid) */
  highWaterPgid: bigint;
  txid: bigint;
  checksum: bigint;
}

const FNV64_OFFSET = 0xcbf29ce484222325n;
const FNV64_PRIME = 0x100000001b3n;
const U64_MASK = 0xffffffffffffffffn;

/** FNV-1a 64-bit, as Go's hash/fnv New64a (bbolt's meta checksum) */
export function fnv64a(bytes: Uint8Array): bigint {
  let h = FNV64_OFFSET;
  for (let i = 0; i < bytes.length; i++) {
    h ^= BigInt(bytes[i]);
    h = (h * FNV64_PRIME) & U64_MASK;
  }
  return h;
}

/** Decodes the meta of a page that starts at `page[0]` (no validation). */
export function decodeMeta(page: Buffer): Meta {
  const m = META_OFFSET;
  return {
    magic: page.readUInt32LE(m),
    version: page.readUInt32LE(m + 4),
    pageSizeBytes: page.readUInt32LE(m + 8),
    flags: page.readUInt32LE(m + 12),
    rootPgid: page.readBigUInt64LE(m + 16),
    rootSequence: page.readBigUInt64LE(m + 24),
    freelistPgid: page.readBigUInt64LE(m + 32),
    highWaterPgid: page.readBigUInt64LE(m + 40),
    txid: page.readBigUInt64LE(m + 48),
    checksum: page.readBigUInt64LE(m + 56),
  };
}

/** The checksum bbolt would store for the meta in `page` (over its first 56 bytes). */
export function metaChecksum(page: Buffer): bigint {
  return fnv64a(page.subarray(META_OFFSET, META_OFFSET + META_CHECKSUMMED_BYTES));
}

/** Writes a complete meta page (header + meta + checksum) into `page` at offset `at`. */
export function encodeMetaPage(page: Buffer, at: number, pageId: number, m: Omit<Meta, 'checksum' | 'magic' | 'version'>): void {
  page.writeBigUInt64LE(BigInt(pageId), at);
  page.writeUInt16LE(META_PAGE_FLAG, at + 8);
  page.writeUInt16LE(0, at + 10);
  page.writeUInt32LE(0, at + 12);
  const o = at + META_OFFSET;
  page.writeUInt32LE(MAGIC, o);
  page.writeUInt32LE(VERSION, o + 4);
  page.writeUInt32LE(m.pageSizeBytes, o + 8);
  page.writeUInt32LE(m.flags, o + 12);
  page.writeBigUInt64LE(m.rootPgid, o + 16);
  page.writeBigUInt64LE(m.rootSequence, o + 24);
  page.writeBigUInt64LE(m.freelistPgid, o + 32);
  page.writeBigUInt64LE(m.highWaterPgid, o + 40);
  page.writeBigUInt64LE(m.txid, o + 48);
  page.writeBigUInt64LE(metaChecksum(page.subarray(at)), o + 56);
}

/** k > prev[0, prevLen) bytewise; a JS loop beats a native call for etcd's short keys */
export function sortsAfter(k: Uint8Array, prev: Uint8Array, prevLen: number): boolean {
  const n = Math.min(k.length, prevLen);
  for (let i = 0; i < n; i++) if (k[i] !== prev[i]) return k[i] > prev[i];
  return k.length > prevLen;
}
