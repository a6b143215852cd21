// The `etcd3` npm client — a real client we did not write — against tsetcd: KV, txns,
// leases with keep-alive, watch, locks and elections.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Etcd3 } from 'etcd3';
import { tempDir } from '../helpers/tmp.js';
import { freePorts, startMember, TSETCD_BIN, type RunningMember } from './harness.js';

describe('etcd3 npm client', () => {
  let member: RunningMember;
  let client: Etcd3;
  let cleanup: () => void;

  before(async () => {
    const t = tempDir();
    cleanup = t.cleanup;
    member = await startMember({ bin: TSETCD_BIN, dataDir: path.join(t.dir, 'm'), ports: await freePorts() });
    client = new Etcd3({ hosts: member.clientUrl });
  });
  after(async () => {
    client.close();
    await member.stop();
    cleanup();
  });

  it('puts, gets, deletes and lists', async () => {
    await client.put('app/a').value('1');
    await client.put('app/b').value('2');
    assert.equal(await client.get('app/a').string(), '1');
    assert.deepEqual(await client.getAll().prefix('app/').strings(), { 'app/a': '1', 'app/b': '2' });
    assert.equal(await client.getAll().prefix('app/').count(), 2);
    await client.delete().key('app/a');
    assert.equal(await client.get('app/a').string(), null);
  });

  it('runs compare-and-swap transactions', async () => {
    await client.put('cas').value('v1');
    const ok = await client.if('cas', 'Value', '==', 'v1').then(client.put('cas').value('v2')).else(client.put('cas-else').value('x')).commit();
    assert.equal(ok.succeeded, true);
    const no = await client.if('cas', 'Value', '==', 'v1').then(client.put('cas').value('v3')).commit();
    assert.equal(no.succeeded, false);
    assert.equal(await client.get('cas').string(), 'v2');
  });

  it('keeps a lease alive and deletes its keys on revoke', async () => {
    const lease = client.lease(3);
    await lease.put('leased').value('here');
    const id = await lease.grant();
    await new Promise((r) => setTimeout(r, 4000)); // past the TTL: only keep-alives keep it
    assert.equal(await client.get('leased').string(), 'here');
    await lease.revoke();
    assert.equal(await client.get('leased').string(), null);
    assert.ok(id.length > 0);
  });

  it('watches keys', async () => {
    const watcher = await client.watch().prefix('w/').create();
    const seen: string[] = [];
    const done = new Promise<void>((resolve) => {
      watcher.on('put', (kv) => {
        seen.push(`put ${kv.key.toString()}=${kv.value.toString()}`);
        if (seen.length === 3) resolve();
      });
      watcher.on('delete', (kv) => {
        seen.push(`delete ${kv.key.toString()}`);
        if (seen.length === 3) resolve();
      });
    });
    await client.put('w/1').value('a');
    await client.put('w/2').value('b');
    await client.delete().key('w/1');
    await done;
    await watcher.cancel();
    assert.deepEqual(seen, ['put w/1=a', 'put w/2=b', 'delete w/1']);
  });

  it('locks exclude each other (etcd3 locks fail fast while held)', async () => {
    const first = await client.lock('res').ttl(10).acquire();
    await assert.rejects(client.lock('res').ttl(10).acquire(), /Failed to acquire a lock on res/);
    await first.release();
    const second = await client.lock('res').ttl(10).acquire();
    await second.release();
  });

  it('elects one leader and hands over on resign', async () => {
    const election = client.election('elect', 10);
    const a = election.campaign('a');
    await new Promise<void>((resolve, reject) => {
      a.on('elected', () => resolve());
      a.on('error', reject);
    });
    assert.equal(await election.leader(), 'a');
    const b = election.campaign('b');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await election.leader(), 'a');
    const bElected = new Promise<void>((resolve, reject) => {
      b.on('elected', () => resolve());
      b.on('error', reject);
    });
    await a.resign();
    await bElected;
    assert.equal(await election.leader(), 'b');
    await b.resign();
  });
});
