// Each TLS start-up problem fires, with a sentence that names the file and the fix; and
// nothing fires for a good set of files.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  checkCoversHost,
  checkExtKeyUsage,
  checkIsCA,
  checkKeyMatchesCert,
  checkSignedByCA,
  checkTlsFiles,
  checkValidity,
  type TlsProblem,
} from '../../src/pki/tls-check.js';
import { tempDir } from '../helpers/tmp.js';
import { pkiOk } from './helpers.js';

const CONFIG = {
  signing: {
    default: { expiry: '8760h', usages: ['signing', 'key encipherment', 'server auth', 'client auth'] },
    profiles: {
      'server-only': { expiry: '8760h', usages: ['signing', 'key encipherment', 'server auth'] },
      'client-only': { expiry: '8760h', usages: ['signing', 'key encipherment', 'client auth'] },
      'no-eku': { expiry: '8760h', usages: ['signing', 'key encipherment'] },
      expired: { expiry: '8760h', usages: ['server auth', 'client auth'], not_before: '2000-01-01T00:00:00Z', not_after: '2001-01-01T00:00:00Z' },
      future: { expiry: '8760h', usages: ['server auth', 'client auth'], not_before: '2999-01-01T00:00:00Z', not_after: '3000-01-01T00:00:00Z' },
      intermediate: { expiry: '43800h', usages: ['cert sign', 'crl sign'], ca_constraint: { is_ca: true, max_path_len: 0, max_path_len_zero: true } },
    },
  },
};

const tmp = tempDir('tsetcd-pki-tlscheck-');
const f = (name: string): string => path.join(tmp.dir, name);

async function make(name: string, args: string[], request: object): Promise<void> {
  writeFileSync(f(`${name}-csr.json`), JSON.stringify(request));
  await pkiOk(['json', '-bare', f(name)], await pkiOk(['gencert', ...args, f(`${name}-csr.json`)]));
}

async function leaf(name: string, profile: string, hosts: string[], ca = 'ca'): Promise<void> {
  const args = [`-ca=${f(`${ca}.pem`)}`, `-ca-key=${f(`${ca}-key.pem`)}`, `-config=${f('config.json')}`, `-profile=${profile}`];
  await make(name, args, { CN: name, hosts, key: { algo: 'ecdsa', size: 256 } });
}

function assertProblem(p: TlsProblem | undefined, kind: TlsProblem['kind'], file: string, words: RegExp): void {
  assert.ok(p, `expected a ${kind} problem`);
  assert.equal(p.kind, kind);
  assert.equal(p.file, f(file));
  assert.ok(p.message.includes(f(file)), `names the file: ${p.message}`);
  assert.match(p.message, words);
  assert.match(p.message, /;/, 'says what to do after the problem');
  assert.ok(p.message.endsWith('.'), 'one sentence');
}

describe('tlsCheck problems', () => {
  before(async () => {
    writeFileSync(f('config.json'), JSON.stringify(CONFIG));
    const ca = { CN: 'test-ca', key: { algo: 'ecdsa', size: 256 }, names: [{ O: 'tsetcd' }] };
    await make('ca', ['-initca'], ca);
    await make('other-ca', ['-initca'], { ...ca, CN: 'other-ca' });
    await make('same-name-ca', ['-initca'], ca); // the CA made again: same name, new key
    await leaf('member', 'default', ['127.0.0.1', 'localhost', '*.etcd.example']);
    await leaf('member2', 'default', ['127.0.0.1']);
    for (const p of ['server-only', 'client-only', 'no-eku', 'expired', 'future', 'intermediate']) await leaf(p, p, ['127.0.0.1']);
    await leaf('under-intermediate', 'default', ['127.0.0.1'], 'intermediate');
  });
  after(() => tmp.cleanup());

  it('a good member passes every check', () => {
    assert.deepEqual(checkTlsFiles({ certFile: f('member.pem'), keyFile: f('member-key.pem'), trustedCAFile: f('ca.pem'), hosts: ['127.0.0.1', 'localhost'], usages: ['server', 'client'] }), []);
    assert.equal(checkKeyMatchesCert(f('member.pem'), f('member-key.pem')), undefined);
    assert.equal(checkSignedByCA(f('member.pem'), f('ca.pem')), undefined);
    assert.equal(checkValidity(f('member.pem')), undefined);
    assert.equal(checkIsCA(f('ca.pem')), undefined);
  });

  it('wrong key', () => {
    assertProblem(checkKeyMatchesCert(f('member.pem'), f('member2-key.pem')), 'key-mismatch', 'member2-key.pem', /is not the private key of .*member\.pem/);
  });

  it('signed by another CA, or by a CA of the same name made again', () => {
    assertProblem(checkSignedByCA(f('member.pem'), f('other-ca.pem')), 'untrusted', 'member.pem', /not signed by any CA in .*other-ca\.pem: it was issued by "O=tsetcd, CN=test-ca"/);
    assertProblem(checkSignedByCA(f('member.pem'), f('same-name-ca.pem')), 'untrusted', 'member.pem', /a different key signed it/);
  });

  it('a chain through an intermediate in the certificate file', () => {
    writeFileSync(f('chain.pem'), readFileSync(f('under-intermediate.pem'), 'utf8') + readFileSync(f('intermediate.pem'), 'utf8'));
    assert.equal(checkSignedByCA(f('chain.pem'), f('ca.pem')), undefined);
    assertProblem(checkSignedByCA(f('under-intermediate.pem'), f('ca.pem')), 'untrusted', 'under-intermediate.pem', /not signed by any CA/);
  });

  it('host not covered by the SANs (the CN does not count)', () => {
    assert.equal(checkCoversHost(f('member.pem'), '127.0.0.1'), undefined);
    assert.equal(checkCoversHost(f('member.pem'), 'LOCALHOST'), undefined, 'DNS names ignore case');
    assert.equal(checkCoversHost(f('member.pem'), 'm1.etcd.example'), undefined, 'wildcard covers one label');
    assert.equal(checkCoversHost(f('member.pem'), '::ffff:127.0.0.1'), undefined, 'IPv4-mapped IPv6 is the same address');
    assertProblem(checkCoversHost(f('member.pem'), 'a.b.etcd.example'), 'host-not-covered', 'member.pem', /not valid for a\.b\.etcd\.example: it covers only DNS localhost, DNS \*\.etcd\.example, IP 127\.0\.0\.1/);
    assertProblem(checkCoversHost(f('member.pem'), '[::1]'), 'host-not-covered', 'member.pem', /not valid for ::1/);
    assertProblem(checkCoversHost(f('member.pem'), 'member'), 'host-not-covered', 'member.pem', /the CN does not count.*"hosts"/);
  });

  it('expired, and not yet valid', () => {
    assertProblem(checkValidity(f('expired.pem')), 'expired', 'expired.pem', /expired at 2001-01-01 00:00:00 UTC, about \d+ years ago/);
    assertProblem(checkValidity(f('future.pem')), 'not-yet-valid', 'future.pem', /not valid until 2999-01-01 00:00:00 UTC.*clock/);
    assert.equal(checkValidity(f('expired.pem'), new Date('2000-06-01T00:00:00Z')), undefined);
  });

  it('no serverAuth, no clientAuth; no extendedKeyUsage at all allows both, as in Go', () => {
    assertProblem(checkExtKeyUsage(f('client-only.pem'), 'server'), 'missing-usage', 'client-only.pem', /not allow use as a TLS server \(its extended key usages are: client auth\).*"server auth"/);
    assertProblem(checkExtKeyUsage(f('server-only.pem'), 'client'), 'missing-usage', 'server-only.pem', /not allow use as a TLS client.*"client auth"/);
    assert.equal(checkExtKeyUsage(f('server-only.pem'), 'server'), undefined);
    assert.equal(checkExtKeyUsage(f('no-eku.pem'), 'server'), undefined);
    assert.equal(checkExtKeyUsage(f('no-eku.pem'), 'client'), undefined);
  });

  it('a CA file that is not a CA', () => {
    assertProblem(checkIsCA(f('member.pem')), 'not-a-ca', 'member.pem', /not a CA certificate .*ca\.pem from gencert -initca/);
    assert.equal(checkIsCA(f('intermediate.pem')), undefined);
  });

  it('missing and malformed files', () => {
    assertProblem(checkKeyMatchesCert(f('nope.pem'), f('member-key.pem')), 'unreadable', 'nope.pem', /does not exist; check the path/);
    assertProblem(checkKeyMatchesCert(f('member.pem'), f('member.pem')), 'unreadable', 'member.pem', /holds a certificate, not a private key/);
    assertProblem(checkIsCA(f('config.json')), 'unreadable', 'config.json', /holds no PEM data, not a PEM certificate/);
  });

  it('checkTlsFiles lists every problem, in fixing order, with flag names', () => {
    const problems = checkTlsFiles({
      certFile: f('expired.pem'),
      keyFile: f('member-key.pem'),
      trustedCAFile: f('member.pem'),
      hosts: ['etcd-1'],
      usages: ['server'],
      labels: { cert: '--cert-file', key: '--key-file', ca: '--trusted-ca-file' },
    });
    assert.deepEqual(
      problems.map((p) => p.kind),
      ['key-mismatch', 'expired', 'not-a-ca', 'untrusted', 'host-not-covered'],
    );
    assert.match(problems[0]!.message, /^--key-file .*member-key\.pem is not the private key of --cert-file .*expired\.pem/);
    assert.match(problems[2]!.message, /^--trusted-ca-file /);
  });
});
