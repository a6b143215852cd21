// --force-new-cluster, the disaster-recovery path of etcd's docs: after losing the other
// members for good, restart the survivor with the flag; it keeps all data and becomes
// a one-member cluster that takes writes, and stays one after a plain restart.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../helpers/tmp.js';
import { etcdctl, freePorts, startMember, TSETCD_BIN, type MemberPorts, type RunningMember } from './harness.js';

test('--force-new-cluster: the survivor of a lost cluster serves alone with its data', async () => {
  const { dir, cleanup } = tempDir();
  const ports: MemberPorts[] = [await freePorts(), await freePorts(), await freePorts()];
  const names = ['m1', 'm2', 'm3'];
  const peer = (i: number) => `http://127.0.0.1:${ports[i]!.peer}`;
  const client = (i: number) => `http://127.0.0.1:${ports[i]!.client}`;
  const cluster = names.map((n, i) => `${n}=${peer(i)}`).join(',');
  const start = (i: number, extra: string[] = []) =>
    startMember({
      bin: TSETCD_BIN,
      dataDir: path.join(dir, names[i]!),
      ports: ports[i]!,
      name: names[i]!,
      extraArgs: [`--initial-cluster=${cluster}`, '--initial-cluster-token=force-e2e', ...extra],
    });
  let members: RunningMember[] = await Promise.all([0, 1, 2].map((i) => start(i)));
  try {
    for (let k = 0; k < 20; k++) assert.equal((await etcdctl(client(k % 3), ['put', `k${k}`, `v${k}`])).stdout, 'OK\n');
    // the other two are lost for good; m1 alone has no quorum
    await Promise.all(members.map((m) => m.kill()));

    members = [await start(0, ['--force-new-cluster'])];
    const list = await etcdctl(client(0), ['member', 'list']);
    assert.equal(list.code, 0, list.stderr);
    assert.equal(list.stdout.trim().split('\n').length, 1, list.stdout);
    assert.match(list.stdout, new RegExp(`, started, m1, ${peer(0)}, ${client(0)}, false`));
    const all = await etcdctl(client(0), ['get', 'k', '--prefix', '--keys-only']);
    assert.equal(all.stdout.split('\n').filter((l) => l !== '').length, 20, 'every acknowledged write survived');
    assert.equal((await etcdctl(client(0), ['put', 'after', 'force'])).stdout, 'OK\n');

    // a plain restart keeps the one-member cluster
    await members[0]!.stop();
    members = [await start(0)];
    assert.equal((await etcdctl(client(0), ['get', 'after', '--print-value-only'])).stdout, 'force\n');
    assert.equal((await etcdctl(client(0), ['member', 'list'])).stdout.trim().split('\n').length, 1);
  } finally {
    await Promise.all(members.map((m) => m.kill()));
    cleanup();
  }
});
