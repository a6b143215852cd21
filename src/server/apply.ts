// Applies committed entries to the state machine, in log order. Each entry is one
// InternalRaftRequest (or a configuration change); its outcome goes back to the member
// that proposed it, if that member is waiting.
import { EntryType, type Entry } from '../raft/types.js';
import {
  CompactionRequest,
  DeleteRangeRequest,
  PutRequest,
  RangeRequest,
  TxnRequest,
  type CompactionResponse,
} from '../proto/etcdserverpb.js';
import type { MvccStore } from '../mvcc/store.js';
import type { Change } from '../mvcc/store.js';
import { applyDeleteRange, applyPut, applyRange, applyTxn, isTxnReadOnly, type LeaseLookup, type ReadView } from './kv-apply.js';
import { decodeRaftRequest, RaftRequestField } from './raft-request.js';
import { decodeConfChange, decodeMemberAttributes } from './internal-records.js';
import type { Membership } from './membership.js';
import { Errors } from './errors.js';

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
  /** called with the changes of each write transaction, in revision order */
  onChanges?: (changes: Change[], rev: number) => void;
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

/** Applies one entry. Must run inside a backend write transaction. */
export function applyEntry(entry: Entry, ctx: ApplyContext, decoded?: unknown): ApplyOutcome {
  if (entry.type === EntryType.ConfChange) {
    applyConfChange(entry, ctx);
    return { id: 0 };
  }
  if (entry.data.length === 0) return { id: 0 }; // a new leader's empty entry
  const req = decodeRaftRequest(entry.data);
  const id = req.header.id;
  try {
    switch (req.field) {
      case RaftRequestField.put:
        return { id, response: writeOnce(ctx, (txn) => applyPut(txn, (decoded as PutRequest) ?? PutRequest.decode(req.body), ctx.leases)) };
      case RaftRequestField.deleteRange:
        return { id, response: writeOnce(ctx, (txn) => applyDeleteRange(txn, (decoded as DeleteRangeRequest) ?? DeleteRangeRequest.decode(req.body))) };
      case RaftRequestField.txn:
        return { id, response: applyTxnEntry(ctx, (decoded as TxnRequest) ?? TxnRequest.decode(req.body)) };
      case RaftRequestField.range:
        return { id, response: applyRange(storeView(ctx.store), (decoded as RangeRequest) ?? RangeRequest.decode(req.body)) };
      case RaftRequestField.compaction:
        return applyCompaction(id, ctx, (decoded as CompactionRequest) ?? CompactionRequest.decode(req.body));
      case RaftRequestField.clusterMemberAttrSet: {
        const attrs = decodeMemberAttributes(req.body);
        ctx.membership.setAttributes(attrs.memberId, attrs.name, attrs.clientURLs);
        return { id };
      }
      default:
        throw new Error(`apply: entry ${entry.index} carries request field ${req.field} this member cannot apply`);
    }
  } catch (err) {
    if (err instanceof Error && err.message.startsWith('apply:')) throw err;
    return { id, error: err };
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

function applyCompaction(id: number, ctx: ApplyContext, c: CompactionRequest): ApplyOutcome {
  const done = ctx.store.compact(c.revision);
  // a failed physical compaction must not surface as an unhandled rejection
  done.catch(() => {});
  const response: CompactionResponse = { header: { cluster_id: 0n, member_id: 0n, revision: ctx.store.rev, raft_term: 0 } };
  return { id, response, done: c.physical ? done : undefined };
}

function applyConfChange(entry: Entry, ctx: ApplyContext): void {
  const cc = decodeConfChange(entry.data);
  switch (cc.op) {
    case 'add':
      if (ctx.membership.get(cc.member.id)) return;
      ctx.membership.add(cc.member);
      return;
    case 'remove':
      ctx.membership.remove(cc.member.id);
      return;
    default:
      throw Errors.memberNotFound();
  }
}
