// Maintenance through the real etcdctl: the NOSPACE alarm at --quota-backend-bytes
// (writes refused, reads and deletes served), alarm list/disarm, defrag, snapshot
// save and hashkv.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../helpers/tmp.js';
import { etcdctl, freePorts, startMember, TSETCD_BIN } from './harness.js';

test('quota, alarms, defrag, snapshot and hashkv', async () => {
  const { dir, cleanup } = tempDir();
  const member = await startMember({
    bin: TSETCD_BIN,
    dataDir: path.join(dir, 'm'),
    ports: await freePorts(),
    extraArgs: ['--quota-backend-bytes=400000'],
  });
  const ep = member.clientUrl;
  try {
    const big = 'x'.repeat(20_000);
    let refused = -1;
    for (let i = 0; i < 60; i++) {
      const r = await etcdctl(ep, ['put', `big${i}`, big]);
      if (r.code !== 0) {
        assert.equal(r.stderr.trim(), 'Error: etcdserver: mvcc: database space exceeded');
        refused = i;
        break;
      }
    }
    assert.ok(refused > 0, 'writes past the quota are refused');
    const alarms = await etcdctl(ep, ['alarm', 'list']);
    assert.match(alarms.stdout, /^memberID:\d+ alarm:NOSPACE \n$/);
    assert.equal((await etcdctl(ep, ['put', 'small', 'v'])).stderr.trim(), 'Error: etcdserver: mvcc: database space exceeded', 'any write is refused while the alarm is up');
    assert.equal((await etcdctl(ep, ['get', 'big0', '--keys-only'])).stdout, 'big0\n\n', 'reads are served');
    const status = await etcdctl(ep, ['endpoint', 'status']);
    assert.match(status.stdout, /alarm:NOSPACE/, 'endpoint status lists the alarm');

    // free space: delete, compact, defrag, disarm
    assert.equal((await etcdctl(ep, ['del', 'big', '--prefix'])).stdout, `${refused}\n`, 'deletes are served');
    const rev = JSON.parse((await etcdctl(ep, ['get', 'x', '-w', 'json'])).stdout).header.revision;
    assert.equal((await etcdctl(ep, ['compact', String(rev), '--physical'])).stdout, `compacted revision ${rev}\n`);
    assert.equal((await etcdctl(ep, ['defrag'])).stdout, `Finished defragmenting etcd member[${ep}]\n`);
    assert.match((await etcdctl(ep, ['alarm', 'disarm'])).stdout, /^memberID:\d+ alarm:NOSPACE \n$/);
    assert.equal((await etcdctl(ep, ['alarm', 'list'])).stdout, '');
    assert.equal((await etcdctl(ep, ['put', 'after', 'ok'])).stdout, 'OK\n', 'writes work again once space is back');

    // snapshot: the backend followed by the SHA-256 of it, as etcd streams it
    const snap = path.join(dir, 'snap.db');
    assert.equal((await etcdctl(ep, ['snapshot', 'save', snap])).stdout, `Snapshot saved at ${snap}\n`);
    const bytes = fs.readFileSync(snap);
    const body = bytes.subarray(0, bytes.length - 32);
    assert.deepEqual(bytes.subarray(bytes.length - 32), createHash('sha256').update(body).digest());

    // hashkv is stable while nothing changes and moves when something does
    const h1 = (await etcdctl(ep, ['endpoint', 'hashkv'])).stdout;
    assert.equal((await etcdctl(ep, ['endpoint', 'hashkv'])).stdout, h1);
    await etcdctl(ep, ['put', 'more', 'v']);
    assert.notEqual((await etcdctl(ep, ['endpoint', 'hashkv'])).stdout, h1);
  } finally {
    await member.stop();
    cleanup();
  }
});
