// The configuration (voters, learners) and the leader's per-node Progress, plus the
// votes collected in the current election.
import { Progress } from './progress.js';
import { majorityCommittedIndex, majorityVoteResult, VoteResult } from './quorum.js';
import type { ConfState } from './types.js';
import { sortedIds } from './util.js';

export class ProgressTracker {
  /** sorted, for deterministic iteration */
  voters: bigint[] = [];
  learners: bigint[] = [];
  progress = new Map<bigint, Progress>();
  votes = new Map<bigint, boolean>();
  readonly maxInflight: number;

  constructor(maxInflight: number) {
    this.maxInflight = maxInflight;
  }

  confState(): ConfState {
    return { voters: [...this.voters], learners: [...this.learners] };
  }

  isVoter(id: bigint): boolean {
    return this.voters.includes(id);
  }

  isLearner(id: bigint): boolean {
    return this.learners.includes(id);
  }

  isSingleton(): boolean {
    return this.voters.length === 1;
  }

  /** Sets the membership; callers adjust progress entries (see Raft.switchToConfig). */
  setConfig(voters: Iterable<bigint>, learners: Iterable<bigint>): void {
    this.voters = sortedIds(new Set(voters));
    this.learners = sortedIds(new Set(learners));
  }

  /** Every member (voters then learners, each sorted) with its progress. */
  visit(fn: (id: bigint, pr: Progress) => void): void {
    for (const id of sortedIds(this.progress.keys())) fn(id, this.progress.get(id)!);
  }

  /** The highest index replicated on a majority of voters. */
  committed(): number {
    return majorityCommittedIndex(this.voters, (id) => this.progress.get(id)?.match);
  }

  /** Whether a majority of voters was heard from since the last check (self counts). */
  quorumActive(): boolean {
    const active = new Map<bigint, boolean>();
    for (const id of this.voters) active.set(id, this.progress.get(id)?.recentActive ?? false);
    return majorityVoteResult(this.voters, active) === VoteResult.Won;
  }

  resetVotes(): void {
    this.votes = new Map();
  }

  /** Records a vote; a node's first answer in an election is the one that counts. */
  recordVote(id: bigint, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  tallyVotes(): { granted: number; rejected: number; result: VoteResult } {
    let granted = 0;
    let rejected = 0;
    for (const id of this.voters) {
      const v = this.votes.get(id);
      if (v === undefined) continue;
      if (v) granted++;
      else rejected++;
    }
    return { granted, rejected, result: majorityVoteResult(this.voters, this.votes) };
  }

  describeConfig(): string {
    let s = `voters=(${this.voters.join(' ')})`;
    if (this.learners.length > 0) s += ` learners=(${this.learners.join(' ')})`;
    return s;
  }
}
