// Proves tsetcd, `tsetcdutl defrag` and `tsetcdutl snapshot restore|status` never crash on
// a foreign or damaged file: an etcd member's data dir, a truncated snapshot, a snapshot
// with a flipped byte, an empty file, random bytes, a directory they may not read. Each
// gets a sentence saying what the file is, exit code 1 or 2 (never a signal), and every
// file is left byte for byte as it was, with no lock left behind.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { tempDir } from '../helpers/tmp.js';
import { etcdctl, freePorts, haveBinary, REPO_ROOT, startMember, TSETCD_BIN } from '../e2e/harness.js';

const TSETCDUTL = path.join(REPO_ROOT, 'bin/tsetcdutl');
const skip = !haveBinary('etcd') || !haveBinary('etcdctl') ? 'needs etcd and etcdctl 3.4 on the PATH' : false;
const RUN_TIMEOUT_MS = 60_000;

interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

function run(cmd: string, args: string[], asNobody = false): Promise<Ran> {
  const [bin, argv] = asNobody ? ['setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', cmd, ...args]] : [cmd, args];
  return new Promise((resolve) => {
    const p = spawn(bin, argv, { timeout: RUN_TIMEOUT_MS });
    let stderr = '';
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.stdout.resume();
    p.on('close', (code, signal) => resolve({ code, signal, stderr }));
  });
}

/** Every file under `root` with its SHA-256, to prove nothing was touched. */
function fingerprint(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[path.relative(root, p)] = createHash('sha256').update(fs.readFileSync(p)).digest('hex');
    }
  };
  if (fs.statSync(root).isDirectory()) walk(root);
  else out['.'] = createHash('sha256').update(fs.readFileSync(root)).digest('hex');
  return out;
}

function assertRefused(r: Ran, pattern: RegExp, what: string): void {
  assert.equal(r.signal, null, `${what}: killed by ${r.signal}\n${r.stderr}`);
  assert.ok(r.code === 1 || r.code === 2, `${what}: exit code ${r.code}\n${r.stderr}`);
  assert.match(r.stderr, pattern, what);
}

let dir: string;
let cleanup: () => void;
let etcdDataDir: string;
let goodSnap: string;

before(async () => {
  if (skip) return;
  ({ dir, cleanup } = tempDir('tsetcd-bad-files-'));
  etcdDataDir = path.join(dir, 'etcd-data');
  const ports = await freePorts();
  const etcd = await startMember({ bin: 'etcd', dataDir: etcdDataDir, ports });
  for (let i = 0; i < 20; i++) await etcdctl(etcd.clientUrl, ['put', `k${i}`, `v${i}`]);
  goodSnap = path.join(dir, 'good.snap');
  const saved = await etcdctl(etcd.clientUrl, ['snapshot', 'save', goodSnap]);
  assert.equal(saved.code, 0, saved.stderr);
  await etcd.stop();
  fs.rmSync(`${etcdDataDir}.log`, { force: true });
});

after(() => cleanup?.());

function damaged(name: string, make: (good: Buffer) => Buffer): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, make(fs.readFileSync(goodSnap)));
  return file;
}

test("an etcd member's data dir: tsetcd and tsetcdutl defrag refuse it untouched and say how to migrate", { skip }, async () => {
  const before = fingerprint(etcdDataDir);
  const ports = await freePorts();
  const member = await run(TSETCD_BIN, [`--data-dir=${etcdDataDir}`, `--listen-client-urls=http://127.0.0.1:${ports.client}`, `--advertise-client-urls=http://127.0.0.1:${ports.client}`, `--listen-peer-urls=http://127.0.0.1:${ports.peer}`]);
  assertRefused(member, /written by etcd.*tsetcdutl snapshot restore/s, 'tsetcd on an etcd data dir');
  const defrag = await run(TSETCDUTL, ['defrag', `--data-dir=${etcdDataDir}`]);
  assertRefused(defrag, /etcd \(bbolt\) database/, 'tsetcdutl defrag on an etcd data dir');
  assert.deepEqual(fingerprint(etcdDataDir), before, 'the etcd data dir is unchanged');
});

test('damaged and foreign snapshot files: restore and status refuse them with what is wrong', { skip }, async () => {
  const good = fs.readFileSync(goodSnap);
  const cases: Array<[string, string, RegExp]> = [
    [damaged('truncated.snap', (b) => b.subarray(0, Math.floor(b.length / 2) + 32)), 'truncated', /sha256|invalid database|missing hash/],
    [damaged('flipped.snap', (b) => {
      const c = Buffer.from(b);
      c[c.length - 500]! ^= 0x40;
      return c;
    }), 'flipped byte', /expected sha256/],
    [damaged('empty.snap', () => Buffer.alloc(0)), 'empty', /empty file/],
    [damaged('random.snap', () => createHash('sha512').update('x').digest()), 'random bytes', /not an etcd snapshot/],
    [path.join(etcdDataDir, 'member', 'wal', fs.readdirSync(path.join(etcdDataDir, 'member', 'wal'))[0]!), 'an etcd WAL segment', /etcd WAL segment/],
    [path.join(dir, 'no-such.snap'), 'missing', /no such file or directory/],
  ];
  assert.ok(good.length > 0);
  for (const [file, what, pattern] of cases) {
    const before = fs.existsSync(file) ? fingerprint(file) : undefined;
    const out = path.join(dir, `restored-${what.replace(/\W/g, '-')}`);
    assertRefused(await run(TSETCDUTL, ['snapshot', 'restore', file, `--data-dir=${out}`]), pattern, `restore of a ${what} file`);
    assert.equal(fs.existsSync(out), false, `no data dir is left behind for a ${what} file`);
    if (before) assert.deepEqual(fingerprint(file), before, `the ${what} file is unchanged`);
  }
  // status reads the trailer-less database as it is, but never a damaged one
  assertRefused(await run(TSETCDUTL, ['snapshot', 'status', path.join(dir, 'empty.snap')]), /empty file/, 'status of an empty file');
  assertRefused(await run(TSETCDUTL, ['snapshot', 'status', path.join(dir, 'random.snap')]), /not an etcd snapshot/, 'status of random bytes');
});

test('a data dir the user may not read: a clear error, nothing created', { skip }, async () => {
  const locked = path.join(dir, 'locked');
  fs.mkdirSync(path.join(locked, 'member'), { recursive: true });
  fs.chmodSync(locked, 0o000);
  try {
    const ports = await freePorts();
    const member = await run(TSETCD_BIN, [`--data-dir=${locked}`, `--listen-client-urls=http://127.0.0.1:${ports.client}`, `--advertise-client-urls=http://127.0.0.1:${ports.client}`, `--listen-peer-urls=http://127.0.0.1:${ports.peer}`], true);
    assertRefused(member, /permission denied/, 'tsetcd on an unreadable data dir');
    const restore = await run(TSETCDUTL, ['snapshot', 'restore', goodSnap, `--data-dir=${path.join(locked, 'x')}`], true);
    assertRefused(restore, /permission denied|could not be read/, 'restore into an unreadable dir');
    const defrag = await run(TSETCDUTL, ['defrag', `--data-dir=${locked}`], true);
    assertRefused(defrag, /permission denied|no such file/, 'defrag of an unreadable dir');
  } finally {
    fs.chmodSync(locked, 0o755);
  }
  assert.deepEqual(fs.readdirSync(locked), ['member'], 'nothing was created in it');
});
