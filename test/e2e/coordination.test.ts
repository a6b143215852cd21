// Lock and Election services: exclusion, queueing, proclaim/resign and observe, with
// etcd's concurrency key layout.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { openStream, UnaryClient } from '../../src/client/unary-client.js';
import { LeaseGrantRequest, LeaseGrantResponse, LeaseRevokeRequest } from '../../src/proto/etcdserverpb.js';
import { LockRequest, LockResponse, UnlockRequest } from '../../src/proto/v3lockpb.js';
import {
  CampaignRequest,
  CampaignResponse,
  LeaderRequest,
  LeaderResponse,
  ProclaimRequest,
  ResignRequest,
} from '../../src/proto/v3electionpb.js';
import { GrpcError } from '../../src/api/grpc/status.js';
import { tempDir } from '../helpers/tmp.js';
import { etcdctl, freePorts, startMember, TSETCD_BIN } from './harness.js';

const settledWithin = <T>(p: Promise<T>, ms: number) =>
  Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);

test('Lock and Election services', async () => {
  const { dir, cleanup } = tempDir();
  const member = await startMember({ bin: TSETCD_BIN, dataDir: path.join(dir, 'm'), ports: await freePorts() });
  const c = new UnaryClient(member.clientUrl);
  const grant = async () =>
    LeaseGrantResponse.decode(await c.call('/etcdserverpb.Lease/LeaseGrant', LeaseGrantRequest.encode(LeaseGrantRequest.create({ TTL: 60 })))).ID;
  try {
    const [l1, l2] = [await grant(), await grant()];
    const lock = (lease: bigint) =>
      c.call('/v3lockpb.Lock/Lock', LockRequest.encode(LockRequest.create({ name: Buffer.from('mtx'), lease }))).then((b) => LockResponse.decode(b));
    const first = await lock(l1);
    assert.equal(Buffer.from(first.key).toString(), `mtx/${l1.toString(16)}`);
    const second = lock(l2);
    assert.equal(await settledWithin(second, 400), false, 'the second locker waits');
    const keys = await etcdctl(member.clientUrl, ['get', 'mtx/', '--prefix', '--keys-only']);
    assert.deepEqual(
      keys.stdout.split('\n').filter(Boolean).sort(),
      [`mtx/${l1.toString(16)}`, `mtx/${l2.toString(16)}`].sort(),
      'both waiters are queued under the name',
    );
    await c.call('/v3lockpb.Lock/Unlock', UnlockRequest.encode(UnlockRequest.create({ key: first.key })));
    assert.equal(Buffer.from((await second).key).toString(), `mtx/${l2.toString(16)}`);
    // revoking the holder's lease releases the lock too
    const third = lock(l1);
    assert.equal(await settledWithin(third, 300), false);
    await c.call('/etcdserverpb.Lease/LeaseRevoke', LeaseRevokeRequest.encode(LeaseRevokeRequest.create({ ID: l2 })));
    assert.equal(Buffer.from((await third).key).toString(), `mtx/${l1.toString(16)}`);

    // election
    const [e1, e2] = [await grant(), await grant()];
    const observed: string[] = [];
    const obs = openStream(member.clientUrl, '/v3electionpb.Election/Observe');
    obs.onMessage = (m) => observed.push(Buffer.from(LeaderResponse.decode(m).kv!.value).toString());
    obs.send(LeaderRequest.encode(LeaderRequest.create({ name: Buffer.from('el') })));
    const campaign = (lease: bigint, value: string) =>
      c
        .call('/v3electionpb.Election/Campaign', CampaignRequest.encode(CampaignRequest.create({ name: Buffer.from('el'), lease, value: Buffer.from(value) })))
        .then((b) => CampaignResponse.decode(b));
    const leader1 = (await campaign(e1, 'a')).leader!;
    assert.equal(Buffer.from(leader1.key).toString(), `el/${e1.toString(16)}`);
    const leaderNow = async () =>
      Buffer.from(LeaderResponse.decode(await c.call('/v3electionpb.Election/Leader', LeaderRequest.encode(LeaderRequest.create({ name: Buffer.from('el') })))).kv!.value).toString();
    assert.equal(await leaderNow(), 'a');
    await c.call('/v3electionpb.Election/Proclaim', ProclaimRequest.encode(ProclaimRequest.create({ leader: leader1, value: Buffer.from('b') })));
    assert.equal(await leaderNow(), 'b');
    const pending = campaign(e2, 'c');
    assert.equal(await settledWithin(pending, 300), false, 'the second candidate waits');
    await c.call('/v3electionpb.Election/Resign', ResignRequest.encode(ResignRequest.create({ leader: leader1 })));
    const leader2 = (await pending).leader!;
    assert.equal(await leaderNow(), 'c');
    await assert.rejects(
      c.call('/v3electionpb.Election/Proclaim', ProclaimRequest.encode(ProclaimRequest.create({ leader: leader1, value: Buffer.from('x') }))),
      (e: unknown) => e instanceof GrpcError && e.message === 'election: not leader',
    );
    await c.call('/v3electionpb.Election/Resign', ResignRequest.encode(ResignRequest.create({ leader: leader2 })));
    await assert.rejects(
      c.call('/v3electionpb.Election/Leader', LeaderRequest.encode(LeaderRequest.create({ name: Buffer.from('el') }))),
      (e: unknown) => e instanceof GrpcError && e.message === 'election: no leader',
    );
    await new Promise((r) => setTimeout(r, 200));
    obs.cancel();
    assert.deepEqual(observed, ['a', 'b', 'c'], 'observe saw each leader and proclamation');
  } finally {
    c.close();
    await member.stop();
    cleanup();
  }
});
