// Majority quorum math for a single (non-joint) voter set. Configuration changes are
// single-step (one voter added or removed at a time), so any two majorities of
// successive configurations overlap and no joint consensus is needed.

export enum VoteResult {
  /** neither outcome decided yet: some voters have not answered */
  Pending = 1,
  /** a majority rejected, or can no longer grant */
  Lost = 2,
  /** a majority granted */
  Won = 3,
}

export function voteResultName(r: VoteResult): string {
  return ['', 'VotePending', 'VoteLost', 'VoteWon'][r] ?? `VoteResult(${r})`;
}

export function majoritySize(voterCount: number): number {
  return Math.floor(voterCount / 2) + 1;
}

/**
 * The largest index acknowledged by a majority of voters. Voters without an
 * acknowledgement count as 0. An empty voter set commits nothing.
 */
export function majorityCommittedIndex(voters: readonly bigint[], acked: (id: bigint) => number | undefined): number {
  const n = voters.length;
  if (n === 0) return 0;
  const idx = new Array<number>(n);
  for (let i = 0; i < n; i++) idx[i] = acked(voters[i]!) ?? 0;
  // sort descending: the majority-th highest value is on a majority of voters
  idx.sort((a, b) => b - a);
  return idx[majoritySize(n) - 1]!;
}

/**
 * The outcome of an election given the votes so far (true = granted). Votes from
 * non-voters are ignored. An empty voter set wins (nothing to ask).
 */
export function majorityVoteResult(voters: readonly bigint[], votes: ReadonlyMap<bigint, boolean>): VoteResult {
  if (voters.length === 0) return VoteResult.Won;
  let granted = 0;
  let missing = 0;
  for (const id of voters) {
    const v = votes.get(id);
    if (v === undefined) missing++;
    else if (v) granted++;
  }
  const q = majoritySize(voters.length);
  if (granted >= q) return VoteResult.Won;
  if (granted + missing >= q) return VoteResult.Pending;
  return VoteResult.Lost;
}
