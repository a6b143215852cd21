// snapshot status: what etcdutl reports of a snapshot file — a CRC-32C (Castagnoli) over
// every bucket's name and then its keys and values in order, the main revision of the
// last key in the `key` bucket, the number of records in all buckets, and bbolt's size
// of the database (high-water page times page size). Computed the same way over
// etcd's files and tsetcd's, so the two tools agree.
import { crc32c } from '../pkg/crc32c.js';
import { bytesToRev } from '../mvcc/revision.js';
import { openSnapshot } from './snapshot-file.js';

export interface SnapshotStatus {
  hash: number;
  revision: number;
  totalKey: number;
  totalSize: number;
  /** storage version (etcd ≥ 3.6 writes one); empty when the file has none */
  version: string;
}

/** The storage version etcd 3.6 keeps in the meta bucket. */
const STORAGE_VERSION_KEY = 'storageVersion';

export function snapshotStatus(file: string): SnapshotStatus {
  // status reads a snapshot as it is: etcd's status does not check the trailer
  const snap = openSnapshot(file, { skipHashCheck: true });
  try {
    let hash = 0;
    let revision = 0;
    let totalKey = 0;
    let version = '';
    for (const name of snap.db.bucketNames()) {
      hash = crc32c(name, hash);
      const isKey = name.toString('latin1') === 'key';
      const isMeta = name.toString('latin1') === 'meta';
      for (const [k, v] of snap.db.entries(name)) {
        hash = crc32c(v, crc32c(k, hash));
        if (isKey) revision = bytesToRev(k).main;
        if (isMeta && k.toString('latin1') === STORAGE_VERSION_KEY) version = v.toString('utf8');
        totalKey++;
      }
    }
    return { hash, revision, totalKey, totalSize: snap.db.sizeBytes(), version };
  } finally {
    snap.db.close();
  }
}
