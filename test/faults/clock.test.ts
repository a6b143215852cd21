// The system clock of one member jumps (TSETCD_FAILPOINT_CLOCK_OFFSET_FILE shifts its
// Date.now): an hour forward on the leader expires no lease early, an hour back does not
// hold off a lease's expiry, a jump on a follower changes nothing either; the cluster keeps
// a leader and takes writes throughout, and no acknowledged write is lost.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { Cluster, eventually, sleep, type ClusterMember } from '../e2e/cluster.js';
import {
  LeaseGrantRequest,
  LeaseGrantResponse,
  LeaseTimeToLiveRequest,
  LeaseTimeToLiveResponse,
  PutRequest,
} from '../../src/proto/etcdserverpb.js';
import { assertAllAcked, assertSameData, startWriters } from './kv.js';

const HOUR_MS = 3_600_000;

async function grant(cluster: Cluster, m: ClusterMember, ttlSec: number, key: string): Promise<bigint> {
  const c = cluster.client(m);
  const g = LeaseGrantResponse.decode(await c.call('/etcdserverpb.Lease/LeaseGrant', LeaseGrantRequest.encode(LeaseGrantRequest.create({ TTL: ttlSec }))));
  await c.call('/etcdserverpb.KV/Put', PutRequest.encode(PutRequest.create({ key: Buffer.from(key), value: Buffer.from('x'), lease: g.ID })));
  return g.ID;
}

/** Remaining TTL in seconds as the leader reports it; -1 once the lease is gone. */
async function ttlOf(cluster: Cluster, id: bigint): Promise<number> {
  const leader = await cluster.waitLeader();
  const r = LeaseTimeToLiveResponse.decode(await cluster.client(leader).call('/etcdserverpb.Lease/LeaseTimeToLive', LeaseTimeToLiveRequest.encode(LeaseTimeToLiveRequest.create({ ID: id }))));
  return r.TTL;
}

test('clock jumps on the leader and a follower: leases expire on time, writes go on, nothing lost', { timeout: 120_000 }, async () => {
  const cluster = await Cluster.start({ heartbeatMs: 50, electionMs: 500 });
  try {
    const leader = await cluster.waitLeader();
    const writers = startWriters(() => cluster.running, 6, 'clock');
    const long = await grant(cluster, leader, 120, 'lease/long');

    // an hour forward on the leader: a lease with two minutes left must not expire
    fs.writeFileSync(leader.clockOffsetFile, String(HOUR_MS));
    await sleep(1500);
    assert.ok((await ttlOf(cluster, long)) > 60, 'the two-minute lease expired after a clock jump forward');

    // an hour back on the leader: a 5 s lease still expires in about 5 s, not in an hour
    fs.writeFileSync(leader.clockOffsetFile, String(-HOUR_MS));
    await sleep(500);
    const short = await grant(cluster, await cluster.waitLeader(), 5, 'lease/short');
    await eventually('the 5 s lease expires despite the clock going back', 45_000, async () => ((await ttlOf(cluster, short)) === -1 ? true : undefined), 500);

    // a follower's clock jumps both ways; the long lease is still there
    const follower = cluster.members.find((m) => m !== leader)!;
    fs.writeFileSync(follower.clockOffsetFile, String(HOUR_MS));
    await sleep(1000);
    fs.writeFileSync(follower.clockOffsetFile, String(-HOUR_MS));
    await sleep(1000);
    assert.ok((await ttlOf(cluster, long)) > 30, 'the long lease expired after follower clock jumps');

    const acked = writers.acked.length;
    await eventually('writes are acknowledged after the jumps', 30_000, async () => (writers.acked.length > acked + 50 ? true : undefined));
    await writers.stop();
    console.log(`${writers.acked.length} writes acknowledged, ${writers.errors.length} failed`);
    await assertSameData(cluster, cluster.members);
    for (const m of cluster.members) await assertAllAcked(m, writers.acked);
  } catch (err) {
    console.log(cluster.logs());
    throw err;
  } finally {
    await cluster.destroy();
  }
});
