// Membership changes (etcdserverpb.Cluster) and leader transfer, with etcd's checks:
// duplicate peer URLs, one learner at most, quorum safety under --strict-reconfig-check,
// and promotion only of a learner that has caught up with the leader.
import { ConfChangeType, ProgressState, type ConfChange } from '../raft/index.js';
import type { Clock } from '../pkg/clock.js';
import { Errors } from './errors.js';
import { memberIdFor } from './ids.js';
import { encodeMemberContext } from './internal-records.js';
import type { Member, Membership } from './membership.js';
import type { Proposals } from './proposals.js';
import type { PeerTlsOptions } from '../peer/dialer.js';
import { forwardPromote, PromoteRefusedError } from '../peer/lease-forward.js';
import { errorFromPeerText } from './errors.js';
import type { RaftDriver } from './raft-driver.js';

/** a learner is ready once its log has 90% of the leader's */
const LEARNER_READY_FRACTION = 0.9;

/** What cluster operations need from the member. */
export interface ClusterHost {
  readonly memberId: bigint;
  readonly clock: Clock;
  /** proposes changes (waiting for a leader if none is known) and waits for their outcome */
  readonly proposals: Pick<Proposals, 'proposeConfChange' | 'waitForLeader'>;
  /** resolves once this member applied everything committed before the call */
  linearizableReadBarrier(): Promise<void>;
}

export interface ClusterOpsOptions {
  token: string;
  strictReconfigCheck: boolean;
  requestTimeoutMs: number;
  /** --experimental-max-learners */
  maxLearners: number;
  /** TLS for asking the leader over the peer port */
  peerTls?: PeerTlsOptions;
}

export class ClusterOps {
  constructor(
    private readonly host: ClusterHost,
    private readonly membership: Membership,
    private readonly driver: RaftDriver,
    private readonly opts: ClusterOpsOptions,
  ) {}

  async add(peerURLs: string[], isLearner: boolean): Promise<{ member: Member; members: Member[] }> {
    if (peerURLs.length === 0 || peerURLs.some((u) => !validPeerUrl(u))) throw Errors.memberBadURLs();
    const urls = peerURLs.map(normalizeUrl);
    const taken = new Set(this.membership.list().flatMap((m) => m.peerURLs));
    if (urls.some((u) => taken.has(u))) throw Errors.peerURLExist();
    const members = this.membership.list();
    if (isLearner && members.filter((m) => m.isLearner).length >= this.opts.maxLearners) throw Errors.tooManyLearners();
    if (!isLearner && this.opts.strictReconfigCheck && !this.readyToAddVoter()) throw Errors.memberNotEnoughStarted();
    const member: Member = {
      id: memberIdFor(urls, this.opts.token, Math.floor(this.host.clock.wallMs() / 1000)),
      name: '',
      peerURLs: urls,
      clientURLs: [],
      isLearner,
    };
    if (this.membership.get(member.id)) throw Errors.memberExist();
    await this.change({ type: isLearner ? ConfChangeType.AddLearnerNode : ConfChangeType.AddNode, nodeId: member.id }, member);
    return { member, members: this.membership.list() };
  }

  async remove(id: bigint): Promise<Member[]> {
    const m = this.membership.get(id);
    if (!m) throw Errors.memberNotFound();
    if (!m.isLearner && this.opts.strictReconfigCheck && !this.readyToRemoveVoter(id)) throw Errors.memberNotEnoughStarted();
    await this.change({ type: ConfChangeType.RemoveNode, nodeId: id }, m);
    return this.membership.list();
  }

  async update(id: bigint, peerURLs: string[]): Promise<Member[]> {
    const m = this.membership.get(id);
    if (!m) throw Errors.memberNotFound();
    if (peerURLs.length === 0 || peerURLs.some((u) => !validPeerUrl(u))) throw Errors.memberBadURLs();
    const urls = peerURLs.map(normalizeUrl);
    const taken = new Set(this.membership.list().filter((o) => o.id !== id).flatMap((o) => o.peerURLs));
    if (urls.some((u) => taken.has(u))) throw Errors.peerURLExist();
    await this.change({ type: ConfChangeType.UpdateNode, nodeId: id }, { ...m, peerURLs: urls });
    return this.membership.list();
  }

  /** Promotes a learner from any member: only the leader knows whether it caught up, so a follower asks it over the peer port. */
  async promoteAnywhere(id: bigint): Promise<Member[]> {
    if (this.driver.isLeader) return this.promote(id);
    const m = this.membership.get(id);
    if (!m) throw Errors.memberNotFound();
    if (!m.isLearner) throw Errors.memberNotLearner();
    const leader = await this.host.proposals.waitForLeader();
    if (leader === this.host.memberId) return this.promote(id);
    try {
      await forwardPromote(this.membership.get(leader)?.peerURLs ?? [], id, this.opts.peerTls, this.opts.requestTimeoutMs);
    } catch (err) {
      if (err instanceof PromoteRefusedError) throw errorFromPeerText(err.message);
      throw Errors.timeout();
    }
    // the promotion is committed; wait until it is applied here too
    await this.host.linearizableReadBarrier().catch(() => {});
    return this.membership.list();
  }

  /** Promotes a learner; only the leader knows whether it has caught up. */
  async promote(id: bigint): Promise<Member[]> {
    const m = this.membership.get(id);
    if (!m) throw Errors.memberNotFound();
    if (!m.isLearner) throw Errors.memberNotLearner();
    if (!this.driver.isLeader) throw Errors.notLeader();
    if (!this.learnerReady(id)) throw Errors.learnerNotReady();
    await this.change({ type: ConfChangeType.AddNode, nodeId: id }, { ...m, isLearner: false });
    return this.membership.list();
  }

  /** Hands leadership to `target`; resolves once it leads (told by the raft driver, not polled). */
  async moveLeader(target: bigint): Promise<void> {
    if (!this.driver.isLeader) throw Errors.notLeader();
    const m = this.membership.get(target);
    if (!m || m.isLearner) throw Errors.badLeaderTransferee();
    if (target === this.host.memberId) return;
    const led = new Promise<void>((resolve, reject) => {
      const done = (err?: Error): void => {
        unsubscribe();
        timer.cancel();
        if (err) reject(err);
        else resolve();
      };
      const unsubscribe = this.driver.onLeaderChange((lead) => lead === target && done());
      const timer = this.host.clock.after(this.opts.requestTimeoutMs, () => done(Errors.leaderTransferTimeout()));
    });
    this.driver.transferLeader(target);
    await led;
  }

  private async change(cc: Omit<ConfChange, 'context'>, member: Member): Promise<void> {
    const outcome = await this.host.proposals.proposeConfChange((requestId) => ({ ...cc, context: encodeMemberContext({ member, requestId }) }));
    if (outcome.error) throw outcome.error;
  }

  /** etcd's IsReadyToAddVotingMember: the new quorum must be met by members already started. */
  private readyToAddVoter(): boolean {
    const voters = this.membership.list().filter((m) => !m.isLearner);
    const nmembers = voters.length + 1;
    const nstarted = voters.filter((m) => this.membership.isStarted(m.id)).length;
    // growing a one-member cluster to two is allowed (restoring from a backup)
    if (nstarted === 1 && nmembers === 2) return true;
    return nstarted >= Math.floor(nmembers / 2) + 1;
  }

  /** etcd's IsReadyToRemoveVotingMember: what remains must still have a started quorum. */
  private readyToRemoveVoter(id: bigint): boolean {
    const voters = this.membership.list().filter((m) => !m.isLearner && m.id !== id);
    const nstarted = voters.filter((m) => this.membership.isStarted(m.id)).length;
    return nstarted >= Math.floor(voters.length / 2) + 1;
  }

  private learnerReady(id: bigint): boolean {
    const progress = this.driver.node.status().progress;
    const leader = progress?.get(this.host.memberId);
    const learner = progress?.get(id);
    if (!leader || !learner || learner.state === ProgressState.Probe) return false;
    return learner.match >= leader.match * LEARNER_READY_FRACTION;
  }
}

function validPeerUrl(u: string): boolean {
  try {
    const url = new URL(u);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '' && url.port !== '';
  } catch {
    return false;
  }
}

/** URLs as etcd prints them: no trailing slash. */
function normalizeUrl(u: string): string {
  const url = new URL(u);
  return `${url.protocol}//${url.host}${url.pathname === '/' ? '' : url.pathname}`;
}
