// Drives the raft state machine for a member: ticks it, feeds it peer messages and
// proposals, and carries out each Ready — persist (WAL, with one fsync when raft asks
// for one), send (the leader sends before persisting when raft allows it), apply, and
// answer ReadIndex rounds. One Ready is handled at a time; while its write is on the
// way to the disk the entries it commits are applied, so the disk and the CPU overlap.
import fs from 'node:fs';
import {
  MemoryStorage,
  MessageType,
  NONE,
  ProposalDroppedError,
  RaftDecodeError,
  RawNode,
  StateType,
  decodeMessage,
  encodeMessage,
  isEmptySnapshot,
  type ConfChange,
  type ConfState,
  type Message,
  type Ready,
  type ReadState,
  type Snapshot,
} from '../raft/index.js';
import type { Entry, HardState } from '../raft/types.js';
import type { Snapshotter, Wal } from '../wal/index.js';
import type { PeerTransport } from '../peer/transport.js';
import type { Logger } from '../pkg/logger.js';
import type { Clock, Timer } from '../pkg/clock.js';
import { Errors } from './errors.js';

/** Entries kept behind a snapshot so slow followers can catch up from the log (etcd's default). */
export const SNAPSHOT_CATCH_UP_ENTRIES = 5000;
/** etcd's raft message size and inflight limits */
const MAX_SIZE_PER_MSG_BYTES = 1024 * 1024;
const MAX_INFLIGHT_MSGS = 4096 / 8;

/** What the driver needs from the member. */
export interface RaftHost {
  /** applies committed entries (normal and conf change) in order; must not throw for bad requests */
  applyEntries(entries: Entry[]): void;
  lastApplied(): number;
  onSoftState(lead: bigint, isLeader: boolean): void;
  /** loads a snapshot received from the leader: the backend file is at `file` */
  installSnapshot(snapshot: Snapshot, file: string): Promise<void>;
  /** a consistent copy of the backend for a follower that needs a snapshot */
  snapshotFileForPeer(): Promise<string>;
  /** the file from snapshotFileForPeer is no longer needed */
  releaseSnapshotFile(file: string): void;
  peerUrls(id: bigint): string[];
  /** every `snapshotCount` applied entries the WAL may be compacted */
  snapshotCount(): number;
  /** makes the backend durable before a snapshot lets WAL segments go */
  forceCommit(): Promise<void>;
  currentConfState(): ConfState;
}

export interface RaftDriverOptions {
  node: RawNode;
  storage: MemoryStorage;
  wal: Wal;
  snapshotter: Snapshotter;
  transport: PeerTransport;
  heartbeatIntervalMs: number;
  /** the member's clock: ticks, read deadlines and durations */
  clock: Clock;
  /** the raft index the last raft snapshot covers */
  snapshotIndex: number;
  maxWals: number;
  maxSnapshots: number;
  logger: Logger;
  host: RaftHost;
  onFatal: (err: Error) => void;
  /** told how long each durable WAL write took (etcd_disk_wal_fsync_duration_seconds) */
  onWalSync?: (seconds: number) => void;
  /** --experimental-snapshot-catchup-entries: log entries kept after a snapshot for slow followers */
  snapshotCatchUpEntries?: number;
}

export function raftConfig(
  id: bigint,
  storage: MemoryStorage,
  opts: { heartbeatIntervalMs: number; electionTimeoutMs: number; preVote: boolean; applied: number; random: () => number },
) {
  return {
    id,
    electionTick: Math.max(2, Math.round(opts.electionTimeoutMs / opts.heartbeatIntervalMs)),
    heartbeatTick: 1,
    preVote: opts.preVote,
    checkQuorum: true,
    maxSizePerMsgBytes: MAX_SIZE_PER_MSG_BYTES,
    maxInflightMsgs: MAX_INFLIGHT_MSGS,
    storage,
    random: opts.random,
    applied: opts.applied,
  };
}

interface ReadRound {
  ctx: string;
  waiters: Array<{ resolve: (index: number) => void; reject: (err: Error) => void; deadlineMs: number }>;
  startedMs: number;
}

export class RaftDriver {
  readonly node: RawNode;
  private readonly storage: MemoryStorage;
  private processing = false;
  private scheduled = false;
  private stopped = false;
  private ticker: Timer;
  /** settles when the Ready loop in progress finishes (stop waits on it) */
  private processed: Promise<void> = Promise.resolve();
  /** told of every change of leader (NONE: no leader known); the member's waits for a leader listen here */
  private readonly leaderListeners = new Set<(lead: bigint) => void>();
  private lead: bigint = NONE;
  private raftState: StateType = StateType.Follower;
  private snapshotIndex: number;
  private readCounter = 0;
  private readQueue: ReadRound['waiters'] = [];
  private readRound: ReadRound | undefined;
  /** snapshot files received from the leader, by snapshot index */
  private readonly receivedSnapshots = new Map<number, string>();
  private readonly sendingSnapshotTo = new Set<bigint>();

  constructor(private readonly opts: RaftDriverOptions) {
    this.node = opts.node;
    this.storage = opts.storage;
    this.snapshotIndex = opts.snapshotIndex;
    this.ticker = opts.clock.every(opts.heartbeatIntervalMs, () => this.tick());
  }

  get leader(): bigint {
    return this.lead;
  }

  /** Calls `listener` with the new leader each time it changes; returns the unsubscribe function. */
  onLeaderChange(listener: (lead: bigint) => void): () => void {
    this.leaderListeners.add(listener);
    return () => void this.leaderListeners.delete(listener);
  }

  get isLeader(): boolean {
    return this.raftState === StateType.Leader;
  }

  get state(): StateType {
    return this.raftState;
  }

  // ---------------------------------------------------------------- inputs

  private tick(): void {
    if (this.stopped) return;
    this.node.tick();
    this.checkReadRound();
    this.schedule();
  }

  /** Lets `n` ticks pass at once (etcd's initial election tick advance). */
  advanceTicks(n: number): void {
    if (this.stopped) return;
    for (let i = 0; i < n; i++) this.node.tick();
    this.schedule();
  }

  /** Hands a proposal to raft; throws ProposalDroppedError when it cannot take it now. */
  propose(data: Uint8Array): void {
    this.node.propose(data);
    this.schedule();
  }

  proposeConfChange(cc: ConfChange): void {
    this.node.proposeConfChange(cc);
    this.schedule();
  }

  campaign(): void {
    this.node.campaign();
    this.schedule();
  }

  transferLeader(to: bigint): void {
    this.node.transferLeader(to);
    this.schedule();
  }

  applyConfChange(cc: ConfChange): ConfState {
    return this.node.applyConfChange(cc);
  }

  /** A raft message from a peer. */
  receive(from: bigint, bytes: Uint8Array): void {
    if (this.stopped) return;
    let m: Message;
    try {
      m = decodeMessage(bytes);
    } catch (err) {
      this.opts.logger.warn('dropped a malformed raft message', { 'remote-peer-id': from.toString(16), error: (err as Error).message });
      return;
    }
    if (m.from !== from) {
      this.opts.logger.warn('dropped a raft message whose sender does not match its stream', { 'remote-peer-id': from.toString(16) });
      return;
    }
    this.step(m);
  }

  /** A snapshot from the leader: its message, and the backend file that came with it. */
  receiveSnapshot(from: bigint, bytes: Uint8Array, file: string): void {
    let m: Message;
    try {
      m = decodeMessage(bytes);
    } catch (err) {
      this.opts.logger.warn('dropped a malformed snapshot message', { 'remote-peer-id': from.toString(16), error: (err as Error).message });
      return;
    }
    if (m.type !== MessageType.MsgSnap || !m.snapshot) return;
    this.receivedSnapshots.set(m.snapshot.metadata.index, file);
    this.step(m);
  }

  private step(m: Message): void {
    try {
      this.node.step(m);
    } catch (err) {
      if (err instanceof RaftDecodeError || err instanceof ProposalDroppedError) {
        this.opts.logger.warn('dropped a raft message', { type: MessageType[m.type], error: (err as Error).message });
        return;
      }
      throw err;
    }
    this.schedule();
  }

  unreachable(to: bigint): void {
    this.node.reportUnreachable(to);
  }

  // ---------------------------------------------------------------- linearizable reads

  /**
   * The commit index a linearizable read must wait for: one ReadIndex round (a
   * heartbeat to a quorum) serves every read that arrived meanwhile.
   */
  readIndex(timeoutMs: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.readQueue.push({ resolve, reject, deadlineMs: this.opts.clock.nowMs() + timeoutMs });
      this.startReadRound();
    });
  }

  private startReadRound(): void {
    if (this.readRound || this.readQueue.length === 0 || this.stopped) return;
    const ctx = Buffer.alloc(8);
    ctx.writeBigUInt64BE(BigInt(++this.readCounter));
    this.readRound = { ctx: ctx.toString('hex'), waiters: this.readQueue, startedMs: this.opts.clock.nowMs() };
    this.readQueue = [];
    this.node.readIndex(ctx);
    this.schedule();
  }

  /** Raft drops ReadIndex requests without a leader: retry rounds, fail reads past their deadline. */
  private checkReadRound(): void {
    const round = this.readRound;
    if (!round) return;
    const now = this.opts.clock.nowMs();
    const expired = round.waiters.filter((w) => w.deadlineMs <= now);
    for (const w of expired) w.reject(Errors.timeout());
    round.waiters = round.waiters.filter((w) => w.deadlineMs > now);
    const retryAfterMs = 10 * this.opts.heartbeatIntervalMs;
    if (round.waiters.length === 0 || now - round.startedMs > retryAfterMs) {
      this.readRound = undefined;
      this.readQueue.unshift(...round.waiters);
      this.startReadRound();
    }
  }

  private handleReadStates(states: ReadState[]): void {
    for (const rs of states) {
      const round = this.readRound;
      if (!round || Buffer.from(rs.ctx).toString('hex') !== round.ctx) continue;
      this.readRound = undefined;
      for (const w of round.waiters) w.resolve(rs.index);
    }
    this.startReadRound();
  }

  private failReads(err: Error): void {
    const waiters = [...(this.readRound?.waiters ?? []), ...this.readQueue];
    this.readRound = undefined;
    this.readQueue = [];
    for (const w of waiters) w.reject(err);
  }

  // ---------------------------------------------------------------- the Ready loop

  schedule(): void {
    if (this.scheduled || this.processing || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.process();
    });
  }

  private process(): Promise<void> {
    if (this.processing || this.stopped) return this.processed;
    this.processing = true;
    this.processed = this.runReadyLoop();
    return this.processed;
  }

  private async runReadyLoop(): Promise<void> {
    try {
      while (!this.stopped && this.node.hasReady()) {
        const rd = this.node.ready();
        await this.handleReady(rd);
        this.node.advance(rd);
        await this.maybeCompactLog();
      }
    } catch (err) {
      this.opts.onFatal(err as Error);
      return;
    } finally {
      this.processing = false;
    }
  }

  private async handleReady(rd: Ready): Promise<void> {
    if (rd.softState) this.onSoftState(rd.softState.lead, rd.softState.raftState);
    if (rd.sendBeforePersist) this.send(rd.messages);
    if (rd.snapshot && !isEmptySnapshot(rd.snapshot)) await this.installSnapshot(rd.snapshot);
    let saved: Promise<void> | undefined;
    const saveStartMs = this.opts.clock.nowMs();
    if (rd.hardState || rd.entries.length > 0) saved = this.opts.wal.save(rd.hardState ?? null, rd.entries, rd.mustSync);
    // committed entries are already durable: apply them while this Ready's write runs
    if (rd.committedEntries.length > 0) this.opts.host.applyEntries(rd.committedEntries);
    if (saved) {
      await saved;
      if (rd.mustSync) this.opts.onWalSync?.((this.opts.clock.nowMs() - saveStartMs) / 1000);
    }
    if (rd.entries.length > 0) this.storage.append(rd.entries);
    if (rd.hardState) this.storage.setHardState(rd.hardState as HardState);
    if (!rd.sendBeforePersist) this.send(rd.messages);
    if (rd.readStates.length > 0) this.handleReadStates(rd.readStates);
  }

  private onSoftState(lead: bigint, state: StateType): void {
    const changed = lead !== this.lead || state !== this.raftState;
    this.lead = lead;
    this.raftState = state;
    if (!changed) return;
    if (state === StateType.Leader) this.opts.logger.info('became leader', { term: this.node.status().term });
    else if (lead !== NONE) this.opts.logger.info('leader elected', { leader: lead.toString(16) });
    else this.opts.logger.warn('lost the leader', {});
    this.opts.host.onSoftState(lead, state === StateType.Leader);
    for (const l of this.leaderListeners) l(lead);
  }

  private send(messages: Message[]): void {
    for (const m of messages) {
      if (m.type === MessageType.MsgSnap) {
        void this.sendSnapshot(m);
        continue;
      }
      this.opts.transport.send(m.to, encodeMessage(m));
    }
  }

  /** A follower needs a snapshot: stream it a fresh copy of the backend, then tell raft. */
  private async sendSnapshot(m: Message): Promise<void> {
    if (this.sendingSnapshotTo.has(m.to)) return;
    this.sendingSnapshotTo.add(m.to);
    let ok = false;
    let file: string | undefined;
    try {
      file = await this.opts.host.snapshotFileForPeer();
      const msg = { ...m, snapshot: { metadata: m.snapshot!.metadata, data: new Uint8Array(0) } };
      ok = await this.opts.transport.sendSnapshot(m.to, this.opts.host.peerUrls(m.to), encodeMessage(msg), file);
    } catch (err) {
      this.opts.logger.warn('failed to make a snapshot for a follower', { 'remote-peer-id': m.to.toString(16), error: (err as Error).message });
    } finally {
      this.sendingSnapshotTo.delete(m.to);
      if (file) this.opts.host.releaseSnapshotFile(file);
    }
    if (this.stopped) return;
    this.node.reportSnapshot(m.to, ok);
    this.schedule();
  }

  /** Loads a snapshot raft accepted from the leader: backend first, then WAL and log. */
  private async installSnapshot(snap: Snapshot): Promise<void> {
    const index = snap.metadata.index;
    const file = this.receivedSnapshots.get(index);
    if (!file) throw new Error(`raft accepted a snapshot at index ${index} whose database file never arrived`);
    this.receivedSnapshots.delete(index);
    await this.opts.host.installSnapshot(snap, file);
    await this.opts.snapshotter.save(snap);
    await this.opts.wal.saveSnapshotMarker({ index, term: snap.metadata.term });
    this.storage.applySnapshot(snap);
    this.snapshotIndex = index;
    for (const [i, f] of this.receivedSnapshots) {
      if (i <= index) {
        this.receivedSnapshots.delete(i);
        fs.rmSync(f, { force: true });
      }
    }
  }

  /**
   * Every --snapshot-count applied entries: make the backend durable, record a raft
   * snapshot, keep SNAPSHOT_CATCH_UP_ENTRIES of log for slow followers, and let older
   * WAL segments and snapshot files go.
   */
  private async maybeCompactLog(): Promise<void> {
    const applied = this.opts.host.lastApplied();
    if (applied - this.snapshotIndex < this.opts.host.snapshotCount()) return;
    await this.opts.host.forceCommit();
    const snap = this.storage.createSnapshot(applied, this.opts.host.currentConfState(), new Uint8Array(0));
    await this.opts.snapshotter.save(snap);
    await this.opts.wal.saveSnapshotMarker({ index: applied, term: snap.metadata.term });
    this.snapshotIndex = applied;
    const compactTo = applied - (this.opts.snapshotCatchUpEntries ?? SNAPSHOT_CATCH_UP_ENTRIES);
    if (compactTo > this.storage.firstIndex()) this.storage.compact(compactTo);
    const released = await this.opts.wal.releaseTo(Math.max(0, compactTo), this.opts.maxWals);
    await this.opts.snapshotter.purge(this.opts.maxSnapshots);
    this.opts.logger.info('saved snapshot', { 'snapshot-index': applied, 'compacted-log-to': Math.max(0, compactTo), 'released-wal-files': released });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.ticker.cancel();
    this.failReads(Errors.stopped());
    await this.processed;
  }
}

export { ProposalDroppedError };
