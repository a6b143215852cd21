// Proves both ways of installing tsetcd put working programs on the PATH:
//  - `npm install -g` of the packed package (npm pack) gives tsetcd, tsetcdctl and
//    tsetcdutl; a member started from it serves etcdctl; the systemd bundle's install.sh
//    finds that installation through the PATH and its wrappers run it;
//  - the release tarball (tools/release.mjs --tar) runs on a PATH without Node.js, with
//    the Node.js it carries, and install.sh takes it through TSETCD_HOME.
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { deployTool, hasCommand, REPO } from './helpers.js';
import { waitFor } from './lab.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsetcd-deploy-install-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

test('npm install -g of the packed package puts the three programs on the PATH, and they work', { timeout: 600_000, skip: hasCommand('etcdctl') ? undefined : 'etcdctl is not installed' }, async (t) => {
  const packed = execFileSync('npm', ['pack', '--silent', '--pack-destination', tmp], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] }).toString().trim().split('\n').pop()!;
  const prefix = path.join(tmp, 'prefix');
  const inst = spawnSync('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', path.join(tmp, packed)], { encoding: 'utf8', timeout: 300_000 });
  if (inst.status !== 0) return t.skip(`npm could not install the package's dependencies: ${(inst.stderr || String(inst.error)).trim().split('\n').pop()}`);
  const binDir = path.join(prefix, 'bin');
  const env = { ...process.env, PATH: `${binDir}:${process.env['PATH']}` };
  for (const b of ['tsetcd', 'tsetcdctl', 'tsetcdutl']) assert.ok(fs.existsSync(path.join(binDir, b)), `${b} is installed`);
  assert.match(execFileSync('tsetcdutl', ['version'], { env }).toString(), /tsetcdutl version: 0\./);

  const [client, peer] = [await freePort(), await freePort()];
  const member = spawn('tsetcd', [`--data-dir=${path.join(tmp, 'data')}`, `--listen-client-urls=http://127.0.0.1:${client}`, `--advertise-client-urls=http://127.0.0.1:${client}`, `--listen-peer-urls=http://127.0.0.1:${peer}`, `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`, `--initial-cluster=default=http://127.0.0.1:${peer}`], { env, stdio: 'ignore' });
  t.after(() => member.kill('SIGKILL'));
  const ctl = (...args: string[]) => spawnSync('etcdctl', [`--endpoints=127.0.0.1:${client}`, ...args], { encoding: 'utf8', env: { ...env, ETCDCTL_API: '3' } });
  await waitFor('the installed tsetcd serving', () => ctl('put', 'k', 'v').status === 0 || undefined, 60_000);
  assert.equal(ctl('get', 'k', '--print-value-only').stdout.trim(), 'v');

  // install.sh finds the npm installation through the PATH
  const out = path.join(tmp, 'bundle');
  deployTool(['systemd', '--members=m1=10.0.0.1', `--out=${out}`]);
  const root = path.join(tmp, 'root');
  execFileSync(path.join(out, 'install.sh'), ['m1'], { env: { ...env, ROOT: root } });
  assert.match(execFileSync(path.join(root, 'usr/local/bin/tsetcdutl'), ['version']).toString(), /tsetcdutl version/);
  // without an installation it says what to run
  const none = spawnSync(path.join(out, 'install.sh'), ['m1'], { encoding: 'utf8', env: { ...process.env, PATH: '/usr/sbin:/sbin', ROOT: root } });
  assert.notEqual(none.status, 0);
  assert.match(none.stderr, /run npm install -g tsetcd-0\.\d+\.\d+\.tgz/);
});

test('the release tarball runs with its own Node.js, also through install.sh', { timeout: 300_000 }, () => {
  const rel = execFileSync(process.execPath, [path.join(REPO, 'tools/release.mjs'), '--out', path.join(tmp, 'rel'), '--tar'], { stdio: ['ignore', 'pipe', 'pipe'] }).toString().trim();
  const unpacked = path.join(tmp, 'opt');
  fs.mkdirSync(unpacked);
  execFileSync('tar', ['-C', unpacked, '-xzf', `${rel}.tar.gz`]);
  const home = path.join(unpacked, path.basename(rel));
  // a PATH with the shell tools the wrappers use and no node
  const tools = path.join(tmp, 'tools');
  fs.mkdirSync(tools);
  for (const t of ['sh', 'dirname', 'readlink']) fs.symlinkSync(execFileSync('sh', ['-c', `command -v ${t}`]).toString().trim(), path.join(tools, t));
  const env = { PATH: tools };
  assert.match(execFileSync(path.join(home, 'bin/tsetcd'), ['--version'], { env }).toString(), /tsetcd Version: /);
  assert.match(execFileSync(path.join(home, 'bin/tsetcdctl'), ['version'], { env }).toString(), /tsetcdctl version: /);
  const out = path.join(tmp, 'bundle-rel');
  deployTool(['systemd', '--members=m1=10.0.0.1', `--out=${out}`]);
  const root = path.join(tmp, 'root-rel');
  execFileSync(path.join(out, 'install.sh'), ['m1'], { env: { ...process.env, ROOT: root, TSETCD_HOME: home } });
  assert.match(execFileSync(path.join(root, 'usr/local/bin/tsetcdutl'), ['version'], { env }).toString(), /tsetcdutl version/);
});
