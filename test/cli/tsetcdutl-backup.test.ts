// tsetcdutl backup: refuses a running member's data dir; the copy of a stopped one has the
// same keyspace (same KV hash), belongs to a new cluster (new member and cluster IDs each
// time, one member "etcdctl-v2-backup" in place of the old list), and a member started
// from it with --force-new-cluster serves the keys and takes writes.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../helpers/tmp.js';
import { BIN, run, startMember, type Member } from './helpers.js';

const ctl = (m: Member, ...a: string[]) => run(BIN.tsetcdctl, [`--endpoints=${m.endpoint}`, ...a]);

async function memberList(m: Member): Promise<Array<{ ID: string; name: string }>> {
  const r = await ctl(m, 'member', 'list', '-w', 'json', '--hex');
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout.toString()) as { members: Array<{ ID: string; name: string }> }).members;
}

test('backup of a stopped tsetcd member starts as a new one-member cluster with the same keys', { timeout: 120_000 }, async () => {
  const { dir, cleanup } = tempDir('tsetcdutl-backup-');
  const src = path.join(dir, 'src');
  let m = await startMember(BIN.tsetcd, src);
  try {
    for (const [k, v] of [['a', '1'], ['b', '2'], ['a', '3']]) assert.equal((await ctl(m, 'put', k!, v!)).code, 0);
    const [original] = await memberList(m);
    const running = await run(BIN.tsetcdutl, ['backup', '--data-dir', src, '--backup-dir', path.join(dir, 'never')]);
    assert.equal(running.code, 1);
    assert.match(running.stderr, /^Error: timed out waiting to acquire lock on .*: stop the member first\n$/);
    await m.stop();

    const backups = [path.join(dir, 'bak1'), path.join(dir, 'bak2')];
    for (const b of backups) {
      const r = await run(BIN.tsetcdutl, ['backup', '--data-dir', src, '--backup-dir', b]);
      assert.equal(r.code, 0, r.stderr);
    }
    const hash = async (d: string) => (await run(BIN.tsetcdutl, ['hashkv', d])).stdout.toString();
    assert.equal(await hash(backups[0]!), await hash(src));

    const ids: string[] = [];
    for (const b of backups) {
      m = await startMember(BIN.tsetcd, b, undefined, ['--name=etcdctl-v2-backup', '--force-new-cluster']);
      const members = await memberList(m);
      assert.deepEqual(members.map((x) => x.name), ['etcdctl-v2-backup']);
      assert.notEqual(members[0]!.ID, original!.ID);
      ids.push(members[0]!.ID);
      assert.equal((await ctl(m, 'get', 'a', '--print-value-only')).stdout.toString(), '3\n');
      assert.equal((await ctl(m, 'put', 'c', '4')).code, 0);
      await m.stop();
    }
    assert.notEqual(ids[0], ids[1], 'each backup is a cluster of its own');

    const noV3 = await run(BIN.tsetcdutl, ['backup', '--data-dir', src, '--backup-dir', path.join(dir, 'v2'), '--with-v3=false']);
    assert.equal(noV3.code, 0);
    assert.match(noV3.stderr, /\twarn\t.*-with-v3=false is not supported/);
    const missing = await run(BIN.tsetcdutl, ['backup', '--data-dir', src]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^Error: required flag\(s\) "backup-dir" not set\n/);
  } finally {
    await m.stop();
    cleanup();
  }
});
