// Unit tests of flow control: Inflights (the MsgApp window) and Progress states.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Inflights } from '../../src/raft/inflights.js';
import { Progress, ProgressState } from '../../src/raft/progress.js';

function progress(match: number, next: number, state = ProgressState.Probe, maxInflight = 4): Progress {
  const p = new Progress({ match, next, maxInflight, isLearner: false, recentActive: true });
  if (state === ProgressState.Replicate) {
    p.becomeReplicate();
    p.next = next;
  } else if (state === ProgressState.Snapshot) p.becomeSnapshot(next);
  return p;
}

describe('Inflights', () => {
  test('fills to capacity, frees up to an index, wraps around the ring', () => {
    const inf = new Inflights(4);
    for (const i of [1, 2, 3, 4]) inf.add(i);
    assert.equal(inf.full(), true);
    assert.throws(() => inf.add(5), /full/);
    inf.freeLE(2);
    assert.equal(inf.count(), 2);
    inf.add(5);
    inf.add(6); // these two wrap to the front of the ring
    assert.equal(inf.full(), true);
    inf.freeLE(5);
    assert.equal(inf.count(), 1);
    inf.freeLE(100);
    assert.equal(inf.count(), 0);
  });

  test('freeLE below the first entry frees nothing; freeFirstOne frees one', () => {
    const inf = new Inflights(3);
    inf.add(10);
    inf.add(20);
    inf.freeLE(5);
    assert.equal(inf.count(), 2);
    inf.freeFirstOne();
    assert.equal(inf.count(), 1);
    inf.freeFirstOne();
    inf.freeFirstOne(); // empty: no-op
    assert.equal(inf.count(), 0);
  });

  test('behaves like a FIFO of increasing indexes (random model check)', () => {
    let seed = 42;
    const rnd = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    for (let run = 0; run < 200; run++) {
      const size = 1 + rnd(6);
      const inf = new Inflights(size);
      const model: number[] = [];
      let next = 1;
      for (let op = 0; op < 100; op++) {
        const k = rnd(3);
        if (k === 0 && model.length < size) {
          next += 1 + rnd(3);
          inf.add(next);
          model.push(next);
        } else if (k === 1) {
          const to = next - rnd(8);
          inf.freeLE(to);
          while (model.length > 0 && model[0]! <= to) model.shift();
        } else if (k === 2) {
          inf.freeFirstOne();
          model.shift();
        }
        assert.equal(inf.count(), model.length);
        assert.equal(inf.full(), model.length === size);
      }
    }
  });

  test('reset empties the window', () => {
    const inf = new Inflights(2);
    inf.add(1);
    inf.add(2);
    inf.reset();
    assert.equal(inf.count(), 0);
    assert.equal(inf.full(), false);
  });
});

describe('Progress', () => {
  test('maybeUpdate moves match and next forward only', () => {
    const p = progress(5, 6);
    assert.equal(p.maybeUpdate(4), false);
    assert.deepEqual([p.match, p.next], [5, 6]);
    assert.equal(p.maybeUpdate(7), true);
    assert.deepEqual([p.match, p.next], [7, 8]);
    p.next = 12;
    assert.equal(p.maybeUpdate(9), true);
    assert.equal(p.next, 12, 'next never moves back on an ack');
  });

  test('maybeDecrTo in replicate state: stale rejections ignored, else back to match+1', () => {
    const p = progress(5, 10, ProgressState.Replicate);
    assert.equal(p.maybeDecrTo(5, 5), false, 'rejection at or below match is stale');
    assert.equal(p.maybeDecrTo(4, 4), false);
    assert.equal(p.maybeDecrTo(9, 9), true);
    assert.equal(p.next, 6);
  });

  test('maybeDecrTo in probe state: only the outstanding probe counts; uses the hint', () => {
    const p = progress(0, 10);
    assert.equal(p.maybeDecrTo(5, 3), false, 'not the probe at next-1');
    assert.equal(p.maybeDecrTo(9, 3), true);
    assert.equal(p.next, 4, 'min(rejected, hint+1)');
    p.probeSent = true;
    assert.equal(p.maybeDecrTo(3, 0), true);
    assert.equal(p.next, 1);
    assert.equal(p.probeSent, false, 'a rejection unpauses the probe');
  });

  test('maybeDecrTo never goes below match+1', () => {
    const p = progress(4, 9);
    assert.equal(p.maybeDecrTo(8, 1), true);
    assert.equal(p.next, 5);
  });

  test('paused: probe after sending, replicate with a full window, always in snapshot', () => {
    const p = progress(0, 1);
    assert.equal(p.isPaused(), false);
    p.probeSent = true;
    assert.equal(p.isPaused(), true);
    const r = progress(1, 2, ProgressState.Replicate, 2);
    r.inflights.add(2);
    assert.equal(r.isPaused(), false);
    r.inflights.add(3);
    assert.equal(r.isPaused(), true);
    const s = progress(0, 1, ProgressState.Snapshot);
    assert.equal(s.isPaused(), true);
  });

  test('becomeProbe from snapshot resumes after the snapshot index', () => {
    const p = progress(3, 4, ProgressState.Snapshot);
    p.becomeSnapshot(20);
    p.becomeProbe();
    assert.equal(p.state, ProgressState.Probe);
    assert.equal(p.next, 21);
    const q = progress(30, 31, ProgressState.Snapshot);
    q.becomeSnapshot(20);
    q.becomeProbe();
    assert.equal(q.next, 31, 'match beyond the snapshot wins');
  });

  test('becomeReplicate restarts from match+1 with an empty window', () => {
    const p = progress(7, 12, ProgressState.Replicate, 3);
    p.inflights.add(12);
    p.becomeReplicate();
    assert.equal(p.next, 8);
    assert.equal(p.inflights.count(), 0);
  });

  test('toString summarises the state', () => {
    const p = progress(3, 4, ProgressState.Snapshot);
    p.becomeSnapshot(9);
    p.recentActive = false;
    assert.equal(p.toString(), 'StateSnapshot match=3 next=4 paused pendingSnap=9 inactive');
  });
});
