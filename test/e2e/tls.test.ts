// Client mutual TLS with etcd's flags: etcdctl and curl with a certificate from the
// trusted CA are served; without one, or with one from another CA, they are refused and
// nothing is written; replaced certificate and CA files are used by new connections
// without a restart.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../helpers/tmp.js';
import { etcdctl, freePorts, TSETCD_BIN } from './harness.js';
import { makePki } from './pki-helpers.js';
import { spawn } from 'node:child_process';

function curl(args: string[]): { code: number | null; out: string } {
  const r = spawnSync('curl', ['-sS', '--max-time', '5', ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout + r.stderr };
}

async function waitFor(fn: () => boolean | Promise<boolean>, ms = 15000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('condition not met in time');
}

test('client mutual TLS: accepted, refused, and reloaded from disk', async () => {
  const { dir, cleanup } = tempDir();
  const a = makePki(path.join(dir, 'pki-a'), 'ca');
  const b = makePki(path.join(dir, 'pki-b'), 'rogue');
  // the member reads its files from here; the test swaps them later
  const live = path.join(dir, 'live');
  fs.mkdirSync(live);
  for (const [src, dst] of [
    [a.ca, 'ca.pem'],
    [a.server.cert, 'server.pem'],
    [a.server.key, 'server-key.pem'],
  ] as const) fs.copyFileSync(src, path.join(live, dst));
  const ports = await freePorts();
  const ep = `https://127.0.0.1:${ports.client}`;
  const proc = spawn(TSETCD_BIN, [
    `--data-dir=${path.join(dir, 'data')}`,
    `--listen-client-urls=${ep}`,
    `--advertise-client-urls=${ep}`,
    `--listen-peer-urls=http://127.0.0.1:${ports.peer}`,
    `--initial-advertise-peer-urls=http://127.0.0.1:${ports.peer}`,
    `--initial-cluster=default=http://127.0.0.1:${ports.peer}`,
    '--client-cert-auth',
    `--trusted-ca-file=${path.join(live, 'ca.pem')}`,
    `--cert-file=${path.join(live, 'server.pem')}`,
    `--key-file=${path.join(live, 'server-key.pem')}`,
  ], { stdio: 'ignore' });
  const withA = [`--cacert=${a.ca}`, `--cert=${a.client.cert}`, `--key=${a.client.key}`];
  try {
    await waitFor(async () => (await etcdctl(ep, [...withA, 'endpoint', 'health'])).code === 0);
    assert.equal((await etcdctl(ep, [...withA, 'put', 'k', 'v'])).stdout, 'OK\n');
    assert.equal(curl(['--cacert', a.ca, '--cert', a.client.cert, '--key', a.client.key, `${ep}/health`]).out, '{"health":"true","reason":""}');

    const noCert = await etcdctl(ep, [`--cacert=${a.ca}`, 'put', 'nocert', 'x']);
    assert.notEqual(noCert.code, 0, 'a client without a certificate is refused');
    const rogue = await etcdctl(ep, [`--cacert=${a.ca}`, `--cert=${b.client.cert}`, `--key=${b.client.key}`, 'put', 'rogue', 'x']);
    assert.notEqual(rogue.code, 0, 'a certificate from another CA is refused');
    assert.notEqual(curl(['--cacert', a.ca, `${ep}/health`]).code, 0);
    assert.equal((await etcdctl(ep, [...withA, 'get', '--prefix', 'nocert', '--keys-only'])).stdout, '');
    assert.equal((await etcdctl(ep, [...withA, 'get', 'rogue'])).stdout, '', 'refused requests wrote nothing');

    // Swap in CA b and a server certificate from b: new connections use them at once.
    fs.copyFileSync(b.ca, path.join(live, 'ca.pem'));
    fs.copyFileSync(b.server.cert, path.join(live, 'server.pem'));
    fs.copyFileSync(b.server.key, path.join(live, 'server-key.pem'));
    const withB = [`--cacert=${b.ca}`, `--cert=${b.client.cert}`, `--key=${b.client.key}`];
    await waitFor(async () => (await etcdctl(ep, [...withB, 'put', 'after-reload', 'yes'])).code === 0);
    assert.notEqual((await etcdctl(ep, [...withA, 'get', 'k'])).code, 0, 'clients of the old CA are refused after the reload');
    assert.equal((await etcdctl(ep, [...withB, 'get', 'k', '--print-value-only'])).stdout, 'v\n');
  } finally {
    proc.kill('SIGTERM');
    await new Promise((r) => proc.once('exit', r));
    cleanup();
  }
});

test('TLS files are checked before the member starts', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const a = makePki(path.join(dir, 'pki-a'), 'ca');
    const b = makePki(path.join(dir, 'pki-b'), 'rogue');
    const ports = await freePorts();
    const ep = `https://127.0.0.1:${ports.client}`;
    const run = (extra: string[]) =>
      spawnSync(TSETCD_BIN, [
        `--data-dir=${path.join(dir, 'data')}`,
        `--listen-client-urls=${ep}`,
        `--advertise-client-urls=${ep}`,
        `--listen-peer-urls=http://127.0.0.1:${ports.peer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${ports.peer}`,
        `--initial-cluster=default=http://127.0.0.1:${ports.peer}`,
        ...extra,
      ], { encoding: 'utf8', timeout: 20000 });
    const mismatch = run([`--cert-file=${a.server.cert}`, `--key-file=${b.server.key}`]);
    assert.equal(mismatch.status, 1);
    assert.match(mismatch.stderr, /tsetcd: --key-file .*rogue-server-key\.pem is not the private key of --cert-file .*ca-server\.pem/);
    const missing = run([`--cert-file=${path.join(dir, 'nope.pem')}`, `--key-file=${a.server.key}`]);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /nope\.pem/);
    const half = run([`--cert-file=${a.server.cert}`]);
    assert.equal(half.status, 1);
    assert.match(half.stderr, /--cert-file and --key-file must be given together/);
    const peerMismatch = run([`--peer-cert-file=${a.server.cert}`, `--peer-key-file=${a.client.key}`]);
    assert.equal(peerMismatch.status, 1);
    assert.match(peerMismatch.stderr, /--peer-key-file .* is not the private key of --peer-cert-file/);
    assert.equal(fs.existsSync(path.join(dir, 'data')), false, 'nothing was created');
  } finally {
    cleanup();
  }
});
