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
import { issue, makePki } from './pki-helpers.js';
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
    // what etcdctl prints against etcd too: the connection never became usable
    for (const r of [noCert, rogue]) assert.match(r.stderr, /^Error: context deadline exceeded$/m, r.stderr);
    // refused the same way every time: HTTP/2 clients get a GOAWAY in place of the server
    // preface, HTTP/1.1 ones nothing; curl says "Empty reply from server" (52) for both,
    // never a half-served stream (18), whatever the TLS version
    for (const [extra, want] of [[[], 52], [['--http1.1'], 52], [['--tlsv1.2', '--tls-max', '1.2'], 52]] as const) {
      for (let i = 0; i < 3; i++) {
        const none = curl([...extra, '--cacert', a.ca, `${ep}/health`]);
        assert.equal(none.code, want, `no certificate ${extra.join(' ')}: ${none.out}`);
        const foreign = curl([...extra, '--cacert', a.ca, '--cert', b.client.cert, '--key', b.client.key, `${ep}/health`]);
        assert.equal(foreign.code, want, `another CA ${extra.join(' ')}: ${foreign.out}`);
      }
    }
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
    const both = ['signing', 'key encipherment', 'server auth', 'client auth'];
    const member = { CN: 'member', hosts: ['127.0.0.1'] };
    const expired = issue(a, 'ca', 'expired', { usages: both, expiry: '8760h', not_before: '2020-01-01T00:00:00Z', not_after: '2021-01-01T00:00:00Z' }, member);
    const future = issue(a, 'ca', 'future', { usages: both, expiry: '8760h', not_before: '2099-01-01T00:00:00Z', not_after: '2100-01-01T00:00:00Z' }, member);
    const serverOnly = issue(a, 'ca', 'server-only', { usages: ['signing', 'key encipherment', 'server auth'], expiry: '8760h' }, member);
    const ports = await freePorts();
    const ep = `https://127.0.0.1:${ports.client}`;
    const peer = `https://127.0.0.1:${ports.peer}`;
    const run = (extra: string[], advertise = ep) =>
      spawnSync(TSETCD_BIN, [
        `--data-dir=${path.join(dir, 'data')}`,
        `--listen-client-urls=${ep}`,
        `--advertise-client-urls=${advertise}`,
        `--listen-peer-urls=${peer}`,
        `--initial-advertise-peer-urls=${peer}`,
        `--initial-cluster=default=${peer}`,
        `--peer-cert-file=${a.server.cert}`,
        `--peer-key-file=${a.server.key}`,
        ...extra,
      ], { encoding: 'utf8', timeout: 20000 });
    const refused = (extra: string[], message: RegExp): void => {
      const r = run(extra);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr.trim().split('\n').at(-1)!, message);
    };
    const serve = (cert: { cert: string; key: string }) => [`--cert-file=${cert.cert}`, `--key-file=${cert.key}`];

    refused([`--cert-file=${a.server.cert}`, `--key-file=${b.server.key}`], /^tsetcd: --key-file .*rogue-server-key\.pem is not the private key of --cert-file .*ca-server\.pem .*NAME-key\.pem/);
    refused([`--cert-file=${path.join(dir, 'nope.pem')}`, `--key-file=${a.server.key}`], /nope\.pem/);
    refused([`--cert-file=${a.server.cert}`], /--cert-file and --key-file must be given together/);
    refused(serve(expired), /^tsetcd: --cert-file .*expired\.pem \("member"\) expired at 2021-01-01 00:00:00 UTC, .* ago; issue a new one/);
    refused(serve(future), /^tsetcd: --cert-file .*future\.pem \("member"\) is not valid until 2099-01-01 00:00:00 UTC, .*check this machine's clock/);
    refused(serve(a.client), /^tsetcd: --cert-file .*ca-client\.pem does not allow use as a TLS server .*"server auth"/);
    refused([...serve(a.server), '--client-cert-auth', `--trusted-ca-file=${a.server.cert}`], /^tsetcd: --trusted-ca-file .*ca-server\.pem holds .*which is not a CA certificate/);
    // a member certificate the peers' CA did not sign, or that cannot be a TLS client
    refused([...serve(a.server), `--peer-trusted-ca-file=${a.ca}`, `--peer-cert-file=${b.server.cert}`, `--peer-key-file=${b.server.key}`], /^tsetcd: --peer-cert-file .*rogue-server\.pem is not signed by any CA in --peer-trusted-ca-file .*ca\.pem/);
    refused([...serve(a.server), `--peer-cert-file=${serverOnly.cert}`, `--peer-key-file=${serverOnly.key}`], /^tsetcd: --peer-cert-file .*server-only\.pem does not allow use as a TLS client/);
    assert.equal(fs.existsSync(path.join(dir, 'data')), false, 'nothing was created');

    // an advertised host the certificate does not cover: a warning, and the member serves
    const proc = spawn(TSETCD_BIN, [
      `--data-dir=${path.join(dir, 'data')}`,
      `--listen-client-urls=${ep}`,
      `--advertise-client-urls=https://127.0.0.2:${ports.client}`,
      `--listen-peer-urls=http://127.0.0.1:${ports.peer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${ports.peer}`,
      `--initial-cluster=default=http://127.0.0.1:${ports.peer}`,
      ...serve(a.server),
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    proc.stderr.on('data', (d: Buffer) => (log += d.toString()));
    try {
      await waitFor(() => log.includes('ready to serve client requests'));
      assert.match(log, /client TLS: --cert-file .*ca-server\.pem is not valid for 127\.0\.0\.2: it covers only DNS localhost, IP 127\.0\.0\.1/);
    } finally {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
    }
  } finally {
    cleanup();
  }
});
