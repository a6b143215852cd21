// Applying configuration changes (etcd's applyConfChange): the member list in the
// backend, raft's configuration, and the peers the transport dials. A change the backend
// already holds (a restart replaying its log) reaches only raft and the transport.
import { ConfChangeType, decodeConfChange, type ConfChange, type ConfState } from '../raft/index.js';
import type { Entry } from '../raft/types.js';
import type { ApplyOutcome } from './apply.js';
import { decodeMemberContext } from './internal-records.js';
import type { ServerParts } from './parts.js';

/** a removed member says so before it goes, then tells its owner (the process exits) */
const REMOVED_NOTICE_DELAY_MS = 500;

export class ConfChangeApplier {
  private removedNotified = false;

  constructor(private readonly m: ServerParts) {}

  apply(e: Entry): { outcome: ApplyOutcome; confState: ConfState } {
    const cc = decodeConfChange(e.data);
    const ctx = cc.context.length > 0 ? decodeMemberContext(cc.context) : undefined;
    const existing = this.m.membership.get(cc.nodeId);
    const membership = this.m.membership;
    switch (cc.type) {
      case ConfChangeType.AddNode:
        if (existing?.isLearner) membership.promote(cc.nodeId);
        else if (!existing && ctx) membership.add({ ...ctx.member, id: cc.nodeId, isLearner: false });
        break;
      case ConfChangeType.AddLearnerNode:
        if (!existing && ctx) membership.add({ ...ctx.member, id: cc.nodeId, isLearner: true });
        break;
      case ConfChangeType.RemoveNode:
        if (existing) membership.remove(cc.nodeId);
        break;
      case ConfChangeType.UpdateNode:
        if (existing && ctx) membership.updatePeerURLs(cc.nodeId, ctx.member.peerURLs);
        break;
    }
    const confState = this.m.driver.applyConfChange(cc);
    if (cc.nodeId !== this.m.memberId) this.updatePeer(cc);
    else if (cc.type === ConfChangeType.RemoveNode) this.removedFromCluster();
    return { outcome: { id: ctx?.requestId ?? 0, response: { members: membership.list() } }, confState };
  }

  /** A configuration change the backend already reflects: only raft and the transport learn it. */
  replay(e: Entry): ConfState {
    const cc = decodeConfChange(e.data);
    const confState = this.m.driver.applyConfChange(cc);
    if (cc.nodeId !== this.m.memberId) this.updatePeer(cc);
    return confState;
  }

  /** This member is no longer in the cluster (it applied its removal, or a peer said so). */
  removedFromCluster(): void {
    if (this.removedNotified) return;
    this.removedNotified = true;
    this.m.opts.logger.warn('the member has been permanently removed from the cluster', { 'local-member-id': this.m.memberId.toString(16) });
    this.m.clock.after(REMOVED_NOTICE_DELAY_MS, () => this.m.opts.onRemoved?.());
  }

  private updatePeer(cc: ConfChange): void {
    if (cc.type === ConfChangeType.RemoveNode) {
      this.m.transport.removePeer(cc.nodeId);
      return;
    }
    const peer = this.m.membership.get(cc.nodeId);
    if (peer) this.m.transport.addPeer(peer.id, peer.peerURLs);
  }
}
