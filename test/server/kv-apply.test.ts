// etcd's Range/Put/Txn semantics on a real store: filters, sorting, limits, nested
// transactions and the compare targets etcdctl cannot express (lease).
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Backend } from '../../src/backend/backend.js';
import { MvccStore } from '../../src/mvcc/store.js';
import {
  Compare,
  Compare_CompareResult as R,
  Compare_CompareTarget as T,
  PutRequest,
  RangeRequest,
  RangeRequest_SortOrder as Order,
  RangeRequest_SortTarget as By,
  RequestOp,
  TxnRequest,
} from '../../src/proto/etcdserverpb.js';
import { applyPut, applyRange, applyTxn, type ReadView } from '../../src/server/kv-apply.js';
import { checkTxnRequest } from '../../src/api/validate.js';
import { tempDir } from '../helpers/tmp.js';

const b = (s: string) => Buffer.from(s);
const str = (u: Uint8Array) => Buffer.from(u).toString();

let backend: Backend;
let store: MvccStore;
let cleanup: () => void;
const LEASE = 77n;

function view(): ReadView {
  return { range: (r, o) => store.range(r, o), rev: store.rev, firstRev: store.compactRev };
}

function put(key: string, value: string, lease = 0n): void {
  backend.write(() => {
    const txn = store.write();
    applyPut(txn, PutRequest.create({ key: b(key), value: b(value), lease }));
    txn.end();
  });
}

function txn(t: TxnRequest) {
  let resp;
  backend.write(() => {
    const write = store.write();
    resp = applyTxn(t, { view: view(), write, leases: { exists: (id) => id === LEASE } });
    write.end();
  });
  return resp!;
}

const range = (r: Partial<RangeRequest>) => applyRange(view(), RangeRequest.create({ key: b('k'), range_end: b('l'), ...r }));
const keys = (r: { kvs: Array<{ key: Uint8Array }> }) => r.kvs.map((kv) => str(kv.key)).join(',');

describe('kv-apply', () => {
  before(() => {
    const t = tempDir();
    cleanup = t.cleanup;
    backend = Backend.open(path.join(t.dir, 'db'));
    store = new MvccStore(backend);
    // revisions: k1@2 v=c, k2@3 v=a, k3@4 v=b, k1@5 v=z (k1 version 2), k4@6 (lease)
    put('k1', 'c');
    put('k2', 'a');
    put('k3', 'b');
    put('k1', 'z');
    put('k4', 'd', LEASE);
  });
  after(async () => {
    await backend.close();
    cleanup();
  });

  it('limit sets more and keeps count', () => {
    const r = range({ limit: 2 });
    assert.equal(keys(r), 'k1,k2');
    assert.equal(r.more, true);
    assert.equal(r.count, 4);
    const all = range({ limit: 4 });
    assert.equal(all.more, false);
  });

  it('count_only returns the count and no kvs', () => {
    const r = range({ count_only: true });
    assert.equal(r.count, 4);
    assert.equal(r.kvs.length, 0);
  });

  it('mod and create revision filters apply before the limit', () => {
    assert.equal(keys(range({ min_mod_revision: 4 })), 'k1,k3,k4');
    assert.equal(keys(range({ max_mod_revision: 4 })), 'k2,k3');
    assert.equal(keys(range({ min_create_revision: 3, max_create_revision: 4 })), 'k2,k3');
    const limited = range({ min_mod_revision: 4, limit: 2 });
    assert.equal(keys(limited), 'k1,k3');
    assert.equal(limited.more, true);
    assert.equal(limited.count, 4, 'count is of the range, before filters, as in etcd');
  });

  it('sorts by every target, both ways; a target without an order sorts ascending', () => {
    assert.equal(keys(range({ sort_target: By.VALUE, sort_order: Order.ASCEND })), 'k2,k3,k4,k1');
    assert.equal(keys(range({ sort_target: By.VALUE, sort_order: Order.DESCEND })), 'k1,k4,k3,k2');
    assert.equal(keys(range({ sort_target: By.MOD })), 'k2,k3,k1,k4');
    assert.equal(keys(range({ sort_target: By.CREATE, sort_order: Order.DESCEND })), 'k4,k3,k2,k1');
    assert.equal(keys(range({ sort_target: By.VERSION, sort_order: Order.DESCEND })), 'k1,k2,k3,k4', 'ties keep key order');
    assert.equal(keys(range({ sort_order: Order.DESCEND })), 'k4,k3,k2,k1');
  });

  it('keys_only drops values; historic reads see old versions', () => {
    assert.deepEqual(range({ keys_only: true }).kvs.map((kv) => kv.value.length), [0, 0, 0, 0]);
    const old = applyRange(view(), RangeRequest.create({ key: b('k1'), revision: 3 }));
    assert.equal(str(old.kvs[0]!.value), 'c');
    assert.equal(old.header!.revision, store.rev, 'the header carries the current revision');
  });

  it('compares on lease, and on a missing key as zero values', () => {
    const onLease = txn(
      TxnRequest.create({
        compare: [Compare.create({ key: b('k4'), target: T.LEASE, result: R.EQUAL, lease: LEASE })],
        success: [RequestOp.create({ request_put: PutRequest.create({ key: b('x1'), value: b('1') }) })],
      }),
    );
    assert.equal(onLease.succeeded, true);
    const missing = txn(
      TxnRequest.create({
        compare: [
          Compare.create({ key: b('nope'), target: T.LEASE, result: R.EQUAL, lease: 0n }),
          Compare.create({ key: b('nope'), target: T.MOD, result: R.LESS, mod_revision: 1 }),
        ],
        success: [RequestOp.create({ request_range: RangeRequest.create({ key: b('x1') }) })],
      }),
    );
    assert.equal(missing.succeeded, true);
    assert.equal(str(missing.responses[0]!.response_range!.kvs[0]!.value), '1');
    const valueOfMissing = txn(TxnRequest.create({ compare: [Compare.create({ key: b('nope'), target: T.VALUE, result: R.NOT_EQUAL, value: b('q') })] }));
    assert.equal(valueOfMissing.succeeded, false, 'a VALUE compare on a missing key is false, whatever the operator');
  });

  it('a range compare holds only if it holds for every key', () => {
    const allOld = txn(TxnRequest.create({ compare: [Compare.create({ key: b('k'), range_end: b('l'), target: T.CREATE, result: R.LESS, create_revision: 7 })] }));
    assert.equal(allOld.succeeded, true);
    const notAll = txn(TxnRequest.create({ compare: [Compare.create({ key: b('k'), range_end: b('l'), target: T.VERSION, result: R.EQUAL, version: 1 })] }));
    assert.equal(notAll.succeeded, false);
  });

  it('nested txns take their own branches and everything is one revision', () => {
    const before = store.rev;
    const inner = (ok: boolean, key: string) =>
      RequestOp.create({
        request_txn: TxnRequest.create({
          compare: [Compare.create({ key: b('k1'), target: T.VALUE, result: ok ? R.EQUAL : R.NOT_EQUAL, value: b('z') })],
          success: [RequestOp.create({ request_put: PutRequest.create({ key: b(key + '-then'), value: b('t') }) })],
          failure: [RequestOp.create({ request_put: PutRequest.create({ key: b(key + '-else'), value: b('e') }) })],
        }),
      });
    const r = txn(TxnRequest.create({ success: [inner(true, 'n1'), inner(false, 'n2'), RequestOp.create({ request_range: RangeRequest.create({ key: b('n'), range_end: b('o') }) })] }));
    assert.equal(r.succeeded, true);
    assert.equal(r.responses[0]!.response_txn!.succeeded, true);
    assert.equal(r.responses[1]!.response_txn!.succeeded, false);
    assert.equal(keys(r.responses[2]!.response_range!), 'n1-then,n2-else', 'a range later in the txn sees its earlier writes');
    assert.equal(store.rev, before + 1);
    assert.equal(r.header!.revision, before + 1);
  });

  it('a put on a lease that does not exist fails the whole txn before any write', () => {
    const before = store.rev;
    assert.throws(
      () =>
        txn(
          TxnRequest.create({
            success: [
              RequestOp.create({ request_put: PutRequest.create({ key: b('y1'), value: b('1') }) }),
              RequestOp.create({ request_put: PutRequest.create({ key: b('y2'), value: b('2'), lease: 5n }) }),
            ],
          }),
        ),
      /requested lease not found/,
    );
    assert.equal(store.rev, before);
    assert.equal(applyRange(view(), RangeRequest.create({ key: b('y1') })).kvs.length, 0);
  });

  it('validation: duplicate keys across nested txns, put in a deleted range, op limits', () => {
    const putOp = (k: string) => RequestOp.create({ request_put: PutRequest.create({ key: b(k), value: b('v') }) });
    const nested = (...ops: RequestOp[]) => RequestOp.create({ request_txn: TxnRequest.create({ success: ops, failure: ops }) });
    assert.throws(() => checkTxnRequest(TxnRequest.create({ success: [putOp('a'), nested(putOp('a'))] }), 128), /duplicate key/);
    assert.doesNotThrow(() => checkTxnRequest(TxnRequest.create({ success: [nested(putOp('a'))] }), 128), 'then and else may put the same key');
    const delRange = RequestOp.create({ request_delete_range: { key: b('a'), range_end: b('c'), prev_kv: false } });
    assert.throws(() => checkTxnRequest(TxnRequest.create({ success: [delRange, putOp('b')] }), 128), /duplicate key/);
    assert.doesNotThrow(() => checkTxnRequest(TxnRequest.create({ success: [delRange, putOp('c')] }), 128));
    assert.throws(() => checkTxnRequest(TxnRequest.create({ success: [putOp('a'), putOp('b'), putOp('c')] }), 2), /too many operations/);
  });
});
