// Messages, conf changes and the Ready batch: the vocabulary between raft and the
// member that drives it. Names and numeric values of MessageType follow etcd's raftpb
// so that logs and debugging read the same as etcd's.
import type { ConfState, Entry, HardState, Snapshot } from './types.js';

/** No node. IDs are never 0. */
export const NONE = 0n;

export enum MessageType {
  MsgHup = 0,
  MsgBeat = 1,
  MsgProp = 2,
  MsgApp = 3,
  MsgAppResp = 4,
  MsgVote = 5,
  MsgVoteResp = 6,
  MsgSnap = 7,
  MsgHeartbeat = 8,
  MsgHeartbeatResp = 9,
  MsgUnreachable = 10,
  MsgSnapStatus = 11,
  MsgCheckQuorum = 12,
  MsgTransferLeader = 13,
  MsgTimeoutNow = 14,
  MsgReadIndex = 15,
  MsgReadIndexResp = 16,
  MsgPreVote = 17,
  MsgPreVoteResp = 18,
}

export const MAX_MESSAGE_TYPE = MessageType.MsgPreVoteResp;

export interface Message {
  type: MessageType;
  to: bigint;
  from: bigint;
  /** 0 for local messages and for forwarded MsgProp/MsgReadIndex */
  term: number;
  /** term of the entry at `index` (MsgApp), or of the candidate's last entry (votes) */
  logTerm: number;
  index: number;
  entries: Entry[];
  commit: number;
  snapshot?: Snapshot;
  reject: boolean;
  rejectHint: number;
  /** empty when unused; carries the ReadIndex context on heartbeats */
  context: Uint8Array;
}

const EMPTY_BYTES = new Uint8Array(0);

/** A message with every field defaulted; `fields` overrides. */
export function makeMessage(fields: Partial<Message> & { type: MessageType }): Message {
  return {
    to: NONE,
    from: NONE,
    term: 0,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    context: EMPTY_BYTES,
    ...fields,
  };
}

/** Messages raft generates for itself; never valid from the network. */
export function isLocalMessage(t: MessageType): boolean {
  return (
    t === MessageType.MsgHup ||
    t === MessageType.MsgBeat ||
    t === MessageType.MsgUnreachable ||
    t === MessageType.MsgSnapStatus ||
    t === MessageType.MsgCheckQuorum
  );
}

export function isResponseMessage(t: MessageType): boolean {
  return (
    t === MessageType.MsgAppResp ||
    t === MessageType.MsgVoteResp ||
    t === MessageType.MsgHeartbeatResp ||
    t === MessageType.MsgUnreachable ||
    t === MessageType.MsgPreVoteResp
  );
}

export function voteResponseType(t: MessageType): MessageType {
  if (t === MessageType.MsgVote) return MessageType.MsgVoteResp;
  if (t === MessageType.MsgPreVote) return MessageType.MsgPreVoteResp;
  throw new Error(`not a vote message: ${MessageType[t]}`);
}

export enum StateType {
  Follower = 0,
  Candidate = 1,
  Leader = 2,
  PreCandidate = 3,
}

export function stateName(s: StateType): string {
  return ['StateFollower', 'StateCandidate', 'StateLeader', 'StatePreCandidate'][s] ?? `State(${s})`;
}

/** Volatile state worth telling the application about; not persisted. */
export interface SoftState {
  lead: bigint;
  raftState: StateType;
}

/** The answer to a readIndex(ctx) call: reads may be served once applied >= index. */
export interface ReadState {
  index: number;
  ctx: Uint8Array;
}

/** Values as etcd's raftpb.ConfChangeType. To promote a learner, propose AddNode for it. */
export enum ConfChangeType {
  AddNode = 0,
  RemoveNode = 1,
  UpdateNode = 2,
  AddLearnerNode = 3,
}

export interface ConfChange {
  type: ConfChangeType;
  nodeId: bigint;
  /** opaque to raft: the server puts its member record here */
  context: Uint8Array;
}

/**
 * Everything the application must act on, handed out by RawNode.ready() and
 * acknowledged with RawNode.advance(rd). See docs/raft.md for the contract.
 */
export interface Ready {
  /** set when leader or role changed since the previous Ready */
  softState?: SoftState;
  /** set when term, vote or commit changed: persist it */
  hardState?: HardState;
  readStates: ReadState[];
  /** entries to append to stable storage, in order (may overwrite a suffix) */
  entries: Entry[];
  /** a snapshot to persist and to load into the state machine */
  snapshot?: Snapshot;
  /** entries to apply, in order; all are already in stable storage */
  committedEntries: Entry[];
  /** messages to send once hardState/entries/snapshot are persisted */
  messages: Message[];
  /** true when hardState term/vote or entries changed: the write must be fsynced */
  mustSync: boolean;
  /**
   * True when `messages` may be sent before the persistence above finishes: this node
   * is the leader and the Ready neither changes term nor vote (Raft thesis §10.2.1).
   */
  sendBeforePersist: boolean;
}

export function isEmptySnapshot(s: Snapshot | undefined): boolean {
  return s === undefined || s.metadata.index === 0;
}

export function confStateEquivalent(a: ConfState, b: ConfState): boolean {
  const norm = (ids: bigint[]) => [...ids].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)).join(',');
  return norm(a.voters) === norm(b.voters) && norm(a.learners) === norm(b.learners);
}
