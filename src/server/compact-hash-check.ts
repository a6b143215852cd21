// Compaction hash checks (--experimental-compact-hash-check-enabled and
// --experimental-compact-hash-check-time, etcd 3.5.7+).
//
// Contract, as etcd's corruptionChecker.CompactHashCheck:
//  - Every member with the flag records, when it compacts to revision R, the KV hash at R
//    as HashKV(R) gave it just before (compact revision = the previous one): the same
//    number every member must have, since all applied the same log up to R. The last
//    MAX_STORED_HASHES are kept; the peer /members/hashkv handler and HashKV answer from
//    them for R, where a computed hash would be refused as compacted.
//  - Every interval the leader takes its recorded hashes newer than the last revision it
//    checked on the whole cluster, newest first, and asks every peer for the hash at that
//    revision. Peers that do not answer, or answer for another compact revision, are
//    skipped. All equal: done (or, when some were skipped, the next older hash is tried).
//    A mismatch: the members outside a quorum that agrees get the CORRUPT alarm; with no
//    quorum the alarm goes to member 0 (the whole cluster), and every disagreeing hash is
//    logged ("Detected compaction hash mismatch").
import type { Clock } from '../pkg/clock.js';
import type { Logger } from '../pkg/logger.js';
import type { PeerHash } from './corrupt.js';

/** etcd's hashStorageMaxSize: compaction hashes kept */
export const MAX_STORED_HASHES = 10;

export interface CompactionHash {
  /** the compaction's revision, where the hash was taken */
  revision: number;
  /** the compact revision before this compaction */
  compactRevision: number;
  hash: number;
}

export interface CompactHashCheckDeps {
  logger: Logger;
  memberIdHex: string;
  /** every other member's hash at a revision (peer /members/hashkv) */
  peerHashes: (revision: number) => Promise<PeerHash[]>;
  /** proposes the CORRUPT alarm for a member (0: the whole cluster) */
  raiseCorrupt: (memberId: bigint) => Promise<void>;
}

export class CompactHashes {
  private readonly hashes: CompactionHash[] = [];

  /** A compaction's hash, as the store computed it before deleting anything. */
  add(h: CompactionHash): void {
    this.hashes.push(h);
    if (this.hashes.length > MAX_STORED_HASHES) this.hashes.shift();
  }

  byRev(revision: number): CompactionHash | undefined {
    return this.hashes.find((h) => h.revision === revision);
  }

  list(): CompactionHash[] {
    return [...this.hashes];
  }
}

export class CompactHashChecker {
  private latestRevisionChecked = 0;

  constructor(
    private readonly stored: CompactHashes,
    private readonly deps: CompactHashCheckDeps,
  ) {}

  /** One pass on the leader. */
  async check(requestTimeoutMs: number): Promise<void> {
    const { logger, memberIdHex } = this.deps;
    logger.info('starting compact hash check', { 'local-member-id': memberIdHex, timeout: `${requestTimeoutMs / 1000}s` });
    const hashes = this.stored
      .list()
      .filter((h) => h.revision > this.latestRevisionChecked)
      .sort((a, b) => b.revision - a.revision);
    for (let i = 0; i < hashes.length; i++) {
      const peers = await this.deps.peerHashes(hashes[i]!.revision);
      if (peers.length === 0) continue;
      if (await this.compare(hashes[i]!, peers)) {
        logger.info('finished compaction hash check', { 'number-of-hashes-checked': i + 1 });
        return;
      }
    }
    logger.info('finished compaction hash check', { 'number-of-hashes-checked': hashes.length });
  }

  /** True when the hash was settled (all agreed, or alarms were raised); false to try an older one. */
  private async compare(leader: CompactionHash, peers: PeerHash[]): Promise<boolean> {
    const { logger, memberIdHex } = this.deps;
    const byHash = new Map<number, string[]>([[leader.hash, [memberIdHex]]]);
    const ids = new Map<string, bigint>();
    let checked = 0;
    for (const p of peers) {
      const peerId = p.peer.id.toString(16);
      const reason = !p.hash
        ? 'no response'
        : p.hash.compactRevision !== leader.compactRevision
          ? `the peer's CompactRevision ${p.hash.compactRevision} doesn't match leader's CompactRevision ${leader.compactRevision}`
          : undefined;
      if (reason !== undefined) {
        logger.warn("Skipped peer's hash", { 'number-of-peers': peers.length, 'leader-id': memberIdHex, 'peer-id': peerId, reason });
        continue;
      }
      checked++;
      ids.set(peerId, p.peer.id);
      byHash.set(p.hash!.hash, [...(byHash.get(p.hash!.hash) ?? []), peerId]);
    }
    if (byHash.size === 1) return this.consistent(leader, checked, peers.length);

    const quorum = Math.floor((peers.length + 1) / 2) + 1;
    const majority = [...byHash].find(([, members]) => members.length >= quorum);
    if (majority) byHash.delete(majority[0]);
    const fields = { 'leader-id': memberIdHex, 'leader-revision': leader.revision, 'leader-compact-revision': leader.compactRevision, 'leader-hash': leader.hash };
    if (!majority) {
      logger.error('Detected compaction hash mismatch but cannot identify the corrupted members, so intentionally set the memberID as 0', fields);
      await this.deps.raiseCorrupt(0n);
    }
    for (const [hash, members] of byHash) {
      if (majority) for (const m of members) await this.deps.raiseCorrupt(ids.get(m) ?? BigInt(`0x${m}`));
      logger.error('Detected compaction hash mismatch', { ...fields, 'peer-hash': hash, 'peer-ids': members });
    }
    return true;
  }

  private consistent(h: CompactionHash, checked: number, peerCount: number): boolean {
    const fields = { 'number-of-peers-checked': checked, revision: h.revision, compactRevision: h.compactRevision };
    if (checked === peerCount) {
      this.deps.logger.info('successfully checked hash on whole cluster', fields);
      this.latestRevisionChecked = Math.max(this.latestRevisionChecked, h.revision);
      return true;
    }
    this.deps.logger.warn('skipped revision in compaction hash check; was not able to check all peers', { ...fields, 'number-of-peers': peerCount });
    return false;
  }
}

export interface MonitorDeps {
  peerHashes: CompactHashCheckDeps['peerHashes'];
  raiseCorrupt: CompactHashCheckDeps['raiseCorrupt'];
  isLeader: () => boolean;
  requestTimeoutMs: number;
  /** the member's clock: the check runs on its timer */
  clock: Pick<Clock, 'every'>;
}

/** etcd's monitorCompactHash: a pass every interval while this member leads; returns the stop function. */
export function startCompactHashCheck(
  stored: CompactHashes,
  opts: { compactHashCheck?: { intervalMs: number }; logger: Logger },
  memberId: bigint,
  deps: MonitorDeps,
): (() => void) | undefined {
  if (!opts.compactHashCheck) return undefined;
  const { logger } = opts;
  const checker = new CompactHashChecker(stored, { logger, memberIdHex: memberId.toString(16), peerHashes: deps.peerHashes, raiseCorrupt: deps.raiseCorrupt });
  const { isLeader, requestTimeoutMs } = deps;
  const intervalMs = opts.compactHashCheck.intervalMs;
  let running = false;
  const timer = deps.clock.every(intervalMs, () => {
    if (!isLeader() || running) return;
    running = true;
    checker
      .check(requestTimeoutMs)
      .catch((err: Error) => logger.warn('failed compact hash check', { error: err.message }))
      .finally(() => (running = false));
  });
  return () => timer.cancel();
}
