// Proves offline migration from a stopped etcd member's data dir keeps every acknowledged
// write: `tsetcdutl snapshot restore <etcd data dir>` reads the database and replays the
// committed WAL entries the database had not applied.
// - etcd killed with SIGKILL while running with a one-hour backend batch interval, so its
//   database holds only what a forced commit (the compaction) wrote and the rest exists only
//   in its WAL: tsetcd serves every key, revision, lease, user and role etcd served.
// - etcd stopped cleanly: the same.
// The migrated data dir is also checked by tsetcd's own start (no errors, writes go on).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { tempDir } from '../helpers/tmp.js';
import { etcdctl, freePorts, haveBinary, REPO_ROOT, startMember, TSETCD_BIN, type MemberPorts } from '../e2e/harness.js';
import { applyWorkload, assertSameData, dump } from './workload.js';

const KEYS = 3000;
const TSETCDUTL = path.join(REPO_ROOT, 'bin/tsetcdutl');
const skip = !haveBinary('etcd') || !haveBinary('etcdctl') ? 'needs etcd and etcdctl 3.4 on the PATH' : false;

function run(cmd: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args);
    let stderr = '';
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.stdout.resume();
    p.on('close', (code) => resolve({ code, stderr }));
  });
}

function flags(name: string, dataDir: string, ports: MemberPorts): string[] {
  const peer = `http://127.0.0.1:${ports.peer}`;
  const client = `http://127.0.0.1:${ports.client}`;
  return [
    `--name=${name}`,
    `--data-dir=${dataDir}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=${name}=${peer}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
  ];
}

let dir: string;
let cleanup: () => void;
before(() => {
  if (!skip) ({ dir, cleanup } = tempDir('tsetcd-migrate-'));
});
after(() => cleanup?.());

async function migrateAndCompare(how: 'kill' | 'stop'): Promise<void> {
  const ePorts = await freePorts();
  const etcdDir = path.join(dir, `etcd-${how}`);
  const etcd = await startMember({ bin: 'etcd', dataDir: etcdDir, ports: ePorts, args: [...flags('e1', etcdDir, ePorts), '--backend-batch-interval=1h', '--backend-batch-limit=1000000'] });
  const { compactedAt } = await applyWorkload(etcd.clientUrl, KEYS);
  const expected = await dump(etcd.clientUrl, compactedAt);
  if (how === 'kill') await etcd.kill();
  else await etcd.stop();

  const tPorts = await freePorts();
  const tsDir = path.join(dir, `ts-${how}`);
  const peer = `http://127.0.0.1:${tPorts.peer}`;
  const restored = await run(TSETCDUTL, ['snapshot', 'restore', etcdDir, `--data-dir=${tsDir}`, '--name=t1', `--initial-cluster=t1=${peer}`, `--initial-advertise-peer-urls=${peer}`]);
  assert.equal(restored.code, 0, restored.stderr);
  const replay = /replaying the committed WAL tail.*"entries-to-apply": (\d+)/.exec(restored.stderr);
  assert.ok(replay, restored.stderr);
  if (how === 'kill') assert.ok(Number(replay[1]) > KEYS / 7, `the deletes after the compaction exist only in the WAL: ${replay[0]}`);

  const ts = await startMember({ bin: TSETCD_BIN, dataDir: tsDir, ports: tPorts, args: flags('t1', tsDir, tPorts) });
  try {
    assertSameData(await dump(ts.clientUrl, compactedAt), expected, `tsetcd migrated from an etcd member (${how})`);
    const put = await etcdctl(ts.clientUrl, ['put', '/after/migration', 'ok']);
    assert.equal(put.code, 0, put.stderr);
  } finally {
    await ts.stop();
  }
}

test('an etcd member killed mid-batch: migration replays its WAL tail and loses nothing', { skip, timeout: 300_000 }, () => migrateAndCompare('kill'));

test('an etcd member stopped cleanly: migration gives the same data', { skip, timeout: 300_000 }, () => migrateAndCompare('stop'));
