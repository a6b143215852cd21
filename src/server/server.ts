// One tsetcd member: owns the log (WAL), the state machine (backend + MVCC) and the
// loop between them. Proposals made during one event-loop turn are appended to the WAL
// together with one fdatasync, then applied in order in one backend transaction.
//
// With a single member every appended entry is committed at once. The Raft issue
// replaces `LocalLog` with the consensus module's Ready/Advance without reshaping
// the loop: persist, send, apply.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Backend } from '../backend/backend.js';
import type { Logger } from '../pkg/logger.js';
import { MvccStore, type Change } from '../mvcc/store.js';
import { WatchableStore } from '../mvcc/watchable-store.js';
import { Metrics, type MetricsSource } from '../pkg/metrics.js';
import { keyBytes } from '../mvcc/tree-index.js';
import { EntryType, type Entry } from '../raft/types.js';
import { Snapshotter, Wal } from '../wal/index.js';
import {
  CompactionRequest,
  LeaseGrantRequest,
  LeaseRevokeRequest,
  type CompactionResponse,
  type LeaseGrantResponse,
  type LeaseLeasesResponse,
  type LeaseRevokeResponse,
  type LeaseTimeToLiveResponse,
  AlarmRequest,
  AlarmRequest_AlarmAction,
  AlarmType,
  type AlarmResponse,
  type HashKVResponse,
  type HashResponse,
  type DeleteRangeRequest,
  type PutRequest,
  type DeleteRangeResponse,
  type PutResponse,
  type RangeRequest,
  type RangeResponse,
  type ResponseHeader,
  type TxnRequest,
  type TxnResponse,
} from '../proto/etcdserverpb.js';
import { applyEntry, storeView, type ApplyContext, type ApplyOutcome } from './apply.js';
import { Errors } from './errors.js';
import { AlarmStore } from './alarms.js';
import { AUTH_CODECS, AuthErrors, type AuthInfo, AuthStore } from '../auth/index.js';
import { startPeriodicCompactor, startRevisionCompactor, type CompactionTarget, type Compactor } from './compactor.js';
import { clusterIdFor, memberIdFor, RequestIdGenerator } from './ids.js';
import {
  decodeWalMetadata,
  encodeConfChange,
  encodeMemberAttributes,
  encodeWalMetadata,
} from './internal-records.js';
import { applyRange, applyTxn, isTxnReadOnly, isTxnSerializable } from './kv-apply.js';
import { LeaseError, Lessor } from '../lease/lessor.js';
import { Membership, type Member } from './membership.js';
import { encodeRaftRequest, RaftRequestField } from './raft-request.js';

export interface AutoCompactionOptions {
  mode: 'periodic' | 'revision';
  /** periodic: keep this much history */
  retentionMs?: number;
  /** revision: keep this many revisions */
  retentionRevisions?: number;
}

export interface ServerOptions {
  name: string;
  dataDir: string;
  /** defaults to <dataDir>/member/wal */
  walDir?: string;
  initialCluster: Map<string, string[]>;
  initialClusterState: 'new' | 'existing';
  initialClusterToken: string;
  advertiseClientUrls: string[];
  maxRequestBytes: number;
  maxTxnOps: number;
  heartbeatIntervalMs: number;
  electionTimeoutMs: number;
  /** --auth-token, --bcrypt-cost, --auth-token-ttl; clientCertAuth: the client certificate CN may identify a user */
  auth?: { token: string; bcryptCost: number; tokenTtlSec: number; clientCertAuth: boolean };
  quotaBackendBytes: number;
  snapshotCount: number;
  maxSnapshots: number;
  maxWals: number;
  autoCompaction?: AutoCompactionOptions;
  logger: Logger;
  /** called when the member cannot go on safely (a failed fsync); default: log and exit(1) */
  onFatal?: (err: Error) => void;
}

/** etcd refuses proposals when this many are queued and not yet applied */
const MAX_PENDING_PROPOSALS = 5000;
/** version this member reports: the etcd API level it implements */
export const SERVER_VERSION = '3.5.0';
export const CLUSTER_VERSION = '3.5.0';

interface Waiter {
  resolve: (outcome: ApplyOutcome) => void;
  decoded: unknown;
}

interface PendingProposal {
  type: EntryType;
  data: Uint8Array;
}

export class EtcdServer {
  readonly memberId: bigint;
  private readonly membership: Membership;
  private readonly store: MvccStore;
  readonly lessor: Lessor;
  readonly metrics: Metrics;
  readonly alarms: AlarmStore;
  readonly auth: AuthStore;
  /** the watchers of the store (etcdserverpb.Watch), fed every applied write */
  readonly watchable: WatchableStore;
  private readonly idGen: RequestIdGenerator;
  private readonly waiters = new Map<number, Waiter>();
  private pending: PendingProposal[] = [];
  private flushScheduled = false;
  /** set while a defragmentation holds writes back */
  private writesPaused = false;
  private defragging: Promise<void> | undefined;
  /** durable in the WAL, not applied yet: applied while the next batch is written */
  private unapplied: Entry[] | null = null;
  private snapshotDue = false;
  private saving = false;
  private stopped = false;
  private term: number;
  private lastIndex: number;
  private committedIndex: number;
  private appliedIndex: number;
  private snapshotIndex: number;
  private readonly applyCtx: ApplyContext;
  /** a Set: listeners may unsubscribe while being called, without skipping the others */
  private readonly changeListeners = new Set<(changes: Change[], rev: number) => void>();
  private readonly appliedListeners: Array<() => void> = [];
  private compactor?: Compactor;
  private readonly startedAtMs = Date.now();

  private constructor(
    private readonly opts: ServerOptions,
    private readonly backend: Backend,
    private readonly wal: Wal,
    private readonly snapshotter: Snapshotter,
    boot: { memberId: bigint; term: number; lastIndex: number; appliedIndex: number; snapshotIndex: number },
    membership: Membership,
    store: MvccStore,
  ) {
    this.memberId = boot.memberId;
    this.term = boot.term;
    this.lastIndex = boot.lastIndex;
    this.committedIndex = boot.lastIndex;
    this.appliedIndex = boot.appliedIndex;
    this.snapshotIndex = boot.snapshotIndex;
    this.membership = membership;
    this.store = store;
    this.idGen = new RequestIdGenerator(boot.memberId, Date.now());
    this.metrics = new Metrics(this.metricsSource());
    backend.onCommit = (ms) => this.metrics.backendCommitSeconds.observe(ms / 1000);
    this.lessor = new Lessor(backend, { minTtlSec: minLeaseTtlSec(opts), onExpired: (ids) => this.revokeExpired(ids) });
    store.leases = this.lessor;
    this.lessor.restore(store.attachedLeases());
    this.alarms = new AlarmStore(backend);
    this.alarms.load();
    const a = opts.auth;
    this.auth = new AuthStore(backend, {
      bcryptCost: a?.bcryptCost,
      token: a?.token,
      tokenTtlSec: a?.tokenTtlSec,
      clientCertAuth: a?.clientCertAuth ?? false,
      logger: opts.logger,
    });
    this.watchable = new WatchableStore(store, backend);
    this.changeListeners.add((changes, rev) => this.watchable.notify(changes, rev));
    this.applyCtx = {
      auth: this.auth,
      alarms: this.alarms,
      store,
      membership,
      leases: { exists: (id) => this.lessor.exists(id) },
      lessor: this.lessor,
      onChanges: (changes, rev) => {
        for (const l of this.changeListeners) l(changes, rev);
      },
    };
  }

  // ---------------------------------------------------------------- lifecycle

  static async start(opts: ServerOptions): Promise<EtcdServer> {
    const memberDir = path.join(opts.dataDir, 'member');
    const walDir = opts.walDir ?? path.join(memberDir, 'wal');
    const snapDir = path.join(memberDir, 'snap');
    const restarting = Wal.exists(walDir);
    fs.mkdirSync(snapDir, { recursive: true, mode: 0o700 });
    const backend = Backend.open(path.join(snapDir, 'db'));
    const snapshotter = new Snapshotter(snapDir);
    try {
      return restarting
        ? await EtcdServer.restart(opts, backend, snapshotter, walDir)
        : await EtcdServer.bootstrap(opts, backend, snapshotter, walDir);
    } catch (err) {
      await backend.close().catch(() => {});
      throw err;
    }
  }

  private static async bootstrap(opts: ServerOptions, backend: Backend, snapshotter: Snapshotter, walDir: string): Promise<EtcdServer> {
    if (opts.initialClusterState === 'existing') {
      throw new Error('joining an existing cluster (--initial-cluster-state=existing) needs multi-member raft, which this build does not have yet');
    }
    const members: Member[] = [...opts.initialCluster].map(([name, urls]) => ({
      id: memberIdFor(urls, opts.initialClusterToken),
      name,
      peerURLs: urls,
      clientURLs: [],
      isLearner: false,
    }));
    const self = members.find((m) => m.name === opts.name);
    if (!self) throw new Error(`couldn't find local name "${opts.name}" in the initial cluster configuration`);
    if (members.length > 1) {
      throw new Error(`--initial-cluster lists ${members.length} members; clusters of more than one member need raft, which this build does not have yet`);
    }
    const clusterId = clusterIdFor(members.map((m) => m.id));
    fs.mkdirSync(path.dirname(walDir), { recursive: true, mode: 0o700 });
    const wal = await Wal.create(walDir, encodeWalMetadata(self.id, clusterId));
    const membership = new Membership(backend);
    const store = new MvccStore(backend);
    backend.write(() => membership.setClusterId(clusterId));
    const server = new EtcdServer(opts, backend, wal, snapshotter, { memberId: self.id, term: 1, lastIndex: 0, appliedIndex: 0, snapshotIndex: 0 }, membership, store);
    // The log of a new cluster starts with one configuration change per initial member.
    const confChanges = members.map((m) => ({ type: EntryType.ConfChange, data: encodeConfChange({ op: 'add', member: m }) }));
    await server.appendAndApply(confChanges);
    await server.becomeLeader();
    opts.logger.info('started a new single-member cluster', { 'local-member-id': self.id.toString(16), 'cluster-id': clusterId.toString(16) });
    return server;
  }

  private static async restart(opts: ServerOptions, backend: Backend, snapshotter: Snapshotter, walDir: string): Promise<EtcdServer> {
    const markers = await Wal.readSnapshotMarkers(walDir);
    const snapshot = await snapshotter.loadNewest(markers);
    const snapMeta = snapshot ? { index: snapshot.metadata.index, term: snapshot.metadata.term } : undefined;
    const opened = await Wal.open(walDir, snapMeta);
    if (opened.repairedBytes > 0) {
      opts.logger.warn('repaired the torn tail of the WAL', { 'wal-dir': walDir, 'truncated-bytes': opened.repairedBytes });
    }
    const { memberId, clusterId } = decodeWalMetadata(opened.metadata);
    const membership = new Membership(backend);
    membership.load();
    const store = new MvccStore(backend);
    store.restore();
    const consistentIndex = readConsistentIndex(backend);
    const lastIndex = opened.entries.length > 0 ? opened.entries[opened.entries.length - 1]!.index : (snapMeta?.index ?? 0);
    if (consistentIndex > lastIndex) {
      // Entries are applied only after they are durable in the WAL, so this means the WAL
      // lost durable records (a disk that lied about fsync, or files replaced by hand).
      // Going on would reuse indexes the backend has already applied.
      throw new Error(
        `the backend has applied entries up to index ${consistentIndex} but the WAL in ${walDir} ends at ${lastIndex}; the WAL is missing durable records`,
      );
    }
    const server = new EtcdServer(
      opts,
      backend,
      opened.wal,
      snapshotter,
      { memberId, term: opened.hardState.term, lastIndex, appliedIndex: consistentIndex, snapshotIndex: snapMeta?.index ?? 0 },
      membership,
      store,
    );
    if (membership.clusterId === 0n) backend.write(() => membership.setClusterId(clusterId));
    // Entries the backend has not seen yet (it commits without fsync) are applied again.
    const replay = opened.entries.filter((e) => e.index > consistentIndex);
    if (replay.length > 0) server.applyEntries(replay);
    opts.logger.info('restarted member', {
      'local-member-id': memberId.toString(16),
      'cluster-id': clusterId.toString(16),
      'applied-index': server.appliedIndex,
      'replayed-entries': replay.length,
      revision: store.rev,
    });
    await server.becomeLeader();
    return server;
  }

  /** A single member elects itself: a new term, opened by an empty entry, then a publish. */
  private async becomeLeader(): Promise<void> {
    this.term += 1;
    await this.appendAndApply([{ type: EntryType.Normal, data: new Uint8Array(0) }]);
    // leases restart their clocks with a full TTL, plus an election's worth of slack
    this.lessor.promote(this.opts.electionTimeoutMs);
    this.startAutoCompaction();
    const attrs = encodeMemberAttributes({ memberId: this.memberId, name: this.opts.name, clientURLs: this.opts.advertiseClientUrls });
    await this.propose(RaftRequestField.clusterMemberAttrSet, attrs, undefined);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.compactor?.stop();
    this.lessor.stop();
    this.watchable.close();
    while (this.saving) await new Promise((r) => setTimeout(r, 5));
    for (const [, w] of this.waiters) w.resolve({ id: 0, error: Errors.stopped() });
    this.waiters.clear();
    await this.wal.close();
    await this.backend.close();
  }

  private metricsSource(): MetricsSource {
    return {
      hasLeader: () => true,
      isLeader: () => this.isLeader,
      isLearner: () => false,
      committedIndex: () => this.committedIndex,
      appliedIndex: () => this.appliedIndex,
      pendingProposals: () => this.pending.length + this.waiters.size,
      dbSizeBytes: () => this.backend.sizeBytes(),
      dbSizeInUseBytes: () => this.backend.sizeInUseBytes(),
      keysTotal: () => this.store.keyCount,
      currentRevision: () => this.store.rev,
      compactRevision: () => Math.max(0, this.store.compactRev),
      quotaBackendBytes: () => this.opts.quotaBackendBytes,
      memberIdHex: () => this.memberId.toString(16),
      serverVersion: () => SERVER_VERSION,
      clusterVersion: () => CLUSTER_VERSION,
    };
  }

  // ---------------------------------------------------------------- identity

  get clusterId(): bigint {
    return this.membership.clusterId;
  }

  get raftTerm(): number {
    return this.term;
  }

  get raftIndex(): number {
    return this.committedIndex;
  }

  get raftAppliedIndex(): number {
    return this.appliedIndex;
  }

  get revision(): number {
    return this.store.rev;
  }

  get compactRevision(): number {
    return this.store.compactRev;
  }

  get name(): string {
    return this.opts.name;
  }

  get isLeader(): boolean {
    return true;
  }

  get leaderId(): bigint {
    return this.memberId;
  }

  get uptimeMs(): number {
    return Date.now() - this.startedAtMs;
  }

  get maxRequestBytes(): number {
    return this.opts.maxRequestBytes;
  }

  get maxTxnOps(): number {
    return this.opts.maxTxnOps;
  }

  dbSizeBytes(): number {
    return this.backend.sizeBytes();
  }

  dbSizeInUseBytes(): number {
    return this.backend.sizeInUseBytes();
  }

  members(): Member[] {
    return this.membership.list();
  }

  header(revision: number): ResponseHeader {
    return { cluster_id: this.clusterId, member_id: this.memberId, revision, raft_term: this.term };
  }

  /** The MVCC store, for the watch machinery (reads and history only; writes go through the log). */
  get kvStore(): MvccStore {
    return this.store;
  }

  onChanges(listener: (changes: Change[], rev: number) => void): void {
    this.changeListeners.add(listener);
  }

  /** Like onChanges, for listeners that come and go; returns the unsubscribe function. */
  subscribeChanges(listener: (changes: Change[], rev: number) => void): () => void {
    this.changeListeners.add(listener);
    return () => void this.changeListeners.delete(listener);
  }

  // ---------------------------------------------------------------- KV

  async range(r: RangeRequest, caller?: AuthInfo): Promise<RangeResponse> {
    this.auth.checkRange(caller, r.key, r.range_end);
    if (!r.serializable) await this.linearizableReadBarrier();
    const resp = applyRange(storeView(this.store), r);
    this.checkAuthRevision(caller);
    resp.header = this.header(resp.header!.revision);
    return resp;
  }

  async put(r: PutRequest, raw: Uint8Array, caller?: AuthInfo): Promise<PutResponse> {
    this.checkQuota(raw.length);
    const resp = (await this.proposeAndWait(RaftRequestField.put, raw, r, caller)) as PutResponse;
    resp.header = this.header(resp.header!.revision);
    return resp;
  }

  async deleteRange(r: DeleteRangeRequest, raw: Uint8Array, caller?: AuthInfo): Promise<DeleteRangeResponse> {
    const resp = (await this.proposeAndWait(RaftRequestField.deleteRange, raw, r, caller)) as DeleteRangeResponse;
    resp.header = this.header(resp.header!.revision);
    return resp;
  }

  async txn(r: TxnRequest, raw: Uint8Array, caller?: AuthInfo): Promise<TxnResponse> {
    if (isTxnReadOnly(r)) {
      this.auth.checkTxn(caller, r);
      if (!isTxnSerializable(r)) await this.linearizableReadBarrier();
      const resp = applyTxn(r, { view: storeView(this.store), leases: this.applyCtx.leases });
      this.checkAuthRevision(caller);
      resp.header = this.header(resp.header!.revision);
      return resp;
    }
    this.checkQuota(raw.length);
    const resp = (await this.proposeAndWait(RaftRequestField.txn, raw, r, caller)) as TxnResponse;
    resp.header = this.header(resp.header!.revision);
    return resp;
  }

  async compact(r: CompactionRequest, raw: Uint8Array, caller?: AuthInfo): Promise<CompactionResponse> {
    const outcome = await this.proposeOutcome(RaftRequestField.compaction, raw, r, caller);
    if (outcome.error) throw outcome.error;
    if (outcome.done) await outcome.done;
    return { header: this.header(this.store.rev) };
  }

  // ---------------------------------------------------------------- auth

  /** Proposes a prepared auth request (AuthStore.prepare) through the log. */
  async proposeAuth(field: number, request: unknown, caller: AuthInfo | undefined): Promise<unknown> {
    const codec = AUTH_CODECS[field as keyof typeof AUTH_CODECS];
    if (!codec) throw new Error(`not an auth request field: ${field}`);
    const body = (codec.request as { encode(m: unknown): Uint8Array }).encode(request);
    const resp = (await this.proposeAndWait(field, body, request, caller)) as { header?: ResponseHeader };
    resp.header = this.header(this.store.rev);
    return resp;
  }

  /** A read served under an auth revision that changed meanwhile must be retried (etcd's rule). */
  private checkAuthRevision(caller: AuthInfo | undefined): void {
    if (caller && caller.revision !== 0 && caller.revision !== this.auth.revision) throw AuthErrors.authOldRevision();
  }

  // ---------------------------------------------------------------- leases

  async leaseGrant(r: LeaseGrantRequest, raw: Uint8Array, caller?: AuthInfo): Promise<LeaseGrantResponse> {
    let body = raw;
    if (r.ID === 0n) {
      // the member picks the ID before proposing, so every member applies the same one
      r = { ...r, ID: this.randomLeaseId() };
      body = LeaseGrantRequest.encode(r);
    }
    const resp = (await this.proposeAndWait(RaftRequestField.leaseGrant, body, r, caller)) as LeaseGrantResponse;
    resp.header = this.header(this.store.rev);
    return resp;
  }

  async leaseRevoke(r: LeaseRevokeRequest, raw: Uint8Array, caller?: AuthInfo): Promise<LeaseRevokeResponse> {
    const resp = (await this.proposeAndWait(RaftRequestField.leaseRevoke, raw, r, caller)) as LeaseRevokeResponse;
    resp.header = this.header(this.store.rev);
    return resp;
  }

  /** A keep-alive: returns the TTL granted again, or 0 when the lease does not exist (etcd's answer). */
  leaseRenew(id: bigint): number {
    if (this.stopped) throw Errors.stopped();
    try {
      return this.lessor.renew(id);
    } catch (err) {
      if (err instanceof LeaseError) return 0;
      throw err;
    }
  }

  leaseTimeToLive(id: bigint, withKeys: boolean): LeaseTimeToLiveResponse {
    const lease = this.lessor.lookup(id);
    if (!lease) return { header: this.header(this.store.rev), ID: id, TTL: -1, grantedTTL: 0, keys: [] };
    return {
      header: this.header(this.store.rev),
      ID: id,
      TTL: this.lessor.remainingSec(lease),
      grantedTTL: lease.ttlSec,
      keys: withKeys ? [...lease.keys].sort().map((k) => keyBytes(k)) : [],
    };
  }

  leaseLeases(): LeaseLeasesResponse {
    return { header: this.header(this.store.rev), leases: this.lessor.ids().map((ID) => ({ ID })) };
  }

  private randomLeaseId(): bigint {
    for (;;) {
      const id = randomBytes(8).readBigInt64BE(0) & 0x7fffffffffffffffn;
      if (id !== 0n && !this.lessor.exists(id)) return id;
    }
  }

  /** Expired leases are revoked through the log, like a client's revoke. */
  private revokeExpired(ids: bigint[]): void {
    for (const id of ids) {
      const req = LeaseRevokeRequest.create({ ID: id });
      this.proposeOutcome(RaftRequestField.leaseRevoke, LeaseRevokeRequest.encode(req), req).then(
        (o) => {
          if (o.error && !(o.error instanceof Error && /not found/.test(o.error.message))) this.lessor.retryExpired(id);
        },
        () => this.lessor.retryExpired(id),
      );
    }
  }

  /** Resolves once every entry committed before the call is applied (ReadIndex, single member). */
  async linearizableReadBarrier(): Promise<void> {
    if (this.stopped) throw Errors.stopped();
    const target = this.committedIndex;
    if (this.appliedIndex >= target) return;
    await new Promise<void>((resolve) => {
      const check = (): void => {
        if (this.appliedIndex >= target) resolve();
        else this.appliedListeners.push(check);
      };
      this.appliedListeners.push(check);
    });
  }

  /**
   * etcd's backend quota: a write that would take the database past
   * --quota-backend-bytes raises the NOSPACE alarm (through the log, so every member
   * knows) and is refused; from then on only reads and deletes are served.
   */
  private checkQuota(requestBytes: number): void {
    if (this.opts.quotaBackendBytes <= 0) return;
    // cost estimate as etcd's: the request plus the per-key overhead of the backend
    const cost = requestBytes + 64;
    if (this.backend.sizeBytes() + cost <= this.opts.quotaBackendBytes) return;
    if (!this.alarms.has(AlarmType.NOSPACE)) {
      const req = AlarmRequest.create({ action: AlarmRequest_AlarmAction.ACTIVATE, memberID: this.memberId, alarm: AlarmType.NOSPACE });
      this.proposeOutcome(RaftRequestField.alarm, AlarmRequest.encode(req), req).catch(() => {});
      this.opts.logger.warn('alarm raised: database space exceeded', { 'quota-bytes': this.opts.quotaBackendBytes, 'db-size-bytes': this.backend.sizeBytes() });
    }
    throw Errors.noSpace();
  }

  // ---------------------------------------------------------------- maintenance

  hash(): HashResponse {
    return { header: this.header(this.store.rev), hash: this.backend.hash() };
  }

  hashKV(revision: number): HashKVResponse {
    const h = this.store.hashKV(revision);
    return { header: this.header(h.currentRev), hash: h.hash, compact_revision: h.compactRev, hash_revision: h.hashRev };
  }

  /** Rewrites the backend without free pages; writes wait until it is done. */
  async defragment(): Promise<void> {
    if (this.defragging) return this.defragging;
    this.defragging = (async () => {
      this.writesPaused = true; // the write loop stops after its current batch
      while (this.saving) await new Promise((r) => setTimeout(r, 1));
      const before = this.backend.sizeBytes();
      try {
        await this.backend.defragment();
        this.opts.logger.info('finished defragmenting the backend', { 'db-size-before': before, 'db-size-after': this.backend.sizeBytes() });
      } finally {
        this.writesPaused = false;
        this.defragging = undefined;
        this.scheduleFlush();
      }
    })();
    return this.defragging;
  }

  /** Writes a consistent copy of the backend to `dest` (the Snapshot RPC streams it). */
  async snapshotBackend(dest: string): Promise<void> {
    await this.backend.copyTo(dest);
  }

  async alarm(r: AlarmRequest, raw: Uint8Array): Promise<AlarmResponse> {
    const resp = (await this.proposeAndWait(RaftRequestField.alarm, raw, r)) as AlarmResponse;
    resp.header = this.header(this.store.rev);
    return resp;
  }

  // ---------------------------------------------------------------- proposals

  private async proposeAndWait(field: number, body: Uint8Array, decoded: unknown, caller?: AuthInfo): Promise<unknown> {
    const outcome = await this.proposeOutcome(field, body, decoded, caller);
    if (outcome.error) throw outcome.error;
    return outcome.response;
  }

  private proposeOutcome(field: number, body: Uint8Array, decoded: unknown, caller?: AuthInfo): Promise<ApplyOutcome> {
    if (this.stopped) {
      this.metrics.proposalsFailed.inc();
      return Promise.reject(Errors.stopped());
    }
    if (this.pending.length >= MAX_PENDING_PROPOSALS) {
      this.metrics.proposalsFailed.inc();
      return Promise.reject(Errors.tooManyRequests());
    }
    const id = this.idGen.next();
    const data = encodeRaftRequest({ id, username: caller?.username ?? '', authRevision: caller?.revision ?? 0 }, field, body);
    if (data.length > this.opts.maxRequestBytes) return Promise.reject(Errors.requestTooLarge());
    return new Promise<ApplyOutcome>((resolve) => {
      this.waiters.set(id, { resolve, decoded });
      this.pending.push({ type: EntryType.Normal, data });
      this.scheduleFlush();
    });
  }

  private propose(field: number, body: Uint8Array, decoded: unknown): Promise<ApplyOutcome> {
    return this.proposeOutcome(field, body, decoded);
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.saving) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      void this.flush();
    });
  }

  /**
   * The write loop. Each turn saves everything proposed so far with one durable write;
   * while that write is on its way to the disk, the batch saved before it is applied, so
   * the disk and the CPU work at the same time. Snapshots are taken between batches,
   * when the WAL is idle.
   */
  private async flush(): Promise<void> {
    if (this.saving || this.stopped || this.writesPaused) return;
    this.saving = true;
    try {
      for (;;) {
        if (this.snapshotDue) {
          this.applyUnapplied();
          await this.snapshot();
        }
        if (this.pending.length === 0 || this.stopped || this.writesPaused) break;
        const entries = this.toEntries(this.pending);
        this.pending = [];
        const saveStartMs = performance.now();
        const saved = this.wal.save({ term: this.term, vote: this.memberId, commit: this.lastIndex }, entries);
        this.applyUnapplied();
        await saved;
        this.metrics.walFsyncSeconds.observe((performance.now() - saveStartMs) / 1000);
        this.committedIndex = this.lastIndex;
        this.unapplied = entries;
      }
      this.applyUnapplied();
    } catch (err) {
      this.fatal(err as Error);
      return;
    } finally {
      this.saving = false;
    }
    if (this.pending.length > 0) this.scheduleFlush();
  }

  private toEntries(batch: PendingProposal[]): Entry[] {
    return batch.map((p) => ({ term: this.term, index: ++this.lastIndex, type: p.type, data: p.data }));
  }

  private applyUnapplied(): void {
    const entries = this.unapplied;
    if (!entries) return;
    this.unapplied = null;
    this.applyEntries(entries);
    if (this.appliedIndex - this.snapshotIndex >= this.opts.snapshotCount) this.snapshotDue = true;
  }

  /** Appends and applies entries outside the write loop: only while the member starts. */
  private async appendAndApply(batch: PendingProposal[]): Promise<void> {
    if (this.saving) throw new Error('appendAndApply while the write loop runs');
    const entries = this.toEntries(batch);
    await this.wal.save({ term: this.term, vote: this.memberId, commit: this.lastIndex }, entries);
    this.committedIndex = this.lastIndex;
    this.applyEntries(entries);
  }

  /** Applies committed entries in one backend transaction and wakes their proposers. */
  private applyEntries(entries: Entry[]): void {
    const outcomes: ApplyOutcome[] = [];
    this.backend.write(() => {
      for (const e of entries) {
        const waiter = this.waiters.get(decodeIdFast(e));
        outcomes.push(applyEntry(e, this.applyCtx, waiter?.decoded));
      }
      writeConsistentIndex(this.backend, entries[entries.length - 1]!.index);
    });
    this.appliedIndex = entries[entries.length - 1]!.index;
    for (const o of outcomes) {
      if (o.id === 0) continue;
      const w = this.waiters.get(o.id);
      if (!w) continue;
      this.waiters.delete(o.id);
      w.resolve(o);
    }
    if (this.appliedListeners.length > 0) {
      const listeners = this.appliedListeners.splice(0);
      for (const l of listeners) l();
    }
  }

  // ---------------------------------------------------------------- snapshots

  /**
   * Every --snapshot-count applied entries the backend is made durable and a snapshot
   * marker written, so WAL segments before it can go.
   */
  private async snapshot(): Promise<void> {
    this.snapshotDue = false;
    await this.backend.forceCommit();
    const index = this.appliedIndex;
    const members = this.membership.list().map((m) => m.id);
    await this.snapshotter.save({ metadata: { index, term: this.term, confState: { voters: members, learners: [] } }, data: new Uint8Array(0) });
    await this.wal.saveSnapshotMarker({ index, term: this.term });
    this.snapshotIndex = index;
    const removed = await this.wal.releaseTo(index, this.opts.maxWals);
    await this.snapshotter.purge(this.opts.maxSnapshots);
    this.opts.logger.info('saved snapshot', { 'snapshot-index': index, 'released-wal-files': removed });
  }

  // ---------------------------------------------------------------- auto compaction

  private startAutoCompaction(): void {
    const ac = this.opts.autoCompaction;
    if (!ac || this.compactor) return;
    const target: CompactionTarget = {
      revision: () => this.store.rev,
      compact: (rev) => this.autoCompact(rev),
    };
    if (ac.mode === 'periodic' && (ac.retentionMs ?? 0) > 0) this.compactor = startPeriodicCompactor(ac.retentionMs!, target);
    else if (ac.mode === 'revision' && (ac.retentionRevisions ?? 0) > 0) this.compactor = startRevisionCompactor(ac.retentionRevisions!, target);
  }

  private async autoCompact(rev: number): Promise<void> {
    if (rev <= this.store.compactRev) return; // already compacted there: nothing to do
    const req = CompactionRequest.create({ revision: rev });
    try {
      await this.compact(req, CompactionRequest.encode(req));
      this.opts.logger.info('completed auto revision compaction', { revision: rev });
    } catch (err) {
      this.opts.logger.warn('failed auto revision compaction', { revision: rev, error: String((err as Error).message ?? err) });
      throw err;
    }
  }

  // ---------------------------------------------------------------- failure

  private fatal(err: Error): void {
    this.opts.logger.fatal('member cannot continue safely', { error: err.message });
    if (this.opts.onFatal) this.opts.onFatal(err);
    else process.exit(1);
  }
}

/**
 * The shortest lease TTL, as etcd computes it: one and a half election timeouts, in
 * whole seconds (2 s with the default 100 ms heartbeat and 1 s election timeout).
 */
export function minLeaseTtlSec(opts: { heartbeatIntervalMs: number; electionTimeoutMs: number }): number {
  const electionTicks = Math.floor(opts.electionTimeoutMs / opts.heartbeatIntervalMs);
  return Math.ceil((Math.floor((3 * electionTicks) / 2) * opts.heartbeatIntervalMs) / 1000);
}

const CONSISTENT_INDEX_KEY = Buffer.from('consistent_index');

function writeConsistentIndex(backend: Backend, index: number): void {
  const b = Buffer.allocUnsafe(8);
  b.writeBigUInt64BE(BigInt(index));
  backend.put('meta', CONSISTENT_INDEX_KEY, b);
}

function readConsistentIndex(backend: Backend): number {
  const b = backend.get('meta', CONSISTENT_INDEX_KEY);
  return b ? Number(b.readBigUInt64BE(0)) : 0;
}

/** The request ID of a normal entry, read without decoding the request. */
function decodeIdFast(e: Entry): number {
  if (e.type !== EntryType.Normal || e.data.length < 4) return 0;
  // layout written by encodeRaftRequest: header tag (2 bytes), header length, then 0x08 + varint ID
  const d = e.data;
  if (d[0] !== 0xa2 || d[1] !== 0x06) return 0;
  let pos = 2;
  while (d[pos]! & 0x80) pos++;
  pos++;
  if (d[pos] !== 0x08) return 0;
  pos++;
  let id = 0;
  let mul = 1;
  for (let i = 0; i < 8 && pos < d.length; i++) {
    const b = d[pos++]!;
    id += (b & 0x7f) * mul;
    if (b < 0x80) return id;
    mul *= 128;
  }
  return 0;
}
