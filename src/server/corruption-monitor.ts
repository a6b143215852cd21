// etcd's corruption checks, run by the member: at start (--experimental-initial-corrupt-check,
// before raft runs) and periodically on the leader (--experimental-corrupt-check-time), which
// raises CORRUPT through the log on a mismatch. The verdicts are corrupt.ts's.
import { AlarmType } from '../proto/etcdserverpb.js';
import type { Timer } from '../pkg/clock.js';
import { fetchPeerHashes, initialVerdict, periodicVerdict, requestPeerHash, type HashAt, type PeerHash, type PeerRef } from './corrupt.js';
import type { Maintenance } from './maintenance.js';
import type { Member } from './membership.js';
import type { ServerParts } from './parts.js';

export class CorruptionMonitor {
  private timer: Timer | undefined;
  private running = false;

  constructor(
    private readonly m: ServerParts,
    private readonly maintenance: Maintenance,
  ) {}

  /** etcd's CheckInitialHashKV: throws when a peer has other data at the same revision. */
  async checkInitial(known: readonly Member[]): Promise<void> {
    const idHex = this.m.memberId.toString(16);
    this.m.opts.logger.info('starting initial corruption check', { 'local-member-id': idHex, timeout: `${this.m.requestTimeoutMs / 1000}s` });
    const local = this.hashAt(0);
    const problem = initialVerdict(local, await this.peerHashes(local.revision, known), this.m.opts.logger, idHex);
    if (problem !== undefined) throw new Error(problem);
  }

  start(): void {
    const intervalMs = this.m.opts.corruptCheckTimeMs ?? 0;
    if (intervalMs <= 0) return;
    this.m.opts.logger.info('enabled corruption checking', { 'local-member-id': this.m.memberId.toString(16), interval: `${intervalMs / 1000}s` });
    this.timer = this.m.clock.every(intervalMs, () => {
      if (!this.m.driver.isLeader || this.running) return;
      this.running = true;
      this.checkHashKV()
        .catch((err) => this.m.opts.logger.warn('failed to check hash KV', { error: (err as Error).message }))
        .finally(() => (this.running = false));
    });
  }

  stop(): void {
    this.timer?.cancel();
  }

  /** etcd's checkHashKV (the leader's periodic check); raises CORRUPT on any mismatch. */
  async checkHashKV(): Promise<boolean> {
    const before = this.hashAt(0);
    const peers = await this.peerHashes(before.revision);
    await this.m.linearizableReadBarrier();
    const after = this.hashAt(0);
    const verdict = periodicVerdict(before, after, peers, this.m.opts.logger);
    // member 0: which member is wrong is not known, as etcd says
    if (verdict.corrupt && !this.m.alarms.has(AlarmType.CORRUPT)) await this.maintenance.raiseAlarm(0n, AlarmType.CORRUPT);
    return verdict.corrupt;
  }

  private hashAt(revision: number): HashAt {
    const h = this.maintenance.hashKV(revision);
    return { revision: h.header!.revision, hash: h.hash, compactRevision: h.compact_revision };
  }

  /** The other members' hashes at `revision`, over the peer port. */
  peerHashes(revision: number, known: readonly Member[] = []): Promise<PeerHash[]> {
    const byId = new Map<bigint, PeerRef>();
    for (const x of [...known, ...this.m.membership.list()]) if (x.id !== this.m.memberId) byId.set(x.id, { id: x.id, peerUrls: x.peerURLs });
    const ask = (url: string, rev: number) => requestPeerHash(url, rev, this.m.opts.peerTls, this.m.requestTimeoutMs);
    return fetchPeerHashes([...byId.values()], revision, ask, this.m.opts.logger, this.m.memberId.toString(16));
  }
}
