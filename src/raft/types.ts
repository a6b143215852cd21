// Value types shared by raft, the WAL and the server. Indexes and terms are plain
// numbers: a member would need 2^53 entries before precision became a concern.

export const enum EntryType {
  Normal = 0,
  ConfChange = 1,
}

export interface Entry {
  term: number;
  index: number;
  type: EntryType;
  data: Uint8Array;
}

/** What raft must persist before it may answer any message: term, vote, commit. */
export interface HardState {
  term: number;
  /** member ID voted for in `term`, 0n when none */
  vote: bigint;
  commit: number;
}

export interface ConfState {
  voters: bigint[];
  learners: bigint[];
}

/** Describes the state a raft snapshot stands for: everything up to index/term. */
export interface SnapshotMetadata {
  index: number;
  term: number;
  confState: ConfState;
}

export interface Snapshot {
  metadata: SnapshotMetadata;
  /** opaque to raft and to the WAL: the server decides what a snapshot carries */
  data: Uint8Array;
}

export function emptyHardState(): HardState {
  return { term: 0, vote: 0n, commit: 0 };
}

export function isEmptyHardState(hs: HardState): boolean {
  return hs.term === 0 && hs.vote === 0n && hs.commit === 0;
}
