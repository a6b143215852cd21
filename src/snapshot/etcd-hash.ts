// etcd's Maintenance.Hash over tsetcd's backend. Contract: etcdBackendHash(read, ctx) is
// the CRC-32C etcd's backend Hash would give for the bbolt file holding the etcd view of
// tsetcd's buckets (toEtcdBucket): for each bucket in bbolt's order, its name, then each
// key and value, skipping etcd's ignore list (meta/consistent_index; etcd 3.5 adds
// meta/term, 3.6 meta/storageVersion). It can only differ from a real etcd's hash of the
// same history where the context does: ctx.clusterVersion must be the version that etcd
// records ("3.4.0" for 3.4), and etcd 3.5 hashes meta/confState, written only when
// ctx.confState is given. etcd 3.4's backend holds no v2-era data, so nothing else is
// missing: the e2e test shows equality with etcd 3.4 after the same history.
import { crc32c } from '../pkg/crc32c.js';
import { etcdView, type BucketReader, type EtcdExportContext } from './etcd-schema.js';

// etcd 3.4 ignores consistent_index; 3.5 adds term; 3.6 storageVersion (never written here)
const IGNORED_META_KEYS = new Set(['consistent_index', 'term', 'storageVersion']);

/** etcd's Maintenance.Hash: every bucket but etcd's ignore list. */
export function etcdBackendHash(read: BucketReader, ctx: EtcdExportContext): number {
  return hashView(read, ctx, true);
}

/** The hash `etcdctl snapshot status` prints for the bbolt file of this view: nothing ignored. */
export function etcdSnapshotHash(read: BucketReader, ctx: EtcdExportContext): number {
  return hashView(read, ctx, false);
}

function hashView(read: BucketReader, ctx: EtcdExportContext, withIgnores: boolean): number {
  let h = 0;
  for (const [bucket, records] of etcdView(read, ctx)) {
    h = crc32c(Buffer.from(bucket), h);
    for (const [k, v] of records) {
      if (withIgnores && bucket === 'meta' && IGNORED_META_KEYS.has(k.toString('latin1'))) continue;
      h = crc32c(v, crc32c(k, h));
    }
  }
  return h;
}
