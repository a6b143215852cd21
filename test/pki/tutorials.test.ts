// The tutorials' JSON, unchanged, through `tsetcdutl pki`: the certificates must verify
// with openssl against the tutorial's CA and carry the hosts, usages, lifetimes and
// subjects the JSON asks for.

import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readCertificates, type Certificate } from '../../src/pki/cert.js';
import { describeKey } from '../../src/pki/keys.js';
import { tempDir } from '../helpers/tmp.js';
import { opensslText, run, which } from './helpers.js';
import { TUTORIALS, runTutorial } from './tutorials.js';

const HOUR = 3_600_000;
const hasOpenssl = which('openssl') !== undefined;

function cert(dir: string, name: string): Certificate {
  return readCertificates(path.join(dir, name))[0]!;
}

function lifetimeHours(c: Certificate): number {
  return (c.notAfter.getTime() - c.notBefore.getTime()) / HOUR;
}

function assertVerifies(dir: string, ca: string, leaf: string): void {
  if (!hasOpenssl) return;
  const r = run('openssl', ['verify', '-CAfile', ca, leaf], dir);
  assert.equal(r.status, 0, `openssl verify ${leaf}: ${r.stdout}${r.stderr}`);
  assert.match(r.stdout, /: OK/);
}

interface LeafWants {
  cn: string;
  ips: string[];
  dns: string[];
  hours: number;
  subject: RegExp;
}

const SERVER_CLIENT = ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'];

function assertLeaf(dir: string, ca: string, name: string, w: LeafWants): void {
  assertVerifies(dir, ca, `${name}.pem`);
  const c = cert(dir, `${name}.pem`);
  assert.equal(c.subjectAttrs.get('CN')?.[0], w.cn);
  assert.match(c.subject, w.subject);
  assert.deepEqual(c.sans.ips, w.ips);
  assert.deepEqual(c.sans.dns, w.dns);
  assert.equal(c.isCA, false);
  assert.equal(c.keyUsage, 1 | 4, 'signing + key encipherment');
  assert.deepEqual(c.extKeyUsages, SERVER_CLIENT);
  assert.equal(lifetimeHours(c), w.hours);
  assert.equal(describeKey(c.publicKey).label, 'RSA 2048 bits', 'the JSON asks for rsa 2048');
  assert.ok(c.authorityKeyId?.equals(cert(dir, ca).subjectKeyId!), 'AKI is the CA SKI');
  assert.equal(statSync(path.join(dir, `${name}-key.pem`)).mode & 0o777, 0o600);
  if (hasOpenssl) {
    const text = opensslText(path.join(dir, `${name}.pem`));
    assert.match(text, /Digital Signature, Key Encipherment/);
    assert.match(text, /TLS Web Server Authentication, TLS Web Client Authentication/);
    for (const ip of w.ips) assert.match(text, new RegExp(`IP Address:${ip.replace(/\./g, '\\.')}`));
    for (const d of w.dns) assert.match(text, new RegExp(`DNS:${d.replace(/\./g, '\\.')}`));
  }
}

function assertCa(dir: string, name: string, hours: number, subject: RegExp): Certificate {
  const c = cert(dir, `${name}.pem`);
  assert.equal(c.isCA, true);
  assert.equal(c.maxPathLen, -1, 'no path length constraint');
  assert.equal(c.keyUsage, 32 | 64, 'cert sign + crl sign');
  assert.equal(c.extKeyUsages, undefined);
  assert.equal(c.authorityKeyId, undefined, 'self-signed: no AKI, as Go writes it');
  assert.ok(c.subjectDer.equals(c.issuerDer));
  assert.equal(lifetimeHours(c), hours);
  assert.match(c.subject, subject);
  assertVerifies(dir, `${name}.pem`, `${name}.pem`);
  return c;
}

describe('tutorial JSON through tsetcdutl pki', () => {
  const dirs: Record<string, { dir: string; cleanup: () => void }> = {};
  before(() => {
    for (const t of TUTORIALS) {
      dirs[t.name] = tempDir('tsetcd-pki-tutorial-');
      runTutorial(t, dirs[t.name]!.dir);
    }
  });
  after(() => {
    for (const d of Object.values(dirs)) d.cleanup();
  });

  it('000: root CA (5-year default) and three members on 127.0.0.1/localhost, ten years each', () => {
    const dir = dirs['tutorial-000']!.dir;
    const subject = /^C=USA, ST=California, L=San Francisco, O=etcd, OU=etcd Security, CN=/;
    assertCa(dir, 'etcd-root-ca', 43800, subject);
    for (const s of ['s1', 's2', 's3']) {
      assertLeaf(dir, 'etcd-root-ca.pem', s, { cn: s, ips: ['127.0.0.1'], dns: ['localhost'], hours: 87600, subject });
    }
  });

  it('001: 100-year CA from the "ca" section, member on four IPs from profile etcd-cluster', () => {
    const dir = dirs['tutorial-001']!.dir;
    assertCa(dir, 'ca', 876000, /CN=kubernetes-ca$/);
    assertLeaf(dir, 'ca.pem', 'etcd', {
      cn: 'etcd',
      ips: ['127.0.0.1', '192.168.1.220', '192.168.1.221', '192.168.1.222'],
      dns: [],
      hours: 876000,
      subject: /^C=CN, ST=BeiJing, L=BeiJing, O=etcd, OU=opsnull, CN=etcd$/,
    });
  });

  it('003: -hostname replaces hosts; "CA" (capitalised) section read; -renewca keeps key and lifetime', () => {
    const dir = dirs['tutorial-003']!.dir;
    const ca = assertCa(dir, 'ca', 43800, /CN=Kubernetes$/);
    const wants = { ips: ['127.0.0.1'], dns: ['kubernetes.default'], hours: 8760 };
    assertLeaf(dir, 'ca.pem', 'etcd', { ...wants, cn: 'etcd', subject: /O=system:masters, OU=etcd, CN=etcd$/ });
    assertLeaf(dir, 'ca.pem', 'etcd-client', { ...wants, cn: 'etcd-client', subject: /CN=etcd-client$/ });
    const c1034 = assertCa(dir, 'ca1034', 127200, /CN=QIHU 360 SOFTWARE CO\. LIMITED$/);
    assert.equal(describeKey(c1034.publicKey).label, 'ECDSA P-384');
    assert.equal(c1034.sigAlg, 'ECDSAWithSHA384');
    const renewed = assertCa(dir, 'ca-renewed', 43800, /CN=Kubernetes$/);
    assert.ok(renewed.spki.equals(ca.spki), 'same key');
    assert.ok(renewed.subjectDer.equals(ca.subjectDer), 'same subject bytes');
    assert.notEqual(renewed.serial, ca.serial);
    // what the old CA signed verifies against the renewed one
    assertVerifies(dir, 'ca-renewed.pem', 'etcd.pem');
  });

  it('004: member certificate for three IPs from profile etcd (100 years)', () => {
    const dir = dirs['tutorial-004']!.dir;
    assertCa(dir, 'ca', 43800, /O=etcd, OU=CA, CN=etcd$/);
    assertLeaf(dir, 'ca.pem', 'etcd', {
      cn: 'etcd',
      ips: ['127.0.0.1', '172.17.0.1', '10.0.8.4'],
      dns: [],
      hours: 876000,
      subject: /^C=CN, ST=BeiJing, L=BeiJing, O=etcd, OU=CA, CN=etcd$/,
    });
  });
});
