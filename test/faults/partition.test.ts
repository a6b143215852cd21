// A member cut off from the other two (the partition failpoint): on it, writes and
// linearizable reads do not succeed, serializable reads still answer from its own
// (stale) data; the majority keeps serving; after healing the minority catches up.
// Run twice: once isolating the leader (it must step down), once a follower.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Cluster, eventually, sleep, type ClusterMember } from '../e2e/cluster.js';
import { assertSameData, Kv, putRetry } from './kv.js';

/** Resolves with how the call ended: 'ok' (with its value) or the error. */
async function settle<T>(p: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: string; ms: number }> {
  const started = Date.now();
  try {
    return { ok: true, value: await p };
  } catch (err) {
    return { ok: false, error: (err as Error).message, ms: Date.now() - started };
  }
}

async function isolateAndHeal(cluster: Cluster, isolated: ClusterMember, tag: string): Promise<void> {
  const majority = cluster.members.filter((m) => m !== isolated);
  const kvIso = new Kv(isolated.clientUrl);
  const kvMaj = new Kv(majority[0]!.clientUrl);
  try {
    await putRetry(kvMaj, `${tag}/before`, 'v1');
    // the isolated member has it before the cut (a linearizable read on it waits for that)
    assert.equal(await kvIso.value(`${tag}/before`), 'v1');

    await cluster.partition([isolated]);
    const newLeader = await cluster.waitLeader(20_000, majority);
    console.log(`${tag}: ${isolated.name} isolated; ${newLeader.name} leads the majority`);

    // the majority serves writes and linearizable reads
    for (let i = 0; i < 20; i++) await putRetry(kvMaj, `${tag}/during/${i}`, `v${i}`);
    await putRetry(kvMaj, `${tag}/before`, 'v2');
    const other = new Kv(majority[1]!.clientUrl);
    assert.equal(await other.value(`${tag}/before`, { timeoutMs: 5000 }), 'v2');
    other.close();

    // on the minority: no write, no linearizable read
    const put = await settle(kvIso.put(`${tag}/minority-write`, 'x', 1500));
    assert.equal(put.ok, false, `a put on the isolated ${isolated.name} succeeded`);
    const get = await settle(kvIso.get(`${tag}/before`, { timeoutMs: 1500 }));
    assert.equal(get.ok, false, `a linearizable get on the isolated ${isolated.name} succeeded: ${JSON.stringify(get.ok && get.value.kvs)}`);
    console.log(`${tag}: minority put failed (${put.ok ? '' : put.error}), linearizable get failed (${get.ok ? '' : get.error})`);
    // ... but serializable reads answer, from its own data: the value before the cut
    const stale = await kvIso.value(`${tag}/before`, { serializable: true });
    assert.equal(stale, 'v1', 'a serializable read on the minority answers with its last known value');
    assert.equal(await kvIso.value(`${tag}/during/0`, { serializable: true }), undefined);

    // a second linearizable read while cut off: still not served
    const get2 = await settle(kvIso.get(`${tag}/during/0`, { timeoutMs: 1000 }));
    assert.equal(get2.ok, false, 'a second linearizable get on the minority succeeded');

    await cluster.heal();
    await cluster.waitLeader();
    await assertSameData(cluster, cluster.members);
    assert.equal(await eventually('a linearizable read on the healed member', 10_000, () => kvIso.value(`${tag}/before`)), 'v2');
    assert.equal(await kvIso.value(`${tag}/during/19`, { serializable: true }), 'v19');
    // the minority member serves writes again
    await putRetry(kvIso, `${tag}/after`, 'ok');
    assert.equal(await kvMaj.value(`${tag}/after`, { timeoutMs: 5000 }), 'ok');
  } finally {
    kvIso.close();
    kvMaj.close();
  }
}

test('partitioned minority: leader isolated, then a follower isolated', { timeout: 90_000 }, async () => {
  const cluster = await Cluster.start({ heartbeatMs: 50, electionMs: 500 });
  try {
    const leader = await cluster.waitLeader();
    await isolateAndHeal(cluster, leader, 'leader');
    await sleep(200);
    const current = await cluster.waitLeader();
    const follower = cluster.members.find((m) => m !== current)!;
    await isolateAndHeal(cluster, follower, 'follower');
  } catch (err) {
    console.log(cluster.logs());
    throw err;
  } finally {
    await cluster.destroy();
  }
});
