import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  REVISION_MODE_INTERVAL_MS,
  startPeriodicCompactor,
  startRevisionCompactor,
  type CompactorClock,
} from '../../src/server/compactor.js';

/** A clock whose time moves only when the test says so. */
class FakeClock implements CompactorClock {
  nowMs = 0;
  private timers: Array<{ every: number; next: number; fn: () => void; live: boolean }> = [];
  now(): number {
    return this.nowMs;
  }
  every(intervalMs: number, fn: () => void) {
    const t = { every: intervalMs, next: this.nowMs + intervalMs, fn, live: true };
    this.timers.push(t);
    return { cancel: () => (t.live = false) };
  }
  async advance(ms: number): Promise<void> {
    const end = this.nowMs + ms;
    for (;;) {
      const due = this.timers.filter((t) => t.live && t.next <= end).sort((a, b) => a.next - b.next)[0];
      if (!due) break;
      this.nowMs = due.next;
      due.next += due.every;
      due.fn();
      await new Promise((r) => setImmediate(r)); // let compaction promises settle
    }
    this.nowMs = end;
  }
}

const HOUR = 3_600_000;
const MIN = 60_000;

test('periodic: first compaction after one retention period, to the revision of one period ago', async () => {
  const clock = new FakeClock();
  let rev = 1;
  const compacted: Array<{ atMs: number; rev: number }> = [];
  const c = startPeriodicCompactor(HOUR, { revision: () => rev, compact: async (r) => void compacted.push({ atMs: clock.nowMs, rev: r }) }, clock);
  // one write per minute
  for (let m = 1; m <= 59; m++) {
    rev++;
    await clock.advance(MIN);
  }
  assert.equal(compacted.length, 0, 'nothing is compacted before an hour has passed');
  rev++;
  await clock.advance(MIN);
  assert.equal(compacted.length, 1);
  assert.equal(compacted[0]!.atMs, HOUR);
  assert.equal(compacted[0]!.rev, 1, 'compacts to the revision seen an hour ago');
  // afterwards once per hour, each time to the revision of about an hour before
  for (let m = 0; m < 60; m++) {
    rev++;
    await clock.advance(MIN);
  }
  assert.equal(compacted.length, 2);
  assert.equal(compacted[1]!.atMs, 2 * HOUR);
  assert.ok(compacted[1]!.rev >= 55 && compacted[1]!.rev <= 61, `second compaction at ${compacted[1]!.rev}`);
  c.stop();
  await clock.advance(5 * HOUR);
  assert.equal(compacted.length, 2, 'a stopped compactor does nothing');
});

test('periodic with a short retention samples every tenth of it', async () => {
  const clock = new FakeClock();
  let rev = 100;
  const compacted: number[] = [];
  startPeriodicCompactor(10 * MIN, { revision: () => rev, compact: async (r) => void compacted.push(r) }, clock);
  for (let i = 0; i < 20; i++) {
    rev += 10;
    await clock.advance(MIN);
  }
  // compactions at 10 and 20 minutes, each to the revision of 10 minutes before
  assert.deepEqual(compacted, [100, 200]);
});

test('a failed periodic compaction is retried at the next sample', async () => {
  const clock = new FakeClock();
  let fail = true;
  const attempts: number[] = [];
  startPeriodicCompactor(10 * MIN, {
    revision: () => 5,
    compact: async (r) => {
      attempts.push(clock.nowMs);
      if (fail) {
        fail = false;
        throw new Error('busy');
      }
      void r;
    },
  }, clock);
  await clock.advance(12 * MIN);
  assert.deepEqual(attempts, [10 * MIN, 11 * MIN]);
});

test('revision mode compacts to current minus retention every five minutes, only when it moved', async () => {
  const clock = new FakeClock();
  let rev = 500;
  const compacted: number[] = [];
  startRevisionCompactor(1000, { revision: () => rev, compact: async (r) => void compacted.push(r) }, clock);
  await clock.advance(REVISION_MODE_INTERVAL_MS);
  assert.deepEqual(compacted, [], 'nothing to compact while the store has fewer revisions than the retention');
  rev = 1600;
  await clock.advance(REVISION_MODE_INTERVAL_MS);
  assert.deepEqual(compacted, [600]);
  await clock.advance(REVISION_MODE_INTERVAL_MS);
  assert.deepEqual(compacted, [600], 'no new writes: no new compaction');
  rev = 2000;
  await clock.advance(REVISION_MODE_INTERVAL_MS);
  assert.deepEqual(compacted, [600, 1000]);
});
