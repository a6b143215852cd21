// A follower that was down while the leader compacted its log past the follower's last
// entry catches up by a snapshot from the leader, and ends with the same data.
//
// The leader keeps SNAPSHOT_CATCH_UP_ENTRIES (5000, etcd's default) entries behind each
// snapshot for slow followers, so the follower must miss more than that plus
// --snapshot-count entries before the leader has to send a snapshot.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SNAPSHOT_CATCH_UP_ENTRIES } from '../../src/server/raft-driver.js';
import { Cluster, eventually } from '../e2e/cluster.js';
import { assertSameData, Kv } from './kv.js';

const SNAPSHOT_COUNT = 100;

async function writeMany(endpoint: string, total: number, concurrency: number, prefix: string): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      const kv = new Kv(endpoint);
      try {
        for (let i = next++; i < total; i = next++) await kv.put(`${prefix}/${i % 400}`, `v${i}`, 10_000);
      } finally {
        kv.close();
      }
    }),
  );
}

test('a follower behind the leader’s compacted log catches up by snapshot', { timeout: 120_000 }, async () => {
  const cluster = await Cluster.start({ heartbeatMs: 50, electionMs: 500, snapshotCount: SNAPSHOT_COUNT });
  try {
    const leader = await cluster.waitLeader();
    const follower = cluster.members.find((m) => m !== leader)!;
    await writeMany(leader.clientUrl, 50, 10, 'c/early');
    await assertSameData(cluster, cluster.members);

    await cluster.stop(follower);
    const entries = SNAPSHOT_CATCH_UP_ENTRIES + 5 * SNAPSHOT_COUNT;
    const started = Date.now();
    await writeMany(leader.clientUrl, entries, 64, 'c/while-down');
    console.log(`${entries} puts while ${follower.name} was down, in ${Date.now() - started} ms`);
    const kv = new Kv(leader.clientUrl);
    await kv.del('c/early/0');
    kv.close();

    // not waiting for /health: it needs a linearizable read, which waits for the catch-up
    await cluster.restart(follower, false);
    try {
      await eventually(`${follower.name} logs that it applied a snapshot`, 30_000, async () =>
        follower.log().includes('applied a snapshot from the leader') ? true : undefined,
      );
    } catch (err) {
      const sent = /sent database snapshot to the remote peer/.test(leader.log());
      const st = await cluster.status(follower).catch(() => undefined);
      throw new Error(
        `${(err as Error).message}; the leader ${sent ? 'logged' : 'never logged'} "sent database snapshot to the remote peer"; ` +
          `${follower.name} is at raft index ${st?.raftIndex ?? '?'}`,
      );
    }
    await cluster.waitHealthy(follower);
    assert.match(leader.log(), /sent database snapshot to the remote peer/);
    const { revision } = await assertSameData(cluster, cluster.members);
    console.log(`${follower.name} caught up by snapshot; all members agree at revision ${revision}`);

    // and it keeps following: a write after the snapshot reaches it too
    const kvl = new Kv(leader.clientUrl);
    await kvl.put('c/after', 'yes');
    kvl.close();
    await assertSameData(cluster, cluster.members);
    const kvf = new Kv(follower.clientUrl);
    try {
      assert.equal(await kvf.value('c/after', { serializable: true }), 'yes');
      assert.equal(await kvf.value('c/early/0', { serializable: true }), undefined);
    } finally {
      kvf.close();
    }

    // the installed snapshot is durable: the follower restarts from it
    await cluster.stop(follower);
    await cluster.restart(follower);
    await assertSameData(cluster, cluster.members);
  } catch (err) {
    console.log(cluster.logs());
    throw err;
  } finally {
    await cluster.destroy();
  }
});
