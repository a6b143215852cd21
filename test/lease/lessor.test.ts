import assert from 'node:assert/strict';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { Backend } from '../../src/backend/backend.js';
import { LeaseError, Lessor, MAX_LEASE_TTL_SEC, type LessorClock } from '../../src/lease/lessor.js';
import { LeaseCheckpointer, type LeaseCheckpoint } from '../../src/lease/checkpoint.js';
import { minLeaseTtlSec } from '../../src/server/server.js';
import { tempDir } from '../helpers/tmp.js';

class FakeClock implements LessorClock {
  nowMs = 1_000_000;
  timer: { atMs: number; fn: () => void } | undefined;
  timersSet = 0;
  now(): number {
    return this.nowMs;
  }
  setTimer(atMs: number, fn: () => void): void {
    this.timer = { atMs, fn };
    this.timersSet++;
  }
  clearTimer(): void {
    this.timer = undefined;
  }
  /** moves time forward, firing the timer whenever it is due */
  advance(ms: number): void {
    const end = this.nowMs + ms;
    while (this.timer && this.timer.atMs <= end) {
      const t = this.timer;
      this.timer = undefined;
      this.nowMs = Math.max(this.nowMs, t.atMs);
      t.fn();
    }
    this.nowMs = end;
  }
}

describe('lessor', () => {
  let backend: Backend;
  let cleanup: () => void;
  let clock: FakeClock;
  let expired: bigint[];
  let lessor: Lessor;
  const make = () => new Lessor(backend, { minTtlSec: 2, clock, onExpired: (ids) => expired.push(...ids) });

  beforeEach(() => {
    const t = tempDir();
    cleanup = t.cleanup;
    backend = Backend.open(path.join(t.dir, 'db'));
    clock = new FakeClock();
    expired = [];
    lessor = make();
    lessor.promote(0);
  });
  afterEach(async () => {
    await backend.close();
    cleanup();
  });

  it('etcd’s minimum TTL: 1.5 election timeouts in whole seconds', () => {
    assert.equal(minLeaseTtlSec({ heartbeatIntervalMs: 100, electionTimeoutMs: 1000 }), 2);
    assert.equal(minLeaseTtlSec({ heartbeatIntervalMs: 100, electionTimeoutMs: 5000 }), 8);
    assert.equal(backend.write(() => lessor.grant(1n, 1)).ttlSec, 2, 'a shorter TTL is raised to the minimum');
  });

  it('refuses ID 0, duplicate IDs and TTLs over the limit', () => {
    backend.write(() => lessor.grant(5n, 10));
    assert.throws(() => backend.write(() => lessor.grant(5n, 10)), (e: unknown) => e instanceof LeaseError && e.kind === 'exists');
    assert.throws(() => backend.write(() => lessor.grant(0n, 10)), (e: unknown) => e instanceof LeaseError && e.kind === 'not-found');
    assert.throws(() => backend.write(() => lessor.grant(6n, MAX_LEASE_TTL_SEC + 1)), (e: unknown) => e instanceof LeaseError && e.kind === 'ttl-too-large');
  });

  it('expires at the TTL, and a renewal pushes expiry a full TTL further', () => {
    backend.write(() => lessor.grant(1n, 10));
    backend.write(() => lessor.grant(2n, 5));
    clock.advance(4_000);
    assert.equal(lessor.renew(2n), 5);
    clock.advance(4_000);
    assert.deepEqual(expired, [], 'renewed at 4 s, so not expired at 8 s');
    clock.advance(1_500);
    assert.deepEqual(expired, [2n]);
    clock.advance(1_000);
    assert.deepEqual(expired, [2n, 1n]);
    assert.throws(() => lessor.renew(1n), LeaseError, 'an expired lease cannot be renewed while its revoke is pending');
  });

  it('reports remaining seconds truncated, as etcd', () => {
    const l = backend.write(() => lessor.grant(1n, 10));
    clock.advance(2_500);
    assert.equal(lessor.remainingSec(l), 7);
  });

  it('revoke returns the attached keys sorted and forgets the lease', () => {
    backend.write(() => lessor.grant(1n, 10));
    lessor.attach(1n, 'b');
    lessor.attach(1n, 'a');
    lessor.attach(1n, 'c');
    lessor.detach(1n, 'c');
    assert.deepEqual(backend.write(() => lessor.revoke(1n)), ['a', 'b']);
    assert.equal(lessor.exists(1n), false);
    clock.advance(60_000);
    assert.deepEqual(expired, [], 'a revoked lease never expires');
  });

  it('10,000 idle leases keep one timer, at the earliest expiry', () => {
    const before = clock.timersSet;
    backend.write(() => {
      for (let i = 1; i <= 10_000; i++) lessor.grant(BigInt(i), 3600 + (i % 100));
    });
    assert.equal(clock.timer!.atMs, clock.nowMs + 3600_000);
    assert.ok(clock.timersSet - before <= 2, `timers were re-armed ${clock.timersSet - before} times for 10,000 grants`);
    clock.advance(3_599_000);
    assert.deepEqual(expired, []);
  });

  it('leases survive a restart and get a full TTL when the member is promoted again', async () => {
    backend.write(() => lessor.grant(9n, 30));
    lessor.attach(9n, 'k');
    clock.advance(25_000);
    lessor.stop();
    const again = make();
    again.restore(new Map([['k', 9n]]));
    assert.equal(again.exists(9n), true);
    again.promote(1000);
    clock.advance(30_500);
    assert.deepEqual(expired, [], 'full TTL plus the election slack after the restart');
    clock.advance(1_000);
    assert.deepEqual(expired, [9n]);
    assert.deepEqual(backend.write(() => again.revoke(9n)), ['k']);
  });

  it('hands out at most 1000 expired leases per pass', () => {
    backend.write(() => {
      for (let i = 1; i <= 2500; i++) lessor.grant(BigInt(i), 5);
    });
    clock.advance(5_000);
    assert.equal(expired.length, 1000);
    clock.advance(1_000);
    assert.equal(expired.length, 2000);
    clock.advance(1_000);
    assert.equal(expired.length, 2500);
  });
});

// Lease checkpoints (--experimental-enable-lease-checkpoint): the primary writes remaining
// TTLs into the log; a member promoted later restarts the clock from them, a renewal clears
// them, and with -persist they survive a restart.
describe('lessor with lease checkpoints', () => {
  let backend: Backend;
  let cleanup: () => void;
  let clock: FakeClock;
  let proposed: LeaseCheckpoint[][];
  let tick: (() => void) | undefined;
  const make = (persist: boolean) =>
    new Lessor(backend, {
      minTtlSec: 2,
      clock,
      onExpired: () => {},
      checkpointer: new LeaseCheckpointer({
        intervalMs: 10_000,
        persist,
        propose: (cps) => proposed.push(cps),
        every: (_ms, fn) => ((tick = fn), () => (tick = undefined)),
      }),
    });
  /** time passes in 500 ms steps, as the checkpoint loop runs */
  const pass = (ms: number) => {
    for (let t = 0; t < ms; t += 500) {
      clock.advance(500);
      tick?.();
    }
  };
  /** what the log would do: every member applies what was proposed */
  const applyTo = (...lessors: Lessor[]) => {
    const all = proposed.flat();
    proposed = [];
    backend.write(() => {
      for (const l of lessors) for (const c of all) l.checkpoint(c.id, c.remainingTtlSec);
    });
    return all;
  };

  beforeEach(() => {
    const t = tempDir();
    cleanup = t.cleanup;
    backend = Backend.open(path.join(t.dir, 'db'));
    clock = new FakeClock();
    proposed = [];
  });
  afterEach(async () => {
    await backend.close();
    cleanup();
  });

  it('a new primary restarts a lease from its checkpointed TTL, not the full TTL', () => {
    const leader = make(false);
    leader.promote(0);
    backend.write(() => leader.grant(1n, 100));
    backend.write(() => leader.grant(2n, 8)); // shorter than the interval: never checkpointed
    pass(10_000);
    assert.deepEqual(applyTo(leader), [{ id: 1n, remainingTtlSec: 90 }]);
    pass(10_000);
    assert.deepEqual(applyTo(leader), [{ id: 1n, remainingTtlSec: 80 }], 'rescheduled after each applied checkpoint');
    leader.demote();
    pass(20_000);
    assert.deepEqual(proposed, [], 'only the primary checkpoints');
    leader.promote(1000);
    assert.equal(leader.remainingSec(leader.lookup(1n)!), 81, 'checkpointed 80 s plus the election slack');
  });

  it('a renewal clears the checkpoint through the log, and the next primary starts from the full TTL', () => {
    const leader = make(false);
    leader.promote(0);
    backend.write(() => leader.grant(1n, 100));
    pass(10_000);
    applyTo(leader);
    assert.equal(leader.renew(1n), 100);
    assert.deepEqual(applyTo(leader), [{ id: 1n, remainingTtlSec: 0 }]);
    leader.demote();
    leader.promote(0);
    assert.equal(leader.remainingSec(leader.lookup(1n)!), 100);
  });

  it('with -persist the checkpointed TTL is in the lease record and survives a restart', () => {
    for (const persist of [true, false]) {
      const leader = make(persist);
      leader.promote(0);
      const id = persist ? 5n : 6n;
      backend.write(() => leader.grant(id, 100));
      pass(30_000);
      applyTo(leader);
      leader.stop();
      const restarted = make(persist);
      restarted.restore(new Map());
      restarted.promote(0);
      assert.equal(restarted.remainingSec(restarted.lookup(id)!), persist ? 90 : 100, 'the one checkpoint proposed (at 10 s), applied');
      restarted.stop();
    }
  });
});
