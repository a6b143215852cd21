// A write a member answers with "etcdserver: no leader" must not be applied later.
//
// etcd drops a proposal made while the member knows no leader (raft refuses it) and
// answers at once; "no leader" therefore tells a client the write did not happen, and it
// may safely retry or give up. A member that instead keeps the proposal queued and
// proposes it once a leader appears — after having answered the client — applies a write
// the client was told failed, possibly long after (a retried put then lands twice, a
// compare-and-swap the client abandoned succeeds behind its back).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Cluster, sleep } from '../e2e/cluster.js';
import { Kv } from './kv.js';

test('a write refused with "no leader" by a cut-off member is never applied after healing', { timeout: 60_000 }, async () => {
  const cluster = await Cluster.start({ heartbeatMs: 50, electionMs: 500 });
  const leader = await cluster.waitLeader();
  const follower = cluster.members.find((m) => m !== leader)!;
  const kvIso = new Kv(follower.clientUrl);
  const kvLeader = new Kv(leader.clientUrl);
  try {
    await cluster.partition([follower]);
    // the cut-off follower's election timer fires: it no longer knows a leader
    await cluster.waitLeader(20_000, [leader, ...cluster.members.filter((m) => m !== leader && m !== follower)]);
    await sleep(4 * cluster.electionMs);
    assert.equal((await cluster.status(follower)).leader, 0n, 'the isolated follower still names a leader');

    // wait for the member's own answer (its request timeout), not a client-side deadline
    let error = '';
    try {
      await kvIso.put('refused', 'zombie', 15_000);
    } catch (err) {
      error = (err as Error).message;
    }
    assert.match(error, /no leader/, `the put on the isolated member did not fail as expected: ${error || 'it succeeded'}`);
    console.log(`isolated member answered: ${error}`);

    await cluster.heal();
    await cluster.waitLeader();
    await sleep(3000);
    const value = await kvLeader.value('refused');
    assert.equal(
      value,
      undefined,
      `a put answered with "${error}" was applied after the partition healed: ` +
        'src/server/server.ts submit() queues proposals made without a leader in waitingForLeader and ' +
        'flushWaitingForLeader() proposes them later, even after waitFor() timed the request out',
    );
  } catch (err) {
    if (!(err instanceof assert.AssertionError)) console.log(cluster.logs());
    throw err;
  } finally {
    kvIso.close();
    kvLeader.close();
    await cluster.destroy();
  }
});
