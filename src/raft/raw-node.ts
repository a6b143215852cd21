// RawNode: the application's handle on a Raft state machine. Everything is
// synchronous; the application drives time (tick), the network (step, messages) and
// the disk (Ready/advance). See docs/raft.md for the Ready loop contract.
import { decodeConfChange, encodeConfChange } from './codec.js';
import { ProposalDroppedError, RaftDecodeError, RaftUsageError } from './errors.js';
import {
  type ConfChange,
  ConfChangeType,
  isEmptySnapshot,
  isLocalMessage,
  isResponseMessage,
  makeMessage,
  type Message,
  MessageType,
  NONE,
  type Ready,
  type SoftState,
  StateType,
} from './message.js';
import { ProgressState } from './progress.js';
import { Raft, type RaftConfig } from './raft.js';
import { type ConfState, type Entry, EntryType, type HardState, isEmptyHardState } from './types.js';

export interface BootstrapPeer {
  id: bigint;
  learner?: boolean;
  /** stored in the bootstrap ConfChange entry for the application (member record) */
  context?: Uint8Array;
}

export interface ProgressStatus {
  match: number;
  next: number;
  state: ProgressState;
  /** MsgApps in flight (replicate state) */
  inflight: number;
  paused: boolean;
  pendingSnapshot: number;
  recentActive: boolean;
  isLearner: boolean;
}

export interface RaftStatus {
  id: bigint;
  term: number;
  vote: bigint;
  commit: number;
  applied: number;
  lead: bigint;
  raftState: StateType;
  /** leader only: every member's replication progress, including the leader's own */
  progress?: Map<bigint, ProgressStatus>;
  leadTransferee: bigint;
  config: ConfState;
}

export class RawNode {
  private readonly raft: Raft;
  private prevSoftState: SoftState;
  private prevHardState: HardState;
  /** the Ready handed out and not yet advanced */
  private outstanding: Ready | undefined;

  /**
   * Creates or restarts a node from cfg.storage. With bootstrapPeers and an empty
   * storage, starts a new cluster: one ConfChange entry per peer at term 1, committed,
   * to be persisted and applied through the first Readys like any other entries.
   */
  constructor(cfg: RaftConfig, bootstrapPeers?: BootstrapPeer[]) {
    this.raft = new Raft(cfg);
    this.prevSoftState = this.raft.softState();
    this.prevHardState = this.raft.hardState();
    // after taking the baseline, so that the first Ready carries the bootstrap state
    if (bootstrapPeers && bootstrapPeers.length > 0) this.bootstrap(bootstrapPeers, cfg);
  }

  private bootstrap(peers: BootstrapPeer[], cfg: RaftConfig): void {
    const storage = cfg.storage;
    if (storage.lastIndex() !== 0 || !isEmptyHardState(storage.initialState().hardState)) {
      throw new RaftUsageError('cannot bootstrap: storage is not empty');
    }
    const r = this.raft;
    r.becomeFollower(1, NONE);
    const ents: Entry[] = peers.map((p, i) => ({
      term: 1,
      index: i + 1,
      type: EntryType.ConfChange,
      data: encodeConfChange({
        type: p.learner ? ConfChangeType.AddLearnerNode : ConfChangeType.AddNode,
        nodeId: p.id,
        context: p.context ?? new Uint8Array(0),
      }),
    }));
    r.raftLog.append(ents);
    // The entries are committed by fiat: every founding member writes the same ones.
    // Installing the configuration now lets the node campaign before applying them;
    // the application applies them again later, which changes nothing.
    r.raftLog.committed = ents.length;
    for (const e of ents) r.applyConfChange(decodeConfChange(e.data));
  }

  /** One unit of logical time: drives election timeouts and heartbeats. */
  tick(): void {
    this.raft.tick();
  }

  /** Starts an election now (pre-vote first when enabled). */
  campaign(): void {
    this.raft.step(makeMessage({ type: MessageType.MsgHup }));
  }

  /** Proposes data for the log. Throws ProposalDroppedError if it cannot be accepted now.
   *  Acceptance is not commitment: watch committedEntries for it. */
  propose(data: Uint8Array): void {
    this.raft.step(
      makeMessage({ type: MessageType.MsgProp, from: this.raft.id, entries: [{ term: 0, index: 0, type: EntryType.Normal, data }] }),
    );
  }

  /** Proposes a configuration change; the leader keeps at most one pending at a time
   *  (a second one becomes an empty entry). Apply it with applyConfChange once committed. */
  proposeConfChange(cc: ConfChange): void {
    this.raft.step(
      makeMessage({
        type: MessageType.MsgProp,
        from: this.raft.id,
        entries: [{ term: 0, index: 0, type: EntryType.ConfChange, data: encodeConfChange(cc) }],
      }),
    );
  }

  /** Applies a committed ConfChange entry (decode its data with decodeConfChange);
   *  returns the resulting configuration, which the application stores with its
   *  snapshots. Must be called for each ConfChange entry, in log order. */
  applyConfChange(cc: ConfChange): ConfState {
    return this.raft.applyConfChange(cc);
  }

  /**
   * Feeds a message from a peer. Throws RaftUsageError for message types that only
   * raft itself may generate. Proposals forwarded by peers that cannot be accepted
   * are dropped silently (the proposer times out and retries).
   */
  step(m: Message): void {
    if (isLocalMessage(m.type)) throw new RaftUsageError(`cannot step raft local message ${MessageType[m.type]}`);
    checkWellFormed(m);
    if (isResponseMessage(m.type) && !this.raft.tracker.progress.has(m.from)) {
      // a response from a node that is not (or no longer) a member
      return;
    }
    try {
      this.raft.step(m);
    } catch (err) {
      if (err instanceof ProposalDroppedError) return;
      throw err;
    }
  }

  /** Requests a read index; the answer comes as Ready.readStates[i] with this ctx.
   *  ctx must be unique per request. Requests are dropped silently when there is no
   *  leader or leadership changes: callers time out and retry. */
  readIndex(ctx: Uint8Array): void {
    this.raft.step(makeMessage({ type: MessageType.MsgReadIndex, entries: [{ term: 0, index: 0, type: EntryType.Normal, data: ctx }] }));
  }

  /** Asks the leader (directly, or via this follower) to hand leadership to `to`. */
  transferLeader(to: bigint): void {
    this.raft.step(makeMessage({ type: MessageType.MsgTransferLeader, from: to }));
  }

  /** The transport could not reach `id`: the leader falls back to probing it. */
  reportUnreachable(id: bigint): void {
    this.raft.step(makeMessage({ type: MessageType.MsgUnreachable, from: id }));
  }

  /** Outcome of sending a MsgSnap to `id` (the transport reports when done). */
  reportSnapshot(id: bigint, ok: boolean): void {
    this.raft.step(makeMessage({ type: MessageType.MsgSnapStatus, from: id, reject: !ok }));
  }

  /** Whether ready() has something; false while a Ready awaits advance(). */
  hasReady(): boolean {
    if (this.outstanding) return false;
    const r = this.raft;
    const ss = r.softState();
    if (ss.lead !== this.prevSoftState.lead || ss.raftState !== this.prevSoftState.raftState) return true;
    const hs = r.hardState();
    if (!isEmptyHardState(hs) && !hardStateEqual(hs, this.prevHardState)) return true;
    if (r.raftLog.unstable.snapshot) return true;
    if (r.msgs.length > 0 || r.raftLog.unstable.entries.length > 0 || r.raftLog.hasNextCommittedEntries()) return true;
    return r.readStates.length > 0;
  }

  /** Takes the pending work. Call advance(rd) once it is done; until then hasReady()
   *  is false and ready() throws. tick/step/propose may still be called meanwhile. */
  ready(): Ready {
    if (this.outstanding) throw new RaftUsageError('ready() called again before advance()');
    const r = this.raft;
    const ss = r.softState();
    const hs = r.hardState();
    const rd: Ready = {
      readStates: r.readStates,
      entries: r.raftLog.unstableEntries(),
      committedEntries: r.raftLog.nextCommittedEntries(),
      messages: r.msgs,
      mustSync: false,
      sendBeforePersist: false,
    };
    if (ss.lead !== this.prevSoftState.lead || ss.raftState !== this.prevSoftState.raftState) rd.softState = ss;
    if (!hardStateEqual(hs, this.prevHardState)) rd.hardState = hs;
    const snap = r.raftLog.unstable.snapshot;
    if (snap) rd.snapshot = snap;
    const termOrVoteChanged = hs.term !== this.prevHardState.term || hs.vote !== this.prevHardState.vote;
    rd.mustSync = rd.entries.length > 0 || termOrVoteChanged || rd.snapshot !== undefined;
    rd.sendBeforePersist = r.state === StateType.Leader && !termOrVoteChanged && rd.snapshot === undefined;
    r.msgs = [];
    r.readStates = [];
    this.prevSoftState = ss;
    this.outstanding = rd;
    return rd;
  }

  /**
   * Acknowledges that rd was handled: hardState, entries and snapshot persisted to
   * storage, committedEntries applied. Raft then counts the persisted entries
   * (the leader's own acknowledgement) and moves its applied index.
   */
  advance(rd: Ready): void {
    if (this.outstanding !== rd) throw new RaftUsageError('advance() must be given the Ready returned by the last ready()');
    this.outstanding = undefined;
    if (rd.hardState) this.prevHardState = rd.hardState;
    let appliedTo = 0;
    if (rd.committedEntries.length > 0) appliedTo = rd.committedEntries[rd.committedEntries.length - 1]!.index;
    else if (rd.snapshot && !isEmptySnapshot(rd.snapshot)) appliedTo = rd.snapshot.metadata.index;
    this.raft.advance(appliedTo, rd.committedEntries, rd.entries[rd.entries.length - 1], rd.snapshot);
  }

  status(): RaftStatus {
    const r = this.raft;
    const st: RaftStatus = {
      id: r.id,
      term: r.term,
      vote: r.vote,
      commit: r.raftLog.committed,
      applied: r.raftLog.applied,
      lead: r.lead,
      raftState: r.state,
      leadTransferee: r.leadTransferee,
      config: r.tracker.confState(),
    };
    if (r.state === StateType.Leader) {
      st.progress = new Map();
      r.tracker.visit((id, pr) => {
        st.progress!.set(id, {
          match: pr.match,
          next: pr.next,
          state: pr.state,
          inflight: pr.inflights.count(),
          paused: pr.isPaused(),
          pendingSnapshot: pr.pendingSnapshot,
          recentActive: pr.recentActive,
          isLearner: pr.isLearner,
        });
      });
    }
    return st;
  }

  /** The underlying state machine, for tests and debugging output only. */
  get raftForTesting(): Raft {
    return this.raft;
  }
}

/**
 * Structural checks on a peer's message that decoding cannot do. A message failing
 * them did not come from a correct raft peer; refusing it keeps the log intact.
 */
function checkWellFormed(m: Message): void {
  const bad = (why: string): never => {
    throw new RaftDecodeError(`malformed ${MessageType[m.type]} from ${m.from}: ${why}`);
  };
  if (m.from === NONE) bad('no sender');
  if (m.type === MessageType.MsgApp) {
    if (m.logTerm > m.term) bad(`logTerm ${m.logTerm} above term ${m.term}`);
    let prevTerm = m.logTerm;
    for (let i = 0; i < m.entries.length; i++) {
      const e = m.entries[i]!;
      if (e.index !== m.index + 1 + i) bad(`entry ${i} has index ${e.index}, want ${m.index + 1 + i}`);
      if (e.term < prevTerm || e.term > m.term) bad(`entry ${e.index} has term ${e.term} out of order`);
      prevTerm = e.term;
    }
  } else if (m.type === MessageType.MsgSnap) {
    if (!m.snapshot || m.snapshot.metadata.index === 0) bad('no snapshot');
    else if (m.snapshot.metadata.term > m.term) bad('snapshot from a future term');
  } else if ((m.type === MessageType.MsgProp || m.type === MessageType.MsgReadIndex) && m.entries.length === 0) {
    bad('no entries');
  } else if (m.type === MessageType.MsgReadIndexResp && m.entries.length !== 1) {
    bad('want exactly one entry');
  }
}

function hardStateEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}
