// One tsetcd member: the composition root. It builds the member's parts (backend, MVCC,
// leases, auth, alarms, members, watchers, raft driver, peer transport), runs them, and
// answers the API's requests through the narrow ports of ports.ts. The work itself lives
// in one module per concept, as etcd's server is split:
//   request API        here (KV) and lease-ops.ts, maintenance.ts, cluster-ops.ts
//   proposals, waits   proposals.ts (typed by proposal-types.ts), raft-driver.ts
//   apply              applier.ts (the loop), apply.ts and kv-apply.ts (the requests)
//   membership         membership.ts, membership-apply.ts, cluster-ops.ts
//   start-up           bootstrap.ts (data dir, WAL, raft), startup.ts (campaign, publish)
//   snapshots          snapshots.ts; corruption checks: corruption-monitor.ts
// Requests become proposals; raft orders and commits them (the driver persists and
// replicates); committed entries are applied in log order and the waiting requests answered.
import type { Socket } from 'node:net';
import type { Backend } from '../backend/backend.js';
import { MvccStore, type Change } from '../mvcc/store.js';
import { WatchableStore } from '../watch/watchable-store.js';
import { Metrics } from '../pkg/metrics.js';
import { memberMetricsSource } from './member-metrics.js';
import { NONE, type ConfState, type Snapshot } from '../raft/index.js';
import type { Entry } from '../raft/types.js';
import type { Wal } from '../wal/index.js';
import { AlarmType, CompactionRequest } from '../proto/etcdserverpb.js';
import type * as pb from '../proto/etcdserverpb.js';
import type { BackendView } from '../backend/backend.js';
import type { EtcdExportContext } from '../snapshot/etcd-schema.js';
import type { ApplyContext } from './apply.js';
import { Errors } from './errors.js';
import { AlarmStore } from './alarms.js';
import { AUTH_CODECS, AuthStore, isAuthField, type AuthFieldNumber, type AuthInfo, type AuthRequests } from '../auth/index.js';
import type { MessageCodec } from '../proto/runtime.js';
import { AutoCompaction, compactorClock } from './compactor.js';
import { KvOps } from './kv-ops.js';
import { RequestIdGenerator } from './ids.js';
import { Lessor, lessorClock } from '../lease/lessor.js';
import { Membership, type Member } from './membership.js';
import { RaftDriver, type RaftHost } from './raft-driver.js';
import { boot, type Booted } from './bootstrap.js';
import { PeerTransport } from '../peer/transport.js';
import { ClusterOps } from './cluster-ops.js';
import { systemClock, type Clock } from '../pkg/clock.js';
import { CLUSTER_VERSION, minLeaseTtlSec, type ServerOptions } from './options.js';
import type { ServerParts } from './parts.js';
import type { ClientPorts, PeerPort } from './ports.js';
import { Proposals } from './proposals.js';
import { LeaseOps } from './lease-ops.js';
import { Maintenance } from './maintenance.js';
import { CorruptionMonitor } from './corruption-monitor.js';
import { Applier } from './applier.js';
import { ConfChangeApplier } from './membership-apply.js';
import { installSnapshot, releaseSnapshotFile, snapshotFileForPeer } from './snapshots.js';
import { Campaigner, Publisher } from './startup.js';
import { leaseCheckpointer } from './lease-checkpoint.js';
import { CompactHashes, startCompactHashCheck } from './compact-hash-check.js';
import { RaftRequestField } from './raft-request.js';

export { CLUSTER_VERSION, minLeaseTtlSec, SERVER_VERSION, type AutoCompactionOptions, type ServerOptions } from './options.js';

/** etcd's request timeout: this plus two election timeouts */
const REQUEST_TIMEOUT_BASE_MS = 5000;

export class EtcdServer implements RaftHost, ServerParts, ClientPorts, PeerPort {
  readonly memberId: bigint;
  readonly clock: Clock;
  readonly membership: Membership;
  readonly store: MvccStore;
  readonly lessor: Lessor;
  readonly metrics: Metrics;
  readonly alarms: AlarmStore;
  readonly auth: AuthStore;
  /** the watchers of the store (etcdserverpb.Watch), fed every applied write */
  readonly watchable: WatchableStore;
  readonly transport: PeerTransport;
  readonly driver: RaftDriver;
  readonly proposals: Proposals;
  readonly backend: Backend;
  /** etcd's request timeout: 5 s plus two election timeouts */
  readonly requestTimeoutMs: number;
  private readonly cluster: ClusterOps;
  private readonly kv: KvOps;
  private readonly autoCompaction: AutoCompaction;
  private readonly leases: LeaseOps;
  private readonly maintenance: Maintenance;
  private readonly corruption: CorruptionMonitor;
  private readonly applier: Applier;
  private readonly confChanges: ConfChangeApplier;
  private readonly campaigner: Campaigner;
  private readonly publisher: Publisher;
  private readonly wal: Wal;
  private readonly applyCtx: ApplyContext;
  /** a Set: listeners may unsubscribe while being called, without skipping the others */
  private readonly changeListeners = new Set<(changes: Change[], rev: number) => void>();
  private stopped = false;
  private wasLeader = false;
  private lastLeader: bigint = NONE;
  private readonly startedAtMs: number;
  private readonly compactHashes: CompactHashes | undefined;
  private stopCompactHashCheck: (() => void) | undefined;

  static async start(opts: ServerOptions): Promise<EtcdServer> {
    const booted = await boot(opts);
    const server = new EtcdServer(opts, booted);
    await server.maintenance.defragAtStart();
    // like etcd, only a member that has data already is checked (a new one has nothing to compare)
    if (opts.initialCorruptCheck && booted.kind === 'restart') {
      try {
        await server.corruption.checkInitial(booted.knownMembers);
      } catch (err) {
        await server.stop();
        throw err;
      }
    }
    server.begin(booted);
    return server;
  }

  private constructor(
    readonly opts: ServerOptions,
    b: Booted,
  ) {
    this.memberId = b.memberId;
    this.clock = opts.clock ?? systemClock;
    this.startedAtMs = this.clock.nowMs();
    this.backend = b.backend;
    this.wal = b.wal;
    this.requestTimeoutMs = REQUEST_TIMEOUT_BASE_MS + 2 * opts.electionTimeoutMs;
    this.membership = new Membership(b.backend);
    this.membership.load();
    if (this.membership.clusterId === 0n) b.backend.write(() => this.membership.setClusterId(b.clusterId));
    this.store = new MvccStore(b.backend);
    if ((opts.compactionBatchLimit ?? 0) > 0) this.store.compactionBatchLimit = opts.compactionBatchLimit!;
    this.store.restore();
    this.metrics = new Metrics(memberMetricsSource(this, () => this.applier.appliedIndex));
    b.backend.onCommit = (ms) => this.metrics.backendCommitSeconds.observe(ms / 1000);
    b.backend.onCommitFailed = (err) => {
      this.opts.logger.error('failed to commit tx', { error: err.message });
      this.fatal(err);
    };
    const checkpointer = leaseCheckpointer(opts.leaseCheckpoint, (req, body) => this.proposals.propose(RaftRequestField.leaseCheckpoint, req, body));
    this.lessor = new Lessor(b.backend, { minTtlSec: minLeaseTtlSec(opts), clock: lessorClock(this.clock), onExpired: (ids) => this.leases.revokeExpired(ids), checkpointer });
    this.store.leases = this.lessor;
    this.lessor.restore(this.store.attachedLeases());
    this.alarms = new AlarmStore(b.backend);
    this.alarms.load();
    const a = opts.auth;
    const clock = () => this.clock.wallMs();
    this.auth = new AuthStore(b.backend, { bcryptCost: a?.bcryptCost, token: a?.token, tokenTtlSec: a?.tokenTtlSec, clientCertAuth: a?.clientCertAuth ?? false, logger: opts.logger, clock });
    this.watchable = new WatchableStore(this.store, b.backend, {}, this.clock);
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
    this.transport = this.newTransport(b);
    this.driver = new RaftDriver({
      node: b.node,
      storage: b.storage,
      wal: b.wal,
      snapshotter: b.snapshotter,
      transport: this.transport,
      heartbeatIntervalMs: opts.heartbeatIntervalMs,
      clock: this.clock,
      snapshotIndex: b.snapshotIndex,
      maxWals: opts.maxWals,
      maxSnapshots: opts.maxSnapshots,
      logger: opts.logger,
      host: this,
      onFatal: (err) => this.fatal(err),
      onWalSync: (sec) => this.metrics.walFsyncSeconds.observe(sec),
      snapshotCatchUpEntries: opts.snapshotCatchUpEntries,
    });
    this.proposals = new Proposals({
      driver: this.driver,
      clock: this.clock,
      ids: new RequestIdGenerator(b.memberId, this.clock.wallMs()),
      maxRequestBytes: opts.maxRequestBytes,
      requestTimeoutMs: this.requestTimeoutMs,
      onFailed: () => this.metrics.proposalsFailed.inc(),
    });
    this.cluster = new ClusterOps(this, this.membership, this.driver, {
      token: opts.initialClusterToken,
      strictReconfigCheck: opts.strictReconfigCheck ?? true,
      requestTimeoutMs: this.requestTimeoutMs,
      maxLearners: opts.maxLearners ?? 1,
      peerTls: opts.peerTls,
    });
    this.leases = new LeaseOps(this);
    this.maintenance = new Maintenance(this, this.compactHashes);
    this.kv = new KvOps(this, this.applyCtx.leases, this.maintenance);
    this.autoCompaction = new AutoCompaction(opts.autoCompaction, { revision: () => this.store.rev, compact: (rev) => this.autoCompact(rev) }, compactorClock(this.clock));
    this.corruption = new CorruptionMonitor(this, this.maintenance);
    this.confChanges = new ConfChangeApplier(this);
    this.campaigner = new Campaigner(this);
    this.publisher = new Publisher(this);
    const start = { appliedIndex: b.appliedIndex, confState: b.storage.initialState().confState };
    this.applier = new Applier(this, this.applyCtx, this.confChanges, start, () => this.campaigner.maybeCampaign());
  }

  private newTransport(b: Booted): PeerTransport {
    return new PeerTransport({
      localId: b.memberId,
      clusterId: () => this.clusterId,
      tls: this.opts.peerTls,
      clock: this.clock,
      snapshotDir: `${this.opts.dataDir}/member/snap`,
      logger: this.opts.logger,
      onMessage: (from, m) => this.driver.receive(from, m),
      connTimeouts: this.opts.raftConnTimeouts,
      onSnapshot: (from, m, file) => this.driver.receiveSnapshot(from, m, file),
      onUnreachable: (to) => this.driver.unreachable(to),
      isKnownPeer: (id) => this.membership.get(id) !== undefined || this.transport.hasPeer(id),
      isRemovedPeer: (id) => this.membership.isRemoved(id),
      onRemovedFromCluster: () => this.confChanges.removedFromCluster(),
    });
  }

  private begin(b: Booted): void {
    const peers = new Map<bigint, string[]>();
    for (const m of [...b.knownMembers, ...this.membership.list()]) if (m.id !== this.memberId) peers.set(m.id, m.peerURLs);
    for (const [id, urls] of peers) this.transport.addPeer(id, urls);
    // a member alone in its configuration need not wait an election timeout
    this.campaigner.start();
    this.driver.schedule();
    this.corruption.start();
    this.stopCompactHashCheck = this.compactHashes && startCompactHashCheck(this.compactHashes, this.opts, this.memberId, {
      peerHashes: (rev) => this.corruption.peerHashes(rev),
      raiseCorrupt: (id) => this.maintenance.raiseAlarm(id, AlarmType.CORRUPT),
      isLeader: () => this.isLeader,
      requestTimeoutMs: this.requestTimeoutMs,
      clock: this.clock,
    });
    this.opts.logger.info('member is running', { 'local-member-id': this.memberId.toString(16), 'applied-index': this.applier.appliedIndex, revision: this.store.rev });
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.campaigner.stop();
    this.publisher.stop();
    this.corruption.stop();
    this.stopCompactHashCheck?.();
    this.autoCompaction.stop();
    this.lessor.stop();
    this.watchable.close();
    await this.driver.stop();
    this.transport.close();
    this.proposals.stop();
    await this.wal.close();
    await this.backend.close();
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
    return this.applier.appliedIndex;
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
    return this.clock.nowMs() - this.startedAtMs;
  }

  get maxRequestBytes(): number {
    return this.opts.maxRequestBytes;
  }

  get maxTxnOps(): number {
    return this.opts.maxTxnOps;
  }

  /** resolves once this member has published itself through raft: etcd's "ready" */
  get whenPublished(): Promise<void> {
    return this.publisher.whenPublished;
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

  header(revision: number): pb.ResponseHeader {
    return { cluster_id: this.clusterId, member_id: this.memberId, revision, raft_term: this.raftTerm };
  }

  /** Calls `listener` with every applied write's changes; returns the unsubscribe function. */
  subscribeChanges(listener: (changes: Change[], rev: number) => void): () => void {
    this.changeListeners.add(listener);
    return () => void this.changeListeners.delete(listener);
  }

  // ---------------------------------------------------------------- KV

  range(r: pb.RangeRequest, caller?: AuthInfo): Promise<pb.RangeResponse> {
    return this.kv.range(r, caller);
  }

  put(r: pb.PutRequest, raw: Uint8Array, caller?: AuthInfo): Promise<pb.PutResponse> {
    return this.kv.put(r, raw, caller);
  }

  deleteRange(r: pb.DeleteRangeRequest, raw: Uint8Array, caller?: AuthInfo): Promise<pb.DeleteRangeResponse> {
    return this.kv.deleteRange(r, raw, caller);
  }

  txn(r: pb.TxnRequest, raw: Uint8Array, caller?: AuthInfo): Promise<pb.TxnResponse> {
    return this.kv.txn(r, raw, caller);
  }

  compact(r: pb.CompactionRequest, raw: Uint8Array, caller?: AuthInfo): Promise<pb.CompactionResponse> {
    return this.kv.compact(r, raw, caller);
  }

  /**
   * Resolves once this member has applied everything committed before the call: one
   * ReadIndex round, shared by all reads waiting at the time.
   */
  async linearizableReadBarrier(): Promise<void> {
    if (this.stopped) throw Errors.stopped();
    const index = await this.driver.readIndex(this.requestTimeoutMs);
    await this.applier.waitApplied(index);
  }

  // ---------------------------------------------------------------- auth

  get authEnabled(): boolean {
    return this.auth.enabled;
  }

  get authRevision(): number {
    return this.auth.revision;
  }

  authInfo(token: string | undefined, certCommonName?: string): AuthInfo | undefined {
    return this.auth.authInfo(token, certCommonName);
  }

  checkAdmin(caller: AuthInfo | undefined): void {
    this.auth.checkAdmin(caller);
  }

  checkWatch(caller: AuthInfo | undefined, key: Uint8Array, rangeEnd: Uint8Array): void {
    this.auth.checkWatch(caller, key, rangeEnd);
  }

  checkAuthAccess(field: AuthFieldNumber, request: unknown, caller: AuthInfo | undefined): void {
    this.auth.checkAccess(field, request, caller);
  }

  prepareAuth(field: AuthFieldNumber, request: unknown): Promise<unknown> {
    return this.auth.prepare(field, request);
  }

  /** Proposes a prepared auth request (AuthStore.prepare) through the log. */
  async proposeAuth(field: number, request: unknown, caller: AuthInfo | undefined): Promise<unknown> {
    if (!isAuthField(field)) throw new Error(`not an auth request field: ${field}`);
    // the auth service's table is heterogeneous: the request is the one prepare made for `field`
    const typed = request as AuthRequests[typeof field];
    const codec = AUTH_CODECS[field].request as MessageCodec<AuthRequests[typeof field]>;
    const resp = await this.proposals.proposeAndWait(field, typed, codec.encode(typed), caller);
    resp.header = this.header(this.store.rev);
    return resp;
  }

  // ---------------------------------------------------------------- leases

  leaseGrant(r: pb.LeaseGrantRequest, raw: Uint8Array, caller?: AuthInfo): Promise<pb.LeaseGrantResponse> {
    return this.leases.grant(r, raw, caller);
  }

  leaseRevoke(r: pb.LeaseRevokeRequest, raw: Uint8Array, caller?: AuthInfo): Promise<pb.LeaseRevokeResponse> {
    return this.leases.revoke(r, raw, caller);
  }

  async leaseRenew(id: bigint): Promise<number> {
    if (this.stopped) throw Errors.stopped();
    return this.leases.renew(id);
  }

  renewLocally(id: bigint): number {
    return this.leases.renewLocally(id);
  }

  leaseTimeToLive(id: bigint, withKeys: boolean): Promise<pb.LeaseTimeToLiveResponse> {
    return this.leases.timeToLive(id, withKeys);
  }

  timeToLiveLocally(id: bigint, withKeys: boolean): pb.LeaseTimeToLiveResponse {
    return this.leases.timeToLiveLocally(id, withKeys);
  }

  leaseLeases(): pb.LeaseLeasesResponse {
    return this.leases.leases();
  }

  // ---------------------------------------------------------------- membership

  addMember(peerURLs: string[], isLearner: boolean): Promise<{ member: Member; members: Member[] }> {
    return this.cluster.add(peerURLs, isLearner);
  }

  removeMember(id: bigint): Promise<Member[]> {
    return this.cluster.remove(id);
  }

  updateMember(id: bigint, peerURLs: string[]): Promise<Member[]> {
    return this.cluster.update(id, peerURLs);
  }

  moveLeader(target: bigint): Promise<void> {
    return this.cluster.moveLeader(target);
  }

  /** Only the leader knows whether a learner caught up: a follower asks it over the peer port. */
  promoteMember(id: bigint): Promise<Member[]> {
    return this.cluster.promoteAnywhere(id);
  }

  acceptPeerStream(socket: Socket, head: Buffer): void {
    this.transport.accept(socket, head);
  }

  // ---------------------------------------------------------------- maintenance

  alarmList(): pb.AlarmMember[] {
    return this.alarms.get(0);
  }

  alarm(r: pb.AlarmRequest, raw: Uint8Array): Promise<pb.AlarmResponse> {
    return this.maintenance.alarm(r, raw);
  }

  hash(): pb.HashResponse {
    return this.maintenance.hash();
  }

  hashKV(revision: number): pb.HashKVResponse {
    return this.maintenance.hashKV(revision);
  }

  etcdExportContext(): EtcdExportContext {
    return this.maintenance.etcdExportContext();
  }

  defragment(): Promise<void> {
    return this.maintenance.defragment();
  }

  onDefrag(listener: (active: boolean) => void): () => void {
    return this.maintenance.onDefrag(listener);
  }

  snapshotView(): { view: BackendView; revision: number; ctx: EtcdExportContext } {
    return this.maintenance.snapshotView();
  }

  /** etcd's checkHashKV (the leader's periodic check); raises CORRUPT on any mismatch. */
  checkHashKV(): Promise<boolean> {
    return this.corruption.checkHashKV();
  }

  // ---------------------------------------------------------------- RaftHost

  applyEntries(entries: Entry[]): void {
    this.applier.applyEntries(entries);
  }

  lastApplied(): number {
    return this.applier.appliedIndex;
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
    } else if (!isLeader && this.wasLeader) this.lessor.demote();
    this.autoCompaction.leading(isLeader);
    this.wasLeader = isLeader;
    this.publisher.publish();
  }

  installSnapshot(snap: Snapshot, file: string): Promise<void> {
    return installSnapshot(this, this.applier, snap, file);
  }

  snapshotFileForPeer(): Promise<string> {
    return snapshotFileForPeer(this);
  }

  releaseSnapshotFile(file: string): void {
    releaseSnapshotFile(file);
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
    return this.applier.confState;
  }

  /** The leader's auto compaction, through the log like a client's. */
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
