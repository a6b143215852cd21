// Unit and property tests of majority quorum math (no joint configurations: changes
// are single-step).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { majorityCommittedIndex, majoritySize, majorityVoteResult, VoteResult } from '../../src/raft/quorum.js';

const ids = (n: number) => Array.from({ length: n }, (_, i) => BigInt(i + 1));

test('majority sizes', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map(majoritySize), [1, 2, 2, 3, 3, 4, 4]);
});

test('committed index: the value held by a majority', () => {
  const acked = (m: Record<string, number>) => (id: bigint) => m[id.toString()];
  assert.equal(majorityCommittedIndex(ids(1), acked({ 1: 5 })), 5);
  assert.equal(majorityCommittedIndex(ids(3), acked({ 1: 5, 2: 3, 3: 9 })), 5);
  assert.equal(majorityCommittedIndex(ids(3), acked({ 1: 5 })), 0, 'missing acks count as 0');
  assert.equal(majorityCommittedIndex(ids(4), acked({ 1: 9, 2: 8, 3: 7, 4: 1 })), 8 - 1, '3 of 4 must hold it');
  assert.equal(majorityCommittedIndex(ids(5), acked({ 1: 9, 2: 8, 3: 7, 4: 1, 5: 1 })), 7);
  assert.equal(majorityCommittedIndex([], () => 5), 0, 'no voters: nothing commits');
});

test('committed index equals the brute-force definition (property)', () => {
  fc.assert(
    fc.property(fc.array(fc.option(fc.nat({ max: 50 }), { nil: undefined }), { minLength: 1, maxLength: 9 }), (acks) => {
      const voters = ids(acks.length);
      const got = majorityCommittedIndex(voters, (id) => acks[Number(id) - 1]);
      // the largest i such that a majority has acked >= i
      const vals = acks.map((a) => a ?? 0);
      let want = 0;
      for (const i of vals) if (vals.filter((v) => v >= i).length >= majoritySize(vals.length)) want = Math.max(want, i);
      assert.equal(got, want);
    }),
  );
});

test('vote results', () => {
  const votes = (m: Record<string, boolean>) => new Map(Object.entries(m).map(([k, v]) => [BigInt(k), v]));
  assert.equal(majorityVoteResult(ids(3), votes({})), VoteResult.Pending);
  assert.equal(majorityVoteResult(ids(3), votes({ 1: true })), VoteResult.Pending);
  assert.equal(majorityVoteResult(ids(3), votes({ 1: true, 2: true })), VoteResult.Won);
  assert.equal(majorityVoteResult(ids(3), votes({ 1: true, 2: false })), VoteResult.Pending);
  assert.equal(majorityVoteResult(ids(3), votes({ 1: true, 2: false, 3: false })), VoteResult.Lost);
  assert.equal(majorityVoteResult(ids(4), votes({ 1: true, 2: true, 3: false, 4: false })), VoteResult.Lost, '2:2 split');
  assert.equal(majorityVoteResult(ids(1), votes({ 1: true })), VoteResult.Won);
  assert.equal(majorityVoteResult(ids(3), votes({ 7: true, 8: true })), VoteResult.Pending, 'non-voters do not count');
  assert.equal(majorityVoteResult([], votes({})), VoteResult.Won);
});

test('vote result agrees with counting (property)', () => {
  fc.assert(
    fc.property(fc.array(fc.option(fc.boolean(), { nil: undefined }), { minLength: 1, maxLength: 9 }), (vs) => {
      const voters = ids(vs.length);
      const m = new Map<bigint, boolean>();
      vs.forEach((v, i) => v !== undefined && m.set(BigInt(i + 1), v));
      const yes = vs.filter((v) => v === true).length;
      const no = vs.filter((v) => v === false).length;
      const q = majoritySize(vs.length);
      const want = yes >= q ? VoteResult.Won : vs.length - no >= q ? VoteResult.Pending : VoteResult.Lost;
      assert.equal(majorityVoteResult(voters, m), want);
    }),
  );
});
