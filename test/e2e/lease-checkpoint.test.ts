// Lease checkpoints across a leader change, through real etcdctl on a 3-member cluster:
// with --experimental-enable-lease-checkpoint the new leader goes on from the remaining
// TTL the old leader checkpointed (TimeToLive after the move is at most CHECKPOINT_SLACK_SEC
// above what it was before), and without the flag the lease restarts at its full
// TTL, as etcd does. With -persist the remaining TTL also survives restarting every member.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Cluster, eventually, sleep, type ClusterMember } from './cluster.js';
import { etcdctl } from './harness.js';

const LEASE_TTL_SEC = 600;
/** long enough for several 1 s checkpoints, and for a reset to stand out */
const LEASE_AGE_MS = 10_000;
/**
 * How far above the last reading a checkpointed lease may come back: the newest checkpoint
 * can be one interval (1 s) plus one collection tick (0.5 s) old, a new leader extends
 * every lease by the election timeout (1 s, as etcd's Promote does), and TimeToLive
 * truncates to whole seconds. A reset (the bug) comes back at the full TTL, ≥ 8 s above.
 */
const CHECKPOINT_SLACK_SEC = 4;

async function remaining(m: ClusterMember, leaseId: string): Promise<number> {
  const r = await etcdctl(m.clientUrl, ['lease', 'timetolive', leaseId]);
  assert.equal(r.code, 0, r.stderr);
  const match = /remaining\((-?\d+)s\)/.exec(r.stdout);
  assert.ok(match, r.stdout);
  return Number(match[1]);
}

async function grant(m: ClusterMember): Promise<string> {
  const r = await etcdctl(m.clientUrl, ['lease', 'grant', String(LEASE_TTL_SEC)]);
  assert.equal(r.code, 0, r.stderr);
  return /lease ([0-9a-f]+) granted/.exec(r.stdout)![1]!;
}

/** Moves leadership to another member; returns the new leader. */
async function moveLeader(c: Cluster): Promise<ClusterMember> {
  const leader = await c.waitLeader();
  const target = c.members.find((m) => m !== leader)!;
  const r = await etcdctl(leader.clientUrl, ['move-leader', target.id]);
  assert.equal(r.code, 0, r.stderr);
  return eventually('the new leader', 20_000, async () => ((await c.waitLeader()) === target ? target : undefined));
}

describe('lease TTLs across a leader change', () => {
  let c: Cluster | undefined;
  after(async () => c?.destroy());

  for (const checkpoint of [true, false]) {
    it(checkpoint ? 'with checkpoints: the remaining TTL carries over' : 'without checkpoints: the TTL resets (etcd’s default)', async () => {
      const flags = checkpoint ? ['--experimental-enable-lease-checkpoint', '--experimental-lease-checkpoint-interval=1s'] : [];
      await c?.destroy();
      c = await Cluster.start({ extraArgs: flags });
      const leader = await c.waitLeader();
      const id = await grant(leader);
      await sleep(LEASE_AGE_MS);
      const before = await remaining(leader, id);
      assert.ok(before + CHECKPOINT_SLACK_SEC < LEASE_TTL_SEC - 2, `the lease aged (remaining ${before}s)`);
      const next = await moveLeader(c);
      const afterMove = await remaining(next, id);
      if (checkpoint) {
        assert.ok(afterMove <= before + CHECKPOINT_SLACK_SEC, `remaining ${afterMove}s after the move, ${before}s before`);
        assert.match(next.log() + leader.log(), /checkpointing is enabled without persistence/);
      } else {
        assert.ok(afterMove >= LEASE_TTL_SEC - 2, `reset to the full TTL: remaining ${afterMove}s`);
      }
      await c.destroy();
      c = undefined;
    });
  }

  it('with -persist the remaining TTL survives a restart of every member', async () => {
    await c?.destroy();
    c = await Cluster.start({
      extraArgs: ['--experimental-enable-lease-checkpoint', '--experimental-enable-lease-checkpoint-persist', '--experimental-lease-checkpoint-interval=1s'],
    });
    const leader = await c.waitLeader();
    const id = await grant(leader);
    await sleep(LEASE_AGE_MS);
    const before = await remaining(leader, id);
    for (const m of c.members) await c.stop(m);
    for (const m of c.members) c.spawn(m);
    await Promise.all(c.members.map((m) => c!.waitHealthy(m)));
    const now = await c.waitLeader();
    const afterRestart = await remaining(now, id);
    assert.ok(afterRestart <= before + CHECKPOINT_SLACK_SEC, `remaining ${afterRestart}s after the restart, ${before}s before`);
  });
});
