// etcd snapshot files: a bbolt database followed by the SHA-256 of its bytes.
//
// Contract: `etcdSnapshotChunks` streams what `etcdctl snapshot save` stores (the writer's
// pages, then the 32-byte digest); `openEtcdSnapshot` tells a snapshot with a trailer from
// a bare database the way etcd's restore does (size % 512 == 32 means a trailer), checks
// the digest by streaming the file, and opens the database part read-only.

import crypto from 'node:crypto';
import fs from 'node:fs';
import { BboltFile, BboltFormatError } from './reader.js';
import { bboltFileChunks, type BboltBucket, type BboltWriteOptions } from './writer.js';

export const SHA256_BYTES = 32;
const HASH_READ_BYTES = 1 << 20;

/** The bytes of an etcd snapshot file: the bbolt file, then SHA-256 of those bytes. */
export function* etcdSnapshotChunks(buckets: BboltBucket[], opts?: BboltWriteOptions): Generator<Buffer> {
  const h = crypto.createHash('sha256');
  for (const chunk of bboltFileChunks(buckets, opts)) {
    h.update(chunk);
    yield chunk;
  }
  yield h.digest();
}

/** etcd's test for an appended digest (clientv3/snapshot hasChecksum): bbolt files are
 *  whole pages, so a size 32 past a multiple of 512 can only be db + SHA-256 */
export function hasSnapshotTrailer(sizeBytes: number): boolean {
  return sizeBytes % 512 === SHA256_BYTES;
}

/**
 * Opens an etcd snapshot (or a bare db) read-only. With a trailer, the digest is checked
 * first (unless skipHashCheck) and a mismatch throws BboltFormatError in etcd's words.
 */
export function openEtcdSnapshot(path: string, opts: { skipHashCheck?: boolean } = {}): BboltFile {
  const size = fs.statSync(path).size;
  if (!hasSnapshotTrailer(size)) return BboltFile.open(path);
  const dbBytes = size - SHA256_BYTES;
  if (!opts.skipHashCheck) {
    const { stored, computed } = digests(path, dbBytes);
    if (!stored.equals(computed)) {
      throw new BboltFormatError(`${path}: expected sha256 ${goBytes(stored)}, got ${goBytes(computed)}`);
    }
  }
  return BboltFile.open(path, { limitBytes: dbBytes });
}

function digests(path: string, dbBytes: number): { stored: Buffer; computed: Buffer } {
  const fd = fs.openSync(path, 'r');
  try {
    const h = crypto.createHash('sha256');
    const buf = Buffer.allocUnsafe(HASH_READ_BYTES);
    let pos = 0;
    while (pos < dbBytes) {
      const n = fs.readSync(fd, buf, 0, Math.min(buf.length, dbBytes - pos), pos);
      if (n === 0) throw new BboltFormatError(`${path}: unexpected end of file at byte ${pos}`);
      h.update(buf.subarray(0, n));
      pos += n;
    }
    const stored = Buffer.alloc(SHA256_BYTES);
    if (fs.readSync(fd, stored, 0, SHA256_BYTES, dbBytes) !== SHA256_BYTES) throw new BboltFormatError(`${path}: the SHA-256 trailer is cut short`);
    return { stored, computed: h.digest() };
  } finally {
    fs.closeSync(fd);
  }
}

/** a byte slice as Go's %v prints it: [1 2 3] */
function goBytes(b: Buffer): string {
  return `[${[...b].join(' ')}]`;
}
