// etcd's Maintenance.Hash over tsetcd's backend. Contract: etcdBackendHash(read, ctx) is
// the CRC-32C etcd's backend Hash would give for the bbolt file holding the etcd view of
// tsetcd's buckets (toEtcdBucket): for each bucket in bbolt's order, its name, then each
// key and value, skipping etcd's ignore list (meta/consistent_index, and meta/term, which
// etcd 3.5 adds to it). What cannot match etcd: only what the context does not carry —
// ctx.clusterVersion must be the version etcd would record, and etcd 3.5 hashes
// meta/confState, which tsetcd writes only when ctx.confState is given.
import { crc32c } from '../pkg/crc32c.js';
import { etcdView, type BucketReader, type EtcdExportContext } from './etcd-schema.js';

const IGNORED_META_KEYS = new Set(['consistent_index', 'term']);

export function etcdBackendHash(read: BucketReader, ctx: EtcdExportContext): number {
  let h = 0;
  for (const [bucket, records] of etcdView(read, ctx)) {
    h = crc32c(Buffer.from(bucket), h);
    for (const [k, v] of records) {
      if (bucket === 'meta' && IGNORED_META_KEYS.has(k.toString('latin1'))) continue;
      h = crc32c(v, crc32c(k, h));
    }
  }
  return h;
}
