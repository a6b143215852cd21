// What a member does once it runs (etcd's start-up after bootstrap): the first campaign of
// a lone voter, the initial election tick advance of a starting cluster, and publishing
// its name and client URLs through the log. All of it waits on events (the log applied,
// a peer stream up, a leader known), never by polling.
import { NONE } from '../raft/index.js';
import type { Timer } from '../pkg/clock.js';
import { encodeMemberAttributes } from './internal-records.js';
import type { ServerParts } from './parts.js';
import { RaftRequestField } from './raft-request.js';

/** etcd waits this long for streams to its peers before it gives up advancing the election ticks */
const PEER_WAIT_FOR_TICK_ADVANCE_MS = 5000;
/** a publish that failed (timed out, leader lost) is tried again after this long */
const PUBLISH_RETRY_MS = 500;

export class Campaigner {
  /** a lone voter campaigns as soon as its log is applied, instead of after an election timeout */
  private campaignWhenCaughtUp = false;
  private stopped = false;
  private stopAdvanceWait: (() => void) | undefined;

  constructor(private readonly m: ServerParts) {}

  start(): void {
    this.campaignWhenCaughtUp = true;
    this.maybeCampaign();
  }

  stop(): void {
    this.stopped = true;
    this.stopAdvanceWait?.();
  }

  /** After each applied batch: raft refuses to campaign while committed configuration changes are unapplied. */
  maybeCampaign(): void {
    if (!this.campaignWhenCaughtUp || this.stopped) return;
    const st = this.m.driver.node.status();
    // raft counts entries applied once the Ready that carried them is advanced: look again
    // after this turn of the event loop
    if (st.applied < st.commit) {
      setImmediate(() => this.maybeCampaign());
      return;
    }
    this.campaignWhenCaughtUp = false;
    const voters = st.config.voters;
    if (st.lead !== NONE) return;
    if (voters.length === 1 && voters[0] === this.m.memberId) this.m.driver.campaign();
    else if (voters.includes(this.m.memberId) && (this.m.opts.initialElectionTickAdvance ?? true)) this.advanceInitialElection();
  }

  /**
   * --initial-election-tick-advance, as etcd does it: once streams to more than one peer
   * are up (waiting up to 5 s), let all but two ticks of the first election timeout pass,
   * so a starting cluster elects in a few heartbeats instead of a whole timeout. A member
   * that hears from a leader meanwhile, or finds no peers, keeps its full timeout.
   */
  private advanceInitialElection(): void {
    const electionTicks = Math.max(2, Math.round(this.m.opts.electionTimeoutMs / this.m.opts.heartbeatIntervalMs));
    const check = (): void => {
      if (this.m.driver.leader !== NONE) return finish();
      const active = this.m.transport.activePeerCount();
      if (active <= 1) return;
      finish();
      this.m.opts.logger.info('initialized peer connections; fast-forwarding election ticks', {
        'local-member-id': this.m.memberId.toString(16),
        'forward-ticks': electionTicks - 2,
        'active-remote-members': active,
      });
      this.m.driver.advanceTicks(electionTicks - 2);
    };
    const unsubscribePeers = this.m.transport.onPeerActive(check);
    const unsubscribeLeader = this.m.driver.onLeaderChange(check);
    const deadline: Timer = this.m.clock.after(PEER_WAIT_FOR_TICK_ADVANCE_MS, () => finish());
    const finish = (): void => {
      unsubscribePeers();
      unsubscribeLeader();
      deadline.cancel();
      this.stopAdvanceWait = undefined;
    };
    this.stopAdvanceWait = finish;
    check();
  }
}

/** A member publishes its name and client URLs through the log once it sees a leader (etcd's publish). */
export class Publisher {
  private published = false;
  private publishing = false;
  private stopped = false;
  private retry: Timer | undefined;
  private markPublished: () => void = () => {};
  /** resolves once this member has published itself through raft: etcd's "ready" */
  readonly whenPublished: Promise<void> = new Promise((resolve) => (this.markPublished = resolve));

  constructor(private readonly m: ServerParts) {}

  stop(): void {
    this.stopped = true;
    this.retry?.cancel();
  }

  /** Called when a leader is known (and after a failed try). */
  publish(): void {
    if (this.published || this.publishing || this.stopped || this.m.driver.leader === NONE) return;
    this.publishing = true;
    const attrs = { memberId: this.m.memberId, name: this.m.opts.name, clientURLs: this.m.opts.advertiseClientUrls };
    this.m.proposals.propose(RaftRequestField.clusterMemberAttrSet, attrs, encodeMemberAttributes(attrs)).then(
      (o) => {
        this.publishing = false;
        if (o.error) return this.retryLater();
        this.published = true;
        this.markPublished();
        this.m.opts.logger.info('published local member to cluster through raft', { 'local-member-id': this.m.memberId.toString(16), name: this.m.opts.name });
      },
      () => {
        this.publishing = false;
        this.retryLater();
      },
    );
  }

  private retryLater(): void {
    if (this.stopped || this.retry) return;
    this.retry = this.m.clock.after(PUBLISH_RETRY_MS, () => {
      this.retry = undefined;
      this.publish();
    });
  }
}
