// Applies committed entries to the state machine, in log order. Each entry is one
// InternalRaftRequest (or a configuration change); its outcome goes back to the member
// that proposed it, if that member is waiting.
import { EntryType, type Entry } from '../raft/types.js';
import {
  type CompactionRequest,
  type LeaseGrantRequest,
  type LeaseRevokeRequest,
  type TxnRequest,
  type CompactionResponse,
  type LeaseGrantResponse,
  type LeaseRevokeResponse,
} from '../proto/etcdserverpb.js';
import { LeaseError, type Lessor } from '../lease/lessor.js';
import { AlarmRequest_AlarmAction, AlarmType, type AlarmRequest, type AlarmResponse } from '../proto/etcdserverpb.js';
import type { AlarmStore } from './alarms.js';
import { callerFromHeader, type AuthInfo, type AuthStore } from '../auth/index.js';
import type { MvccStore } from '../mvcc/store.js';
import type { Change } from '../mvcc/store.js';
import { applyDeleteRange, applyPut, applyRange, applyTxn, isTxnReadOnly, type LeaseLookup, type ReadView } from './kv-apply.js';
import { decodeRaftRequest, RaftRequestField } from './raft-request.js';
import { decodeProposal, isAuthProposal, type AnyMemberProposal, type AnyProposal } from './proposal-types.js';
import type { Membership } from './membership.js';
import { Errors } from './errors.js';
import { applyLeaseCheckpoint } from './lease-checkpoint.js';

export interface ApplyOutcome {
  /** request ID the proposer waits on (0: nobody waits) */
  id: number;
  response?: unknown;
  error?: unknown;
  /** settles when work started by the entry finishes (a physical compaction) */
  done?: Promise<void>;
}

export interface ApplyContext {
  store: MvccStore;
  membership: Membership;
  leases: LeaseLookup;
  lessor: Lessor;
  alarms: AlarmStore;
  auth: AuthStore;
  /** called with the changes of each write transaction, in revision order */
  onChanges?: (changes: Change[], rev: number) => void;
}

/** An entry this member cannot apply at all (a bug, or a newer member's log): it stops the member instead of answering a client. */
export class UnappliableEntryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnappliableEntryError';
  }
}

export function storeView(store: MvccStore): ReadView {
  return {
    range: (range, opts) => store.range(range, opts),
    get rev() {
      return store.rev;
    },
    get firstRev() {
      return store.compactRev;
    },
  };
}

/**
 * Applies one entry. Must run inside a backend write transaction. `pending` is the request
 * as its proposer on this member decoded it (used when it is the entry's own field, so the
 * bytes are not decoded twice).
 */
export function applyEntry(entry: Entry, ctx: ApplyContext, pending?: AnyProposal): ApplyOutcome {
  if (entry.type === EntryType.ConfChange) throw new UnappliableEntryError(`apply: entry ${entry.index} is a configuration change; the member applies those`);
  if (entry.data.length === 0) return { id: 0 }; // a new leader's empty entry
  const req = decodeRaftRequest(entry.data);
  const id = req.header.id;
  try {
    const p = pending?.field === req.field ? pending : decodeProposal(req.field, req.body);
    if (!p) throw new UnappliableEntryError(`apply: entry ${entry.index} carries request field ${req.field} this member cannot apply`);
    if (isAuthProposal(p)) return { id, response: ctx.auth.apply(p.field, p.request, callerFromHeader(req.header), entry.index) };
    const caller = ctx.auth.enabled ? callerFromHeader(req.header) : undefined;
    return { id, ...applyMemberRequest(ctx, p, caller) };
  } catch (err) {
    if (err instanceof UnappliableEntryError) throw err;
    return { id, error: err };
  }
}

/** The member's own requests: etcd's applier chain (corrupt, capped, auth, then the store). */
function applyMemberRequest(ctx: ApplyContext, p: AnyMemberProposal, caller: AuthInfo | undefined): Omit<ApplyOutcome, 'id'> {
  switch (p.field) {
    case RaftRequestField.alarm:
      return { response: applyAlarm(ctx, p.request) };
    case RaftRequestField.put: {
      corrupted(ctx);
      capped(ctx);
      const r = p.request;
      if (ctx.auth.enabled) ctx.auth.checkPut(caller, r.key, r.prev_kv, r.lease !== 0n ? ctx.lessor.lookup(r.lease)?.keys : undefined);
      return { response: writeOnce(ctx, (txn) => applyPut(txn, r, ctx.leases)) };
    }
    case RaftRequestField.deleteRange: {
      corrupted(ctx);
      const r = p.request;
      if (ctx.auth.enabled) ctx.auth.checkDeleteRange(caller, r.key, r.range_end, r.prev_kv);
      return { response: writeOnce(ctx, (txn) => applyDeleteRange(txn, r)) };
    }
    case RaftRequestField.txn: {
      corrupted(ctx);
      const t = p.request;
      if (ctx.alarms.has(AlarmType.NOSPACE) && !isTxnReadOnly(t)) throw Errors.noSpace();
      if (ctx.auth.enabled) ctx.auth.checkTxn(caller, t, (lease) => ctx.lessor.lookup(lease)?.keys);
      return { response: applyTxnEntry(ctx, t) };
    }
    case RaftRequestField.range:
      corrupted(ctx);
      return { response: applyRange(storeView(ctx.store), p.request) };
    case RaftRequestField.compaction:
      corrupted(ctx);
      return applyCompaction(ctx, p.request);
    case RaftRequestField.leaseGrant:
      corrupted(ctx);
      capped(ctx);
      return { response: applyLeaseGrant(ctx, p.request) };
    case RaftRequestField.leaseRevoke: {
      corrupted(ctx);
      const lease = ctx.lessor.lookup(p.request.ID);
      // a revoke without a caller is the member's own (lease expiry): the API layer
      // refuses clients without an identity while auth is on
      if (ctx.auth.enabled && lease && caller) ctx.auth.checkLeaseRevoke(caller, lease.keys);
      return { response: applyLeaseRevoke(ctx, p.request) };
    }
    case RaftRequestField.leaseCheckpoint:
      applyLeaseCheckpoint(ctx.lessor, p.request);
      return {};
    case RaftRequestField.clusterMemberAttrSet: {
      const attrs = p.request;
      ctx.membership.setAttributes(attrs.memberId, attrs.name, attrs.clientURLs);
      return {};
    }
  }
}

function writeOnce<T>(ctx: ApplyContext, fn: (txn: ReturnType<MvccStore['write']>) => T): T {
  const txn = ctx.store.write();
  let result: T;
  try {
    result = fn(txn);
  } finally {
    const changes = txn.end();
    if (changes.length > 0) ctx.onChanges?.(changes, ctx.store.rev);
  }
  return result;
}

function applyTxnEntry(ctx: ApplyContext, t: TxnRequest) {
  const view = storeView(ctx.store);
  if (isTxnReadOnly(t)) return applyTxn(t, { view, leases: ctx.leases });
  return writeOnce(ctx, (write) => applyTxn(t, { view, write, leases: ctx.leases }));
}

/** With a CORRUPT alarm raised, the log's requests fail as etcd's corrupt applier fails them. */
function corrupted(ctx: ApplyContext): void {
  if (ctx.alarms.has(AlarmType.CORRUPT)) throw Errors.corrupt();
}

/** With a NOSPACE alarm raised, writes that grow the database are refused (etcd's capped applier). */
function capped(ctx: ApplyContext): void {
  if (ctx.alarms.has(AlarmType.NOSPACE)) throw Errors.noSpace();
}

function applyAlarm(ctx: ApplyContext, r: AlarmRequest): AlarmResponse {
  const resp: AlarmResponse = { header: zeroHeader(ctx.store.rev), alarms: [] };
  switch (r.action) {
    case AlarmRequest_AlarmAction.GET:
      resp.alarms = ctx.alarms.get(r.alarm);
      break;
    case AlarmRequest_AlarmAction.ACTIVATE: {
      const m = ctx.alarms.activate(r.memberID, r.alarm);
      if (m) resp.alarms.push(m);
      break;
    }
    case AlarmRequest_AlarmAction.DEACTIVATE: {
      const m = ctx.alarms.deactivate(r.memberID, r.alarm);
      if (m) resp.alarms.push(m);
      break;
    }
  }
  return resp;
}

function leaseError(err: unknown): unknown {
  if (!(err instanceof LeaseError)) return err;
  if (err.kind === 'exists') return Errors.leaseExist();
  if (err.kind === 'ttl-too-large') return Errors.leaseTTLTooLarge();
  return Errors.leaseNotFound();
}

function applyLeaseGrant(ctx: ApplyContext, r: LeaseGrantRequest): LeaseGrantResponse {
  try {
    const lease = ctx.lessor.grant(r.ID, r.TTL);
    return { header: zeroHeader(ctx.store.rev), ID: lease.id, TTL: lease.ttlSec, error: '' };
  } catch (err) {
    throw leaseError(err);
  }
}

/** Revokes a lease and deletes its keys in one write transaction: one revision, one event batch. */
function applyLeaseRevoke(ctx: ApplyContext, r: LeaseRevokeRequest): LeaseRevokeResponse {
  let keys: string[];
  try {
    keys = ctx.lessor.revoke(r.ID);
  } catch (err) {
    throw leaseError(err);
  }
  if (keys.length > 0) {
    writeOnce(ctx, (txn) => {
      for (const k of keys) txn.deleteRange({ start: k, end: undefined });
    });
  }
  return { header: zeroHeader(ctx.store.rev) };
}

function zeroHeader(revision: number) {
  return { cluster_id: 0n, member_id: 0n, revision, raft_term: 0 };
}

function applyCompaction(ctx: ApplyContext, c: CompactionRequest): Omit<ApplyOutcome, 'id'> {
  const done = ctx.store.compact(c.revision);
  // a failed physical compaction must not surface as an unhandled rejection
  done.catch(() => {});
  const response: CompactionResponse = { header: { cluster_id: 0n, member_id: 0n, revision: ctx.store.rev, raft_term: 0 } };
  return { response, done: c.physical ? done : undefined };
}

