// kill -9 of the leader under a write load: a new leader is elected within a few
// election timeouts, no acknowledged write is lost on any survivor, and the old leader,
// restarted, catches up to the same data.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Cluster, eventually, sleep } from '../e2e/cluster.js';
import { assertAllAcked, assertSameData, startWriters } from './kv.js';

test('kill -9 the leader during writes: re-election, no acknowledged write lost, the old leader catches up', { timeout: 90_000 }, async () => {
  const cluster = await Cluster.start({ heartbeatMs: 50, electionMs: 500 });
  try {
    const leader = await cluster.waitLeader();
    const writers = startWriters(() => cluster.running, 12, 'a');
    await sleep(1500);
    const before = writers.acked.length;
    assert.ok(before > 20, `only ${before} writes acknowledged before the kill`);

    const killedAt = Date.now();
    await cluster.kill(leader);
    const survivors = cluster.running;
    const next = await cluster.waitLeader(20_000, survivors);
    const electionMs = Date.now() - killedAt;
    console.log(`old leader ${leader.name} killed; ${next.name} leads after ${electionMs} ms (election timeout ${cluster.electionMs} ms)`);
    assert.notEqual(next, leader);
    assert.ok(electionMs <= 10 * cluster.electionMs, `re-election took ${electionMs} ms, more than 10 election timeouts`);

    // the survivors take writes again. Writes that followers had forwarded to the killed
    // leader are lost and only time out (as in etcd), so this can take a client timeout.
    const atElection = writers.acked.length;
    await eventually('writes are acknowledged after the re-election', 15_000, async () =>
      writers.acked.length > atElection + 50 ? true : undefined,
    );
    await sleep(500);
    await writers.stop();
    const revisions = writers.acked.map((a) => a.revision);
    assert.equal(new Set(revisions).size, revisions.length, 'two acknowledged writes share a revision');
    console.log(`${writers.acked.length} writes acknowledged, ${writers.errors.length} failed`);

    for (const m of survivors) await assertAllAcked(m, writers.acked);
    await assertSameData(cluster, survivors);

    // the old leader comes back as a follower and catches up
    await cluster.restart(leader);
    const after = await cluster.waitLeader();
    assert.notEqual(after, undefined);
    await assertSameData(cluster, cluster.members);
    await assertAllAcked(leader, writers.acked);
  } catch (err) {
    console.log(cluster.logs());
    throw err;
  } finally {
    await cluster.destroy();
  }
});
