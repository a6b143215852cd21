// snapshot restore: a new tsetcd data dir from an etcd-format snapshot (etcd's own, or one
// tsetcd streamed), for a member of a new cluster, as etcdutl does it for etcd:
//
// - the data dir must be missing or empty, the WAL dir missing;
// - the snapshot's SHA-256 trailer is checked (unless --skip-hash-check), on a worker
//   thread while the database loads; a mismatch discards the work before anything is in place;
// - every bucket is converted from etcd's records to tsetcd's (src/snapshot/etcd-schema.ts)
//   and loaded into a fresh LMDB backend; the old cluster's members are dropped and the
//   members of --initial-cluster written instead;
// - the WAL starts with one AddNode configuration change per member at term 1, committed,
//   and the backend's consistent index is that commit index, so the member applies only
//   what comes after the restore — the same log every restored member of the cluster has.
// - --bump-revision N with --mark-compacted (3.5.x): the store's revision moves N past the
//   snapshot's latest and everything before that is compacted, so clients watching from an
//   old revision get "compacted" instead of silently missing events.
//
// The source may also be a stopped etcd member's data dir: its member/snap/db is read like
// a snapshot without the SHA-256, and the committed entries of its WAL that the db had not
// applied yet (src/etcdwal/tail.ts says which and why) follow the AddNode entries in the new
// WAL, committed, so tsetcd applies them at its first start exactly as etcd would have at
// its next one. Without that replay a member killed mid-batch would lose up to a backend
// batch (100 ms) of acknowledged writes.
//
// The work is done in `<data dir>.restore-tmp` and renamed into place at the end: a failed
// or interrupted restore leaves no half-made data dir behind.
import fs from 'node:fs';
import path from 'node:path';
import { Backend, BUCKETS, type BucketName } from '../backend/backend.js';
import { checkBootstrapOf } from '../config/build.js';
import { ConfChangeType, encodeConfChange, EntryType, type Entry } from '../raft/index.js';
import { writeConsistentIndex } from '../server/bootstrap.js';
import { clusterIdFor, memberIdFor } from '../server/ids.js';
import { encodeMemberContext, encodeWalMetadata } from '../server/internal-records.js';
import { Membership, type Member } from '../server/membership.js';
import { bytesToRev, revToBytes } from '../mvcc/revision.js';
import { Wal } from '../wal/index.js';
import { fromEtcdBucket } from './etcd-schema.js';
import { openSnapshot, SnapshotFileError } from './snapshot-file.js';
import { fileKind } from '../backend/file-kind.js';
import type { BboltFile } from '../bbolt/reader.js';
import { committedTail, type TailEntry } from '../etcdwal/tail.js';

export interface RestoreOptions {
  snapshotPath: string;
  name: string;
  /** default `<name>.etcd` */
  dataDir?: string;
  /** default `<data dir>/member/wal` */
  walDir?: string;
  initialCluster: string;
  initialClusterToken: string;
  /** comma-separated */
  initialAdvertisePeerUrls: string;
  skipHashCheck: boolean;
  bumpRevision: number;
  markCompacted: boolean;
  /** told how many database bytes were loaded so far, for a progress display */
  onProgress?: (phase: 'load', doneBytes: number, totalBytes: number) => void;
  /** zap-style info lines: message and fields */
  log?: (msg: string, fields: Record<string, string | number | string[]>) => void;
}

export interface RestoreResult {
  dataDir: string;
  walDir: string;
  memberId: bigint;
  clusterId: bigint;
  revision: number;
}

/** Buckets whose records describe the old cluster and are replaced at restore. */
const CLUSTER_BUCKETS: ReadonlySet<string> = new Set(['members', 'members_removed']);

export async function restoreSnapshot(o: RestoreOptions): Promise<RestoreResult> {
  if (o.bumpRevision > 0 !== o.markCompacted) throw new RestoreUsageError('--mark-compacted required if --revision-bump > 0');
  const dataDir = o.dataDir || `${o.name}.etcd`;
  const walDir = o.walDir || path.join(dataDir, 'member', 'wal');
  const members = membersOf(o);
  checkTargets(dataDir, o.walDir ? walDir : undefined);
  o.log?.('restoring snapshot', { path: o.snapshotPath, 'wal-dir': walDir, 'data-dir': dataDir, 'snap-dir': path.join(dataDir, 'member', 'snap') });
  const source = etcdDataDirSource(o.snapshotPath);
  const snap = openSnapshot(source?.dbPath ?? o.snapshotPath, { skipHashCheck: o.skipHashCheck || source !== undefined, verifyInBackground: true });
  const tmpData = `${path.resolve(dataDir)}.restore-tmp`;
  const tmpWal = o.walDir ? `${path.resolve(walDir)}.restore-tmp` : undefined;
  for (const d of [tmpData, tmpWal]) if (d) fs.rmSync(d, { recursive: true, force: true });
  try {
    const self = members.find((m) => m.name === o.name)!;
    const clusterId = clusterIdFor(members.map((m) => m.id));
    // etcd's restore logs each member it writes into the new cluster (scripts wait for it)
    for (const m of members) {
      o.log?.('added member', { 'cluster-id': clusterId.toString(16), 'local-member-id': '0', 'added-peer-id': m.id.toString(16), 'added-peer-peer-urls': m.peerURLs });
    }
    // a new file nothing else opens until the restore is done: LMDB may write through its map
    const backend = Backend.open(path.join(tmpData, 'member', 'snap', 'db'), { writeMap: true });
    let revision: number;
    let tail: TailEntry[] = [];
    try {
      if (source) tail = walTail(source.walDir, snap.db, o);
      loadBuckets(backend, snap.db, snap.dbBytes, o);
      revision = finishBackend(backend, members, clusterId, o);
      await backend.close();
    } catch (err) {
      await backend.close().catch(() => undefined);
      throw err;
    }
    await writeWal(tmpWal ?? path.join(tmpData, 'member', 'wal'), self.id, clusterId, members, tail);
    // checked on another thread while the database loaded; nothing is in place until it passes
    await snap.verified;
    if (tmpWal) fs.renameSync(tmpWal, walDir);
    moveIntoPlace(tmpData, dataDir);
    o.log?.('restored snapshot', { path: o.snapshotPath, 'wal-dir': walDir, 'data-dir': dataDir, 'snap-dir': path.join(dataDir, 'member', 'snap') });
    return { dataDir, walDir, memberId: self.id, clusterId, revision };
  } catch (err) {
    for (const d of [tmpData, tmpWal]) if (d) fs.rmSync(d, { recursive: true, force: true });
    // a damaged file usually breaks the load before its hash is known: the hash says why
    const hashProblem = await snap.verified.then(
      () => undefined,
      (e: unknown) => e,
    );
    throw hashProblem ?? err;
  } finally {
    snap.db.close();
  }
}

interface EtcdDataDirSource {
  dbPath: string;
  walDir: string;
}

/** The db and WAL of `p` if it is an etcd member's data dir; undefined for a file. */
function etcdDataDirSource(p: string): EtcdDataDirSource | undefined {
  let isDir = false;
  try {
    isDir = fs.statSync(p).isDirectory();
  } catch {
    return undefined; // openSnapshot says what is wrong with it
  }
  if (!isDir) return undefined;
  const dbPath = path.join(p, 'member', 'snap', 'db');
  const walDir = path.join(p, 'member', 'wal');
  if (fileKind(dbPath) !== 'bbolt' || !fs.existsSync(walDir)) {
    throw new SnapshotFileError(`${p} is a directory but not a stopped etcd member's data dir (it needs member/snap/db, an etcd database, and member/wal)`);
  }
  return { dbPath, walDir };
}

const CONSISTENT_INDEX_KEY = 'consistent_index';

/** The committed entries of the etcd WAL that the db has not applied. */
function walTail(walDir: string, db: BboltFile, o: RestoreOptions): TailEntry[] {
  let consistentIndex = 0; // etcd reads a missing index as 0
  if (db.hasBucket(Buffer.from('meta'))) {
    for (const [k, v] of db.entries(Buffer.from('meta'))) if (k.toString('latin1') === CONSISTENT_INDEX_KEY && v.length === 8) consistentIndex = Number(v.readBigUInt64BE(0));
  }
  const tail = committedTail(walDir, consistentIndex);
  const skipped = [...tail.skipped].map(([kind, n]) => `${kind}: ${n}`).join(', ');
  o.log?.('replaying the committed WAL tail of the etcd member', {
    'wal-dir': walDir,
    'consistent-index': consistentIndex,
    'commit-index': tail.hardState.commit,
    'entries-to-apply': tail.entries.length,
    'entries-skipped': skipped || 'none',
    'entries-uncommitted': tail.uncommitted,
  });
  if (tail.torn) o.log?.('the etcd WAL ends in a torn record (a crash mid-write); it was not committed and is left out', { file: tail.torn.file, offset: tail.torn.offset });
  return tail.entries;
}

/** A usage mistake (etcdutl exits 2 for these, 1 for everything else). */
export class RestoreUsageError extends Error {}

function membersOf(o: RestoreOptions): Member[] {
  const peerUrls = o.initialAdvertisePeerUrls.split(',');
  const check = checkBootstrapOf(o.name, o.initialCluster, 'new', peerUrls);
  if (check.error !== undefined || !check.members) throw new Error(check.error ?? 'invalid --initial-cluster');
  return [...check.members]
    .map(([name, urls]) => ({ id: memberIdFor(urls, o.initialClusterToken), name, peerURLs: urls, clientURLs: [], isLearner: false }))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

function checkTargets(dataDir: string, walDir: string | undefined): void {
  if (fs.existsSync(dataDir)) {
    let entries: string[];
    try {
      entries = fs.readdirSync(dataDir);
    } catch {
      entries = ['?'];
    }
    if (entries.length > 0) throw new Error(`data-dir "${dataDir}" not empty or could not be read`);
  }
  if (walDir !== undefined && fs.existsSync(walDir)) throw new Error(`wal-dir "${walDir}" exists`);
}

/** Every bucket of the snapshot, converted to tsetcd's records, into the backend. */
function loadBuckets(backend: Backend, db: BboltFile, totalBytes: number, o: RestoreOptions): void {
  const known = new Set<string>(BUCKETS);
  let loadedBytes = 0;
  for (const nameBuf of db.bucketNames()) {
    const name = nameBuf.toString('latin1');
    if (CLUSTER_BUCKETS.has(name)) continue;
    if (!known.has(name)) {
      o.log?.('skipping a bucket tsetcd does not use', { bucket: name });
      continue;
    }
    const counted = countBytes(db.entries(nameBuf), (n) => {
      loadedBytes += n;
      o.onProgress?.('load', Math.min(loadedBytes, totalBytes), totalBytes);
    });
    backend.importRecords(name as BucketName, fromEtcdBucket(name as BucketName, counted));
  }
  o.onProgress?.('load', totalBytes, totalBytes);
}

function* countBytes(records: Iterable<[Buffer, Buffer]>, add: (n: number) => void): Generator<[Buffer, Buffer]> {
  for (const r of records) {
    add(r[0].length + r[1].length);
    yield r;
  }
}

/** New members, cluster ID, consistent index, and the revision bump; returns the store revision. */
function finishBackend(backend: Backend, members: Member[], clusterId: bigint, o: RestoreOptions): number {
  const last = backend.last('key');
  let latest = last ? bytesToRev(last.key).main : 0;
  backend.write(() => {
    const membership = new Membership(backend);
    for (const m of members) membership.add(m);
    membership.setClusterId(clusterId);
    writeConsistentIndex(backend, members.length);
    if (o.markCompacted) {
      latest += o.bumpRevision;
      o.log?.('bumping latest revision', { 'latest-revision': latest, 'bump-amount': o.bumpRevision });
      o.log?.('marking revision compacted', { revision: latest });
      backend.put('meta', Buffer.from('scheduledCompactRev'), revToBytes(latest, 0));
    }
  });
  return latest;
}

/**
 * The WAL every restored member starts from: the members' AddNode entries, then (from an
 * etcd data dir) the WAL tail still to apply, all committed at term 1.
 */
async function writeWal(walDir: string, selfId: bigint, clusterId: bigint, members: Member[], tail: TailEntry[]): Promise<void> {
  fs.mkdirSync(path.dirname(walDir), { recursive: true, mode: 0o700 });
  const wal = await Wal.create(walDir, encodeWalMetadata(selfId, clusterId));
  try {
    const entries: Entry[] = members.map((m, i) => ({
      term: 1,
      index: i + 1,
      type: EntryType.ConfChange,
      data: encodeConfChange({ type: ConfChangeType.AddNode, nodeId: m.id, context: encodeMemberContext({ member: m }) }),
    }));
    for (const t of tail) entries.push({ term: 1, index: entries.length + 1, type: EntryType.Normal, data: t.data });
    await wal.save({ term: 1, vote: members[0]!.id, commit: entries.length }, entries, true);
  } finally {
    await wal.close();
  }
}

/** Renames the finished data dir into place (an existing empty target is replaced). */
function moveIntoPlace(tmp: string, dataDir: string): void {
  if (fs.existsSync(dataDir)) fs.rmdirSync(dataDir);
  fs.mkdirSync(path.dirname(path.resolve(dataDir)), { recursive: true });
  fs.renameSync(tmp, dataDir);
  fs.chmodSync(dataDir, 0o700);
}

export { SnapshotFileError };
