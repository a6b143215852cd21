// Lease requests (etcd's v3_server lease half): grant and revoke go through the log; a
// keep-alive and time-to-live are answered by the leader, which runs the lease clocks (a
// follower forwards them over the peer port); expired leases are revoked through the log.
import { keyBytes } from '../mvcc/tree-index.js';
import { forwardRenew, forwardTimeToLive } from '../peer/lease-forward.js';
import {
  LeaseGrantRequest,
  LeaseRevokeRequest,
  LeaseTimeToLiveRequest,
  type LeaseGrantResponse,
  type LeaseLeasesResponse,
  type LeaseRevokeResponse,
  type LeaseTimeToLiveResponse,
} from '../proto/etcdserverpb.js';
import type { AuthInfo } from '../auth/index.js';
import { LeaseError } from '../lease/lessor.js';
import { Errors, ServerError } from './errors.js';
import type { ServerParts } from './parts.js';
import { RaftRequestField } from './raft-request.js';

/** lease IDs are positive int64s: 31 random bits from one draw, 32 from another */
const HIGH_BITS = 2 ** 31;
const LOW_BITS = 2 ** 32;

export class LeaseOps {
  constructor(private readonly m: ServerParts) {}

  async grant(r: LeaseGrantRequest, raw: Uint8Array, caller?: AuthInfo): Promise<LeaseGrantResponse> {
    let body = raw;
    if (r.ID === 0n) {
      // the member picks the ID before proposing, so every member applies the same one
      r = { ...r, ID: this.randomLeaseId() };
      body = LeaseGrantRequest.encode(r);
    }
    const resp = await this.m.proposals.proposeAndWait(RaftRequestField.leaseGrant, r, body, caller);
    resp.header = this.m.header(this.m.store.rev);
    return resp;
  }

  async revoke(r: LeaseRevokeRequest, raw: Uint8Array, caller?: AuthInfo): Promise<LeaseRevokeResponse> {
    const resp = await this.m.proposals.proposeAndWait(RaftRequestField.leaseRevoke, r, raw, caller);
    resp.header = this.m.header(this.m.store.rev);
    return resp;
  }

  /** A keep-alive: the TTL granted again, or 0 when the lease does not exist (etcd's answer). */
  async renew(id: bigint): Promise<number> {
    if (this.m.driver.isLeader) return this.renewLocally(id);
    const leader = await this.m.proposals.waitForLeader();
    if (leader === this.m.memberId) return this.renewLocally(id);
    try {
      return await forwardRenew(this.peerUrls(leader), id, this.m.opts.peerTls, this.m.requestTimeoutMs);
    } catch {
      throw Errors.timeout();
    }
  }

  /** The leader's side of a keep-alive (also what /leases on the peer port answers). */
  renewLocally(id: bigint): number {
    try {
      return this.m.lessor.renew(id);
    } catch (err) {
      if (err instanceof LeaseError) return 0;
      throw err;
    }
  }

  async timeToLive(id: bigint, withKeys: boolean): Promise<LeaseTimeToLiveResponse> {
    if (this.m.driver.isLeader || !this.m.lessor.exists(id)) return this.timeToLiveLocally(id, withKeys);
    const leader = await this.m.proposals.waitForLeader();
    if (leader === this.m.memberId) return this.timeToLiveLocally(id, withKeys);
    try {
      const req = LeaseTimeToLiveRequest.create({ ID: id, keys: withKeys });
      const resp = await forwardTimeToLive(this.peerUrls(leader), req, this.m.opts.peerTls, this.m.requestTimeoutMs);
      resp.header = this.m.header(this.m.store.rev);
      return resp;
    } catch {
      throw Errors.timeout();
    }
  }

  timeToLiveLocally(id: bigint, withKeys: boolean): LeaseTimeToLiveResponse {
    const header = this.m.header(this.m.store.rev);
    const lease = this.m.lessor.lookup(id);
    if (!lease) return { header, ID: id, TTL: -1, grantedTTL: 0, keys: [] };
    const keys = withKeys ? [...lease.keys].sort().map((k) => keyBytes(k)) : [];
    return { header, ID: id, TTL: this.m.lessor.remainingSec(lease), grantedTTL: lease.ttlSec, keys };
  }

  leases(): LeaseLeasesResponse {
    return { header: this.m.header(this.m.store.rev), leases: this.m.lessor.ids().map((ID) => ({ ID })) };
  }

  /** Expired leases are revoked through the log, like a client's revoke. */
  revokeExpired(ids: bigint[]): void {
    for (const id of ids) {
      const req = LeaseRevokeRequest.create({ ID: id });
      this.m.proposals.propose(RaftRequestField.leaseRevoke, req, LeaseRevokeRequest.encode(req)).then(
        (o) => {
          const gone = o.error instanceof ServerError && o.error.kind === 'leaseNotFound';
          if (o.error && !gone) this.m.lessor.retryExpired(id);
        },
        () => this.m.lessor.retryExpired(id),
      );
    }
  }

  private peerUrls(id: bigint): string[] {
    return this.m.membership.get(id)?.peerURLs ?? [];
  }

  private randomLeaseId(): bigint {
    const random = () => this.m.clock.random();
    for (;;) {
      const id = (BigInt(Math.floor(random() * HIGH_BITS)) << 32n) | BigInt(Math.floor(random() * LOW_BITS));
      if (id !== 0n && !this.m.lessor.exists(id)) return id;
    }
  }
}
