// Maintenance of the member's data: etcd's hashes, defragmentation (also at start with
// --experimental-bootstrap-defrag-threshold-megabytes), the frozen view the Snapshot RPC
// streams, alarms, and the backend quota that raises NOSPACE.
import type { BackendView } from '../backend/backend.js';
import { AlarmRequest, AlarmRequest_AlarmAction, AlarmType, type AlarmResponse, type HashKVResponse, type HashResponse } from '../proto/etcdserverpb.js';
import { etcdBackendHash } from '../snapshot/etcd-hash.js';
import { bucketRecords, type EtcdExportContext } from '../snapshot/etcd-schema.js';
import { Errors } from './errors.js';
import type { CompactHashes } from './compact-hash-check.js';
import { CLUSTER_VERSION } from './options.js';
import type { ServerParts } from './parts.js';
import { RaftRequestField } from './raft-request.js';

/** etcd's estimate of what a write adds to the backend beyond the request's bytes */
const PER_KEY_OVERHEAD_BYTES = 64;

export class Maintenance {
  private defragging: Promise<void> | undefined;
  /** told when a defragmentation starts (true) and ends (false) */
  private readonly defragListeners = new Set<(active: boolean) => void>();

  constructor(
    private readonly m: ServerParts,
    /** compactions' hashes, kept with --experimental-compact-hash-check-enabled */
    private readonly compactHashes?: CompactHashes,
  ) {}

  /**
   * etcd's Hash of the whole backend, computed over the etcd (3.5) view of the buckets,
   * so it is the hash an etcd 3.5 member with the same records would give (see
   * snapshot/etcd-hash.ts for what must match).
   */
  hash(): HashResponse {
    const hash = etcdBackendHash((bucket) => bucketRecords(this.m.backend, bucket), this.etcdExportContext());
    return { header: this.m.header(this.m.store.rev), hash };
  }

  hashKV(revision: number): HashKVResponse {
    // a compaction's own revision is answered from the hash recorded before it (etcd's HashStorage)
    const stored = this.compactHashes?.byRev(revision);
    if (stored) return { header: this.m.header(this.m.store.rev), hash: stored.hash, compact_revision: stored.compactRevision, hash_revision: stored.revision };
    const h = this.m.store.hashKV(revision);
    return { header: this.m.header(h.currentRev), hash: h.hash, compact_revision: h.compactRev, hash_revision: h.hashRev };
  }

  /**
   * What etcd 3.5 keeps in its backend and tsetcd keeps elsewhere, for the etcd view of
   * the buckets (Hash, snapshots in etcd's format). etcd's meta/term is the term of the
   * entry at the consistent index; the current term is given, which equals it once the
   * leader's first entry of its term is applied.
   */
  etcdExportContext(): EtcdExportContext {
    const members = this.m.membership.list();
    return {
      clusterVersion: CLUSTER_VERSION,
      term: BigInt(this.m.driver.node.status().term),
      confState: { voters: members.filter((x) => !x.isLearner).map((x) => x.id), learners: members.filter((x) => x.isLearner).map((x) => x.id) },
    };
  }

  /**
   * A frozen view of the backend for the Snapshot RPC, with the revision and etcd context it
   * was taken at (read in the same turn, so they describe exactly the view's data).
   */
  snapshotView(): { view: BackendView; revision: number; ctx: EtcdExportContext } {
    const view = this.m.backend.readView();
    return { view, revision: this.m.store.rev, ctx: this.etcdExportContext() };
  }

  onDefrag(listener: (active: boolean) => void): () => void {
    this.defragListeners.add(listener);
    return () => void this.defragListeners.delete(listener);
  }

  /** Rewrites the backend without free pages; commits wait while the copy is made. */
  defragment(): Promise<void> {
    if (this.defragging) return this.defragging;
    this.defragging = (async () => {
      const before = this.m.backend.sizeBytes();
      for (const l of this.defragListeners) l(true);
      try {
        await this.m.backend.defragment();
        this.m.opts.logger.info('finished defragmenting the backend', { 'db-size-before': before, 'db-size-after': this.m.backend.sizeBytes() });
      } finally {
        this.defragging = undefined;
        for (const l of this.defragListeners) l(false);
      }
    })();
    return this.defragging;
  }

  /** --experimental-bootstrap-defrag-threshold-megabytes: defragment before serving when that much would be freed. */
  async defragAtStart(): Promise<void> {
    const thresholdMb = this.m.opts.bootstrapDefragThresholdMb ?? 0;
    if (thresholdMb <= 0) return;
    const size = this.m.backend.sizeBytes();
    const inUse = this.m.backend.sizeInUseBytes();
    const thresholdBytes = thresholdMb * 1024 * 1024;
    const fields = { 'current-db-size-bytes': size, 'current-db-size-in-use-bytes': inUse, 'experimental-bootstrap-defrag-threshold-bytes': thresholdBytes };
    if (size - inUse < thresholdBytes) {
      this.m.opts.logger.info('Skipping defragmentation', fields);
      return;
    }
    await this.defragment();
  }

  async alarm(r: AlarmRequest, raw: Uint8Array): Promise<AlarmResponse> {
    const resp = await this.m.proposals.proposeAndWait(RaftRequestField.alarm, r, raw);
    resp.header = this.m.header(this.m.store.rev);
    return resp;
  }

  /** Raises an alarm through the log (so every member knows); resolves when applied. */
  async raiseAlarm(memberID: bigint, alarm: AlarmType): Promise<void> {
    const req = AlarmRequest.create({ action: AlarmRequest_AlarmAction.ACTIVATE, memberID, alarm });
    await this.m.proposals.propose(RaftRequestField.alarm, req, AlarmRequest.encode(req));
  }

  /**
   * etcd's backend quota: a write that would take the database past
   * --quota-backend-bytes raises the NOSPACE alarm (through the log, so every member
   * knows) and is refused; from then on only reads and deletes are served.
   */
  checkQuota(requestBytes: number): void {
    const quota = this.m.opts.quotaBackendBytes;
    if (quota <= 0) return;
    if (this.m.backend.sizeBytes() + requestBytes + PER_KEY_OVERHEAD_BYTES <= quota) return;
    if (!this.m.alarms.has(AlarmType.NOSPACE)) {
      this.raiseAlarm(this.m.memberId, AlarmType.NOSPACE).catch(() => {});
      this.m.opts.logger.warn('alarm raised: database space exceeded', { 'quota-bytes': quota, 'db-size-bytes': this.m.backend.sizeBytes() });
    }
    throw Errors.noSpace();
  }
}
