// The Raft consensus state machine. It performs no I/O and reads no clock: time is
// tick(), the network is step()/msgs, the disk is the storage it reads plus the
// unstable log the application persists through RawNode's Ready/advance cycle.
//
// Structure and message flow follow etcd-io/raft; see docs/raft.md for where we depart.
import { assert, ProposalDroppedError, RaftUsageError, SnapshotTemporarilyUnavailableError } from './errors.js';
import {
  ConfChangeType,
  type ConfChange,
  isEmptySnapshot,
  makeMessage,
  type Message,
  MessageType,
  NONE,
  type ReadState,
  type SoftState,
  stateName,
  StateType,
  voteResponseType,
} from './message.js';
import { Progress, ProgressState } from './progress.js';
import { majorityVoteResult, VoteResult } from './quorum.js';
import { RaftLog } from './raft-log.js';
import { ReadOnly } from './read-only.js';
import type { RaftStorage } from './storage.js';
import { ProgressTracker } from './tracker.js';
import { type ConfState, type Entry, EntryType, type HardState, isEmptyHardState, type Snapshot } from './types.js';
import { bytesEqual, payloadSizeBytes } from './util.js';

export interface RaftLogger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

const silentLogger: RaftLogger = { debug() {}, info() {}, warn() {}, error() {} };

export interface RaftConfig {
  /** this node's ID; never 0 */
  id: bigint;
  /** ticks without hearing from a leader before campaigning (randomized to [n, 2n)) */
  electionTick: number;
  /** ticks between leader heartbeats; must be < electionTick */
  heartbeatTick: number;
  /** run a pre-election first so a partitioned node rejoining cannot bump the term */
  preVote: boolean;
  /** leader steps down without a quorum of recent activity; followers honour leases */
  checkQuorum: boolean;
  /** byte limit of the entries in one MsgApp (at least one entry is always sent) */
  maxSizePerMsgBytes: number;
  /** MsgApps in flight per follower in replicate state */
  maxInflightMsgs: number;
  /** leader drops proposals while its uncommitted tail exceeds this; 0/undefined = no limit */
  maxUncommittedEntriesBytes?: number;
  /** byte limit of Ready.committedEntries; default maxSizePerMsgBytes, 0 = no limit */
  maxCommittedSizePerReadyBytes?: number;
  storage: RaftStorage;
  /** uniform in [0, 1); the only source of randomness (election timeouts) */
  random: () => number;
  /** the last index the application has applied (on restart) */
  applied?: number;
  logger?: RaftLogger;
}

const CAMPAIGN_TRANSFER = new TextEncoder().encode('CampaignTransfer');

type CampaignType = 'pre-election' | 'election' | 'transfer';

export function validateConfig(c: RaftConfig): void {
  if (c.id === NONE) throw new RaftUsageError('cannot use none as id');
  if (!(c.heartbeatTick > 0)) throw new RaftUsageError('heartbeat tick must be greater than 0');
  if (!(c.electionTick > c.heartbeatTick)) throw new RaftUsageError('election tick must be greater than heartbeat tick');
  if (!(c.maxInflightMsgs > 0)) throw new RaftUsageError('max inflight messages must be greater than 0');
  if (!(c.maxSizePerMsgBytes >= 0)) throw new RaftUsageError('max size per message must not be negative');
  if (typeof c.random !== 'function') throw new RaftUsageError('random must be a function');
}

export class Raft {
  readonly id: bigint;
  term = 0;
  vote = NONE;
  readStates: ReadState[] = [];
  readonly raftLog: RaftLog;
  tracker: ProgressTracker;
  state = StateType.Follower;
  /** whether this node is a learner in the current configuration */
  isLearner = false;
  /** outgoing messages, handed out in the next Ready */
  msgs: Message[] = [];
  lead = NONE;
  /** the node leadership is being transferred to, NONE when no transfer is under way */
  leadTransferee = NONE;
  /** a conf change at an index above `applied` may be pending; refuse another until then */
  pendingConfIndex = 0;
  /** payload bytes of this leader's entries that are not known committed yet */
  uncommittedSizeBytes = 0;
  readOnly = new ReadOnly();
  /** ticks since the last election timeout reset (or, on a leader, since the last check) */
  electionElapsed = 0;
  heartbeatElapsed = 0;
  readonly checkQuorum: boolean;
  readonly preVote: boolean;
  readonly heartbeatTimeout: number;
  readonly electionTimeout: number;
  randomizedElectionTimeout = 0;
  /** ReadIndex requests waiting until this leader commits an entry of its term */
  pendingReadIndexMessages: Message[] = [];
  private readonly maxMsgSizeBytes: number;
  private readonly maxUncommittedSizeBytes: number;
  readonly logger: RaftLogger;
  private readonly random: () => number;

  constructor(c: RaftConfig) {
    validateConfig(c);
    this.id = c.id;
    this.logger = c.logger ?? silentLogger;
    this.random = c.random;
    const maxApply = c.maxCommittedSizePerReadyBytes ?? c.maxSizePerMsgBytes;
    this.raftLog = new RaftLog(c.storage, maxApply === 0 ? Number.POSITIVE_INFINITY : maxApply);
    const { hardState, confState } = c.storage.initialState();
    this.maxMsgSizeBytes = c.maxSizePerMsgBytes;
    this.maxUncommittedSizeBytes = c.maxUncommittedEntriesBytes ? c.maxUncommittedEntriesBytes : Number.POSITIVE_INFINITY;
    this.tracker = new ProgressTracker(c.maxInflightMsgs);
    this.electionTimeout = c.electionTick;
    this.heartbeatTimeout = c.heartbeatTick;
    this.checkQuorum = c.checkQuorum;
    this.preVote = c.preVote;
    this.switchToConfig(confState.voters, confState.learners);
    if (!isEmptyHardState(hardState)) this.loadState(hardState);
    if (c.applied !== undefined && c.applied > 0) this.raftLog.appliedTo(c.applied);
    this.becomeFollower(this.term, NONE);
    this.logger.info(
      `newRaft ${this.id} [peers: [${this.tracker.voters.join(',')}], term: ${this.term}, commit: ${this.raftLog.committed}, ` +
        `applied: ${this.raftLog.applied}, lastindex: ${this.raftLog.lastIndex()}, lastterm: ${this.raftLog.lastTerm()}]`,
    );
  }

  hasLeader(): boolean {
    return this.lead !== NONE;
  }

  softState(): SoftState {
    return { lead: this.lead, raftState: this.state };
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.raftLog.committed };
  }

  /** Whether this node may campaign: it is a voter in the current configuration. */
  promotable(): boolean {
    return this.tracker.isVoter(this.id);
  }

  // ---- sending -------------------------------------------------------------------

  private send(m: Message): void {
    if (m.from === NONE) m.from = this.id;
    const t = m.type;
    if (t === MessageType.MsgVote || t === MessageType.MsgVoteResp || t === MessageType.MsgPreVote || t === MessageType.MsgPreVoteResp) {
      // campaign messages carry the term they are about, which may differ from ours
      assert(m.term !== 0, () => `term should be set when sending ${MessageType[t]}`);
    } else {
      assert(m.term === 0, () => `term should not be set when sending ${MessageType[t]} (was ${m.term})`);
      // proposals and read requests forwarded to the leader act as local messages there
      if (t !== MessageType.MsgProp && t !== MessageType.MsgReadIndex) m.term = this.term;
    }
    this.msgs.push(m);
  }

  private sendAppend(to: bigint): void {
    this.maybeSendAppend(to, true);
  }

  /**
   * Sends the follower the entries it needs next (or a snapshot when they were
   * compacted), unless its progress is paused. With sendIfEmpty false, a message
   * without entries is not sent. Returns whether something was sent.
   */
  private maybeSendAppend(to: bigint, sendIfEmpty: boolean): boolean {
    if (to === this.id) return false;
    const pr = this.tracker.progress.get(to);
    if (!pr || pr.isPaused()) return false;
    const prevTerm = this.raftLog.term(pr.next - 1);
    const ents = this.raftLog.entriesFrom(pr.next, this.maxMsgSizeBytes);
    if (ents !== undefined && ents.length === 0 && !sendIfEmpty) return false;
    if (prevTerm === undefined || ents === undefined) return this.maybeSendSnapshot(to, pr);
    const m = makeMessage({
      type: MessageType.MsgApp,
      to,
      index: pr.next - 1,
      logTerm: prevTerm,
      entries: ents,
      commit: this.raftLog.committed,
    });
    if (ents.length > 0) {
      const last = ents[ents.length - 1]!.index;
      if (pr.state === ProgressState.Replicate) {
        pr.optimisticUpdate(last);
        pr.inflights.add(last);
      } else {
        assert(pr.state === ProgressState.Probe, () => `${this.id} is sending append in unhandled state ${pr.state}`);
        pr.probeSent = true;
      }
    }
    this.send(m);
    return true;
  }

  private maybeSendSnapshot(to: bigint, pr: Progress): boolean {
    if (!pr.recentActive) {
      this.logger.debug(`${this.id} ignore sending snapshot to ${to} since it is not recently active`);
      return false;
    }
    let snap: Snapshot;
    try {
      snap = this.raftLog.snapshot();
    } catch (err) {
      if (err instanceof SnapshotTemporarilyUnavailableError) {
        this.logger.debug(`${this.id} failed to send snapshot to ${to} because snapshot is temporarily unavailable`);
        return false;
      }
      throw err;
    }
    assert(!isEmptySnapshot(snap), 'need non-empty snapshot');
    const { index, term } = snap.metadata;
    this.logger.debug(
      `${this.id} [firstindex: ${this.raftLog.firstIndex()}, commit: ${this.raftLog.committed}] sent snapshot[index: ${index}, term: ${term}] to ${to} [${pr}]`,
    );
    pr.becomeSnapshot(index);
    this.logger.debug(`${this.id} paused sending replication messages to ${to} [${pr}]`);
    this.send(makeMessage({ type: MessageType.MsgSnap, to, snapshot: snap }));
    return true;
  }

  private sendHeartbeat(to: bigint, ctx: Uint8Array | undefined): void {
    const pr = this.tracker.progress.get(to)!;
    // never tell a follower to commit beyond what it is known to have
    const commit = Math.min(pr.match, this.raftLog.committed);
    this.send(makeMessage({ type: MessageType.MsgHeartbeat, to, commit, ...(ctx ? { context: ctx } : {}) }));
  }

  private bcastAppend(): void {
    this.tracker.visit((id) => {
      if (id !== this.id) this.sendAppend(id);
    });
  }

  private bcastHeartbeat(ctx?: Uint8Array): void {
    const c = ctx ?? this.readOnly.lastPendingRequestCtx();
    this.tracker.visit((id) => {
      if (id !== this.id) this.sendHeartbeat(id, c);
    });
  }

  private sendTimeoutNow(to: bigint): void {
    this.send(makeMessage({ type: MessageType.MsgTimeoutNow, to }));
  }

  // ---- persistence feedback --------------------------------------------------------

  /**
   * Called by RawNode.advance once the application persisted and applied a Ready.
   * The leader counts its own log only now (it may have sent before persisting).
   */
  advance(appliedTo: number, committedEntries: Entry[], lastEntry: Entry | undefined, snapshot: Snapshot | undefined): void {
    if (appliedTo > 0) this.raftLog.appliedTo(appliedTo);
    this.reduceUncommittedSize(committedEntries);
    if (lastEntry) this.raftLog.stableTo(lastEntry.index, lastEntry.term);
    if (snapshot) this.raftLog.stableSnapTo(snapshot.metadata.index);
    if (this.state === StateType.Leader) this.ackOwnAppend();
  }

  private ackOwnAppend(): void {
    const pr = this.tracker.progress.get(this.id);
    if (!pr) return;
    if (pr.maybeUpdate(this.raftLog.persistedIndex()) && this.maybeCommit()) {
      this.releasePendingReadIndexMessages();
      this.bcastAppend();
    }
  }

  /** Advances the commit index to what a majority has; true if it moved. */
  private maybeCommit(): boolean {
    return this.raftLog.maybeCommit(this.tracker.committed(), this.term);
  }

  // ---- state transitions -----------------------------------------------------------

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.abortLeaderTransfer();
    this.tracker.resetVotes();
    const last = this.raftLog.lastIndex();
    for (const [id, old] of this.tracker.progress) {
      const self = id === this.id;
      this.tracker.progress.set(
        id,
        new Progress({
          match: self ? Math.min(this.raftLog.persistedIndex(), last) : 0,
          next: last + 1,
          maxInflight: this.tracker.maxInflight,
          isLearner: old.isLearner,
          recentActive: self,
        }),
      );
    }
    this.pendingConfIndex = 0;
    this.uncommittedSizeBytes = 0;
    this.readOnly = new ReadOnly();
    this.pendingReadIndexMessages = [];
  }

  becomeFollower(term: number, lead: bigint): void {
    this.reset(term);
    this.lead = lead;
    this.state = StateType.Follower;
    this.logger.info(`${this.id} became follower at term ${this.term}`);
  }

  private becomeCandidate(): void {
    assert(this.state !== StateType.Leader, 'invalid transition [leader -> candidate]');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.state = StateType.Candidate;
    this.logger.info(`${this.id} became candidate at term ${this.term}`);
  }

  private becomePreCandidate(): void {
    assert(this.state !== StateType.Leader, 'invalid transition [leader -> pre-candidate]');
    // a pre-candidate keeps its term and vote: nothing changes unless it wins
    this.tracker.resetVotes();
    this.lead = NONE;
    this.state = StateType.PreCandidate;
    this.logger.info(`${this.id} became pre-candidate at term ${this.term}`);
  }

  private becomeLeader(): void {
    assert(this.state !== StateType.Follower, 'invalid transition [follower -> leader]');
    this.reset(this.term);
    this.lead = this.id;
    this.state = StateType.Leader;
    this.tracker.progress.get(this.id)?.becomeReplicate();
    // We do not know whether a conf change is pending in the uncommitted tail, so
    // refuse new ones until everything up to here is applied.
    this.pendingConfIndex = this.raftLog.lastIndex();
    // An empty entry of our term: committing it commits every earlier entry (§5.4.2)
    // and lets ReadIndex start. It does not count against the uncommitted limit.
    const ok = this.appendEntry([{ term: 0, index: 0, type: EntryType.Normal, data: new Uint8Array(0) }]);
    assert(ok, 'empty entry was dropped');
    this.logger.info(`${this.id} became leader at term ${this.term}`);
  }

  private campaign(t: CampaignType): void {
    if (!this.promotable()) this.logger.warn(`${this.id} is unpromotable; campaign() should not have been called`);
    let term: number;
    let voteMsg: MessageType;
    if (t === 'pre-election') {
      this.becomePreCandidate();
      voteMsg = MessageType.MsgPreVote;
      // pre-votes ask about the term we would campaign in
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      voteMsg = MessageType.MsgVote;
      term = this.term;
    }
    if (this.poll(this.id, voteResponseType(voteMsg), true).result === VoteResult.Won) {
      // the only voter: won already
      if (t === 'pre-election') this.campaign('election');
      else {
        this.becomeLeader();
        this.bcastAppend(); // learners, if any
      }
      return;
    }
    for (const id of this.tracker.voters) {
      if (id === this.id) continue;
      this.logger.info(
        `${this.id} [logterm: ${this.raftLog.lastTerm()}, index: ${this.raftLog.lastIndex()}] sent ${MessageType[voteMsg]} request to ${id} at term ${this.term}`,
      );
      this.send(
        makeMessage({
          type: voteMsg,
          to: id,
          term,
          index: this.raftLog.lastIndex(),
          logTerm: this.raftLog.lastTerm(),
          ...(t === 'transfer' ? { context: CAMPAIGN_TRANSFER } : {}),
        }),
      );
    }
  }

  private poll(id: bigint, t: MessageType, granted: boolean): { granted: number; rejected: number; result: VoteResult } {
    if (granted) this.logger.info(`${this.id} received ${MessageType[t]} from ${id} at term ${this.term}`);
    else this.logger.info(`${this.id} received ${MessageType[t]} rejection from ${id} at term ${this.term}`);
    this.tracker.recordVote(id, granted);
    return this.tracker.tallyVotes();
  }

  // ---- ticks -------------------------------------------------------------------------

  tick(): void {
    if (this.state === StateType.Leader) this.tickHeartbeat();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.pastElectionTimeout()) {
      this.electionElapsed = 0;
      this.step(makeMessage({ type: MessageType.MsgHup, from: this.id }));
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTimeout) {
      this.electionElapsed = 0;
      if (this.checkQuorum) this.step(makeMessage({ type: MessageType.MsgCheckQuorum, from: this.id }));
      // a transfer that did not finish within an election timeout is abandoned
      if (this.state === StateType.Leader && this.leadTransferee !== NONE) {
        this.logger.info(`${this.id} [term ${this.term}] abort transferring leadership to ${this.leadTransferee}: timed out`);
        this.abortLeaderTransfer();
      }
    }
    if (this.state !== StateType.Leader) return;
    if (this.heartbeatElapsed >= this.heartbeatTimeout) {
      this.heartbeatElapsed = 0;
      this.step(makeMessage({ type: MessageType.MsgBeat, from: this.id }));
    }
  }

  pastElectionTimeout(): boolean {
    return this.electionElapsed >= this.randomizedElectionTimeout;
  }

  private resetRandomizedElectionTimeout(): void {
    const r = this.random();
    assert(r >= 0 && r < 1, () => `random() returned ${r}, want [0, 1)`);
    this.randomizedElectionTimeout = this.electionTimeout + Math.floor(r * this.electionTimeout);
  }

  // ---- step --------------------------------------------------------------------------

  /** Feeds one message into the state machine. Throws ProposalDroppedError for
   *  proposals that cannot be accepted. */
  step(m: Message): void {
    if (!this.stepTerm(m)) return;
    switch (m.type) {
      case MessageType.MsgHup:
        this.hup();
        return;
      case MessageType.MsgVote:
      case MessageType.MsgPreVote:
        this.handleVoteRequest(m);
        return;
      default:
        if (this.state === StateType.Leader) this.stepLeader(m);
        else if (this.state === StateType.Follower) this.stepFollower(m);
        else this.stepCandidate(m);
    }
  }

  /** Term bookkeeping shared by every state. Returns false when m is fully handled. */
  private stepTerm(m: Message): boolean {
    if (m.term === 0) return true; // local message
    if (m.term > this.term) {
      if (m.type === MessageType.MsgVote || m.type === MessageType.MsgPreVote) {
        const force = bytesEqual(m.context, CAMPAIGN_TRANSFER);
        const inLease = this.checkQuorum && this.lead !== NONE && this.electionElapsed < this.electionTimeout;
        if (!force && inLease) {
          // we heard from a leader within the minimum election timeout: ignore (§6 of the thesis)
          this.logger.info(
            `${this.id} [logterm: ${this.raftLog.lastTerm()}, index: ${this.raftLog.lastIndex()}, vote: ${this.vote}] ignored ${MessageType[m.type]} from ${m.from} ` +
              `[logterm: ${m.logTerm}, index: ${m.index}] at term ${this.term}: lease is not expired (remaining ticks: ${this.electionTimeout - this.electionElapsed})`,
          );
          return false;
        }
      }
      if (m.type === MessageType.MsgPreVote) {
        // never change term for a pre-vote
      } else if (m.type === MessageType.MsgPreVoteResp && !m.reject) {
        // a granted pre-vote carries the term we will campaign in; we move there if we win
      } else {
        this.logger.info(`${this.id} [term: ${this.term}] received a ${MessageType[m.type]} message with higher term from ${m.from} [term: ${m.term}]`);
        const fromLeader = m.type === MessageType.MsgApp || m.type === MessageType.MsgHeartbeat || m.type === MessageType.MsgSnap;
        this.becomeFollower(m.term, fromLeader ? m.from : NONE);
      }
      return true;
    }
    if (m.term < this.term) {
      this.stepLowerTerm(m);
      return false;
    }
    return true;
  }

  private stepLowerTerm(m: Message): void {
    if ((this.checkQuorum || this.preVote) && (m.type === MessageType.MsgHeartbeat || m.type === MessageType.MsgApp)) {
      // A leader of an older term is still sending. With check-quorum or pre-vote our
      // term may have moved on while we could not win (a partition); tell that leader
      // our term so it steps down, since votes alone would not reach it.
      this.send(makeMessage({ type: MessageType.MsgAppResp, to: m.from }));
    } else if (m.type === MessageType.MsgPreVote) {
      // reject explicitly, or a pre-candidate with a stale term would wait forever
      this.logger.info(
        `${this.id} [logterm: ${this.raftLog.lastTerm()}, index: ${this.raftLog.lastIndex()}, vote: ${this.vote}] rejected ${MessageType[m.type]} from ${m.from} ` +
          `[logterm: ${m.logTerm}, index: ${m.index}] at term ${this.term}`,
      );
      this.send(makeMessage({ type: MessageType.MsgPreVoteResp, to: m.from, term: this.term, reject: true }));
    } else {
      this.logger.info(`${this.id} [term: ${this.term}] ignored a ${MessageType[m.type]} message with lower term from ${m.from} [term: ${m.term}]`);
    }
  }

  private hup(): void {
    if (this.state === StateType.Leader) {
      this.logger.debug(`${this.id} ignoring MsgHup because already leader`);
      return;
    }
    if (!this.promotable()) {
      this.logger.warn(`${this.id} is unpromotable and can not campaign`);
      return;
    }
    const pending = this.unappliedConfChanges();
    if (pending > 0) {
      this.logger.warn(`${this.id} cannot campaign at term ${this.term} since there are still ${pending} pending configuration changes to apply`);
      return;
    }
    this.logger.info(`${this.id} is starting a new election at term ${this.term}`);
    this.campaign(this.preVote ? 'pre-election' : 'election');
  }

  private unappliedConfChanges(): number {
    if (this.raftLog.committed <= this.raftLog.applied) return 0;
    const ents = this.raftLog.slice(this.raftLog.applied + 1, this.raftLog.committed + 1, Number.POSITIVE_INFINITY);
    assert(ents !== undefined, 'unexpected compaction of unapplied entries');
    return ents.filter((e) => e.type === EntryType.ConfChange).length;
  }

  private handleVoteRequest(m: Message): void {
    // We may vote if we already voted for this candidate, if we have not voted and
    // know no leader in this term, or if it is a pre-vote for a later term...
    const canVote =
      this.vote === m.from ||
      (this.vote === NONE && this.lead === NONE) ||
      (m.type === MessageType.MsgPreVote && m.term > this.term);
    // ...and only if the candidate's log is at least as up to date as ours (§5.4.1).
    // Learners answer too: one may have been promoted without knowing it yet.
    const what = `${MessageType[m.type]} from ${m.from} [logterm: ${m.logTerm}, index: ${m.index}] at term ${this.term}`;
    const who = `${this.id} [logterm: ${this.raftLog.lastTerm()}, index: ${this.raftLog.lastIndex()}, vote: ${this.vote}]`;
    if (canVote && this.raftLog.isUpToDate(m.index, m.logTerm)) {
      this.logger.info(`${who} cast ${what}`);
      // answer with the message's term: for pre-votes ours may be older, and the
      // candidate ignores answers from older terms
      this.send(makeMessage({ type: voteResponseType(m.type), to: m.from, term: m.term }));
      if (m.type === MessageType.MsgVote) {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.logger.info(`${who} rejected ${what}`);
      this.send(makeMessage({ type: voteResponseType(m.type), to: m.from, term: this.term, reject: true }));
    }
  }

  // ---- leader ------------------------------------------------------------------------

  private stepLeader(m: Message): void {
    switch (m.type) {
      case MessageType.MsgBeat:
        this.bcastHeartbeat();
        return;
      case MessageType.MsgCheckQuorum:
        this.checkQuorumActive();
        return;
      case MessageType.MsgProp:
        this.leaderPropose(m);
        return;
      case MessageType.MsgReadIndex:
        this.leaderReadIndex(m);
        return;
    }
    const pr = this.tracker.progress.get(m.from);
    if (!pr) {
      this.logger.debug(`${this.id} no progress available for ${m.from}`);
      return;
    }
    switch (m.type) {
      case MessageType.MsgAppResp:
        this.handleAppendResponse(m, pr);
        return;
      case MessageType.MsgHeartbeatResp:
        this.handleHeartbeatResponse(m, pr);
        return;
      case MessageType.MsgSnapStatus:
        this.handleSnapStatus(m, pr);
        return;
      case MessageType.MsgUnreachable:
        // in replicate state a lost MsgApp would stall the window: fall back to probing
        if (pr.state === ProgressState.Replicate) pr.becomeProbe();
        this.logger.debug(`${this.id} failed to send message to ${m.from} because it is unreachable [${pr}]`);
        return;
      case MessageType.MsgTransferLeader:
        this.handleTransferLeader(m, pr);
        return;
    }
  }

  private checkQuorumActive(): void {
    const self = this.tracker.progress.get(this.id);
    if (self) self.recentActive = true;
    if (!this.tracker.quorumActive()) {
      this.logger.warn(`${this.id} stepped down to follower since quorum is not active`);
      this.becomeFollower(this.term, NONE);
    }
    // start a fresh round: everyone but us must show up again before the next check
    this.tracker.visit((id, pr) => {
      if (id !== this.id) pr.recentActive = false;
    });
  }

  private leaderPropose(m: Message): void {
    assert(m.entries.length > 0, () => `${this.id} stepped empty MsgProp`);
    if (!this.tracker.isVoter(this.id)) throw new ProposalDroppedError('leader is not in the configuration');
    if (this.leadTransferee !== NONE) {
      this.logger.debug(`${this.id} [term ${this.term}] transfer leadership to ${this.leadTransferee} is in progress; dropping proposal`);
      throw new ProposalDroppedError('leadership transfer in progress');
    }
    const ents = m.entries.map((e) => ({ ...e }));
    for (let i = 0; i < ents.length; i++) {
      if (ents[i]!.type !== EntryType.ConfChange) continue;
      if (this.pendingConfIndex > this.raftLog.applied) {
        // one configuration change at a time: keep the slot, but as a no-op
        this.logger.info(
          `${this.id} ignoring conf change at config ${this.tracker.describeConfig()}: possible unapplied conf change at index ${this.pendingConfIndex} (applied to ${this.raftLog.applied})`,
        );
        ents[i] = { term: 0, index: 0, type: EntryType.Normal, data: new Uint8Array(0) };
      } else {
        this.pendingConfIndex = this.raftLog.lastIndex() + i + 1;
      }
    }
    if (!this.appendEntry(ents)) throw new ProposalDroppedError('uncommitted log size limit reached');
    this.bcastAppend();
  }

  /** Appends entries of the current term to the leader's log. False if over the
   *  uncommitted-size limit (nothing appended). */
  private appendEntry(es: Entry[]): boolean {
    const li = this.raftLog.lastIndex();
    const ents = es.map((e, i) => ({ ...e, term: this.term, index: li + 1 + i }));
    if (!this.increaseUncommittedSize(ents)) {
      this.logger.debug(`${this.id} appending new entries to log would exceed uncommitted entry size limit; dropping proposal`);
      return false;
    }
    this.raftLog.append(ents);
    // our own acknowledgement comes with advance(), once the entries are persisted
    return true;
  }

  private leaderReadIndex(m: Message): void {
    if (this.tracker.isSingleton() && this.tracker.isVoter(this.id)) {
      // the only voter: our commit index is the cluster's
      this.respondToReadIndex(m, this.raftLog.committed);
      return;
    }
    // Until an entry of our term commits we may not know the latest commit index.
    if (!this.committedEntryInCurrentTerm()) {
      this.pendingReadIndexMessages.push(m);
      return;
    }
    this.startReadIndexRound(m);
  }

  private startReadIndexRound(m: Message): void {
    const ctx = m.entries[0]!.data;
    this.readOnly.addRequest(this.raftLog.committed, m);
    this.readOnly.recvAck(this.id, ctx);
    this.bcastHeartbeat(ctx);
  }

  private respondToReadIndex(req: Message, index: number): void {
    if (req.from === NONE || req.from === this.id) {
      this.readStates.push({ index, ctx: req.entries[0]!.data });
      return;
    }
    this.send(makeMessage({ type: MessageType.MsgReadIndexResp, to: req.from, index, entries: req.entries }));
  }

  private releasePendingReadIndexMessages(): void {
    if (this.pendingReadIndexMessages.length === 0) return;
    if (!this.committedEntryInCurrentTerm()) return;
    const msgs = this.pendingReadIndexMessages;
    this.pendingReadIndexMessages = [];
    for (const m of msgs) this.startReadIndexRound(m);
  }

  private committedEntryInCurrentTerm(): boolean {
    return (this.raftLog.term(this.raftLog.committed) ?? 0) === this.term;
  }

  private handleAppendResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    if (m.reject) {
      this.logger.debug(`${this.id} received MsgAppResp(rejected, hint: (index ${m.rejectHint}, term ${m.logTerm})) from ${m.from} for index ${m.index}`);
      // The hint is the follower's last index that could match; with its term we can
      // skip every entry of ours whose term is above it (fast backtracking).
      let nextProbe = m.rejectHint;
      if (m.logTerm > 0) nextProbe = this.raftLog.findConflictByTerm(m.rejectHint, m.logTerm).index;
      if (pr.maybeDecrTo(m.index, nextProbe)) {
        this.logger.debug(`${this.id} decreased progress of ${m.from} to [${pr}]`);
        if (pr.state === ProgressState.Replicate) pr.becomeProbe();
        this.sendAppend(m.from);
      }
      return;
    }
    const wasPaused = pr.isPaused();
    if (!pr.maybeUpdate(m.index)) return;
    if (pr.state === ProgressState.Probe) {
      pr.becomeReplicate();
    } else if (pr.state === ProgressState.Snapshot && pr.match >= pr.pendingSnapshot) {
      this.logger.debug(`${this.id} recovered from needing snapshot, resumed sending replication messages to ${m.from} [${pr}]`);
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === ProgressState.Replicate) {
      pr.inflights.freeLE(m.index);
    }
    if (this.maybeCommit()) {
      this.releasePendingReadIndexMessages();
      this.bcastAppend();
    } else if (wasPaused) {
      // it may have missed the latest commit index while paused
      this.sendAppend(m.from);
    }
    // the window may have room for several messages now
    while (this.maybeSendAppend(m.from, false)) {
      /* keep filling */
    }
    if (m.from === this.leadTransferee && pr.match === this.raftLog.lastIndex()) {
      this.logger.info(`${this.id} sent MsgTimeoutNow to ${m.from} after received MsgAppResp`);
      this.sendTimeoutNow(m.from);
    }
  }

  private handleHeartbeatResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    pr.probeSent = false;
    // a full window with a live follower: let one more message out
    if (pr.state === ProgressState.Replicate && pr.inflights.full()) pr.inflights.freeFirstOne();
    if (pr.match < this.raftLog.lastIndex()) this.sendAppend(m.from);
    if (m.context.length === 0) return;
    const acks = this.readOnly.recvAck(m.from, m.context);
    if (!acks) return;
    const votes = new Map<bigint, boolean>();
    for (const id of acks) votes.set(id, true);
    if (majorityVoteResult(this.tracker.voters, votes) !== VoteResult.Won) return;
    for (const rs of this.readOnly.advance(m.context)) this.respondToReadIndex(rs.req, rs.index);
  }

  private handleSnapStatus(m: Message, pr: Progress): void {
    if (pr.state !== ProgressState.Snapshot) return;
    if (!m.reject) {
      pr.becomeProbe();
      this.logger.debug(`${this.id} snapshot succeeded, resumed sending replication messages to ${m.from} [${pr}]`);
    } else {
      // forget the snapshot first, or we would probe from its index
      pr.pendingSnapshot = 0;
      pr.becomeProbe();
      this.logger.debug(`${this.id} snapshot failed, resumed sending replication messages to ${m.from} [${pr}]`);
    }
    // wait for the follower's MsgAppResp (or a heartbeat interval) before probing
    pr.probeSent = true;
  }

  private handleTransferLeader(m: Message, pr: Progress): void {
    const transferee = m.from;
    if (pr.isLearner) {
      this.logger.debug(`${this.id} is learner. Ignored transferring leadership`);
      return;
    }
    if (this.leadTransferee !== NONE) {
      if (this.leadTransferee === transferee) {
        this.logger.info(`${this.id} [term ${this.term}] transfer leadership to ${transferee} is in progress, ignores request to same node ${transferee}`);
        return;
      }
      this.logger.info(`${this.id} [term ${this.term}] abort previous transferring leadership to ${this.leadTransferee}`);
      this.abortLeaderTransfer();
    }
    if (transferee === this.id) {
      this.logger.debug(`${this.id} is already leader. Ignored transferring leadership to self`);
      return;
    }
    this.logger.info(`${this.id} [term ${this.term}] starts to transfer leadership to ${transferee}`);
    // the transfer must finish within one election timeout
    this.electionElapsed = 0;
    this.leadTransferee = transferee;
    if (pr.match === this.raftLog.lastIndex()) {
      this.sendTimeoutNow(transferee);
      this.logger.info(`${this.id} sends MsgTimeoutNow to ${transferee} immediately as ${transferee} already has up-to-date log`);
    } else {
      this.sendAppend(transferee);
    }
  }

  private abortLeaderTransfer(): void {
    this.leadTransferee = NONE;
  }

  // ---- candidate and follower --------------------------------------------------------

  private stepCandidate(m: Message): void {
    // only answers to our current kind of campaign count; a candidate may still get
    // pre-vote answers from its pre-candidacy
    const myResp = this.state === StateType.PreCandidate ? MessageType.MsgPreVoteResp : MessageType.MsgVoteResp;
    switch (m.type) {
      case MessageType.MsgProp:
        this.logger.info(`${this.id} no leader at term ${this.term}; dropping proposal`);
        throw new ProposalDroppedError('no leader');
      case MessageType.MsgApp:
        this.becomeFollower(m.term, m.from); // m.term === this.term here
        this.handleAppendEntries(m);
        return;
      case MessageType.MsgHeartbeat:
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case MessageType.MsgSnap:
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      case myResp: {
        const { granted, rejected, result } = this.poll(m.from, m.type, !m.reject);
        this.logger.info(`${this.id} has received ${granted} ${MessageType[m.type]} votes and ${rejected} vote rejections`);
        if (result === VoteResult.Won) {
          if (this.state === StateType.PreCandidate) this.campaign('election');
          else {
            this.becomeLeader();
            this.bcastAppend();
          }
        } else if (result === VoteResult.Lost) {
          // a pre-vote answer carries a future term: keep ours
          this.becomeFollower(this.term, NONE);
        }
        return;
      }
      case MessageType.MsgTimeoutNow:
        this.logger.debug(`${this.id} [term ${this.term} state ${stateName(this.state)}] ignored MsgTimeoutNow from ${m.from}`);
        return;
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case MessageType.MsgProp:
        if (this.lead === NONE) {
          this.logger.info(`${this.id} no leader at term ${this.term}; dropping proposal`);
          throw new ProposalDroppedError('no leader');
        }
        this.send({ ...m, to: this.lead, term: 0 });
        return;
      case MessageType.MsgApp:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppendEntries(m);
        return;
      case MessageType.MsgHeartbeat:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return;
      case MessageType.MsgSnap:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return;
      case MessageType.MsgTransferLeader:
        if (this.lead === NONE) {
          this.logger.info(`${this.id} no leader at term ${this.term}; dropping leader transfer msg`);
          return;
        }
        this.send({ ...m, to: this.lead, term: 0 });
        return;
      case MessageType.MsgTimeoutNow:
        if (this.promotable()) {
          this.logger.info(`${this.id} [term ${this.term}] received MsgTimeoutNow from ${m.from} and starts an election to get leadership.`);
          // a transfer skips pre-vote: the leader asked for it, nobody is partitioned
          this.campaign('transfer');
        } else {
          this.logger.info(`${this.id} received MsgTimeoutNow from ${m.from} but is not promotable`);
        }
        return;
      case MessageType.MsgReadIndex:
        if (this.lead === NONE) {
          this.logger.info(`${this.id} no leader at term ${this.term}; dropping index reading msg`);
          return;
        }
        this.send({ ...m, to: this.lead, term: 0 });
        return;
      case MessageType.MsgReadIndexResp:
        if (m.entries.length !== 1) {
          this.logger.error(`${this.id} invalid format of MsgReadIndexResp from ${m.from}, entries count: ${m.entries.length}`);
          return;
        }
        this.readStates.push({ index: m.index, ctx: m.entries[0]!.data });
        return;
    }
  }

  private handleAppendEntries(m: Message): void {
    if (m.index < this.raftLog.committed) {
      // everything up to our commit index matches by definition
      this.send(makeMessage({ type: MessageType.MsgAppResp, to: m.from, index: this.raftLog.committed }));
      return;
    }
    const lastNew = this.raftLog.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew !== undefined) {
      this.send(makeMessage({ type: MessageType.MsgAppResp, to: m.from, index: lastNew }));
      return;
    }
    // Reject, with a hint: the last index at or below m.index whose term is <= m.logTerm.
    // Entries above it cannot match the leader's log, so the leader may skip them.
    const hintIndex = Math.min(m.index, this.raftLog.lastIndex());
    const hint = this.raftLog.findConflictByTerm(hintIndex, m.logTerm);
    this.logger.debug(
      `${this.id} [logterm: ${this.raftLog.term(m.index) ?? 0}, index: ${m.index}] rejected MsgApp [logterm: ${m.logTerm}, index: ${m.index}] from ${m.from}`,
    );
    this.send(
      makeMessage({ type: MessageType.MsgAppResp, to: m.from, index: m.index, reject: true, rejectHint: hint.index, logTerm: hint.term }),
    );
  }

  private handleHeartbeat(m: Message): void {
    this.raftLog.commitTo(m.commit);
    this.send(makeMessage({ type: MessageType.MsgHeartbeatResp, to: m.from, context: m.context }));
  }

  private handleSnapshot(m: Message): void {
    const s = m.snapshot;
    if (!s) {
      this.logger.error(`${this.id} received MsgSnap without snapshot from ${m.from}`);
      return;
    }
    const { index, term } = s.metadata;
    if (this.restore(s)) {
      this.logger.info(`${this.id} [commit: ${this.raftLog.committed}] restored snapshot [index: ${index}, term: ${term}]`);
      this.send(makeMessage({ type: MessageType.MsgAppResp, to: m.from, index: this.raftLog.lastIndex() }));
    } else {
      this.logger.info(`${this.id} [commit: ${this.raftLog.committed}] ignored snapshot [index: ${index}, term: ${term}]`);
      this.send(makeMessage({ type: MessageType.MsgAppResp, to: m.from, index: this.raftLog.committed }));
    }
  }

  /** Replaces the log with the snapshot; false if it is stale or merely fast-forwards. */
  private restore(s: Snapshot): boolean {
    const { index, term, confState } = s.metadata;
    if (index <= this.raftLog.committed) return false;
    if (this.state !== StateType.Follower) {
      // cannot happen: MsgSnap makes us a follower first. Step away rather than risk it.
      this.logger.warn(`${this.id} attempted to restore snapshot as leader; should never happen`);
      this.becomeFollower(this.term + 1, NONE);
      return false;
    }
    if (this.raftLog.matchTerm(index, term)) {
      // we have that entry: the snapshot only tells us it is committed
      this.logger.info(
        `${this.id} [commit: ${this.raftLog.committed}, lastindex: ${this.raftLog.lastIndex()}, lastterm: ${this.raftLog.lastTerm()}] fast-forwarded commit to snapshot [index: ${index}, term: ${term}]`,
      );
      this.raftLog.commitTo(index);
      return false;
    }
    this.logger.info(`log [${this.raftLog}] starts to restore snapshot [index: ${index}, term: ${term}]`);
    this.raftLog.restore(s);
    this.tracker = new ProgressTracker(this.tracker.maxInflight);
    this.switchToConfig(confState.voters, confState.learners);
    return true;
  }

  // ---- configuration -----------------------------------------------------------------

  /**
   * Applies a committed single-step change. Invalid changes (demoting a voter,
   * removing the last voter) leave the configuration as it is: every member reaches
   * the same verdict because configurations are a function of the applied log.
   */
  applyConfChange(cc: ConfChange): ConfState {
    const voters = new Set(this.tracker.voters);
    const learners = new Set(this.tracker.learners);
    const id = cc.nodeId;
    const refuse = (why: string): ConfState => {
      this.logger.warn(`${this.id} ignoring conf change ${ConfChangeType[cc.type]} ${id}: ${why}`);
      return this.tracker.confState();
    };
    if (id === NONE) return refuse('node id 0');
    switch (cc.type) {
      case ConfChangeType.AddNode:
        learners.delete(id); // promotion when it was a learner
        voters.add(id);
        break;
      case ConfChangeType.AddLearnerNode:
        if (voters.has(id)) return refuse('demoting a voter is not supported');
        learners.add(id);
        break;
      case ConfChangeType.RemoveNode:
        voters.delete(id);
        learners.delete(id);
        if (voters.size === 0) return refuse('removed all voters');
        break;
      case ConfChangeType.UpdateNode:
        return this.tracker.confState();
      default:
        return refuse(`unknown type ${cc.type as number}`);
    }
    return this.switchToConfig([...voters], [...learners]);
  }

  /** Installs a configuration: adjusts progress, then reacts as the leader must. */
  switchToConfig(voters: bigint[], learners: bigint[]): ConfState {
    const prs = this.tracker.progress;
    const members = new Set([...voters, ...learners]);
    for (const id of [...prs.keys()]) if (!members.has(id)) prs.delete(id);
    const last = this.raftLog.lastIndex();
    const learnerSet = new Set(learners);
    for (const id of members) {
      const pr = prs.get(id);
      if (pr) {
        pr.isLearner = learnerSet.has(id);
        continue;
      }
      // A new member: probe from our last entry. It counts as active so that a
      // check-quorum right after adding it does not depose us.
      prs.set(id, new Progress({ match: 0, next: Math.max(last, 1), maxInflight: this.tracker.maxInflight, isLearner: learnerSet.has(id), recentActive: true }));
    }
    this.tracker.setConfig(voters, learners);
    this.isLearner = this.tracker.isLearner(this.id);
    this.logger.info(`${this.id} switched to configuration ${this.tracker.describeConfig()}`);
    const cs = this.tracker.confState();
    if (this.state !== StateType.Leader) return cs;
    if (!this.tracker.isVoter(this.id)) {
      this.stepDownAfterRemoval();
      return cs;
    }
    if (this.maybeCommit()) {
      // a smaller quorum may commit more right away
      this.releasePendingReadIndexMessages();
      this.bcastAppend();
    } else {
      // no reason to make new members wait for the next heartbeat or proposal
      this.tracker.visit((id) => void this.maybeSendAppend(id, false));
    }
    if (this.leadTransferee !== NONE && !this.tracker.isVoter(this.leadTransferee)) this.abortLeaderTransfer();
    return cs;
  }

  /**
   * This leader applied its own removal. It hands leadership to the most up-to-date
   * voter if one has its whole log (saving the cluster an election timeout), then
   * steps down; it no longer counts in any quorum.
   */
  private stepDownAfterRemoval(): void {
    let best: bigint = NONE;
    let bestMatch = -1;
    this.tracker.visit((id, pr) => {
      if (id !== this.id && !pr.isLearner && pr.match > bestMatch) {
        best = id;
        bestMatch = pr.match;
      }
    });
    if (best !== NONE && bestMatch === this.raftLog.lastIndex()) {
      this.logger.info(`${this.id} removed from the configuration; sends MsgTimeoutNow to ${best}`);
      this.sendTimeoutNow(best);
    }
    this.logger.info(`${this.id} stepping down: removed from the configuration`);
    this.becomeFollower(this.term, NONE);
  }

  private loadState(hs: HardState): void {
    assert(
      hs.commit >= this.raftLog.committed && hs.commit <= this.raftLog.lastIndex(),
      () => `${this.id} state.commit ${hs.commit} is out of range [${this.raftLog.committed}, ${this.raftLog.lastIndex()}]`,
    );
    this.raftLog.committed = hs.commit;
    this.term = hs.term;
    this.vote = hs.vote;
  }

  // ---- uncommitted size limit --------------------------------------------------------

  private increaseUncommittedSize(ents: Entry[]): boolean {
    let s = 0;
    for (const e of ents) s += payloadSizeBytes(e);
    // an empty tail accepts any single proposal, however large
    if (this.uncommittedSizeBytes > 0 && s > 0 && this.uncommittedSizeBytes + s > this.maxUncommittedSizeBytes) return false;
    this.uncommittedSizeBytes += s;
    return true;
  }

  private reduceUncommittedSize(ents: Entry[]): void {
    if (this.uncommittedSizeBytes === 0) return;
    let s = 0;
    for (const e of ents) s += payloadSizeBytes(e);
    // may underestimate (entries from before we led), never overestimate
    this.uncommittedSizeBytes = s > this.uncommittedSizeBytes ? 0 : this.uncommittedSizeBytes - s;
  }
}
