// Proposals and their waiters (etcd's wait.Wait plus the proposal path of
// processInternalRaftRequestOnce): a request gets an ID, a waiter and a timeout, then goes
// to raft; apply settles the waiter with the entry's outcome. Without a leader a proposal
// waits in a queue that is flushed when the raft driver reports one (an event, not a
// poll); a request that times out before raft took it is withdrawn, so "no leader" means
// "not written", while one that raft took answers "request timed out" (outcome unknown).
// This is also the member's one wait for a leader (waitForLeader).
import { NONE, ProposalDroppedError, type ConfChange } from '../raft/index.js';
import type { AuthInfo } from '../auth/index.js';
import type { Clock, Timer } from '../pkg/clock.js';
import type { ApplyOutcome } from './apply.js';
import { Errors } from './errors.js';
import type { RequestIdGenerator } from './ids.js';
import type { AnyProposal, ProposalField, RequestOf, ResponseOf } from './proposal-types.js';
import { encodeRaftRequest } from './raft-request.js';
import type { RaftDriver } from './raft-driver.js';

/** etcd refuses proposals when this many are queued and not yet applied */
export const MAX_PENDING_PROPOSALS = 5000;
/** a proposal raft dropped while a leader is known (a leader transfer) is offered again this often */
const DROPPED_RETRY_MS = 100;

interface Waiter {
  resolve: (outcome: ApplyOutcome) => void;
  /** the request as the proposer decoded it, so apply need not decode it again */
  proposal: AnyProposal | undefined;
  timer: Timer;
  /** raft took the proposal; until then it waits in the queue and can still be withdrawn */
  proposed: boolean;
}

interface Queued {
  id: number;
  /** hands the proposal to raft; throws ProposalDroppedError when raft cannot take it now */
  offer: () => void;
}

export interface ProposalsOptions {
  driver: Pick<RaftDriver, 'leader' | 'propose' | 'proposeConfChange' | 'onLeaderChange'>;
  clock: Clock;
  ids: RequestIdGenerator;
  maxRequestBytes: number;
  requestTimeoutMs: number;
  /** counts proposals that failed without reaching apply (etcd_server_proposals_failed_total) */
  onFailed: () => void;
}

export class Proposals {
  private readonly waiters = new Map<number, Waiter>();
  /** proposals made while no leader is known; offered once one is, unless their request gave up */
  private queued: Queued[] = [];
  private retryTimer: Timer | undefined;
  /** waits for a leader: called with it, or with undefined when the member stops */
  private readonly leaderWaiters = new Set<(lead: bigint | undefined) => void>();
  private stopped = false;
  private readonly unsubscribe: () => void;

  constructor(private readonly opts: ProposalsOptions) {
    this.unsubscribe = opts.driver.onLeaderChange((lead) => {
      if (lead === NONE) return;
      this.flush();
      for (const w of [...this.leaderWaiters]) w(lead);
    });
  }

  /** Requests proposed and not yet answered. */
  get pendingCount(): number {
    return this.waiters.size;
  }

  /** Proposes a request and resolves with apply's response (or rejects with apply's error). */
  async proposeAndWait<K extends ProposalField>(field: K, request: RequestOf<K>, body: Uint8Array, caller?: AuthInfo): Promise<ResponseOf<K>> {
    const outcome = await this.propose(field, request, body, caller);
    if (outcome.error) throw outcome.error;
    // the waiter of request `field` is settled by apply of the same field (apply.ts), whose
    // response is ResponseOf<K>: the map is heterogeneous, so the type is restored here, once
    return outcome.response as ResponseOf<K>;
  }

  /** Proposes a request; resolves with its whole outcome (an error is a value here). */
  propose<K extends ProposalField>(field: K, request: RequestOf<K>, body: Uint8Array, caller?: AuthInfo): Promise<ApplyOutcome> {
    const refused = this.refusal();
    if (refused) return Promise.reject(refused);
    const id = this.opts.ids.next();
    const data = encodeRaftRequest({ id, username: caller?.username ?? '', authRevision: caller?.revision ?? 0 }, field, body);
    if (data.length > this.opts.maxRequestBytes) return Promise.reject(Errors.requestTooLarge());
    // (field K, request of K) is one member of the union; TypeScript cannot see it through K
    const proposal = { field, request } as AnyProposal;
    return this.wait(id, proposal, () => this.opts.driver.propose(data));
  }

  /** Proposes a configuration change carrying request `id` (made with `context(id)`); resolves with its outcome. */
  proposeConfChange(change: (requestId: number) => ConfChange): Promise<ApplyOutcome> {
    const refused = this.refusal();
    if (refused) return Promise.reject(refused);
    const id = this.opts.ids.next();
    const cc = change(id);
    return this.wait(id, undefined, () => this.opts.driver.proposeConfChange(cc));
  }

  /** The request `id` proposed, for apply: its decoded request, or undefined when nobody here waits. */
  pending(id: number): AnyProposal | undefined {
    return this.waiters.get(id)?.proposal;
  }

  /** Answers the waiters of applied entries. */
  settle(outcomes: readonly ApplyOutcome[]): void {
    for (const o of outcomes) {
      if (o.id === 0) continue;
      const w = this.waiters.get(o.id);
      if (!w) continue;
      this.waiters.delete(o.id);
      w.timer.cancel();
      w.resolve(o);
    }
  }

  /** Resolves with the leader once there is one; rejects after the request timeout. */
  waitForLeader(): Promise<bigint> {
    if (this.opts.driver.leader !== NONE) return Promise.resolve(this.opts.driver.leader);
    if (this.stopped) return Promise.reject(Errors.stopped());
    return new Promise((resolve, reject) => {
      const done = (lead: bigint | undefined): void => {
        this.leaderWaiters.delete(done);
        timer.cancel();
        if (lead === undefined) reject(this.stopped ? Errors.stopped() : Errors.timeout());
        else resolve(lead);
      };
      const timer = this.opts.clock.after(this.opts.requestTimeoutMs, () => done(undefined));
      this.leaderWaiters.add(done);
    });
  }

  /** Fails every waiter with "server stopped". */
  stop(): void {
    this.stopped = true;
    this.unsubscribe();
    this.retryTimer?.cancel();
    for (const [, w] of this.waiters) {
      w.timer.cancel();
      w.resolve({ id: 0, error: Errors.stopped() });
    }
    this.waiters.clear();
    for (const w of [...this.leaderWaiters]) w(undefined);
  }

  private refusal(): Error | undefined {
    const err = this.stopped ? Errors.stopped() : this.waiters.size >= MAX_PENDING_PROPOSALS ? Errors.tooManyRequests() : undefined;
    if (err) this.opts.onFailed();
    return err;
  }

  /** Registers a waiter for request `id`, then offers the proposal; the waiter times out like etcd's. */
  private wait(id: number, proposal: AnyProposal | undefined, offer: () => void): Promise<ApplyOutcome> {
    return new Promise<ApplyOutcome>((resolve) => {
      const timer = this.opts.clock.after(this.opts.requestTimeoutMs, () => this.expire(id));
      this.waiters.set(id, { resolve, proposal, timer, proposed: false });
      this.submit({ id, offer });
    });
  }

  private expire(id: number): void {
    const w = this.waiters.get(id);
    if (!w) return;
    this.waiters.delete(id);
    this.opts.onFailed();
    if (!w.proposed) {
      // never reached raft: withdraw it, so "no leader" really means not written
      this.queued = this.queued.filter((q) => q.id !== id);
      w.resolve({ id, error: Errors.noLeader() });
    } else {
      // raft has it and may still commit it: the outcome is unknown, as etcd says
      w.resolve({ id, error: Errors.timeout() });
    }
  }

  private submit(q: Queued): void {
    if (this.opts.driver.leader !== NONE) {
      try {
        q.offer();
        const w = this.waiters.get(q.id);
        if (w) w.proposed = true;
        return;
      } catch (err) {
        if (!(err instanceof ProposalDroppedError)) throw err;
        this.scheduleRetry();
      }
    }
    this.queued.push(q);
  }

  /** Raft dropped a proposal although a leader is known (it is handing leadership over): try again shortly. */
  private scheduleRetry(): void {
    if (this.retryTimer || this.stopped) return;
    this.retryTimer = this.opts.clock.after(DROPPED_RETRY_MS, () => {
      this.retryTimer = undefined;
      this.flush();
    });
  }

  private flush(): void {
    if (this.queued.length === 0 || this.opts.driver.leader === NONE) return;
    const queued = this.queued;
    this.queued = [];
    // a request that already gave up (and answered "no leader") is not proposed
    for (const q of queued) if (this.waiters.has(q.id)) this.submit(q);
  }
}
