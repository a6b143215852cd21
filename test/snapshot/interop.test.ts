// Proves backups move both ways between real etcd 3.4 and tsetcd, key by key:
// - etcd snapshot → `tsetcdutl snapshot restore` (1 member, and 3 members from one file)
//   → tsetcd serves the same keys (create/mod revisions, versions, leases), lease TTLs,
//   users, roles, and refuses reads below the compaction as etcd did;
// - tsetcd snapshot (the Snapshot RPC, saved by the real etcdctl) → `etcdctl snapshot
//   restore` → real etcd serves the same, and back again into tsetcd;
// - `etcdctl snapshot status -w json` and `tsetcdutl snapshot status -w json` agree on
//   both kinds of snapshot file, and bbolt's own tx.Check() passes on tsetcd's.
// The history has SNAPSHOT_KEYS keys (default 100,000), overwrites, deletes, leases and a
// compaction (test/snapshot/workload.ts).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { tempDir } from '../helpers/tmp.js';
import { etcdctl, freePorts, haveBinary, REPO_ROOT, startMember, TSETCD_BIN, type MemberPorts, type RunningMember } from '../e2e/harness.js';
import { applyWorkload, assertSameData, dump, type Dump } from './workload.js';
import { goCheck, goSkip } from '../bbolt/helpers.js';

const KEYS = Number(process.env.SNAPSHOT_KEYS ?? 100_000);
const TSETCDUTL = path.join(REPO_ROOT, 'bin/tsetcdutl');
const skip = !haveBinary('etcd') || !haveBinary('etcdctl') ? 'needs etcd and etcdctl 3.4 on the PATH' : false;

function run(cmd: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { env: { ...process.env, ETCDCTL_API: '3' } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function ok(cmd: string, args: string[]): Promise<string> {
  const r = await run(cmd, args);
  assert.equal(r.code, 0, `${cmd} ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

function restoreArgs(name: string, dataDir: string, ports: MemberPorts, initialCluster?: string): string[] {
  const peer = `http://127.0.0.1:${ports.peer}`;
  return [`--name=${name}`, `--data-dir=${dataDir}`, `--initial-advertise-peer-urls=${peer}`, `--initial-cluster=${initialCluster ?? `${name}=${peer}`}`, '--initial-cluster-token=restored'];
}

/** The member flags that go with a restored data dir (the same name, URLs and cluster). */
function memberFlags(name: string, dataDir: string, ports: MemberPorts, initialCluster?: string): string[] {
  const client = `http://127.0.0.1:${ports.client}`;
  return [
    ...restoreArgs(name, dataDir, ports, initialCluster),
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=http://127.0.0.1:${ports.peer}`,
  ];
}

async function statusJson(tool: 'etcdctl' | 'tsetcdutl', file: string): Promise<{ hash: number; revision: number; totalKey: number; totalSize: number }> {
  const out = tool === 'etcdctl' ? await ok('etcdctl', ['snapshot', 'status', file, '-w', 'json']) : await ok(TSETCDUTL, ['snapshot', 'status', file, '-w', 'json']);
  return JSON.parse(out);
}

async function assertStatusAgrees(file: string): Promise<void> {
  const theirs = await statusJson('etcdctl', file);
  const ours = await statusJson('tsetcdutl', file);
  assert.deepEqual(ours, theirs, `snapshot status of ${path.basename(file)}`);
}

let dir: string;
let cleanup: () => void;
let etcdSnap: string;
let etcdDump: Dump;
let compactedAt: number;
const running: RunningMember[] = [];

async function start(bin: string, args: string[], ports: MemberPorts, dataDir: string): Promise<RunningMember> {
  const m = await startMember({ bin, dataDir, ports, args });
  running.push(m);
  return m;
}

before(async () => {
  if (skip) return;
  ({ dir, cleanup } = tempDir('tsetcd-snapshot-interop-'));
  const ports = await freePorts();
  const etcd = await start('etcd', memberFlags('e1', path.join(dir, 'etcd-src'), ports), ports, path.join(dir, 'etcd-src'));
  ({ compactedAt } = await applyWorkload(etcd.clientUrl, KEYS));
  etcdDump = await dump(etcd.clientUrl, compactedAt);
  etcdSnap = path.join(dir, 'etcd.snap');
  await ok('etcdctl', [`--endpoints=${etcd.clientUrl}`, 'snapshot', 'save', etcdSnap]);
  await etcd.stop();
});

after(async () => {
  for (const m of running) await m.kill();
  cleanup?.();
});

test('etcd snapshot → tsetcdutl restore → tsetcd has every key, lease, user and role', { skip }, async () => {
  await assertStatusAgrees(etcdSnap);
  const ports = await freePorts();
  const dataDir = path.join(dir, 'ts-from-etcd');
  await ok(TSETCDUTL, ['snapshot', 'restore', etcdSnap, ...restoreArgs('t1', dataDir, ports)]);
  const ts = await start(TSETCD_BIN, memberFlags('t1', dataDir, ports), ports, dataDir);
  assertSameData(await dump(ts.clientUrl, compactedAt), etcdDump, 'tsetcd restored from etcd');
  await ts.stop();
});

test('one etcd snapshot restored into three tsetcd members makes a working cluster', { skip }, async () => {
  const ports = [await freePorts(), await freePorts(), await freePorts()];
  const cluster = ports.map((p, i) => `r${i + 1}=http://127.0.0.1:${p.peer}`).join(',');
  const dirs = ports.map((_, i) => path.join(dir, `ts3-r${i + 1}`));
  for (let i = 0; i < 3; i++) await ok(TSETCDUTL, ['snapshot', 'restore', etcdSnap, ...restoreArgs(`r${i + 1}`, dirs[i]!, ports[i]!, cluster)]);
  const members = await Promise.all(ports.map((p, i) => start(TSETCD_BIN, memberFlags(`r${i + 1}`, dirs[i]!, p, cluster), p, dirs[i]!)));
  const list = await etcdctl(members[0]!.clientUrl, ['member', 'list']);
  assert.equal(list.stdout.trim().split('\n').length, 3, list.stdout);
  for (const m of members) assertSameData(await dump(m.clientUrl, compactedAt), etcdDump, `restored member ${m.clientUrl}`);
  const put = await etcdctl(members[1]!.clientUrl, ['put', '/after/restore', 'yes']);
  assert.equal(put.code, 0, put.stderr);
  const got = await etcdctl(members[2]!.clientUrl, ['get', '/after/restore', '--print-value-only']);
  assert.equal(got.stdout, 'yes\n');
  for (const m of members) await m.stop();
});

test('tsetcd snapshot → etcdctl restore → real etcd, and back into tsetcd', { skip }, async () => {
  // tsetcd's copy of the data (from the etcd snapshot), saved through its Snapshot RPC
  const p1 = await freePorts();
  const srcDir = path.join(dir, 'ts-src');
  await ok(TSETCDUTL, ['snapshot', 'restore', etcdSnap, ...restoreArgs('s1', srcDir, p1)]);
  const ts = await start(TSETCD_BIN, memberFlags('s1', srcDir, p1), p1, srcDir);
  const tsSnap = path.join(dir, 'tsetcd.snap');
  await ok('etcdctl', [`--endpoints=${ts.clientUrl}`, 'snapshot', 'save', tsSnap]);
  await ts.stop();
  await assertStatusAgrees(tsSnap);
  if (goSkip() === false) assert.deepEqual(goCheck(tsSnap, false).errors, [], "bbolt's own tx.Check() on the snapshot tsetcd streamed");
  else console.log(`# bbolt tx.Check skipped: ${goSkip()}`);

  const p2 = await freePorts();
  const etcdDir = path.join(dir, 'etcd-from-ts');
  await ok('etcdctl', ['snapshot', 'restore', tsSnap, ...restoreArgs('e2', etcdDir, p2)]);
  const etcd = await start('etcd', memberFlags('e2', etcdDir, p2), p2, etcdDir);
  assertSameData(await dump(etcd.clientUrl, compactedAt), etcdDump, 'etcd restored from tsetcd');
  const back = path.join(dir, 'etcd-again.snap');
  await ok('etcdctl', [`--endpoints=${etcd.clientUrl}`, 'snapshot', 'save', back]);
  await etcd.stop();

  const p3 = await freePorts();
  const againDir = path.join(dir, 'ts-again');
  await ok(TSETCDUTL, ['snapshot', 'restore', back, ...restoreArgs('a1', againDir, p3)]);
  const again = await start(TSETCD_BIN, memberFlags('a1', againDir, p3), p3, againDir);
  assertSameData(await dump(again.clientUrl, compactedAt), etcdDump, 'tsetcd → etcd → tsetcd');
  await again.stop();
  assert.ok(fs.existsSync(againDir));
});
