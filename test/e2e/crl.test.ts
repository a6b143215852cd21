// --client-crl-file and --client-cert-allowed-hostname as etcd applies them: a client
// whose certificate serial the CRL lists is refused (etcdctl times out, nothing is
// written), another client of the same CA is
// served; the CRL is judged by its serials only, so a CRL past its nextUpdate date (as
// etcd's own e2e fixture is) still works, DER and PEM alike, and a CRL changed on disk
// applies to new connections. With --client-cert-allowed-hostname, only certificates
// valid for that name are served.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../helpers/tmp.js';
import { etcdctl, freePorts, startMember, TSETCD_BIN } from './harness.js';
import { expiredCrl, issue, makePki } from './pki-helpers.js';

test('--client-crl-file refuses revoked client certificates and serves the others', async () => {
  const { dir, cleanup } = tempDir();
  const p = makePki(path.join(dir, 'pki'));
  const other = issue(p, 'ca', 'other', { expiry: '8760h', usages: ['signing', 'key encipherment', 'client auth'] }, { CN: 'other-client' });
  const serialOf = (cert: string) => new X509Certificate(fs.readFileSync(cert)).serialNumber;
  const crlFile = path.join(dir, 'revoke.crl');
  fs.writeFileSync(crlFile, Buffer.from((await expiredCrl(p, path.join(p.dir, 'ca-key.pem'), [serialOf(p.client.cert)])).rawData));
  const ports = await freePorts();
  const ep = `https://127.0.0.1:${ports.client}`;
  const m = await startMember({
    bin: TSETCD_BIN,
    dataDir: path.join(dir, 'd'),
    ports,
    args: [
      `--data-dir=${path.join(dir, 'd')}`,
      `--listen-client-urls=${ep}`,
      `--advertise-client-urls=${ep}`,
      `--listen-peer-urls=http://127.0.0.1:${ports.peer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${ports.peer}`,
      `--initial-cluster=default=http://127.0.0.1:${ports.peer}`,
      `--cert-file=${p.server.cert}`,
      `--key-file=${p.server.key}`,
      `--trusted-ca-file=${p.ca}`,
      `--client-crl-file=${crlFile}`,
      '--client-cert-auth',
    ],
    waitHealthy: false,
  });
  const revoked = [`--cacert=${p.ca}`, `--cert=${p.client.cert}`, `--key=${p.client.key}`];
  const good = [`--cacert=${p.ca}`, `--cert=${other.cert}`, `--key=${other.key}`];
  try {
    let served = await etcdctl(ep, [...good, 'put', 'k', 'v']);
    for (let i = 0; i < 100 && served.code !== 0; i++) {
      await new Promise((r) => setTimeout(r, 200));
      served = await etcdctl(ep, [...good, 'put', 'k', 'v']);
    }
    assert.equal(served.stdout, 'OK\n', served.stderr);
    const refused = await etcdctl(ep, [...revoked, 'put', 'k', 'revoked']);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /Error:/);
    assert.equal((await etcdctl(ep, [...good, 'get', 'k', '--print-value-only'])).stdout, 'v\n');

    // the same CRL as PEM now revoking the other certificate too: new connections see it
    const both = await expiredCrl(p, path.join(p.dir, 'ca-key.pem'), [serialOf(p.client.cert), serialOf(other.cert)]);
    fs.writeFileSync(crlFile, both.toString('pem'));
    const later = await etcdctl(ep, [...good, 'put', 'k', 'w']);
    assert.notEqual(later.code, 0);
  } finally {
    await m.kill();
    cleanup();
  }
});

test('--client-cert-allowed-hostname serves only client certificates valid for that name', async () => {
  const { dir, cleanup } = tempDir();
  const p = makePki(path.join(dir, 'pki'));
  const ports = await freePorts();
  const ep = `https://127.0.0.1:${ports.client}`;
  const m = await startMember({
    bin: TSETCD_BIN,
    dataDir: path.join(dir, 'd'),
    ports,
    args: [
      `--data-dir=${path.join(dir, 'd')}`,
      `--listen-client-urls=${ep}`,
      `--advertise-client-urls=${ep}`,
      `--listen-peer-urls=http://127.0.0.1:${ports.peer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${ports.peer}`,
      `--initial-cluster=default=http://127.0.0.1:${ports.peer}`,
      `--cert-file=${p.server.cert}`,
      `--key-file=${p.server.key}`,
      `--trusted-ca-file=${p.ca}`,
      '--client-cert-auth',
      '--client-cert-allowed-hostname=localhost',
    ],
    waitHealthy: false,
  });
  // the member certificate is valid for localhost (and may act as a client); the client one is not
  const named = [`--cacert=${p.ca}`, `--cert=${p.server.cert}`, `--key=${p.server.key}`];
  const unnamed = [`--cacert=${p.ca}`, `--cert=${p.client.cert}`, `--key=${p.client.key}`];
  try {
    let served = await etcdctl(ep, [...named, 'put', 'k', 'v']);
    for (let i = 0; i < 100 && served.code !== 0; i++) {
      await new Promise((r) => setTimeout(r, 200));
      served = await etcdctl(ep, [...named, 'put', 'k', 'v']);
    }
    assert.equal(served.stdout, 'OK\n', served.stderr);
    assert.notEqual((await etcdctl(ep, [...unnamed, 'put', 'k', 'w'])).code, 0);
  } finally {
    await m.kill();
    cleanup();
  }
});
