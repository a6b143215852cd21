// Our generated codecs against protobufjs (the reference), on random messages:
// same bytes both ways, and each side decodes what the other wrote.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { allTypes, arbMessage, canon, codec, pbType, toPb } from './helpers.js';

function checkType(typeName: string, numRuns: number, depth = 3): void {
  const T = pbType(typeName);
  const c = codec(typeName);
  fc.assert(
    fc.property(arbMessage(T, depth), (m) => {
      const expected = canon(T, m, 'ours');
      const ours = c.encode(m);
      assert.equal(ours.length, c.sizeOf(m), 'sizeOf matches encode');
      const theirs = Buffer.from(T.encode(toPb(T, m)).finish());
      // protobufjs writes fields in number order, proto3 defaults omitted, packed repeated: canonical like us
      assert.equal(ours.toString('hex'), theirs.toString('hex'), 'same bytes as protobufjs');
      assert.deepEqual(canon(T, T.decode(ours), 'pb'), expected, 'protobufjs decodes ours');
      assert.deepEqual(canon(T, c.decode(theirs), 'ours'), expected, 'we decode protobufjs');
    }),
    { numRuns },
  );
}

const FOCUS: [string, number][] = [
  ['etcdserverpb.PutRequest', 300],
  ['etcdserverpb.RangeRequest', 200],
  ['etcdserverpb.RangeResponse', 200],
  ['etcdserverpb.Compare', 300],
  ['etcdserverpb.TxnRequest', 200],
  ['etcdserverpb.TxnResponse', 200],
  ['etcdserverpb.WatchRequest', 200],
  ['etcdserverpb.WatchCreateRequest', 200],
  ['etcdserverpb.WatchResponse', 200],
  ['etcdserverpb.LeaseGrantResponse', 200],
  ['etcdserverpb.MemberListResponse', 200],
  ['etcdserverpb.StatusResponse', 200],
  ['etcdserverpb.AlarmRequest', 200],
  ['etcdserverpb.InternalRaftRequest', 100],
  ['mvccpb.KeyValue', 300],
  ['authpb.Role', 200],
  ['v3electionpb.CampaignResponse', 100],
  ['testpb.Scalars', 500],
  ['testpb.Repeated', 300],
  ['testpb.Outer', 300],
];

describe('protobufjs cross-check', () => {
  for (const [name, runs] of FOCUS) {
    it(`${name}: ${runs} random messages`, () => checkType(name, runs));
  }
  it('every generated message type: 25 random messages each', () => {
    for (const [name] of allTypes()) checkType(name, 25, 2);
  });
});

describe('64-bit values', () => {
  it('negative int64 takes 10 bytes and round-trips (number and bigint fields)', () => {
    const put = codec('etcdserverpb.PutRequest');
    const b = put.encode(put.create({ lease: -1n }));
    assert.equal(b.toString('hex'), '18ffffffffffffffffff01');
    assert.equal(put.decode(b).lease, -1n);
    const kv = codec('mvccpb.KeyValue');
    for (const v of [-1, -(2 ** 31), -(2 ** 32), -(2 ** 53) + 1, Number.MIN_SAFE_INTEGER]) {
      assert.equal(kv.decode(kv.encode(kv.create({ version: v }))).version, v);
    }
  });

  it('numbers below 2^53 decode exactly; bigint ids keep all 64 bits', () => {
    const kv = codec('mvccpb.KeyValue');
    for (const v of [2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 35 + 7, 2 ** 49 - 3, Number.MAX_SAFE_INTEGER]) {
      assert.equal(kv.decode(kv.encode(kv.create({ mod_revision: v }))).mod_revision, v);
    }
    const h = codec('etcdserverpb.ResponseHeader');
    for (const id of [2n ** 64n - 1n, 2n ** 63n, 14841639068965178418n, 1n]) {
      assert.equal(h.decode(h.encode(h.create({ cluster_id: id }))).cluster_id, id);
    }
  });
});
