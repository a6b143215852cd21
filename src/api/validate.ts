// Request checks made before anything reaches the server, as etcd's v3rpc layer makes
// them: cheap, and a request that fails one changes nothing.
import {
  RangeRequest_SortOrder,
  RangeRequest_SortTarget,
  type DeleteRangeRequest,
  type PutRequest,
  type RangeRequest,
  type RequestOp,
  type TxnRequest,
} from '../proto/etcdserverpb.js';
import { Errors } from '../server/errors.js';
import { keyString } from '../mvcc/tree-index.js';

const SORT_ORDERS = new Set<number>([RangeRequest_SortOrder.NONE, RangeRequest_SortOrder.ASCEND, RangeRequest_SortOrder.DESCEND]);
const SORT_TARGETS = new Set<number>([
  RangeRequest_SortTarget.KEY,
  RangeRequest_SortTarget.VERSION,
  RangeRequest_SortTarget.CREATE,
  RangeRequest_SortTarget.MOD,
  RangeRequest_SortTarget.VALUE,
]);

export function checkRangeRequest(r: RangeRequest): void {
  if (r.key.length === 0) throw Errors.emptyKey();
  if (!SORT_ORDERS.has(r.sort_order) || !SORT_TARGETS.has(r.sort_target)) throw Errors.invalidSortOption();
}

export function checkPutRequest(r: PutRequest): void {
  if (r.key.length === 0) throw Errors.emptyKey();
  if (r.ignore_value && r.value.length !== 0) throw Errors.valueProvided();
  if (r.ignore_lease && r.lease !== 0n) throw Errors.leaseProvided();
}

export function checkDeleteRequest(r: DeleteRangeRequest): void {
  if (r.key.length === 0) throw Errors.emptyKey();
}

export function checkTxnRequest(r: TxnRequest, maxTxnOps: number): void {
  const opCount = Math.max(r.compare.length, r.success.length, r.failure.length);
  if (opCount > maxTxnOps) throw Errors.tooManyOps();
  for (const c of r.compare) if (c.key.length === 0) throw Errors.emptyKey();
  for (const op of r.success) checkRequestOp(op, maxTxnOps - opCount);
  for (const op of r.failure) checkRequestOp(op, maxTxnOps - opCount);
  checkDuplicateKeys(r.success);
  checkDuplicateKeys(r.failure);
}

function checkRequestOp(op: RequestOp, maxTxnOps: number): void {
  if (op.request_range) return checkRangeRequest(op.request_range);
  if (op.request_put) return checkPutRequest(op.request_put);
  if (op.request_delete_range) return checkDeleteRequest(op.request_delete_range);
  if (op.request_txn) return checkTxnRequest(op.request_txn, maxTxnOps);
  throw Errors.keyNotFound();
}

/** A half-open key interval; `end` undefined is a single key, '' means to the end of the keyspace. */
interface Interval {
  start: string;
  end: string | undefined;
}

function intervalOf(key: Uint8Array, rangeEnd: Uint8Array): Interval {
  if (rangeEnd.length === 0) return { start: keyString(key), end: undefined };
  if (rangeEnd.length === 1 && rangeEnd[0] === 0) return { start: keyString(key), end: '' };
  return { start: keyString(key), end: keyString(rangeEnd) };
}

function covers(iv: Interval, key: string): boolean {
  if (iv.end === undefined) return iv.start === key;
  return key >= iv.start && (iv.end === '' || key < iv.end);
}

/**
 * Within one branch (nested txns included) no key may be written twice: puts must be
 * unique and must not fall in a deleted range. Branches of one nested txn are
 * alternatives, so a key put in both is fine.
 */
function checkDuplicateKeys(ops: RequestOp[]): { puts: Set<string>; dels: Interval[] } {
  const dels: Interval[] = [];
  for (const op of ops) {
    const d = op.request_delete_range;
    if (d) dels.push(intervalOf(d.key, d.range_end));
  }
  const puts = new Set<string>();
  const deleted = (k: string): boolean => dels.some((iv) => covers(iv, k));
  for (const op of ops) {
    if (!op.request_txn) continue;
    const thenSide = checkDuplicateKeys(op.request_txn.success);
    const elseSide = checkDuplicateKeys(op.request_txn.failure);
    for (const k of thenSide.puts) {
      if (puts.has(k) || deleted(k)) throw Errors.duplicateKey();
      puts.add(k);
    }
    for (const k of elseSide.puts) {
      if (puts.has(k) && !thenSide.puts.has(k)) throw Errors.duplicateKey();
      if (deleted(k)) throw Errors.duplicateKey();
      puts.add(k);
    }
    dels.push(...thenSide.dels, ...elseSide.dels);
  }
  for (const op of ops) {
    const p = op.request_put;
    if (!p) continue;
    const k = keyString(p.key);
    if (puts.has(k) || deleted(k)) throw Errors.duplicateKey();
    puts.add(k);
  }
  return { puts, dels };
}
