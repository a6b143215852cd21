// The leader's view of one follower's log: how far it matches (match), what to send
// next (next), and the flow-control state that decides how eagerly to send.
import { Inflights } from './inflights.js';

export enum ProgressState {
  /** one MsgApp per heartbeat interval until we find where the logs match */
  Probe = 0,
  /** logs match: stream MsgApps optimistically, bounded by the inflight window */
  Replicate = 1,
  /** the follower needs a snapshot; nothing else is sent until it is done */
  Snapshot = 2,
}

export function progressStateName(s: ProgressState): string {
  return ['StateProbe', 'StateReplicate', 'StateSnapshot'][s] ?? `ProgressState(${s})`;
}

export class Progress {
  match: number;
  next: number;
  state: ProgressState = ProgressState.Probe;
  /** index of the snapshot being sent while in Snapshot state */
  pendingSnapshot = 0;
  /** heard from this follower since the last check-quorum round */
  recentActive: boolean;
  /** in Probe state: a probe is out, wait for its answer (or a heartbeat response) */
  probeSent = false;
  readonly inflights: Inflights;
  isLearner: boolean;

  constructor(opts: { match: number; next: number; maxInflight: number; isLearner: boolean; recentActive: boolean }) {
    this.match = opts.match;
    this.next = opts.next;
    this.inflights = new Inflights(opts.maxInflight);
    this.isLearner = opts.isLearner;
    this.recentActive = opts.recentActive;
  }

  private resetState(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    if (this.state === ProgressState.Snapshot) {
      // the snapshot may have landed: probe from just after it
      const pending = this.pendingSnapshot;
      this.resetState(ProgressState.Probe);
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState(ProgressState.Probe);
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState(ProgressState.Replicate);
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState(ProgressState.Snapshot);
    this.pendingSnapshot = snapshotIndex;
  }

  /** An acknowledgement up to n arrived. Returns whether match moved forward. */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.probeSent = false;
    }
    if (this.next < n + 1) this.next = n + 1;
    return updated;
  }

  /** Sent entries up to n in Replicate state: assume they will land. */
  optimisticUpdate(n: number): void {
    this.next = n + 1;
  }

  /**
   * The follower rejected a MsgApp whose previous index was `rejected`; matchHint is
   * the highest index that could still match. Returns false for stale rejections.
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === ProgressState.Replicate) {
      // a rejection at or below match is stale: we already know those entries match
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    // in Probe state only the answer to the outstanding probe (at next-1) counts
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1, 1);
    this.probeSent = false;
    return true;
  }

  isPaused(): boolean {
    switch (this.state) {
      case ProgressState.Probe:
        return this.probeSent;
      case ProgressState.Replicate:
        return this.inflights.full();
      case ProgressState.Snapshot:
        return true;
    }
  }

  toString(): string {
    let s = `${progressStateName(this.state)} match=${this.match} next=${this.next}`;
    if (this.isLearner) s += ' learner';
    if (this.isPaused()) s += ' paused';
    if (this.pendingSnapshot > 0) s += ` pendingSnap=${this.pendingSnapshot}`;
    if (!this.recentActive) s += ' inactive';
    const n = this.inflights.count();
    if (n > 0) {
      s += ` inflight=${n}`;
      if (this.inflights.full()) s += '[full]';
    }
    return s;
  }
}
