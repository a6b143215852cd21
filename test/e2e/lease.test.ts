// Leases through the real etcdctl: expiry and revoke delete the attached keys in one
// revision, and leases with their keys survive a restart.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../helpers/tmp.js';
import { etcdctl, freePorts, startMember, TSETCD_BIN } from './harness.js';

async function rev(ep: string): Promise<number> {
  const r = await etcdctl(ep, ['get', 'rev-probe', '-w', 'json']);
  return JSON.parse(r.stdout).header.revision as number;
}

async function grant(ep: string, ttl: number): Promise<string> {
  const r = await etcdctl(ep, ['lease', 'grant', String(ttl)]);
  const m = /^lease ([0-9a-f]+) granted with TTL\((\d+)s\)$/.exec(r.stdout.trim());
  assert.ok(m, `lease grant printed ${r.stdout}${r.stderr}`);
  return m[1]!;
}

test('leases: expiry and revoke delete attached keys in one revision; leases survive a restart', async () => {
  const { dir, cleanup } = tempDir();
  const dataDir = path.join(dir, 'm');
  const ports = await freePorts();
  let member = await startMember({ bin: TSETCD_BIN, dataDir, ports });
  try {
    const ep = member.clientUrl;
    // revoke: both keys gone in one revision
    const l1 = await grant(ep, 60);
    for (const k of ['r/a', 'r/b']) assert.equal((await etcdctl(ep, ['put', k, 'v', `--lease=${l1}`])).stdout, 'OK\n');
    const before = await rev(ep);
    assert.equal((await etcdctl(ep, ['lease', 'revoke', l1])).stdout, `lease ${l1} revoked\n`);
    assert.equal(await rev(ep), before + 1);
    assert.equal((await etcdctl(ep, ['get', 'r/', '--prefix'])).stdout, '');

    // expiry: the minimum TTL is 2 s with the default timing
    const l2 = await grant(ep, 1);
    const short = await etcdctl(ep, ['lease', 'timetolive', l2]);
    assert.match(short.stdout, /granted with TTL\(2s\)/);
    await etcdctl(ep, ['put', 'e/a', 'v', `--lease=${l2}`]);
    await etcdctl(ep, ['put', 'e/b', 'v', `--lease=${l2}`]);
    const beforeExpiry = await rev(ep);
    const deadline = Date.now() + 10_000;
    while ((await etcdctl(ep, ['get', 'e/', '--prefix', '--keys-only'])).stdout !== '' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal((await etcdctl(ep, ['get', 'e/', '--prefix'])).stdout, '', 'keys of an expired lease are deleted');
    assert.equal(await rev(ep), beforeExpiry + 1, 'expiry deletes them in one revision');
    assert.equal((await etcdctl(ep, ['lease', 'timetolive', l2])).stdout, `lease ${l2} already expired\n`);

    // restart: the lease and its key are still there, with a fresh TTL
    const l3 = await grant(ep, 300);
    await etcdctl(ep, ['put', 's/a', 'v', `--lease=${l3}`]);
    await member.stop();
    member = await startMember({ bin: TSETCD_BIN, dataDir, ports });
    const ttl = await etcdctl(member.clientUrl, ['lease', 'timetolive', l3, '--keys']);
    assert.match(ttl.stdout, new RegExp(`^lease ${l3} granted with TTL\\(300s\\), remaining\\((\\d+)s\\), attached keys\\(\\[s/a\\]\\)\\n$`));
    const remaining = Number(/remaining\((\d+)s\)/.exec(ttl.stdout)![1]);
    assert.ok(remaining >= 295, `remaining ${remaining}s after a restart`);
    assert.equal((await etcdctl(member.clientUrl, ['lease', 'list'])).stdout, `found 1 leases\n${l3}\n`);
    assert.equal((await etcdctl(member.clientUrl, ['lease', 'keep-alive', '--once', l3])).stdout, `lease ${l3} keepalived with TTL(300)\n`);
    const unknown = await etcdctl(member.clientUrl, ['put', 'x', 'v', '--lease=123']);
    assert.equal(unknown.stderr.trim(), 'Error: etcdserver: requested lease not found');
  } finally {
    await member.stop();
    cleanup();
  }
});
