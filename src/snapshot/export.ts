// The Snapshot RPC's bytes: the member's data as an etcd backend database (a bbolt file
// with etcd's buckets and records), generated page by page from one frozen read view of
// the LMDB backend. Nothing is copied to disk first and nothing is held in memory beyond
// the page being written (plus the branch keys of the tree being built), so a snapshot of
// any size streams with a flat footprint; the consumer pulls, which is the backpressure.
// The key bucket (nearly all the bytes) is read from the database file with positioned
// reads, not through LMDB's memory map, so the pages read do not become resident in the
// member either (its RSS stays flat, as etcd's does: bbolt copies its file with read(2)).
import { BUCKETS, type BackendView } from '../backend/backend.js';
import { bboltFileChunks, type BboltBucket } from '../bbolt/writer.js';
import { toEtcdBucket, type EtcdExportContext } from './etcd-schema.js';

// etcd-schema.ts maps the key bucket identically (same revision keys, same KeyValue bytes),
// which is what lets the export below stream it without conversion.

/** Byte offset in the file of meta page 0's high-water page id (page header 16 + 40). */
const META_PGID_OFFSET = 56;
const META_PAGE_SIZE_OFFSET = 24;

export interface SnapshotStream {
  /** the file's bytes in order */
  chunks: Generator<Buffer>;
  /** the file's size, known once the first chunk (the meta pages) has been pulled */
  totalBytes(): number | undefined;
}

export function etcdSnapshotStream(view: BackendView, ctx: EtcdExportContext): SnapshotStream {
  const buckets: BboltBucket[] = BUCKETS.map((name) =>
    // the key bucket is most of the data and passes through unchanged: read from the file
    // into reused buffers, and laid out from lengths alone (no value read); the other
    // buckets are small and converted
    name === 'key'
      ? { name: Buffer.from(name, 'latin1'), entries: () => view.rangeFromFile(name), layoutEntries: () => view.sizesFromFile(name) }
      : { name: Buffer.from(name, 'latin1'), entries: () => toEtcdBucket(name, view.range(name), ctx) },
  );
  let total: number | undefined;
  function* chunks(): Generator<Buffer> {
    for (const chunk of bboltFileChunks(buckets)) {
      if (total === undefined) total = sizeFromMeta(chunk);
      yield chunk;
    }
  }
  return { chunks: chunks(), totalBytes: () => total };
}

/** bbolt's file size (high-water page id × page size), read from the first meta page. */
export function sizeFromMeta(head: Buffer): number {
  const pageSize = head.readUInt32LE(META_PAGE_SIZE_OFFSET);
  const pgid = Number(head.readBigUInt64LE(META_PGID_OFFSET));
  return pgid * pageSize;
}
