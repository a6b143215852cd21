// Proves the proxy's TLS on both sides and its command line: towards an mTLS member it
// presents --cert/--key (which must have an empty Common Name, as etcd requires, else it
// refuses to start with etcd's sentence) and verifies the member with --cacert; towards
// clients it serves --cert-file/--key-file and, with --trusted-ca-file, requires client
// certificates; --auto-tls serves a generated certificate. Flag mistakes are refused as
// etcd refuses them (cobra's "Error:" line, exit code 1).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { tempDir } from '../helpers/tmp.js';
import { etcdctl, freePorts, startMember, TSETCD_BIN, type RunningMember } from '../e2e/harness.js';
import { issue, makePki, type TestPki } from '../e2e/pki-helpers.js';
import { startProxy } from './helpers.js';

let pki: TestPki;
let member: RunningMember;
let memberUrl: string;
let dir: string;
let cleanup: () => void;
let upstreamCert: { cert: string; key: string };

const CLIENT_PROFILE = { expiry: '8760h', usages: ['signing', 'key encipherment', 'client auth'] };

before(async () => {
  ({ dir, cleanup } = tempDir());
  pki = makePki(path.join(dir, 'pki'));
  // no CN: etcd's proxy refuses a certificate that would name a user on every call
  upstreamCert = issue(pki, 'ca', 'proxy-upstream', CLIENT_PROFILE, { names: [{ O: 'tsetcd tests' }] });
  const ports = await freePorts();
  memberUrl = `https://127.0.0.1:${ports.client}`;
  const peer = `http://127.0.0.1:${ports.peer}`;
  const tlsCtl = [`--cacert=${pki.ca}`, `--cert=${pki.client.cert}`, `--key=${pki.client.key}`];
  member = await startMember({
    bin: TSETCD_BIN,
    dataDir: path.join(dir, 'm'),
    ports,
    args: [
      '--name=m',
      `--data-dir=${path.join(dir, 'm')}`,
      `--listen-client-urls=${memberUrl}`,
      `--advertise-client-urls=${memberUrl}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=m=${peer}`,
      `--cert-file=${pki.server.cert}`,
      `--key-file=${pki.server.key}`,
      `--trusted-ca-file=${pki.ca}`,
      '--client-cert-auth',
    ],
    ready: async () => (await etcdctl(memberUrl, [...tlsCtl, 'endpoint', 'health'])).code === 0,
  });
});

after(async () => {
  await member?.stop();
  cleanup?.();
});

test('TLS on both sides: mTLS to the member, client certificates required by the proxy', async () => {
  const proxy = await startProxy({
    endpoints: [memberUrl],
    logPath: path.join(dir, 'proxy-tls.log'),
    extraArgs: [`--cert=${upstreamCert.cert}`, `--key=${upstreamCert.key}`, `--cacert=${pki.ca}`, `--cert-file=${pki.server.cert}`, `--key-file=${pki.server.key}`, `--trusted-ca-file=${pki.ca}`],
  });
  try {
    const url = `https://${proxy.addr}`;
    const withCert = [`--cacert=${pki.ca}`, `--cert=${pki.client.cert}`, `--key=${pki.client.key}`];
    assert.equal((await etcdctl(url, [...withCert, 'put', 'tls/k', 'v'])).stdout, 'OK\n');
    assert.equal((await etcdctl(url, [...withCert, 'get', 'tls/k', '--print-value-only'])).stdout, 'v\n');
    assert.equal((await etcdctl(memberUrl, [...withCert, 'get', 'tls/k', '--print-value-only'])).stdout, 'v\n');
    const noCert = await etcdctl(url, [`--cacert=${pki.ca}`, 'get', 'tls/k']);
    assert.notEqual(noCert.code, 0, 'a client without a certificate is refused');
    const plain = await etcdctl(proxy.addr, ['get', 'tls/k']);
    assert.notEqual(plain.code, 0, 'cleartext is not served on a TLS listener');
  } finally {
    await proxy.stop();
  }
});

test('--auto-tls serves a generated certificate', async () => {
  const proxy = await startProxy({
    endpoints: [memberUrl],
    logPath: path.join(dir, 'proxy-auto.log'),
    extraArgs: [`--cert=${upstreamCert.cert}`, `--key=${upstreamCert.key}`, `--cacert=${pki.ca}`, '--auto-tls', `--data-dir=${path.join(dir, 'proxy-data')}`],
  });
  try {
    const r = await etcdctl(`https://${proxy.addr}`, ['--insecure-transport=false', '--insecure-skip-tls-verify', 'put', 'auto/k', 'v']);
    assert.equal(r.stdout, 'OK\n', r.stderr);
    assert.match(proxy.log(), /self-signed certificate/);
  } finally {
    await proxy.stop();
  }
});

test('a --cert with a Common Name is refused with etcd\'s sentence', () => {
  const r = spawnSync(TSETCD_BIN, ['grpc-proxy', 'start', `--endpoints=${memberUrl}`, `--cert=${pki.client.cert}`, `--key=${pki.client.key}`, `--cacert=${pki.ca}`, '--listen-addr=127.0.0.1:0'], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(r.status, 1, r.stderr);
  assert.equal(r.stderr, 'cert has non empty Common Name (e2e-client)\n');
});

test('flag mistakes: cobra\'s error and usage, exit code 1; help on request', () => {
  const bad = spawnSync(TSETCD_BIN, ['grpc-proxy', 'start', '--bogus'], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /^Error: unknown flag: --bogus\nUsage:\n {2}tsetcd grpc-proxy start \[flags\]\n/);
  const ttl = spawnSync(TSETCD_BIN, ['grpc-proxy', 'start', '--resolver-prefix=x'], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(ttl.status, 1);
  assert.equal(ttl.stderr, 'invalid resolver-ttl 0\n');
  const help = spawnSync(TSETCD_BIN, ['grpc-proxy', 'start', '--help'], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(help.status, 0);
  assert.match(help.stdout, /--resolver-prefix string/);
  const group = spawnSync(TSETCD_BIN, ['grpc-proxy'], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(group.status, 0);
  assert.match(group.stdout, /start {7}start the grpc proxy/);
});
