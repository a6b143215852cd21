// One tsetcd member: the state machine (backend, MVCC, leases, auth, alarms, members)
// driven by raft. Requests become proposals; raft orders and commits them (the driver
// persists and replicates); committed entries are applied here in log order, in one
// backend write group per batch, and the waiting requests are answered.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Backend, BackendView } from '../backend/backend.js';
import type { Logger } from '../pkg/logger.js';
import { MvccStore, type Change } from '../mvcc/store.js';
import { WatchableStore } from '../mvcc/watchable-store.js';
import { Metrics, type MetricsSource } from '../pkg/metrics.js';
import { keyBytes } from '../mvcc/tree-index.js';
import { ConfChangeType, NONE, ProposalDroppedError, decodeConfChange, type ConfState, type Snapshot } from '../raft/index.js';
import { EntryType, type Entry } from '../raft/types.js';
import type { MemoryStorage, RawNode } from '../raft/index.js';
import type { Snapshotter, Wal } from '../wal/index.js';
import {
  CompactionRequest,
  LeaseGrantRequest,
  LeaseRevokeRequest,
  LeaseTimeToLiveRequest,
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
import { Errors, errorWithMessage } from './errors.js';
import { AlarmStore } from './alarms.js';
import { AUTH_CODECS, AuthErrors, type AuthInfo, AuthStore } from '../auth/index.js';
import { startPeriodicCompactor, startRevisionCompactor, type CompactionTarget, type Compactor } from './compactor.js';
import { RequestIdGenerator } from './ids.js';
import { decodeMemberContext, encodeMemberAttributes } from './internal-records.js';
import { applyRange, applyTxn, isTxnReadOnly, isTxnSerializable } from './kv-apply.js';
import { LeaseError, Lessor } from '../lease/lessor.js';
import { Membership, type Member } from './membership.js';
import { encodeRaftRequest, RaftRequestField } from './raft-request.js';
import { RaftDriver, type RaftHost } from './raft-driver.js';
import { boot, readConsistentIndex, writeConsistentIndex, type Booted } from './bootstrap.js';
import { PeerTransport } from '../peer/transport.js';
import type { PeerTlsOptions } from '../peer/dialer.js';
import { forwardPromote, forwardRenew, forwardTimeToLive, PromoteRefusedError } from '../peer/lease-forward.js';
import { ClusterOps } from './cluster-ops.js';
import { etcdBackendHash } from '../snapshot/etcd-hash.js';
import { bucketRecords, type EtcdExportContext } from '../snapshot/etcd-schema.js';
import { fetchPeerHashes, initialVerdict, periodicVerdict, requestPeerHash, type HashAt, type PeerHash, type PeerRef } from './corrupt.js';
import { monotonicMs } from '../pkg/clock.js';
import { leaseCheckpointer, type LeaseCheckpointOptions } from './lease-checkpoint.js';
import { CompactHashes, startCompactHashCheck } from './compact-hash-check.js';
import type { RaftConnTimeouts } from '../peer/link-deadlines.js';

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
  preVote?: boolean;
  strictReconfigCheck?: boolean;
  /** --initial-election-tick-advance (default true) */
  initialElectionTickAdvance?: boolean;
  /** --force-new-cluster: on restart, become the only member of the cluster (keeping the data) */
  forceNewCluster?: boolean;
  /** --auth-token, --bcrypt-cost, --auth-token-ttl; clientCertAuth: the client certificate CN may identify a user */
  auth?: { token: string; bcryptCost: number; tokenTtlSec: number; clientCertAuth: boolean };
  /** TLS for dialing peers (https peer URLs) */
  peerTls?: PeerTlsOptions;
  quotaBackendBytes: number;
  snapshotCount: number;
  maxSnapshots: number;
  maxWals: number;
  autoCompaction?: AutoCompactionOptions;
  logger: Logger;
  /** called when the member cannot go on safely (a failed fsync); default: log and exit(1) */
  onFatal?: (err: Error) => void;
  /** called when this member's own removal from the cluster is applied */
  onRemoved?: () => void;
  /** --experimental-initial-corrupt-check: a restarting member compares its hash with its peers' before it runs */
  initialCorruptCheck?: boolean;
  /** --experimental-corrupt-check-time: the leader compares hashes with every member this often (0: never) */
  corruptCheckTimeMs?: number;
  /** --backend-batch-interval / --backend-batch-limit (0 or absent: etcd's 100 ms / 10,000) */
  backendBatchIntervalMs?: number;
  backendBatchLimit?: number;
  /** --unsafe-no-fsync: the WAL is never synced */
  unsafeNoFsync?: boolean;
  /** --experimental-compaction-batch-limit (0 or absent: 1000) */
  compactionBatchLimit?: number;
  /** --experimental-max-learners (default 1) */
  maxLearners?: number;
  /** --experimental-snapshot-catchup-entries (default 5000) */
  snapshotCatchUpEntries?: number;
  /** --experimental-warning-apply-duration: applying one entry longer than this is logged (default 100 ms) */
  warningApplyDurationMs?: number;
  /** --experimental-bootstrap-defrag-threshold-megabytes: defragment at start when that much would be freed (0: never) */
  bootstrapDefragThresholdMb?: number;
  /** --experimental-enable-lease-checkpoint (+ -persist, tsetcd's --experimental-lease-checkpoint-interval) */
  leaseCheckpoint?: LeaseCheckpointOptions;
  /** --experimental-compact-hash-check-enabled with --experimental-compact-hash-check-time */
  compactHashCheck?: { intervalMs: number };
  /** --raft-read-timeout / --raft-write-timeout on peer streams (default 5 s each) */
  raftConnTimeouts?: RaftConnTimeouts;
}

/** etcd refuses proposals when this many are queued and not yet applied */
const MAX_PENDING_PROPOSALS = 5000;
/** version this member reports: the etcd API level it implements */
export const SERVER_VERSION = '3.5.0';
export const CLUSTER_VERSION = '3.5.0';

interface Waiter {
  resolve: (outcome: ApplyOutcome) => void;
  decoded: unknown;
  timer: NodeJS.Timeout;
  /** raft took the proposal; until then it waits in waitingForLeader and can still be withdrawn */
  proposed: boolean;
}

interface QueuedProposal {
  id: number;
  data: Uint8Array;
}

export class EtcdServer implements RaftHost {
  readonly memberId: bigint;
  private readonly membership: Membership;
  private readonly store: MvccStore;
  readonly lessor: Lessor;
  readonly metrics: Metrics;
  readonly alarms: AlarmStore;
  readonly auth: AuthStore;
  /** the watchers of the store (etcdserverpb.Watch), fed every applied write */
  readonly watchable: WatchableStore;
  readonly transport: PeerTransport;
  readonly driver: RaftDriver;
  readonly cluster: ClusterOps;
  private readonly backend: Backend;
  private readonly wal: Wal;
  private readonly storage: MemoryStorage;
  private readonly idGen: RequestIdGenerator;
  private readonly waiters = new Map<number, Waiter>();
  /** proposals made while no leader is known; proposed once one is, unless their request gave up */
  private waitingForLeader: QueuedProposal[] = [];
  private stopped = false;
  private removedNotified = false;
  private appliedIndex: number;
  private confState: ConfState;
  private readonly applyCtx: ApplyContext;
  /** a Set: listeners may unsubscribe while being called, without skipping the others */
  private readonly changeListeners = new Set<(changes: Change[], rev: number) => void>();
  private appliedWaiters: Array<{ index: number; resolve: () => void }> = [];
  private compactor?: Compactor;
  private wasLeader = false;
  private lastLeader: bigint = NONE;
  private published = false;
  private markPublished: () => void = () => {};
  /** resolves once this member has published itself through raft: etcd's "ready" */
  readonly whenPublished: Promise<void> = new Promise((resolve) => (this.markPublished = resolve));
  /** a lone voter campaigns as soon as its log is applied, instead of after an election timeout */
  private campaignWhenCaughtUp = false;
  private publishing = false;
  private retryTimer: NodeJS.Timeout;
  private defragging: Promise<void> | undefined;
  private readonly startedAtMs = monotonicMs();
  private corruptCheckTimer: NodeJS.Timeout | undefined;
  private readonly compactHashes: CompactHashes | undefined;
  private stopCompactHashCheck: (() => void) | undefined;
  /** told when a defragmentation starts (true) and ends (false) */
  readonly defragListeners = new Set<(active: boolean) => void>();
  private corruptCheckRunning = false;
  /** etcd's request timeout: 5 s plus two election timeouts */
  readonly requestTimeoutMs: number;

  static async start(opts: ServerOptions): Promise<EtcdServer> {
    const booted = await boot(opts);
    const server = new EtcdServer(opts, booted);
    await server.maybeDefragAtStart();
    // like etcd, only a member that has data already is checked (a new one has nothing to compare)
    if (opts.initialCorruptCheck && booted.kind === 'restart') {
      try {
        await server.checkInitialHashKV(booted.knownMembers);
      } catch (err) {
        await server.stop();
        throw err;
      }
    }
    server.begin(booted);
    return server;
  }

  private constructor(
    private readonly opts: ServerOptions,
    b: Booted,
  ) {
    this.memberId = b.memberId;
    this.backend = b.backend;
    this.wal = b.wal;
    this.storage = b.storage;
    this.appliedIndex = b.appliedIndex;
    this.requestTimeoutMs = 5000 + 2 * opts.electionTimeoutMs;
    this.membership = new Membership(b.backend);
    this.membership.load();
    if (this.membership.clusterId === 0n) b.backend.write(() => this.membership.setClusterId(b.clusterId));
    this.store = new MvccStore(b.backend);
    if ((opts.compactionBatchLimit ?? 0) > 0) this.store.compactionBatchLimit = opts.compactionBatchLimit!;
    this.store.restore();
    this.confState = b.storage.initialState().confState;
    this.idGen = new RequestIdGenerator(b.memberId, Date.now());
    this.metrics = new Metrics(this.metricsSource());
    b.backend.onCommit = (ms) => this.metrics.backendCommitSeconds.observe(ms / 1000);
    b.backend.onCommitFailed = (err) => {
      this.opts.logger.error('failed to commit tx', { error: err.message });
      this.fatal(err);
    };
    const checkpointer = leaseCheckpointer(opts.leaseCheckpoint, (f, body, req) => this.proposeOutcome(f, body, req));
    this.lessor = new Lessor(b.backend, { minTtlSec: minLeaseTtlSec(opts), onExpired: (ids) => this.revokeExpired(ids), checkpointer });
    this.store.leases = this.lessor;
    this.lessor.restore(this.store.attachedLeases());
    this.alarms = new AlarmStore(b.backend);
    this.alarms.load();
    const a = opts.auth;
    this.auth = new AuthStore(b.backend, {
      bcryptCost: a?.bcryptCost,
      token: a?.token,
      tokenTtlSec: a?.tokenTtlSec,
      clientCertAuth: a?.clientCertAuth ?? false,
      logger: opts.logger,
    });
    this.watchable = new WatchableStore(this.store, b.backend);
    this.changeListeners.add((changes, rev) => this.watchable.notify(changes, rev));
    this.compactHashes = opts.compactHashCheck ? new CompactHashes() : undefined;
    this.store.onCompactionHash = this.compactHashes && ((h) => this.compactHashes!.add(h));
    this.applyCtx = {
      auth: this.auth,
      alarms: this.alarms,
      store: this.store,
      membership: this.membership,
      leases: { exists: (id) => this.lessor.exists(id) },
      lessor: this.lessor,
      onChanges: (changes, rev) => {
        for (const l of this.changeListeners) l(changes, rev);
      },
    };
    const snapDir = path.join(opts.dataDir, 'member', 'snap');
    this.transport = new PeerTransport({
      localId: b.memberId,
      clusterId: () => this.clusterId,
      tls: opts.peerTls,
      snapshotDir: snapDir,
      logger: opts.logger,
      onMessage: (from, m) => this.driver.receive(from, m),
      connTimeouts: opts.raftConnTimeouts,
      onSnapshot: (from, m, file) => this.driver.receiveSnapshot(from, m, file),
      onUnreachable: (to) => this.driver.unreachable(to),
      isKnownPeer: (id) => this.membership.get(id) !== undefined || this.transport.hasPeer(id),
      isRemovedPeer: (id) => this.membership.isRemoved(id),
      onRemovedFromCluster: () => this.removedFromCluster(),
    });
    this.driver = new RaftDriver({
      node: b.node,
      storage: b.storage,
      wal: b.wal,
      snapshotter: b.snapshotter,
      transport: this.transport,
      heartbeatIntervalMs: opts.heartbeatIntervalMs,
      snapshotIndex: b.snapshotIndex,
      maxWals: opts.maxWals,
      maxSnapshots: opts.maxSnapshots,
      logger: opts.logger,
      host: this,
      onFatal: (err) => this.fatal(err),
      onWalSync: (sec) => this.metrics.walFsyncSeconds.observe(sec),
      snapshotCatchUpEntries: opts.snapshotCatchUpEntries,
    });
    this.cluster = new ClusterOps(this, this.membership, this.driver, {
      token: opts.initialClusterToken,
      strictReconfigCheck: opts.strictReconfigCheck ?? true,
      requestTimeoutMs: this.requestTimeoutMs,
      maxLearners: opts.maxLearners ?? 1,
    });
    // proposals dropped while leadership moves are retried; the member publishes itself
    this.retryTimer = setInterval(() => {
      this.flushWaitingForLeader();
      this.publishAttributes();
    }, Math.max(100, opts.heartbeatIntervalMs));
    this.retryTimer.unref();
  }

  private begin(b: Booted): void {
    const peers = new Map<bigint, string[]>();
    for (const m of [...b.knownMembers, ...this.membership.list()]) if (m.id !== this.memberId) peers.set(m.id, m.peerURLs);
    for (const [id, urls] of peers) this.transport.addPeer(id, urls);
    // a member alone in its configuration need not wait an election timeout
    this.campaignWhenCaughtUp = true;
    this.maybeCampaign();
    this.driver.schedule();
    this.startCorruptionMonitor();
    this.stopCompactHashCheck = this.compactHashes && startCompactHashCheck(this.compactHashes, this.opts, this.memberId, {
      peerHashes: (rev) => this.peerHashes(rev),
      raiseCorrupt: (id) => this.raiseCorrupt(id),
      isLeader: () => this.isLeader,
      requestTimeoutMs: this.requestTimeoutMs,
    });
    this.opts.logger.info('member is running', { 'local-member-id': this.memberId.toString(16), 'applied-index': this.appliedIndex, revision: this.store.rev });
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.retryTimer);
    if (this.corruptCheckTimer) clearInterval(this.corruptCheckTimer);
    this.stopCompactHashCheck?.();
    this.compactor?.stop();
    this.lessor.stop();
    this.watchable.close();
    await this.driver.stop();
    this.transport.close();
    for (const [, w] of this.waiters) {
      clearTimeout(w.timer);
      w.resolve({ id: 0, error: Errors.stopped() });
    }
    this.waiters.clear();
    await this.wal.close();
    await this.backend.close();
  }

  private metricsSource(): MetricsSource {
    return {
      mvccOps: () => this.store.stats,
      hasLeader: () => this.driver.leader !== NONE,
      isLeader: () => this.isLeader,
      isLearner: () => this.isLearner,
      committedIndex: () => this.raftIndex,
      appliedIndex: () => this.appliedIndex,
      pendingProposals: () => this.waiters.size,
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
    return this.driver.node.status().term;
  }

  get raftIndex(): number {
    return this.driver.node.status().commit;
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
    return this.driver.isLeader;
  }

  get isLearner(): boolean {
    return this.membership.get(this.memberId)?.isLearner ?? false;
  }

  get leaderId(): bigint {
    return this.driver.leader;
  }

  get uptimeMs(): number {
    return monotonicMs() - this.startedAtMs;
  }

  get maxRequestBytes(): number {
    return this.opts.maxRequestBytes;
  }

  get maxTxnOps(): number {
    return this.opts.maxTxnOps;
  }

  get clusterToken(): string {
    return this.opts.initialClusterToken;
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
    return { cluster_id: this.clusterId, member_id: this.memberId, revision, raft_term: this.raftTerm };
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

  /**
   * A keep-alive: the TTL granted again, or 0 when the lease does not exist (etcd's
   * answer). Only the leader runs lease clocks; a follower forwards to it.
   */
  async leaseRenew(id: bigint): Promise<number> {
    if (this.stopped) throw Errors.stopped();
    if (this.isLeader) return this.renewLocally(id);
    const leader = await this.waitForLeader();
    if (leader === this.memberId) return this.renewLocally(id);
    try {
      return await forwardRenew(this.peerUrls(leader), id, this.opts.peerTls, this.requestTimeoutMs);
    } catch {
      throw Errors.timeout();
    }
  }

  /** The leader's side of a keep-alive (also what /leases on the peer port answers). */
  renewLocally(id: bigint): number {
    try {
      return this.lessor.renew(id);
    } catch (err) {
      if (err instanceof LeaseError) return 0;
      throw err;
    }
  }

  async leaseTimeToLive(id: bigint, withKeys: boolean): Promise<LeaseTimeToLiveResponse> {
    if (this.isLeader || !this.lessor.exists(id)) return this.timeToLiveLocally(id, withKeys);
    const leader = await this.waitForLeader();
    if (leader === this.memberId) return this.timeToLiveLocally(id, withKeys);
    try {
      const resp = await forwardTimeToLive(this.peerUrls(leader), LeaseTimeToLiveRequest.create({ ID: id, keys: withKeys }), this.opts.peerTls, this.requestTimeoutMs);
      resp.header = this.header(this.store.rev);
      return resp;
    } catch {
      throw Errors.timeout();
    }
  }

  timeToLiveLocally(id: bigint, withKeys: boolean): LeaseTimeToLiveResponse {
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

  // ---------------------------------------------------------------- membership

  /** Only the leader knows whether a learner caught up: a follower asks it over the peer port. */
  async promoteMember(id: bigint): Promise<Member[]> {
    if (this.isLeader) return this.cluster.promote(id);
    const m = this.membership.get(id);
    if (!m) throw Errors.memberNotFound();
    if (!m.isLearner) throw Errors.memberNotLearner();
    const leader = await this.waitForLeader();
    if (leader === this.memberId) return this.cluster.promote(id);
    try {
      await forwardPromote(this.peerUrls(leader), id, this.opts.peerTls, this.requestTimeoutMs);
    } catch (err) {
      if (err instanceof PromoteRefusedError) throw errorWithMessage(err.message);
      throw Errors.timeout();
    }
    // the promotion is committed; wait until it is applied here too
    await this.linearizableReadBarrier().catch(() => {});
    return this.membership.list();
  }

  // ---------------------------------------------------------------- reads

  /**
   * Resolves once this member has applied everything committed before the call: one
   * ReadIndex round, shared by all reads waiting at the time.
   */
  async linearizableReadBarrier(): Promise<void> {
    if (this.stopped) throw Errors.stopped();
    const index = await this.driver.readIndex(this.requestTimeoutMs);
    await this.waitApplied(index);
  }

  waitApplied(index: number): Promise<void> {
    if (this.appliedIndex >= index) return Promise.resolve();
    return new Promise((resolve) => this.appliedWaiters.push({ index, resolve }));
  }

  /** Resolves with the leader once there is one (or rejects after the request timeout). */
  private waitForLeader(): Promise<bigint> {
    if (this.driver.leader !== NONE) return Promise.resolve(this.driver.leader);
    const deadline = monotonicMs() + this.requestTimeoutMs;
    return new Promise((resolve, reject) => {
      const check = setInterval(() => {
        if (this.driver.leader !== NONE) {
          clearInterval(check);
          resolve(this.driver.leader);
        } else if (monotonicMs() > deadline || this.stopped) {
          clearInterval(check);
          reject(Errors.timeout());
        }
      }, 20);
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

  /**
   * etcd's Hash of the whole backend, computed over the etcd (3.5) view of the buckets,
   * so it is the hash an etcd 3.5 member with the same records would give (see
   * snapshot/etcd-hash.ts for what must match).
   */
  hash(): HashResponse {
    const hash = etcdBackendHash((bucket) => bucketRecords(this.backend, bucket), this.etcdExportContext());
    return { header: this.header(this.store.rev), hash };
  }

  /**
   * What etcd 3.5 keeps in its backend and tsetcd keeps elsewhere, for the etcd view of
   * the buckets (Hash, snapshots in etcd's format). etcd's meta/term is the term of the
   * entry at the consistent index; the current term is given, which equals it once the
   * leader's first entry of its term is applied.
   */
  etcdExportContext(): EtcdExportContext {
    const members = this.membership.list();
    return {
      clusterVersion: CLUSTER_VERSION,
      term: BigInt(this.raftTerm),
      confState: { voters: members.filter((m) => !m.isLearner).map((m) => m.id), learners: members.filter((m) => m.isLearner).map((m) => m.id) },
    };
  }

  hashKV(revision: number): HashKVResponse {
    // a compaction's own revision is answered from the hash recorded before it (etcd's HashStorage)
    const stored = this.compactHashes?.byRev(revision);
    if (stored) return { header: this.header(this.store.rev), hash: stored.hash, compact_revision: stored.compactRevision, hash_revision: stored.revision };
    const h = this.store.hashKV(revision);
    return { header: this.header(h.currentRev), hash: h.hash, compact_revision: h.compactRev, hash_revision: h.hashRev };
  }

  /** --experimental-bootstrap-defrag-threshold-megabytes: defragment before serving when that much would be freed. */
  private async maybeDefragAtStart(): Promise<void> {
    const thresholdMb = this.opts.bootstrapDefragThresholdMb ?? 0;
    if (thresholdMb <= 0) return;
    const size = this.backend.sizeBytes();
    const inUse = this.backend.sizeInUseBytes();
    const thresholdBytes = thresholdMb * 1024 * 1024;
    const fields = { 'current-db-size-bytes': size, 'current-db-size-in-use-bytes': inUse, 'experimental-bootstrap-defrag-threshold-bytes': thresholdBytes };
    if (size - inUse < thresholdBytes) {
      this.opts.logger.info('Skipping defragmentation', fields);
      return;
    }
    await this.defragment();
  }

  // ---------------------------------------------------------------- corruption checks

  private hashAt(revision: number): HashAt {
    const h = this.hashKV(revision);
    return { revision: h.header!.revision, hash: h.hash, compactRevision: h.compact_revision };
  }

  /** The other members' hashes at `revision`, over the peer port. */
  private peerHashes(revision: number, known: readonly Member[] = []): Promise<PeerHash[]> {
    const byId = new Map<bigint, PeerRef>();
    for (const m of [...known, ...this.membership.list()]) if (m.id !== this.memberId) byId.set(m.id, { id: m.id, peerUrls: m.peerURLs });
    const ask = (url: string, rev: number) => requestPeerHash(url, rev, this.opts.peerTls, this.requestTimeoutMs);
    return fetchPeerHashes([...byId.values()], revision, ask, this.opts.logger, this.memberId.toString(16));
  }

  /** etcd's CheckInitialHashKV: throws when a peer has other data at the same revision. */
  private async checkInitialHashKV(known: readonly Member[]): Promise<void> {
    const idHex = this.memberId.toString(16);
    this.opts.logger.info('starting initial corruption check', { 'local-member-id': idHex, timeout: `${this.requestTimeoutMs / 1000}s` });
    const local = this.hashAt(0);
    const problem = initialVerdict(local, await this.peerHashes(local.revision, known), this.opts.logger, idHex);
    if (problem !== undefined) throw new Error(problem);
  }

  private startCorruptionMonitor(): void {
    const intervalMs = this.opts.corruptCheckTimeMs ?? 0;
    if (intervalMs <= 0) return;
    this.opts.logger.info('enabled corruption checking', { 'local-member-id': this.memberId.toString(16), interval: `${intervalMs / 1000}s` });
    this.corruptCheckTimer = setInterval(() => {
      if (!this.isLeader || this.corruptCheckRunning) return;
      this.corruptCheckRunning = true;
      this.checkHashKV()
        .catch((err) => this.opts.logger.warn('failed to check hash KV', { error: (err as Error).message }))
        .finally(() => (this.corruptCheckRunning = false));
    }, intervalMs);
    this.corruptCheckTimer.unref();
  }

  /** etcd's checkHashKV (the leader's periodic check); raises CORRUPT on any mismatch. */
  async checkHashKV(): Promise<boolean> {
    const before = this.hashAt(0);
    const peers = await this.peerHashes(before.revision);
    await this.linearizableReadBarrier();
    const after = this.hashAt(0);
    const verdict = periodicVerdict(before, after, peers, this.opts.logger);
    // member 0: which member is wrong is not known, as etcd says
    if (verdict.corrupt && !this.alarms.has(AlarmType.CORRUPT)) await this.raiseCorrupt(0n);
    return verdict.corrupt;
  }

  private async raiseCorrupt(memberId: bigint): Promise<void> {
    const req = AlarmRequest.create({ action: AlarmRequest_AlarmAction.ACTIVATE, memberID: memberId, alarm: AlarmType.CORRUPT });
    await this.proposeOutcome(RaftRequestField.alarm, AlarmRequest.encode(req), req);
  }

  /** Rewrites the backend without free pages; commits wait while the copy is made. */
  async defragment(): Promise<void> {
    if (this.defragging) return this.defragging;
    this.defragging = (async () => {
      const before = this.backend.sizeBytes();
      for (const l of this.defragListeners) l(true);
      try {
        await this.backend.defragment();
        this.opts.logger.info('finished defragmenting the backend', { 'db-size-before': before, 'db-size-after': this.backend.sizeBytes() });
      } finally {
        this.defragging = undefined;
        for (const l of this.defragListeners) l(false);
      }
    })();
    return this.defragging;
  }

  /**
   * A frozen view of the backend for the Snapshot RPC, with the revision and etcd context it
   * was taken at (read in the same turn, so they describe exactly the view's data).
   */
  snapshotView(): { view: BackendView; revision: number; ctx: EtcdExportContext } {
    const view = this.backend.readView();
    return { view, revision: this.store.rev, ctx: this.etcdExportContext() };
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
    if (this.waiters.size >= MAX_PENDING_PROPOSALS) {
      this.metrics.proposalsFailed.inc();
      return Promise.reject(Errors.tooManyRequests());
    }
    const id = this.idGen.next();
    const data = encodeRaftRequest({ id, username: caller?.username ?? '', authRevision: caller?.revision ?? 0 }, field, body);
    if (data.length > this.opts.maxRequestBytes) return Promise.reject(Errors.requestTooLarge());
    return this.waitFor(id, decoded, () => this.submit(id, data));
  }

  /** Registers a waiter for request `id`, then proposes; the waiter times out like etcd's. */
  waitFor(id: number, decoded: unknown, propose: () => void): Promise<ApplyOutcome> {
    return new Promise<ApplyOutcome>((resolve) => {
      const timer = setTimeout(() => {
        const w = this.waiters.get(id);
        if (!w) return;
        this.waiters.delete(id);
        this.metrics.proposalsFailed.inc();
        if (!w.proposed) {
          // never reached raft: withdraw it, so "no leader" really means not written
          this.waitingForLeader = this.waitingForLeader.filter((q) => q.id !== id);
          resolve({ id, error: Errors.noLeader() });
        } else {
          // raft has it and may still commit it: the outcome is unknown, as etcd says
          resolve({ id, error: Errors.timeout() });
        }
      }, this.requestTimeoutMs);
      timer.unref();
      this.waiters.set(id, { resolve, decoded, timer, proposed: false });
      propose();
    });
  }

  isPending(id: number): boolean {
    return this.waiters.has(id);
  }

  markProposed(id: number): void {
    const w = this.waiters.get(id);
    if (w) w.proposed = true;
  }

  nextRequestId(): number {
    return this.idGen.next();
  }

  private submit(id: number, data: Uint8Array): void {
    if (this.driver.leader !== NONE) {
      try {
        this.driver.propose(data);
        this.markProposed(id);
        return;
      } catch (err) {
        if (!(err instanceof ProposalDroppedError)) throw err;
      }
    }
    this.waitingForLeader.push({ id, data });
  }

  private maybeCampaign(): void {
    if (!this.campaignWhenCaughtUp || this.stopped) return;
    const st = this.driver.node.status();
    // raft refuses to campaign while configuration changes it committed are unapplied
    // (it counts them applied once the Ready that carried them is advanced)
    if (st.applied < st.commit) {
      setImmediate(() => this.maybeCampaign());
      return;
    }
    this.campaignWhenCaughtUp = false;
    const voters = st.config.voters;
    if (st.lead === NONE && voters.length === 1 && voters[0] === this.memberId) this.driver.campaign();
    else if (st.lead === NONE && voters.includes(this.memberId) && (this.opts.initialElectionTickAdvance ?? true)) this.advanceInitialElection();
  }

  /**
   * --initial-election-tick-advance, as etcd does it: once streams to more than one peer
   * are up (waiting up to 5 s), let all but two ticks of the first election timeout pass,
   * so a starting cluster elects in a few heartbeats instead of a whole timeout. A member
   * that hears from a leader meanwhile, or finds no peers, keeps its full timeout.
   */
  private advanceInitialElection(): void {
    const electionTicks = Math.max(2, Math.round(this.opts.electionTimeoutMs / this.opts.heartbeatIntervalMs));
    const deadline = monotonicMs() + 5000;
    const poll = (): void => {
      if (this.stopped || this.driver.leader !== NONE || monotonicMs() > deadline) return;
      if (this.transport.activePeerCount() > 1) {
        this.opts.logger.info('initialized peer connections; fast-forwarding election ticks', {
          'local-member-id': this.memberId.toString(16),
          'forward-ticks': electionTicks - 2,
          'active-remote-members': this.transport.activePeerCount(),
        });
        this.driver.advanceTicks(electionTicks - 2);
        return;
      }
      setTimeout(poll, 50).unref();
    };
    setTimeout(poll, 50).unref();
  }

  private flushWaitingForLeader(): void {
    if (this.waitingForLeader.length === 0 || this.driver.leader === NONE) return;
    const queued = this.waitingForLeader;
    this.waitingForLeader = [];
    // a request that already gave up (and answered "no leader") is not proposed
    for (const q of queued) if (this.waiters.has(q.id)) this.submit(q.id, q.data);
  }

  /** A member publishes its name and client URLs through the log once it sees a leader. */
  private publishAttributes(): void {
    if (this.published || this.publishing || this.stopped || this.driver.leader === NONE) return;
    this.publishing = true;
    const attrs = encodeMemberAttributes({ memberId: this.memberId, name: this.opts.name, clientURLs: this.opts.advertiseClientUrls });
    this.proposeOutcome(RaftRequestField.clusterMemberAttrSet, attrs, undefined).then(
      (o) => {
        this.publishing = false;
        if (!o.error) {
          this.published = true;
          this.markPublished();
          this.opts.logger.info('published local member to cluster through raft', { 'local-member-id': this.memberId.toString(16), name: this.opts.name });
        }
      },
      () => (this.publishing = false),
    );
  }

  // ---------------------------------------------------------------- RaftHost: apply

  /** Applies committed entries in one backend write group and wakes their proposers. */
  applyEntries(entries: Entry[]): void {
    const outcomes: ApplyOutcome[] = [];
    let last = this.appliedIndex;
    this.backend.write(() => {
      for (const e of entries) {
        if (e.index <= this.appliedIndex) {
          // the backend had it already (restart, snapshot); raft still needs its configuration
          if (e.type === EntryType.ConfChange) this.replayConfChange(e);
          continue;
        }
        if (e.type === EntryType.ConfChange) outcomes.push(this.applyConfChangeEntry(e));
        else {
          const waiter = this.waiters.get(decodeIdFast(e));
          const startMs = performance.now();
          outcomes.push(applyEntry(e, this.applyCtx, waiter?.decoded));
          this.warnSlowApply(e, performance.now() - startMs);
        }
        last = e.index;
      }
      if (last > this.appliedIndex) writeConsistentIndex(this.backend, last);
    });
    this.appliedIndex = last;
    for (const o of outcomes) {
      if (o.id === 0) continue;
      const w = this.waiters.get(o.id);
      if (!w) continue;
      this.waiters.delete(o.id);
      clearTimeout(w.timer);
      w.resolve(o);
    }
    this.maybeCampaign();
    if (this.appliedWaiters.length > 0) {
      const ready = this.appliedWaiters.filter((w) => w.index <= this.appliedIndex);
      this.appliedWaiters = this.appliedWaiters.filter((w) => w.index > this.appliedIndex);
      for (const w of ready) w.resolve();
    }
  }

  /** etcd's warning for an entry whose apply took longer than --experimental-warning-apply-duration. */
  private warnSlowApply(e: Entry, tookMs: number): void {
    const expectedMs = this.opts.warningApplyDurationMs ?? 100;
    if (tookMs <= expectedMs) return;
    this.opts.logger.warn('apply request took too long', { took: `${tookMs.toFixed(3)}ms`, 'expected-duration': `${expectedMs}ms`, index: e.index });
  }

  /** A configuration change the backend already reflects: only raft and the transport learn it. */
  /** This member is no longer in the cluster (it applied its removal, or a peer said so). */
  private removedFromCluster(): void {
    if (this.removedNotified) return;
    this.removedNotified = true;
    this.opts.logger.warn('the member has been permanently removed from the cluster', { 'local-member-id': this.memberId.toString(16) });
    setTimeout(() => this.opts.onRemoved?.(), 500).unref();
  }

  private replayConfChange(e: Entry): void {
    const cc = decodeConfChange(e.data);
    this.confState = this.driver.applyConfChange(cc);
    if (cc.nodeId === this.memberId) return;
    if (cc.type === ConfChangeType.RemoveNode) this.transport.removePeer(cc.nodeId);
    else {
      const m = this.membership.get(cc.nodeId);
      if (m) this.transport.addPeer(m.id, m.peerURLs);
    }
  }

  private applyConfChangeEntry(e: Entry): ApplyOutcome {
    const cc = decodeConfChange(e.data);
    const ctx = cc.context.length > 0 ? decodeMemberContext(cc.context) : undefined;
    const existing = this.membership.get(cc.nodeId);
    switch (cc.type) {
      case ConfChangeType.AddNode:
        if (existing?.isLearner) this.membership.promote(cc.nodeId);
        else if (!existing && ctx) this.membership.add({ ...ctx.member, id: cc.nodeId, isLearner: false });
        break;
      case ConfChangeType.AddLearnerNode:
        if (!existing && ctx) this.membership.add({ ...ctx.member, id: cc.nodeId, isLearner: true });
        break;
      case ConfChangeType.RemoveNode:
        if (existing) this.membership.remove(cc.nodeId);
        break;
      case ConfChangeType.UpdateNode:
        if (existing && ctx) this.membership.updatePeerURLs(cc.nodeId, ctx.member.peerURLs);
        break;
    }
    this.confState = this.driver.applyConfChange(cc);
    if (cc.nodeId !== this.memberId) {
      if (cc.type === ConfChangeType.RemoveNode) this.transport.removePeer(cc.nodeId);
      else {
        const m = this.membership.get(cc.nodeId);
        if (m) this.transport.addPeer(m.id, m.peerURLs);
      }
    } else if (cc.type === ConfChangeType.RemoveNode) {
      this.removedFromCluster();
    }
    return { id: ctx?.requestId ?? 0, response: { members: this.membership.list() } };
  }

  // ---------------------------------------------------------------- RaftHost: the rest

  lastApplied(): number {
    return this.appliedIndex;
  }

  onSoftState(lead: bigint, isLeader: boolean): void {
    if (lead !== NONE && this.lastLeader === NONE) {
      // etcd logs this once the cluster version is known; ours is fixed, and known as soon
      // as the member is part of a working cluster (log-based tooling waits for the line)
      this.opts.logger.info('enabled capabilities for version', { 'cluster-version': CLUSTER_VERSION.split('.').slice(0, 2).join('.') });
    }
    if (lead !== NONE && lead !== this.lastLeader) this.metrics.leaderChanges.inc();
    if (lead !== NONE) this.lastLeader = lead;
    if (isLeader && !this.wasLeader) {
      // leases restart their clocks with a full TTL, plus an election's worth of slack
      this.lessor.promote(this.opts.electionTimeoutMs);
      this.startAutoCompaction();
    } else if (!isLeader && this.wasLeader) {
      this.lessor.demote();
      this.compactor?.stop();
      this.compactor = undefined;
    }
    this.wasLeader = isLeader;
    this.flushWaitingForLeader();
    this.publishAttributes();
  }

  /** A snapshot from the leader: its database replaces ours, and everything is reloaded from it. */
  async installSnapshot(snap: Snapshot, file: string): Promise<void> {
    const previousRev = this.store.rev;
    await this.backend.replaceWith(file);
    this.membership.load();
    this.store.reset();
    this.store.restore();
    this.lessor.reset();
    this.lessor.restore(this.store.attachedLeases());
    if (this.isLeader) this.lessor.promote(this.opts.electionTimeoutMs);
    this.alarms.load();
    this.auth.load();
    this.watchable.restored(previousRev);
    this.appliedIndex = Math.max(snap.metadata.index, readConsistentIndex(this.backend));
    this.confState = snap.metadata.confState;
    for (const m of this.membership.list()) if (m.id !== this.memberId) this.transport.addPeer(m.id, m.peerURLs);
    this.opts.logger.info('applied a snapshot from the leader', { 'snapshot-index': snap.metadata.index, revision: this.store.rev });
  }

  async snapshotFileForPeer(): Promise<string> {
    // next to the backend (same disk, cleaned with the data dir), not in the shared /tmp
    const dir = fs.mkdtempSync(path.join(this.opts.dataDir, 'member', 'snap', 'outgoing-'));
    const file = path.join(dir, 'db');
    await this.backend.copyTo(file);
    return file;
  }

  releaseSnapshotFile(file: string): void {
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  }

  peerUrls(id: bigint): string[] {
    return this.membership.get(id)?.peerURLs ?? [];
  }

  snapshotCount(): number {
    return this.opts.snapshotCount;
  }

  forceCommit(): Promise<void> {
    return this.backend.forceCommit();
  }

  currentConfState(): ConfState {
    return this.confState;
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
