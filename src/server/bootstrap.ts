// How a member comes up: a new cluster (--initial-cluster-state new, no WAL yet), joining
// an existing one (--initial-cluster-state existing: the member list is fetched from a
// peer), or a restart from its WAL and snapshot (the initial-cluster flags are then
// ignored, as etcd ignores them).
import fs from 'node:fs';
import path from 'node:path';
import { Backend } from '../backend/backend.js';
import { assertTsetcdBackendFile, etcdDataDirAdvice, fileKind, ForeignFileError } from '../backend/file-kind.js';
import { ConfChangeType, decodeConfChange, encodeConfChange, EntryType, MemoryStorage, RawNode, type BootstrapPeer, type Entry, type HardState, type Snapshot } from '../raft/index.js';
import { Snapshotter, Wal } from '../wal/index.js';
import type { ServerOptions } from './server.js';
import { peerRequest, type PeerTlsOptions } from '../peer/dialer.js';
import { clusterIdFor, memberIdFor } from './ids.js';
import { decodeWalMetadata, encodeMemberContext, encodeWalMetadata } from './internal-records.js';
import type { Member } from './membership.js';
import { systemClock } from '../pkg/clock.js';
import { raftConfig } from './raft-driver.js';

export interface Booted {
  kind: 'new' | 'join' | 'restart';
  backend: Backend;
  wal: Wal;
  snapshotter: Snapshotter;
  storage: MemoryStorage;
  node: RawNode;
  memberId: bigint;
  clusterId: bigint;
  /** raft index the backend has applied (its consistent index) */
  appliedIndex: number;
  snapshotIndex: number;
  /** members known before the log says anything: peers to open streams to */
  knownMembers: Member[];
}

const CONSISTENT_INDEX_KEY = Buffer.from('consistent_index');

export function readConsistentIndex(backend: Backend): number {
  const b = backend.get('meta', CONSISTENT_INDEX_KEY);
  return b ? Number(b.readBigUInt64BE(0)) : 0;
}

export function writeConsistentIndex(backend: Backend, index: number): void {
  const b = Buffer.allocUnsafe(8);
  b.writeBigUInt64BE(BigInt(index));
  backend.put('meta', CONSISTENT_INDEX_KEY, b);
}

export async function boot(opts: ServerOptions): Promise<Booted> {
  const memberDir = path.join(opts.dataDir, 'member');
  const walDir = opts.walDir ?? path.join(memberDir, 'wal');
  const snapDir = path.join(memberDir, 'snap');
  checkDataDirFiles(opts.dataDir, walDir);
  const restarting = Wal.exists(walDir);
  fs.mkdirSync(snapDir, { recursive: true, mode: 0o700 });
  // snapshot copies for or from peers that a crash left behind are of no use now
  for (const name of fs.readdirSync(snapDir)) {
    if (name.startsWith('outgoing-') || name.startsWith('incoming-')) fs.rmSync(path.join(snapDir, name), { recursive: true, force: true });
  }
  const backend = Backend.open(path.join(snapDir, 'db'), { batchIntervalMs: opts.backendBatchIntervalMs, batchLimit: opts.backendBatchLimit });
  const snapshotter = new Snapshotter(snapDir);
  try {
    if (restarting) return await restart(opts, backend, snapshotter, walDir);
    if (opts.initialClusterState === 'existing') return await join(opts, backend, snapshotter, walDir);
    return await bootstrapNew(opts, backend, snapshotter, walDir);
  } catch (err) {
    await backend.close().catch(() => {});
    throw err;
  }
}

/**
 * Refuses a data dir whose files tsetcd must not open (an etcd member's, a stray file, one
 * it cannot read) before anything in it is created, removed or locked.
 */
function checkDataDirFiles(dataDir: string, walDir: string): void {
  for (const dir of [dataDir, walDir]) {
    if (!fs.existsSync(dir)) continue;
    try {
      fs.accessSync(dir, fs.constants.R_OK | fs.constants.W_OK | fs.constants.X_OK);
      fs.readdirSync(dir);
    } catch (err) {
      throw new Error(`cannot access data directory ${dir}: ${(err as Error).message}`);
    }
  }
  const first = fs.existsSync(walDir) ? fs.readdirSync(walDir).filter((n) => n.endsWith('.wal')).sort()[0] : undefined;
  if (first) {
    const kind = fileKind(path.join(walDir, first));
    if (kind === 'etcd-wal') throw new ForeignFileError(path.join(walDir, first), kind, etcdDataDirAdvice(dataDir));
  }
  assertTsetcdBackendFile(path.join(dataDir, 'member', 'snap', 'db'), dataDir);
}

function raftOptions(opts: ServerOptions, applied: number) {
  const random = () => (opts.clock ?? systemClock).random();
  return { heartbeatIntervalMs: opts.heartbeatIntervalMs, electionTimeoutMs: opts.electionTimeoutMs, preVote: opts.preVote ?? true, applied, random };
}

function initialMembers(opts: ServerOptions): Member[] {
  return [...opts.initialCluster].map(([name, urls]) => ({
    id: memberIdFor(urls, opts.initialClusterToken),
    name,
    peerURLs: urls,
    clientURLs: [],
    isLearner: false,
  }));
}

async function bootstrapNew(opts: ServerOptions, backend: Backend, snapshotter: Snapshotter, walDir: string): Promise<Booted> {
  const members = initialMembers(opts);
  const self = members.find((m) => m.name === opts.name);
  if (!self) throw new Error(`couldn't find local name "${opts.name}" in the initial cluster configuration`);
  const clusterId = clusterIdFor(members.map((m) => m.id));
  fs.mkdirSync(path.dirname(walDir), { recursive: true, mode: 0o700 });
  const wal = await Wal.create(walDir, encodeWalMetadata(self.id, clusterId), { unsafeNoFsync: opts.unsafeNoFsync });
  const storage = new MemoryStorage();
  // The log of a new cluster starts with one configuration change per initial member;
  // their records (names, peer URLs) travel in the entries' context.
  const peers: BootstrapPeer[] = members.map((m) => ({ id: m.id, context: encodeMemberContext({ member: m }) }));
  const node = new RawNode(raftConfig(self.id, storage, raftOptions(opts, 0)), peers);
  opts.logger.info('starting a new cluster member', {
    'local-member-id': self.id.toString(16),
    'cluster-id': clusterId.toString(16),
    'initial-cluster-size': members.length,
  });
  return { kind: 'new', backend, wal, snapshotter, storage, node, memberId: self.id, clusterId, appliedIndex: 0, snapshotIndex: 0, knownMembers: members };
}

interface RemoteMember {
  id: string;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner?: boolean;
}

/** GET <peer>/members: the cluster's current member list, as an existing member sees it. */
async function fetchMembers(url: string, timeoutMs: number, tls: PeerTlsOptions | undefined): Promise<{ clusterId: bigint; members: RemoteMember[] }> {
  return new Promise((resolve, reject) => {
    const req = peerRequest(url, '/members', { method: 'GET', timeoutMs }, tls, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        try {
          if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}`);
          const cid = res.headers['x-etcd-cluster-id'];
          if (typeof cid !== 'string') throw new Error('no X-Etcd-Cluster-ID header');
          resolve({ clusterId: BigInt('0x' + cid), members: JSON.parse(body) as RemoteMember[] });
        } catch (err) {
          reject(err);
        }
      });
    });
    req.on('error', reject);
    req.end();
  });
}

async function join(opts: ServerOptions, backend: Backend, snapshotter: Snapshotter, walDir: string): Promise<Booted> {
  const ownUrls = opts.initialCluster.get(opts.name);
  if (!ownUrls) throw new Error(`couldn't find local name "${opts.name}" in the initial cluster configuration`);
  const others = [...opts.initialCluster].filter(([name]) => name !== opts.name).flatMap(([, urls]) => urls);
  if (others.length === 0) throw new Error('--initial-cluster-state=existing needs --initial-cluster to name at least one other member to ask');
  let fetched: { clusterId: bigint; members: RemoteMember[] } | undefined;
  const errors: string[] = [];
  for (const url of others) {
    try {
      fetched = await fetchMembers(url, 2000, opts.peerTls);
      break;
    } catch (err) {
      errors.push(`${url}: ${(err as Error).message}`);
    }
  }
  if (!fetched) throw new Error(`cannot fetch the member list of the existing cluster (${errors.join('; ')})`);
  const sorted = (u: string[]) => [...u].sort().join(',');
  const self = fetched.members.find((m) => sorted(m.peerURLs) === sorted(ownUrls));
  if (!self) {
    throw new Error(
      `this member's peer URLs (${ownUrls.join(',')}) are not in the existing cluster ${fetched.clusterId.toString(16)}; ` +
        `add it first: etcdctl member add ${opts.name} --peer-urls=${ownUrls.join(',')}`,
    );
  }
  const memberId = BigInt('0x' + self.id);
  fs.mkdirSync(path.dirname(walDir), { recursive: true, mode: 0o700 });
  const wal = await Wal.create(walDir, encodeWalMetadata(memberId, fetched.clusterId), { unsafeNoFsync: opts.unsafeNoFsync });
  const storage = new MemoryStorage();
  const node = new RawNode(raftConfig(memberId, storage, raftOptions(opts, 0)));
  const knownMembers: Member[] = fetched.members.map((m) => ({
    id: BigInt('0x' + m.id),
    name: m.name,
    peerURLs: m.peerURLs,
    clientURLs: m.clientURLs,
    isLearner: m.isLearner ?? false,
  }));
  opts.logger.info('joining an existing cluster', { 'local-member-id': memberId.toString(16), 'cluster-id': fetched.clusterId.toString(16) });
  return { kind: 'join', backend, wal, snapshotter, storage, node, memberId, clusterId: fetched.clusterId, appliedIndex: 0, snapshotIndex: 0, knownMembers };
}

async function restart(opts: ServerOptions, backend: Backend, snapshotter: Snapshotter, walDir: string): Promise<Booted> {
  const markers = await Wal.readSnapshotMarkers(walDir);
  const snapshot = await snapshotter.loadNewest(markers);
  const snapMeta = snapshot ? { index: snapshot.metadata.index, term: snapshot.metadata.term } : undefined;
  const opened = await Wal.open(walDir, snapMeta, { unsafeNoFsync: opts.unsafeNoFsync });
  if (opened.repairedBytes > 0) {
    opts.logger.warn('repaired the torn tail of the WAL', { 'wal-dir': walDir, 'truncated-bytes': opened.repairedBytes });
  }
  const { memberId, clusterId } = decodeWalMetadata(opened.metadata);
  const consistentIndex = readConsistentIndex(backend);
  const lastIndex = opened.entries.length > 0 ? opened.entries[opened.entries.length - 1]!.index : (snapMeta?.index ?? 0);
  if (consistentIndex > lastIndex) {
    // Entries are applied only after they are durable in the WAL, so this means the WAL
    // lost durable records (a disk that lied about fsync, or files replaced by hand).
    // Going on would reuse indexes the backend has already applied.
    await opened.wal.close();
    throw new Error(
      `the backend has applied entries up to index ${consistentIndex} but the WAL in ${walDir} ends at ${lastIndex}; the WAL is missing durable records`,
    );
  }
  let hardState = opened.hardState;
  // The commit index on disk may trail what this member applied: a commit-only hard state
  // is written with the WAL's next write (Wal.save), so a crash can lose it. Whatever the
  // backend applied was committed, so the commit index is at least its consistent index
  // (--force-new-cluster keeps exactly the committed entries, so this matters there).
  if (consistentIndex > hardState.commit) hardState = { ...hardState, commit: consistentIndex };
  const knownCommit = hardState.commit;
  let entries = opened.entries;
  if (opts.forceNewCluster) {
    ({ hardState, entries } = forceNewCluster(memberId, snapshot ?? undefined, hardState, entries, opts));
    const forced = entries.filter((e) => e.index > knownCommit);
    // written where the uncommitted tail was: a rewritten index replaces what followed it
    if (forced.length > 0 || hardState.commit !== opened.hardState.commit) await opened.wal.save(hardState, forced, true);
  }
  const storage = new MemoryStorage();
  if (snapshot) storage.applySnapshot(snapshot);
  storage.setHardState(hardState);
  storage.append(entries);
  // raft hands back every committed entry above the snapshot: configuration changes
  // among them rebuild raft's configuration; entries the backend already has (up to its
  // consistent index) are skipped by the member, the rest are applied again
  const applied = Math.max(consistentIndex, snapMeta?.index ?? 0);
  const node = new RawNode(raftConfig(memberId, storage, raftOptions(opts, snapMeta?.index ?? 0)));
  opts.logger.info('restarting member', {
    'local-member-id': memberId.toString(16),
    'cluster-id': clusterId.toString(16),
    'applied-index': applied,
    'commit-index': hardState.commit,
    'last-index': lastIndex,
  });
  return {
    kind: 'restart',
    backend,
    wal: opened.wal,
    snapshotter,
    storage,
    node,
    memberId,
    clusterId,
    appliedIndex: applied,
    snapshotIndex: snapMeta?.index ?? 0,
    knownMembers: [],
  };
}

/**
 * --force-new-cluster: the member keeps its data but becomes the only member. Entries
 * that were never committed are dropped (nobody acknowledged them); then, as committed
 * entries at the end of the log, every other member is removed (and this one added if
 * the log never had it), so the membership on disk says the same as raft.
 */
function forceNewCluster(
  self: bigint,
  snapshot: Snapshot | undefined,
  hardState: HardState,
  entries: Entry[],
  opts: ServerOptions,
): { hardState: HardState; entries: Entry[] } {
  const committed = entries.filter((e) => e.index <= hardState.commit);
  if (committed.length < entries.length) {
    opts.logger.warn('discarding uncommitted WAL entries', { 'entries-discarded': entries.length - committed.length, 'commit-index': hardState.commit });
  }
  const ids = new Set<bigint>([...(snapshot?.metadata.confState.voters ?? []), ...(snapshot?.metadata.confState.learners ?? [])]);
  for (const e of committed) {
    if (e.type !== EntryType.ConfChange) continue;
    const cc = decodeConfChange(e.data);
    if (cc.type === ConfChangeType.RemoveNode) ids.delete(cc.nodeId);
    else if (cc.type !== ConfChangeType.UpdateNode) ids.add(cc.nodeId);
  }
  let index = committed.length > 0 ? committed[committed.length - 1]!.index : (snapshot?.metadata.index ?? 0);
  const forced: Entry[] = [];
  const push = (type: ConfChangeType, nodeId: bigint, context: Uint8Array): void => {
    forced.push({ term: hardState.term, index: ++index, type: EntryType.ConfChange, data: encodeConfChange({ type, nodeId, context }) });
  };
  for (const id of [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (id !== self) push(ConfChangeType.RemoveNode, id, new Uint8Array(0));
  }
  if (!ids.has(self)) {
    const peerURLs = opts.initialCluster.get(opts.name) ?? [];
    push(ConfChangeType.AddNode, self, encodeMemberContext({ member: { id: self, name: opts.name, peerURLs, clientURLs: [], isLearner: false } }));
  }
  opts.logger.info('forcing a new cluster: this member is now the only one', {
    'local-member-id': self.toString(16),
    'removed-member-ids': [...ids].filter((id) => id !== self).map((id) => id.toString(16)),
    'commit-index': index,
  });
  return { hardState: { ...hardState, commit: index }, entries: [...committed, ...forced] };
}
