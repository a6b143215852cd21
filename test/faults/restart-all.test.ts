// Every member stopped at once — SIGTERM, then kill -9 in the middle of a write load —
// and started again: all acknowledged data is there, a leader is elected, writes work.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Cluster, eventually, sleep } from '../e2e/cluster.js';
import { assertAllAcked, assertSameData, Kv, startWriters, type Acked } from './kv.js';

async function restartAll(cluster: Cluster): Promise<void> {
  // all at once: a member waits for the others to elect a leader before it is healthy
  for (const m of cluster.members) cluster.spawn(m);
  await Promise.all(cluster.members.map((m) => cluster.waitHealthy(m)));
}

/** A write through every member, retried while the cluster settles after the restart. */
async function writesWork(cluster: Cluster, tag: string): Promise<Acked[]> {
  const acked: Acked[] = [];
  for (const m of cluster.members) {
    const kv = new Kv(m.clientUrl);
    try {
      const key = `${tag}/via-${m.name}`;
      const r = await eventually(`a put through ${m.name}`, 20_000, () => kv.put(key, 'ok', 2000));
      acked.push({ key, value: 'ok', revision: r.header!.revision });
    } finally {
      kv.close();
    }
  }
  return acked;
}

test('restart every member: SIGTERM, then kill -9 during writes', { timeout: 120_000 }, async () => {
  const cluster = await Cluster.start({ heartbeatMs: 50, electionMs: 500 });
  try {
    await cluster.waitLeader();
    const first = startWriters(() => cluster.running, 8, 'e1');
    await sleep(1000);
    await first.stop();
    assert.ok(first.acked.length > 20);
    const acked: Acked[] = [...first.acked];

    // graceful: SIGTERM to all, every member exits cleanly
    const codes = await Promise.all(cluster.members.map((m) => cluster.stop(m)));
    assert.deepEqual(codes, [0, 0, 0], 'a member did not exit cleanly on SIGTERM');
    await restartAll(cluster);
    const leader1 = await cluster.waitLeader();
    console.log(`after SIGTERM of all: ${leader1.name} leads; ${acked.length} acknowledged writes to check`);
    for (const m of cluster.members) await assertAllAcked(m, acked);
    acked.push(...(await writesWork(cluster, 'e1-after')));
    await assertSameData(cluster, cluster.members);

    // abrupt: kill -9 all three while writes are in flight
    const second = startWriters(() => cluster.running, 12, 'e2');
    await sleep(1500);
    await Promise.all(cluster.members.map((m) => cluster.kill(m)));
    await second.stop();
    assert.ok(second.acked.length > 20, `only ${second.acked.length} writes acknowledged before the kill`);
    acked.push(...second.acked);
    await restartAll(cluster);
    const leader2 = await cluster.waitLeader();
    console.log(`after kill -9 of all: ${leader2.name} leads; ${acked.length} acknowledged writes to check`);
    // every write a client saw acknowledged was committed by a majority: it survives
    await assertSameData(cluster, cluster.members);
    for (const m of cluster.members) await assertAllAcked(m, acked);
    acked.push(...(await writesWork(cluster, 'e2-after')));
    await assertSameData(cluster, cluster.members);
    for (const m of cluster.members) await assertAllAcked(m, acked);
  } catch (err) {
    console.log(cluster.logs());
    throw err;
  } finally {
    await cluster.destroy();
  }
});
