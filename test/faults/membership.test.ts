// Membership changes the way etcd's runtime-reconfiguration tutorial does them, driven
// by the real etcdctl: remove a member, add a new one (new name, ports, empty data dir)
// started with --initial-cluster-state=existing and the ETCD_* values `member add`
// printed; and a learner: add --learner, start it, promote it once in sync, and it votes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Cluster, eventually, sleep, type ClusterMember } from '../e2e/cluster.js';
import { etcdctl } from '../e2e/harness.js';
import { assertSameData, Kv } from './kv.js';

interface ListedMember {
  id: string;
  status: string;
  name: string;
  peerUrls: string;
  clientUrls: string;
  isLearner: boolean;
}

async function memberList(via: ClusterMember): Promise<ListedMember[]> {
  const r = await etcdctl(via.clientUrl, ['member', 'list']);
  if (r.code !== 0) throw new Error(`etcdctl member list: ${r.stderr}`);
  return r.stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [id, status, name, peerUrls, clientUrls, learner] = line.split(', ');
      return { id: id!, status: status!, name: name!, peerUrls: peerUrls!, clientUrls: clientUrls!, isLearner: learner === 'true' };
    });
}

/**
 * Puts `n` keys through `m`, retrying each (a proposal forwarded to a leader that just
 * died is lost and only times out, in etcd as here) for up to 20 s.
 */
async function putMany(m: ClusterMember, prefix: string, n: number): Promise<void> {
  const kv = new Kv(m.clientUrl);
  try {
    for (let i = 0; i < n; i++) {
      await eventually(`put ${prefix}/${i} through ${m.name}`, 20_000, async () => {
        await kv.put(`${prefix}/${i}`, `v${i}`, 2000);
        return true;
      });
    }
  } finally {
    kv.close();
  }
}

test('member remove, then member add of a fresh member with the printed ETCD_* settings', { timeout: 90_000 }, async () => {
  const cluster = await Cluster.start({ heartbeatMs: 50, electionMs: 500 });
  try {
    const leader = await cluster.waitLeader();
    await putMany(leader, 'd/before', 20);
    const victim = cluster.members.find((m) => m !== leader)!;

    const removed = await etcdctl(leader.clientUrl, ['member', 'remove', victim.id]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, new RegExp(`Member\\s+${victim.id} removed from cluster`));
    // a removed member stops by itself, as etcd's does (checked at the end, so the rest
    // of the workflow is exercised either way)
    const exitedBySelf = Promise.race([victim.exited.then(() => true), sleep(15_000).then(() => false)]);
    const afterRemove = await memberList(leader);
    assert.deepEqual(afterRemove.map((m) => m.name).sort(), cluster.members.filter((m) => m !== victim).map((m) => m.name).sort());

    // the remaining two still form a quorum
    await putMany(leader, 'd/two-members', 10);

    const fresh = await cluster.newMember('m4');
    const printed = await cluster.memberAdd(leader, fresh);
    assert.equal(printed['ETCD_NAME'], 'm4');
    assert.equal(printed['ETCD_INITIAL_CLUSTER_STATE'], 'existing');
    assert.equal(printed['ETCD_INITIAL_ADVERTISE_PEER_URLS'], fresh.peerUrl);
    assert.match(printed['ETCD_INITIAL_CLUSTER']!, new RegExp(`m4=${fresh.peerUrl}`));
    // "unstarted" until the new member runs and publishes its name
    const pending = await memberList(leader);
    assert.equal(pending.length, 3);
    assert.ok(pending.some((m) => m.status === 'unstarted' && m.peerUrls === fresh.peerUrl), JSON.stringify(pending));

    await cluster.startAdded(fresh, printed);
    await cluster.waitHealthy(fresh);
    await cluster.refreshIds();
    const list = await eventually('member list shows 3 started members', 15_000, async () => {
      const l = await memberList(fresh);
      return l.length === 3 && l.every((m) => m.status === 'started') ? l : undefined;
    });
    assert.deepEqual(list.map((m) => m.name).sort(), ['m4', ...cluster.members.filter((m) => m !== victim && m !== fresh).map((m) => m.name)].sort());
    assert.ok(list.every((m) => !m.isLearner));

    const current = cluster.members.filter((m) => m !== victim);
    await putMany(leader, 'd/after-add', 10);
    await assertSameData(cluster, current);
    const kv = new Kv(fresh.clientUrl);
    try {
      assert.equal(await kv.value('d/before/19', { serializable: true }), 'v19');
      assert.equal(await kv.value('d/two-members/9', { serializable: true }), 'v9');
      assert.equal(await kv.value('d/after-add/9'), 'v9');
      // the new member serves writes too
      await kv.put('d/from-m4', 'yes', 5000);
    } finally {
      kv.close();
    }
    await assertSameData(cluster, current);

    assert.ok(
      await exitedBySelf,
      `${victim.name} kept running for 15 s after its removal. Like etcd's (whose peers answer it 410 Gone), a removed ` +
        'member must learn it from its peers (REJECT_REMOVED on its streams, src/peer/transport.ts) and exit',
    );
  } catch (err) {
    console.log(cluster.logs());
    throw err;
  } finally {
    await cluster.destroy();
  }
});

test('a learner is added, catches up, is promoted, and then votes', { timeout: 90_000 }, async () => {
  const cluster = await Cluster.start({ heartbeatMs: 50, electionMs: 500 });
  try {
    const leader = await cluster.waitLeader();
    await putMany(leader, 'l/before', 50);

    const learner = await cluster.newMember('m4');
    const printed = await cluster.memberAdd(leader, learner, true);
    assert.equal(printed['ETCD_INITIAL_CLUSTER_STATE'], 'existing');
    await cluster.startAdded(learner, printed);
    await cluster.waitHealthy(learner).catch(() => {
      /* a learner's /health may need the leader's read index; data is checked below */
    });
    await cluster.refreshIds();
    const listed = await eventually('the learner is listed as started', 15_000, async () => {
      const l = await memberList(leader);
      const me = l.find((m) => m.name === 'm4');
      return me && me.status === 'started' ? me : undefined;
    });
    assert.equal(listed.isLearner, true);
    const st = await cluster.status(learner);
    assert.equal(st.isLearner, true);
    await assertSameData(cluster, cluster.members);

    // promote once the leader considers it in sync (etcd refuses earlier, with a message)
    await eventually('member promote succeeds', 20_000, async () => {
      const r = await etcdctl(leader.clientUrl, ['member', 'promote', learner.id]);
      return r.code === 0 ? r.stdout : undefined;
    });
    const after = await memberList(leader);
    assert.ok(after.every((m) => !m.isLearner), JSON.stringify(after));
    assert.equal((await cluster.status(learner)).isLearner, false);

    // four voters: a quorum is three. With the old leader and one more original member
    // gone, the two left can only elect a leader and commit with m4's vote.
    const originals = cluster.members.filter((m) => m !== learner);
    const stay = originals.find((m) => m !== leader)!;
    const gone = originals.filter((m) => m !== stay);
    await cluster.kill(gone[0]!);
    console.log(`killed ${gone[0]!.name}; writing through ${stay.name}`);
    await putMany(stay, 'l/three-of-four', 5);
    await cluster.kill(gone[1]!);
    // two of four voters: no quorum, whatever m4 does
    const kv = new Kv(stay.clientUrl);
    await assert.rejects(kv.put('l/no-quorum', 'x', 1500));
    kv.close();
    await cluster.restart(gone[1]!, false);
    const newLeader = await cluster.waitLeader(30_000, [stay, learner, gone[1]!]);
    console.log(`after promotion: ${newLeader.name} leads ${[stay, learner, gone[1]!].map((m) => m.name).join(', ')}`);
    await putMany(learner, 'l/voter', 5);
    await assertSameData(cluster, [stay, learner, gone[1]!]);
  } catch (err) {
    console.log(cluster.logs());
    throw err;
  } finally {
    await cluster.destroy();
  }
});
