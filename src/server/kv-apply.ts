// The semantics of Range, Put, DeleteRange and Txn over the MVCC store, as etcd's
// applier defines them: limits, filters and sorting of ranges, the previous-value
// options of puts and deletes, and compare-then-branch transactions with one revision.
import type { KeyValue } from '../proto/mvccpb.js';
import {
  Compare_CompareResult,
  Compare_CompareTarget,
  RangeRequest_SortOrder,
  RangeRequest_SortTarget,
  type Compare,
  type DeleteRangeRequest,
  type DeleteRangeResponse,
  type PutRequest,
  type PutResponse,
  type RangeRequest,
  type RangeResponse,
  type RequestOp,
  type ResponseOp,
  type TxnRequest,
  type TxnResponse,
} from '../proto/etcdserverpb.js';
import { errCompacted, errFutureRev } from '../mvcc/errors.js';
import type { RangeOptions, RangeResult, WriteTxn } from '../mvcc/store.js';
import { makeRange, type KeyRange } from '../mvcc/tree-index.js';
import { Errors } from './errors.js';

export interface ReadView {
  range(range: KeyRange, opts?: RangeOptions): RangeResult;
  /** the revision reads see */
  readonly rev: number;
  /** the oldest revision still readable */
  readonly firstRev: number;
}

export interface LeaseLookup {
  exists(id: bigint): boolean;
}

function header(revision: number) {
  return { cluster_id: 0n, member_id: 0n, revision, raft_term: 0 };
}

export function applyRange(view: ReadView, r: RangeRequest): RangeResponse {
  const filtered =
    r.sort_order !== RangeRequest_SortOrder.NONE ||
    r.min_mod_revision !== 0 ||
    r.max_mod_revision !== 0 ||
    r.min_create_revision !== 0 ||
    r.max_create_revision !== 0;
  // one extra key tells whether there are more than `limit`
  let limit = filtered ? 0 : r.limit;
  if (limit > 0) limit += 1;
  const rr = view.range(makeRange(r.key, r.range_end), { rev: r.revision, limit, countOnly: r.count_only });
  let kvs = rr.kvs;
  if (r.max_mod_revision !== 0) kvs = kvs.filter((kv) => kv.mod_revision <= r.max_mod_revision);
  if (r.min_mod_revision !== 0) kvs = kvs.filter((kv) => kv.mod_revision >= r.min_mod_revision);
  if (r.max_create_revision !== 0) kvs = kvs.filter((kv) => kv.create_revision <= r.max_create_revision);
  if (r.min_create_revision !== 0) kvs = kvs.filter((kv) => kv.create_revision >= r.min_create_revision);
  sortKvs(kvs, r.sort_order, r.sort_target);
  let more = false;
  if (r.limit > 0 && kvs.length > r.limit) {
    kvs = kvs.slice(0, r.limit);
    more = true;
  }
  if (r.keys_only) kvs = kvs.map((kv) => ({ ...kv, value: EMPTY }));
  return { header: header(rr.rev), kvs, more, count: rr.count };
}

const EMPTY = new Uint8Array(0);

function sortKvs(kvs: KeyValue[], order: number, target: number): void {
  let effectiveOrder = order;
  if (target !== RangeRequest_SortTarget.KEY && effectiveOrder === RangeRequest_SortOrder.NONE) {
    effectiveOrder = RangeRequest_SortOrder.ASCEND;
  }
  if (effectiveOrder === RangeRequest_SortOrder.NONE) return;
  const cmp = comparatorFor(target);
  if (effectiveOrder === RangeRequest_SortOrder.ASCEND) kvs.sort(cmp);
  else if (effectiveOrder === RangeRequest_SortOrder.DESCEND) kvs.sort((a, b) => cmp(b, a));
}

function comparatorFor(target: number): (a: KeyValue, b: KeyValue) => number {
  switch (target) {
    case RangeRequest_SortTarget.KEY:
      return (a, b) => Buffer.compare(a.key, b.key);
    case RangeRequest_SortTarget.VERSION:
      return (a, b) => a.version - b.version;
    case RangeRequest_SortTarget.CREATE:
      return (a, b) => a.create_revision - b.create_revision;
    case RangeRequest_SortTarget.MOD:
      return (a, b) => a.mod_revision - b.mod_revision;
    case RangeRequest_SortTarget.VALUE:
      return (a, b) => Buffer.compare(a.value, b.value);
    default:
      // the API layer rejects unknown targets; keep key order if one slips through
      return () => 0;
  }
}

/**
 * Applies a put. A standalone put checks its lease here (`leases` given); inside a txn
 * the check ran before any op was applied.
 */
export function applyPut(txn: WriteTxn, p: PutRequest, leases?: LeaseLookup): PutResponse {
  if (leases && p.lease !== 0n && !leases.exists(p.lease)) throw Errors.leaseNotFound();
  let value = p.value;
  let lease = p.lease;
  let prev: KeyValue | undefined;
  if (p.ignore_value || p.ignore_lease || p.prev_kv) {
    prev = txn.range(makeRange(p.key, undefined)).kvs[0];
  }
  if ((p.ignore_value || p.ignore_lease) && !prev) throw Errors.keyNotFound();
  if (p.ignore_value) value = prev!.value;
  if (p.ignore_lease) lease = prev!.lease;
  txn.put(p.key, value, lease);
  const resp: PutResponse = { header: header(txn.rev) };
  if (p.prev_kv && prev) resp.prev_kv = prev;
  return resp;
}

export function applyDeleteRange(txn: WriteTxn, d: DeleteRangeRequest): DeleteRangeResponse {
  const range = makeRange(d.key, d.range_end);
  const prevKvs = d.prev_kv ? txn.range(range).kvs : [];
  const hadChanges = txn.changes.length > 0;
  const deleted = txn.deleteRange(range);
  const rev = deleted > 0 || hadChanges ? txn.rev : txn.rev - 1;
  return { header: header(rev), deleted, prev_kvs: prevKvs };
}

export function isTxnReadOnly(t: TxnRequest): boolean {
  return t.success.every((op) => op.request_range !== undefined) && t.failure.every((op) => op.request_range !== undefined);
}

export function isTxnSerializable(t: TxnRequest): boolean {
  return (
    t.success.every((op) => op.request_range?.serializable === true) &&
    t.failure.every((op) => op.request_range?.serializable === true)
  );
}

/** Evaluates the compares of a txn and of every nested txn on the branch taken. */
function comparePath(view: ReadView, t: TxnRequest): boolean[] {
  const ok = t.compare.every((c) => applyCompare(view, c));
  const path = [ok];
  for (const op of ok ? t.success : t.failure) {
    if (op.request_txn) path.push(...comparePath(view, op.request_txn));
  }
  return path;
}

function applyCompare(view: ReadView, c: Compare): boolean {
  let kvs: KeyValue[];
  try {
    kvs = view.range(makeRange(c.key, c.range_end)).kvs;
  } catch {
    return false;
  }
  if (kvs.length === 0) {
    if (c.target === Compare_CompareTarget.VALUE) return false;
    return compareKv(c, ZERO_KV);
  }
  return kvs.every((kv) => compareKv(c, kv));
}

const ZERO_KV: KeyValue = { key: EMPTY, create_revision: 0, mod_revision: 0, version: 0, value: EMPTY, lease: 0n };

function compareKv(c: Compare, kv: KeyValue): boolean {
  let result = 0;
  switch (c.target) {
    case Compare_CompareTarget.VALUE:
      result = Buffer.compare(kv.value, c.value ?? EMPTY);
      break;
    case Compare_CompareTarget.CREATE:
      result = Math.sign(kv.create_revision - (c.create_revision ?? 0));
      break;
    case Compare_CompareTarget.MOD:
      result = Math.sign(kv.mod_revision - (c.mod_revision ?? 0));
      break;
    case Compare_CompareTarget.VERSION:
      result = Math.sign(kv.version - (c.version ?? 0));
      break;
    case Compare_CompareTarget.LEASE: {
      const want = c.lease ?? 0n;
      result = kv.lease === want ? 0 : kv.lease > want ? 1 : -1;
      break;
    }
  }
  switch (c.result) {
    case Compare_CompareResult.EQUAL:
      return result === 0;
    case Compare_CompareResult.NOT_EQUAL:
      return result !== 0;
    case Compare_CompareResult.GREATER:
      return result > 0;
    case Compare_CompareResult.LESS:
      return result < 0;
    default:
      return true;
  }
}

/** Checks the ops of the branches taken before anything is written: a failed txn changes nothing. */
function checkOps(view: ReadView, t: TxnRequest, path: boolean[], at: { i: number }, leases: LeaseLookup, write: boolean): void {
  const ok = path[at.i]!;
  for (const op of ok ? t.success : t.failure) {
    if (op.request_txn) {
      at.i++;
      checkOps(view, op.request_txn, path, at, leases, write);
      continue;
    }
    if (write && op.request_put) {
      const p = op.request_put;
      if (p.ignore_value || p.ignore_lease) {
        if (view.range(makeRange(p.key, undefined)).kvs.length === 0) throw Errors.keyNotFound();
      }
      if (p.lease !== 0n && !leases.exists(p.lease)) throw Errors.leaseNotFound();
    }
    if (op.request_range) {
      const rev = op.request_range.revision;
      if (rev !== 0 && rev > view.rev) throw errFutureRev();
      if (rev !== 0 && rev < view.firstRev) throw errCompacted();
    }
  }
}

export interface TxnExecution {
  view: ReadView;
  /** present for a txn that writes; then ops run against it */
  write?: WriteTxn;
  leases: LeaseLookup;
}

/**
 * Runs a txn. With `write` absent the txn must be read-only. The compares are
 * evaluated first on `view`; every op is then checked, and only then applied.
 */
export function applyTxn(t: TxnRequest, exec: TxnExecution): TxnResponse {
  const path = comparePath(exec.view, t);
  checkOps(exec.view, t, path, { i: 0 }, exec.leases, exec.write !== undefined);
  const at = { i: 0 };
  const resp = runBranch(t, path, at, exec);
  const rev = exec.write ? (exec.write.changes.length > 0 ? exec.write.rev : exec.write.rev - 1) : exec.view.rev;
  resp.header = header(rev);
  return resp;
}

function runBranch(t: TxnRequest, path: boolean[], at: { i: number }, exec: TxnExecution): TxnResponse {
  const succeeded = path[at.i]!;
  const responses: ResponseOp[] = [];
  for (const op of succeeded ? t.success : t.failure) responses.push(runOp(op, path, at, exec));
  return { succeeded, responses };
}

function runOp(op: RequestOp, path: boolean[], at: { i: number }, exec: TxnExecution): ResponseOp {
  const w = exec.write;
  if (op.request_range) {
    const view: ReadView = w ? writeView(w, exec.view) : exec.view;
    return { response_range: applyRange(view, op.request_range) };
  }
  if (op.request_put) return { response_put: applyPut(w!, op.request_put) };
  if (op.request_delete_range) return { response_delete_range: applyDeleteRange(w!, op.request_delete_range) };
  if (op.request_txn) {
    at.i++;
    return { response_txn: runBranch(op.request_txn, path, at, exec) };
  }
  return {};
}

function writeView(w: WriteTxn, base: ReadView): ReadView {
  return {
    range: (range, opts) => w.range(range, opts),
    get rev() {
      return w.changes.length > 0 ? w.rev : w.rev - 1;
    },
    firstRev: base.firstRev,
  };
}
