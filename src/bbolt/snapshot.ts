// etcd snapshot files: a bbolt database followed by the SHA-256 of its bytes.
//
// Contract: `etcdSnapshotChunks` streams what `etcdctl snapshot save` stores (the writer's
// pages, then the 32-byte digest). Reading one back is src/snapshot/snapshot-file.ts.

import crypto from 'node:crypto';
import { bboltFileChunks, type BboltBucket, type BboltWriteOptions } from './writer.js';

export const SHA256_BYTES = 32;

/** The bytes of an etcd snapshot file: the bbolt file, then SHA-256 of those bytes. */
export function* etcdSnapshotChunks(buckets: BboltBucket[], opts?: BboltWriteOptions): Generator<Buffer> {
  const h = crypto.createHash('sha256');
  for (const chunk of bboltFileChunks(buckets, opts)) {
    h.update(chunk);
    yield chunk;
  }
  yield h.digest();
}
