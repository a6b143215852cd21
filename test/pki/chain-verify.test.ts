// Chain verification with Go's rules, on certificates made by Debian's real cfssl: the
// tutorials' CA and member certificate with the same subject (no authority key
// identifier), which OpenSSL calls self-signed, are accepted — by the verifier and by the
// peer dialer over a real TLS connection — while a same-subject certificate from another
// CA, an expired one, a revoked one (CRL made by `cfssl gencrl`), one whose extended key
// usage does not allow the role, and a leaf whose intermediate is missing are refused with
// the reason. Also: refused handshakes are logged at most 10 a minute, with a count of
// the lines left out.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, test } from 'node:test';
import { tempDir } from '../helpers/tmp.js';
import { RefusalLog } from '../../src/pki/tls-context.js';
import { chainTrustFrom, verifyChainLikeGo } from '../../src/pki/chain-verify.js';
import { dial } from '../../src/peer/dialer.js';

const haveCfssl = spawnSync('sh', ['-c', 'command -v cfssl && command -v cfssljson']).status === 0;
const NAMES = [{ C: 'CN', L: 'BeiJing', ST: 'BeiJing', O: 'etcd', OU: 'CA' }];
const BOTH = ['signing', 'key encipherment', 'server auth', 'client auth'];

let dir = '';
let cleanup = () => {};

function cfssl(sub: string, args: string[], bare: string): { cert: string; key: string } {
  const cwd = path.join(dir, sub);
  const json = execFileSync('cfssl', ['gencert', ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  execFileSync('cfssljson', ['-bare', bare], { cwd, input: json, stdio: ['pipe', 'pipe', 'pipe'] });
  return { cert: path.join(cwd, `${bare}.pem`), key: path.join(cwd, `${bare}-key.pem`) };
}

function writeJson(sub: string, file: string, value: unknown): void {
  fs.mkdirSync(path.join(dir, sub), { recursive: true });
  fs.writeFileSync(path.join(dir, sub, file), JSON.stringify(value));
}

/** The tutorial's CA and member certificate (same subject) in `sub`, plus odd ones from the same CA. */
function makeCa(sub: string): void {
  writeJson(sub, 'ca-csr.json', { CN: 'etcd', key: { algo: 'rsa', size: 2048 }, names: NAMES });
  writeJson(sub, 'etcd-csr.json', { CN: 'etcd', hosts: ['127.0.0.1'], key: { algo: 'rsa', size: 2048 }, names: NAMES });
  writeJson(sub, 'ca-config.json', {
    signing: {
      default: { expiry: '876000h' },
      profiles: {
        etcd: { expiry: '876000h', usages: BOTH },
        clientonly: { expiry: '876000h', usages: ['signing', 'key encipherment', 'client auth'] },
        old: { expiry: '8760h', not_before: '2020-01-01T00:00:00Z', not_after: '2021-01-01T00:00:00Z', usages: BOTH },
        intermediate: { expiry: '876000h', usages: ['cert sign', 'crl sign'], ca_constraint: { is_ca: true, max_path_len: 0, max_path_len_zero: true } },
      },
    },
  });
  cfssl(sub, ['-initca', 'ca-csr.json'], 'ca');
  const sign = (profile: string, csr: string, bare: string, ca = 'ca') => cfssl(sub, [`-ca=${ca}.pem`, `-ca-key=${ca}-key.pem`, '-config=ca-config.json', `-profile=${profile}`, csr], bare);
  sign('etcd', 'etcd-csr.json', 'etcd');
  sign('clientonly', 'etcd-csr.json', 'clientonly');
  sign('old', 'etcd-csr.json', 'expired');
  writeJson(sub, 'int-csr.json', { CN: 'etcd intermediate', key: { algo: 'ecdsa', size: 256 }, names: NAMES });
  sign('intermediate', 'int-csr.json', 'int');
  sign('etcd', 'etcd-csr.json', 'leaf-of-int', 'int');
  // a second intermediate under `int`, whose path length (0) allows none
  writeJson(sub, 'int2-csr.json', { CN: 'etcd intermediate 2', key: { algo: 'ecdsa', size: 256 }, names: NAMES });
  sign('intermediate', 'int2-csr.json', 'int2', 'int');
  sign('etcd', 'etcd-csr.json', 'leaf-of-int2', 'int2');
}

const der = (sub: string, bare: string) => new crypto.X509Certificate(fs.readFileSync(path.join(dir, sub, `${bare}.pem`))).raw;
const trustOfCa = (crl?: Buffer) => chainTrustFrom(fs.readFileSync(path.join(dir, 'good', 'ca.pem')), crl);
const NOW = Date.now();

before(() => {
  if (!haveCfssl) return;
  ({ dir, cleanup } = tempDir());
  makeCa('good');
  makeCa('rogue');
});
after(() => cleanup());

test('the tutorial member certificate with its CA subject is accepted; impostors are refused', { skip: !haveCfssl && 'cfssl is not installed' }, () => {
  const trust = trustOfCa();
  assert.equal(verifyChainLikeGo([der('good', 'etcd')], trust, 'client', NOW), null);
  assert.equal(verifyChainLikeGo([der('good', 'etcd')], trust, 'server', NOW), null);
  // OpenSSL, for contrast, calls it self-signed
  const openssl = execFileSync('sh', ['-c', `openssl verify -CAfile ${path.join(dir, 'good', 'ca.pem')} ${path.join(dir, 'good', 'etcd.pem')} 2>&1 || true`]).toString();
  assert.match(openssl, /self-signed|self signed/);

  assert.match(verifyChainLikeGo([der('rogue', 'etcd')], trust, 'client', NOW)!, /is not signed by the CA/);
  // the other CA's own certificate, sent along, does not help: it is not trusted
  assert.match(verifyChainLikeGo([der('rogue', 'etcd'), der('rogue', 'ca')], trust, 'client', NOW)!, /not signed by the CA/);
  assert.match(verifyChainLikeGo([der('good', 'expired')], trust, 'client', NOW)!, /expired at 2021-01-01T00:00:00.000Z/);
  assert.match(verifyChainLikeGo([der('good', 'clientonly')], trust, 'server', NOW)!, /does not allow server authentication/);
  assert.equal(verifyChainLikeGo([der('good', 'clientonly')], trust, 'client', NOW), null);
  assert.equal(verifyChainLikeGo([], trust, 'client', NOW), 'no certificate presented');
});

test('an intermediate CA sent by the peer completes the chain; without it the leaf is refused', { skip: !haveCfssl && 'cfssl is not installed' }, () => {
  const trust = trustOfCa();
  assert.equal(verifyChainLikeGo([der('good', 'leaf-of-int'), der('good', 'int')], trust, 'server', NOW), null);
  assert.match(verifyChainLikeGo([der('good', 'leaf-of-int')], trust, 'server', NOW)!, /unknown authority/);
  // a leaf may not act as a CA, even one the trusted CA signed
  assert.match(verifyChainLikeGo([der('good', 'leaf-of-int'), der('rogue', 'int')], trust, 'server', NOW)!, /not signed|unknown authority/);
});

test('path length constraints hold, and SHA-1 signatures are refused as Go refuses them', { skip: !haveCfssl && 'cfssl is not installed' }, () => {
  const trust = trustOfCa();
  const chain = [der('good', 'leaf-of-int2'), der('good', 'int2'), der('good', 'int')];
  assert.match(verifyChainLikeGo(chain, trust, 'server', NOW)!, /allows 0 intermediate CAs below it, the chain has 1/);
  const cwd = path.join(dir, 'good');
  execFileSync('openssl', ['x509', '-req', '-in', 'etcd.csr', '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-sha1', '-days', '30', '-set_serial', '7', '-out', 'sha1.pem'], { cwd, stdio: 'ignore' });
  assert.match(verifyChainLikeGo([der('good', 'sha1')], trust, 'server', Date.now() + 60_000)!, /insecure algorithm SHA1-RSA/);
});

test('certificates cross-signed under one name cannot make the search run away', { skip: !haveCfssl && 'cfssl is not installed' }, () => {
  // two CA keys under the name "X", each signing a certificate for the other, and a leaf
  // from X: every X certificate is a candidate issuer of every other, at every depth
  const cwd = path.join(dir, 'cross');
  fs.mkdirSync(cwd, { recursive: true });
  const sh = (cmd: string) => execFileSync('sh', ['-c', cmd], { cwd, stdio: 'ignore' });
  for (const k of ['A', 'B', 'Z']) sh(`openssl ecparam -name prime256v1 -genkey -noout -out k${k}.pem`);
  fs.writeFileSync(path.join(cwd, 'ca.ext'), 'basicConstraints=critical,CA:TRUE\n');
  for (const [k, cn] of [['A', 'X'], ['B', 'X'], ['Z', 'Z']]) {
    sh(`openssl req -x509 -new -key k${k}.pem -subj /CN=${cn} -days 30 -addext basicConstraints=critical,CA:TRUE -out ${k}.pem`);
    sh(`openssl req -new -key k${k}.pem -subj /CN=${cn} -out ${k}.csr`);
  }
  sh('openssl x509 -req -in B.csr -CA A.pem -CAkey kA.pem -set_serial 2 -days 30 -extfile ca.ext -out BbyA.pem');
  sh('openssl x509 -req -in A.csr -CA B.pem -CAkey kB.pem -set_serial 3 -days 30 -extfile ca.ext -out AbyB.pem');
  sh('openssl req -new -key kZ.pem -subj /CN=leaf -out L.csr && openssl x509 -req -in L.csr -CA A.pem -CAkey kA.pem -set_serial 4 -days 30 -out L.pem');
  const d = (f: string) => new crypto.X509Certificate(fs.readFileSync(path.join(cwd, f))).raw;
  const trust = chainTrustFrom(fs.readFileSync(path.join(cwd, 'Z.pem')));
  const chain = ['L.pem', 'A.pem', 'BbyA.pem', 'AbyB.pem', 'B.pem'].map(d);
  assert.equal(verifyChainLikeGo(chain, trust, 'client', Date.now()), 'gave up after 100 signature checks (too many candidate issuers)');
});

test('a certificate listed in the CRL (cfssl gencrl, DER or PEM) is refused', { skip: !haveCfssl && 'cfssl is not installed' }, () => {
  const serial = BigInt('0x' + new crypto.X509Certificate(der('good', 'etcd')).serialNumber);
  fs.writeFileSync(path.join(dir, 'good', 'serials.txt'), `${serial.toString(10)}\n`);
  const crlDer = Buffer.from(execFileSync('cfssl', ['gencrl', 'serials.txt', 'ca.pem', 'ca-key.pem'], { cwd: path.join(dir, 'good') }).toString().trim(), 'base64');
  const crlPem = `-----BEGIN X509 CRL-----\n${crlDer.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END X509 CRL-----\n`;
  for (const crl of [crlDer, Buffer.from(crlPem)]) {
    const trust = trustOfCa(crl);
    assert.match(verifyChainLikeGo([der('good', 'etcd')], trust, 'client', NOW)!, /revoked by the CRL/);
    assert.equal(verifyChainLikeGo([der('good', 'clientonly')], trust, 'client', NOW), null, 'other serials still pass');
  }
});

test('the peer dialer accepts a member serving the tutorial certificate and refuses a same-subject impostor', { skip: !haveCfssl && 'cfssl is not installed' }, async () => {
  const read = (sub: string, f: string) => fs.readFileSync(path.join(dir, sub, f));
  const client = { cert: read('good', 'etcd.pem'), key: read('good', 'etcd-key.pem'), ca: read('good', 'ca.pem'), verify: true };
  for (const [sub, ok] of [['good', true], ['rogue', false]] as const) {
    const server = tls.createServer({ cert: read(sub, 'etcd.pem'), key: read(sub, 'etcd-key.pem') }, (s) => s.end());
    server.on('tlsClientError', () => {});
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      if (ok) (await dial(url, client, 10_000)).destroy();
      else await assert.rejects(dial(url, client, 10_000), /TLS: refused the certificate of https:\/\/127\.0\.0\.1:\d+: .*not signed by the CA/);
    } finally {
      await new Promise((r) => server.close(r));
    }
  }
});

test('refused handshakes are logged at most 10 a minute, with the count of lines left out', () => {
  let nowMs = 0;
  const lines: Record<string, unknown>[] = [];
  const log = new RefusalLog((_msg, fields) => lines.push(fields), () => nowMs);
  for (let i = 0; i < 25; i++) log.refused('rejected a peer TLS handshake', '127.0.0.9', 'CERT_HAS_EXPIRED');
  assert.equal(lines.length, 10);
  assert.deepEqual(lines[0], { 'remote-addr': '127.0.0.9', reason: 'CERT_HAS_EXPIRED' });
  nowMs = 59_999;
  log.refused('rejected a peer TLS handshake', '127.0.0.9', 'x');
  assert.equal(lines.length, 10);
  nowMs = 60_000;
  log.refused('rejected a peer TLS handshake', '127.0.0.8', 'y');
  assert.deepEqual(lines[10], { 'remote-addr': '127.0.0.8', reason: 'y', 'suppressed-since-last': 16 });
});
