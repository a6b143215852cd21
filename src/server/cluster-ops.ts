// Membership changes (etcdserverpb.Cluster) and leader transfer, with etcd's checks:
// duplicate peer URLs, one learner at most, quorum safety under --strict-reconfig-check,
// and promotion only of a learner that has caught up with the leader.
import { ConfChangeType, NONE, ProgressState, ProposalDroppedError, type ConfChange } from '../raft/index.js';
import { GrpcCode, GrpcError } from '../api/grpc/status.js';
import type { ApplyOutcome } from './apply.js';
import { Errors } from './errors.js';
import { memberIdFor } from './ids.js';
import { encodeMemberContext } from './internal-records.js';
import type { Member, Membership } from './membership.js';
import type { RaftDriver } from './raft-driver.js';

/** a learner is ready once its log has 90% of the leader's */
const LEARNER_READY_FRACTION = 0.9;

/** What cluster operations need from the member. */
export interface ClusterHost {
  readonly memberId: bigint;
  nextRequestId(): number;
  waitFor(id: number, decoded: unknown, propose: () => void): Promise<ApplyOutcome>;
  /** raft took request `id`'s proposal: a timeout now means "outcome unknown", not "not written" */
  markProposed(id: number): void;
  /** whether request `id` still waits for its outcome */
  isPending(id: number): boolean;
}

export interface ClusterOpsOptions {
  token: string;
  strictReconfigCheck: boolean;
  requestTimeoutMs: number;
  /** --experimental-max-learners */
  maxLearners: number;
}

export const errLeaderTransferTimeout = (): GrpcError =>
  new GrpcError(GrpcCode.Unavailable, 'etcdserver: request timed out, leader transfer took too long');

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
      id: memberIdFor(urls, this.opts.token, Math.floor(Date.now() / 1000)),
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

  /** Hands leadership to `target`; resolves once it leads. */
  async moveLeader(target: bigint): Promise<void> {
    if (!this.driver.isLeader) throw Errors.notLeader();
    const m = this.membership.get(target);
    if (!m || m.isLearner) throw Errors.badLeaderTransferee();
    if (target === this.host.memberId) return;
    this.driver.transferLeader(target);
    const deadline = Date.now() + this.opts.requestTimeoutMs;
    while (this.driver.leader !== target) {
      if (Date.now() > deadline) throw errLeaderTransferTimeout();
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  private async change(cc: Omit<ConfChange, 'context'>, member: Member): Promise<void> {
    const requestId = this.host.nextRequestId();
    const full: ConfChange = { ...cc, context: encodeMemberContext({ member, requestId }) };
    const outcome = await this.host.waitFor(requestId, undefined, () => this.proposeWhenLed(full, requestId));
    if (outcome.error) throw outcome.error;
  }

  /** Proposals need a leader; without one they are retried until the request times out. */
  private proposeWhenLed(cc: ConfChange, requestId: number): void {
    const deadline = Date.now() + this.opts.requestTimeoutMs;
    const attempt = (): void => {
      // a request that gave up (answered "no leader") must not be proposed after all
      if (Date.now() > deadline || !this.host.isPending(requestId)) return;
      if (this.driver.leader !== NONE) {
        try {
          this.driver.proposeConfChange(cc);
          this.host.markProposed(requestId);
          return;
        } catch (err) {
          if (!(err instanceof ProposalDroppedError)) throw err;
        }
      }
      setTimeout(attempt, 50).unref();
    };
    attempt();
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
