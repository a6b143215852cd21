// The pieces: Go durations and flags, cfssl's JSON rules (case-insensitive keys, key
// request defaults), host classification, subjects, signing configs, the gencert options
// (-hostname, -cn, "ca" section, ca_constraint, key algorithms), and the error messages
// and exit codes of `tsetcdutl pki`.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { FlagError, parseGoFlags, type FlagDef } from '../../src/cli/utl/pki-flags.js';
import { parseCertificatesPem, readCertificates } from '../../src/pki/cert.js';
import { builtinPolicy, parseSigningConfig, selectProfile } from '../../src/pki/config.js';
import { parseGoDurationMs } from '../../src/pki/duration.js';
import { PkiError } from '../../src/pki/errors.js';
import { describeKey } from '../../src/pki/keys.js';
import { classifyHosts, ipBytes, ipText, subjectDer } from '../../src/pki/names.js';
import { parseCertRequest } from '../../src/pki/request.js';
import { tempDir } from '../helpers/tmp.js';
import { pki, pkiOk } from './helpers.js';

const tmp = tempDir('tsetcd-pki-unit-');
after(() => tmp.cleanup());
const f = (name: string): string => path.join(tmp.dir, name);
function write(name: string, content: unknown): string {
  writeFileSync(f(name), typeof content === 'string' ? content : JSON.stringify(content));
  return f(name);
}

function throwsPki(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof PkiError && re.test(e.message));
}

describe('Go durations', () => {
  it('reads what cfssl configs use', () => {
    assert.equal(parseGoDurationMs('87600h'), 87600 * 3_600_000);
    assert.equal(parseGoDurationMs('876000h'), 876000 * 3_600_000);
    assert.equal(parseGoDurationMs('1h30m'), 5_400_000);
    assert.equal(parseGoDurationMs('1.5h'), 5_400_000);
    assert.equal(parseGoDurationMs('300ms'), 300);
    assert.equal(parseGoDurationMs('0'), 0);
    assert.equal(parseGoDurationMs('1y'), 'time: unknown unit "y" in duration "1y"');
    assert.equal(parseGoDurationMs('100'), 'time: missing unit in duration "100"');
    assert.equal(parseGoDurationMs(''), 'time: invalid duration ""');
  });
});

describe('Go flags', () => {
  const defs: FlagDef[] = [
    { name: 'initca', kind: 'bool', def: false, usage: '' },
    { name: 'ca', kind: 'string', def: '', usage: '' },
    { name: 'loglevel', kind: 'int', def: 1, usage: '' },
  ];
  it('accepts -f=v, -f v, --f v, --f=v and bare booleans; stops at the first argument', () => {
    for (const argv of [['-ca=x', '-initca'], ['-ca', 'x', '--initca=true'], ['--ca', 'x', '-initca=1'], ['--ca=x', '--initca']]) {
      const p = parseGoFlags([...argv, 'csr.json', '-ca=late'], defs);
      assert.equal(p.values.get('ca'), 'x');
      assert.equal(p.values.get('initca'), true);
      assert.deepEqual(p.args, ['csr.json', '-ca=late']);
    }
    assert.deepEqual(parseGoFlags(['--', '-x'], defs).args, ['-x']);
    assert.deepEqual(parseGoFlags(['-', 'y'], defs).args, ['-', 'y'], 'a lone - is an argument (stdin)');
    assert.equal(parseGoFlags(['-loglevel', '0x2'], defs).values.get('loglevel'), 2);
  });
  it("fails as Go's flag package does", () => {
    assert.throws(() => parseGoFlags(['-nope'], defs), (e: unknown) => e instanceof FlagError && e.message === 'flag provided but not defined: -nope');
    assert.throws(() => parseGoFlags(['-ca'], defs), /flag needs an argument: -ca/);
    assert.throws(() => parseGoFlags(['-initca=yes'], defs), /invalid boolean value "yes" for -initca/);
    assert.throws(() => parseGoFlags(['---ca'], defs), /bad flag syntax: ---ca/);
    assert.equal(parseGoFlags(['-h'], defs).help, true);
  });
});

describe("cfssl's request JSON", () => {
  it('matches keys ignoring case, as Go does ("CA" is "ca"), and ignores unknown ones', () => {
    const r = parseCertRequest('{"cn":"x","Hosts":["a"],"CA":{"expiry":"1h","PathLen":2},"whatever":1}', 'r.json');
    assert.equal(r.CN, 'x');
    assert.deepEqual(r.hosts, ['a']);
    assert.deepEqual(r.ca, { expiry: '1h', backdate: '', pathlen: 2, pathlenzero: false });
  });
  it("starts from cfssl's ECDSA P-256 key request and overlays what the JSON names", () => {
    assert.deepEqual(parseCertRequest('{"CN":"x"}', 'r').key, { algo: 'ecdsa', size: 256 });
    assert.deepEqual(parseCertRequest('{"CN":"x","key":{"size":384}}', 'r').key, { algo: 'ecdsa', size: 384 });
    assert.deepEqual(parseCertRequest('{"CN":"x","key":{"algo":"rsa"}}', 'r').key, { algo: 'rsa', size: 256 }, 'cfssl then refuses it as too weak');
    assert.deepEqual(parseCertRequest('{"CN":"x","key":null}', 'r').key, { algo: 'ecdsa', size: 256 });
  });
  it('reports syntax errors with line and column, and type errors with the field', () => {
    throwsPki(() => parseCertRequest('{\n  "CN": "x",,\n}', 'ca-csr.json'), /^ca-csr\.json:2:13: invalid JSON: expected a "quoted" key, found ","$/);
    throwsPki(() => parseCertRequest('{"CN": "x"', 'a.json'), /^a\.json:1:11: invalid JSON: expected ',' or '}' after the value of "CN", found end of file$/);
    throwsPki(() => parseCertRequest('', 'a.json'), /a\.json: is empty/);
    throwsPki(() => parseCertRequest('{"CN": 5}', 'a.json'), /^a\.json: "CN" must be a string, found the number 5$/);
    throwsPki(() => parseCertRequest('{"key": {"size": 2048.5}}', 'a.json'), /"key\.size" must be a whole number, found the number 2048\.5/);
    throwsPki(() => parseCertRequest('{"names": [{"O": 1}]}', 'a.json'), /"names\[0\]\.O" must be a string/);
    throwsPki(() => parseCertRequest('{"ca": {"expiry": "1y"}}', 'a.json'), /"ca\.expiry" "1y" is not a Go duration \(time: unknown unit "y"/);
    throwsPki(() => parseCertRequest('[]', 'a.json'), /must be a JSON object, found a list/);
  });
});

describe('hosts and subjects', () => {
  it('sorts hosts into IP, e-mail, URI and DNS SANs as cfssl does', () => {
    const s = classifyHosts(['127.0.0.1', '::1', 'etcd-1', '*.example.com', 'localhost', 'ops@example.com', 'Ops <ops@example.com>', 'spiffe://cluster/etcd', 'urn:etcd:m1', '/path']);
    assert.deepEqual(s.ips, ['127.0.0.1', '::1']);
    assert.deepEqual(s.emails, ['ops@example.com', 'ops@example.com']);
    assert.deepEqual(s.uris, ['spiffe://cluster/etcd', 'urn:etcd:m1', '/path']);
    assert.deepEqual(s.dns, ['etcd-1', '*.example.com', 'localhost']);
  });
  it('IP text and bytes round-trip', () => {
    for (const [ip, hex] of [['10.0.8.4', '0a000804'], ['::1', '00000000000000000000000000000001'], ['fe80::1:2', 'fe800000000000000000000000010002'], ['::ffff:1.2.3.4', '00000000000000000000ffff01020304']]) {
      assert.equal(ipBytes(ip!).toString('hex'), hex);
    }
    assert.equal(ipText(ipBytes('fe80::1:2')), 'fe80::1:2');
    assert.equal(ipText(ipBytes('::ffff:1.2.3.4')), '1.2.3.4');
  });
  it('writes subjects in Go order with multi-valued RDNs sorted and PrintableString/UTF8String', () => {
    const der = subjectDer({ CN: 'x', names: [{ O: 'zzzz', C: 'US' }, { O: 'aa', L: 'Zürich' }] });
    // SEQUENCE { SET{C=US} SET{L=Zürich (UTF8)} SET{O=aa, O=zzzz} SET{CN=x} }
    assert.equal(
      der.toString('hex'),
      '3045' + '310b3009060355040613025553' + '3110300e06035504070c075ac3bc72696368' + '3118300906035504' + '0a13026161' + '300b060355040a13047a7a7a7a' + '310a30080603550403130178',
    );
  });
});

describe('signing configs', () => {
  it("falls back to cfssl's default profile, and refuses unknown profiles by name", () => {
    const p = parseSigningConfig('{"signing":{"profiles":{"peer":{"expiry":"1h","usages":["server auth"]}}}}', 'c.json');
    assert.equal(p.default.expiryMs, 8760 * 3_600_000);
    assert.deepEqual(p.default.usages, ['signing', 'key encipherment', 'server auth', 'client auth']);
    assert.equal(selectProfile(p, 'peer').expiryMs, 3_600_000);
    assert.equal(selectProfile(p, '').name, 'default');
    throwsPki(() => selectProfile(p, 'client'), /^unknown profile "client": c\.json has profiles "peer"; pass one of those with -profile/);
    throwsPki(() => selectProfile(builtinPolicy(), 'x'), /without -config there are no profiles/);
  });
  it("refuses what cfssl refuses, saying what to write", () => {
    throwsPki(() => parseSigningConfig('{}', 'c.json'), /no "signing" field present/);
    throwsPki(() => parseSigningConfig('{"signing":{"profiles":{"p":{"usages":["server auth"]}}}}', 'c.json'), /profile "p" has no "expiry"; add one/);
    throwsPki(() => parseSigningConfig('{"signing":{"profiles":{"p":{"expiry":"1h"}}}}', 'c.json'), /profile "p" has no "usages"/);
    throwsPki(() => parseSigningConfig('{"signing":{"profiles":{"p":{"expiry":"1h","usages":["server-auth"]}}}}', 'c.json'), /profile "p" has no usage cfssl knows/);
    throwsPki(() => parseSigningConfig('{"signing":{"default":{"expiry":"1h","remote":"x"}}}', 'c.json'), /remote signer/);
    const w = parseSigningConfig('{"signing":{"profiles":{"p":{"expiry":"1h","usages":["server auth","bogus"]}}}}', 'c.json');
    assert.match(w.warnings[0]!, /unknown usage "bogus", which is ignored/);
  });
});

describe('tsetcdutl pki gencert', () => {
  it('prints {"cert","csr","key"} on one line; -hostname replaces hosts; -cn replaces CN', async () => {
    const ca = write('ca-csr.json', { CN: 'unit-ca', key: { algo: 'ecdsa', size: 256 } });
    const out = await pkiOk(['gencert', '-initca', ca]);
    assert.match(out, /^\{"cert":"-----BEGIN CERTIFICATE-----\\n[^\n]*","csr":"-----BEGIN CERTIFICATE REQUEST-----\\n[^\n]*","key":"-----BEGIN EC PRIVATE KEY-----\\n[^\n]*"\}\n$/);
    await pkiOk(['json', '-bare', f('ca')], out);
    const m = write('m.json', { CN: 'm1', hosts: ['ignored.example'], key: { algo: 'ecdsa', size: 256 } });
    const signed = JSON.parse(await pkiOk(['gencert', `--ca=${f('ca.pem')}`, '--ca-key', f('ca-key.pem'), '-hostname=10.1.1.1,m1.example', '-cn', 'renamed', m])) as { cert: string };
    const [c] = parseCertificatesPem(signed.cert, 'm');
    assert.deepEqual(c!.sans.ips, ['10.1.1.1']);
    assert.deepEqual(c!.sans.dns, ['m1.example']);
    assert.equal(c!.subjectAttrs.get('CN')?.[0], 'renamed');
    assert.equal((c!.notAfter.getTime() - c!.notBefore.getTime()) / 3_600_000, 8760, 'no -config: one year');
    assert.equal(c!.notBefore.getUTCSeconds(), 0, 'minute-aligned, as cfssl rounds');
    assert.ok(Date.now() - c!.notBefore.getTime() >= 4.5 * 60_000, 'backdated five minutes');
  });

  it('honours "ca" pathlen/pathlenzero and profile ca_constraint for intermediates', async () => {
    const lens: [object, number][] = [[{ pathlen: 1 }, 1], [{ pathlen: 0, pathlenzero: true }, 0], [{ pathlen: 0 }, -1], [{}, -1]];
    for (const [ca, want] of lens) {
      const out = JSON.parse(await pkiOk(['gencert', '-initca', write('pl.json', { CN: 'pl', ca })])) as { cert: string };
      assert.equal(parseCertificatesPem(out.cert, 'pl')[0]!.maxPathLen, want, JSON.stringify(ca));
    }
    const cfg = write('inter.json', { signing: { profiles: { inter: { expiry: '1h', usages: ['cert sign', 'crl sign'], ca_constraint: { is_ca: true, max_path_len: 0, max_path_len_zero: true } } } } });
    const out = JSON.parse(await pkiOk(['gencert', `-ca=${f('ca.pem')}`, `-ca-key=${f('ca-key.pem')}`, `-config=${cfg}`, '-profile=inter', write('i.json', { CN: 'inter', hosts: ['inter.example', '10.0.0.1'] })])) as { cert: string };
    const i = parseCertificatesPem(out.cert, 'i')[0]!;
    assert.equal(i.isCA, true);
    assert.equal(i.maxPathLen, 0);
    assert.deepEqual(i.sans.dns, [], 'a CA keeps no DNS SANs');
    assert.deepEqual(i.sans.ips, ['10.0.0.1'], 'but keeps IP SANs, as cfssl does');
  });

  it('makes the key algorithms cfssl makes, signing with a hash that grows with the key', async () => {
    for (const [key, label, sig] of [
      [{ algo: 'rsa', size: 3072 }, 'RSA 3072 bits', 'SHA384WithRSA'],
      [{ algo: 'ecdsa', size: 521 }, 'ECDSA P-521', 'ECDSAWithSHA512'],
      [{ algo: 'ecdsa', size: 384 }, 'ECDSA P-384', 'ECDSAWithSHA384'],
    ] as const) {
      const out = JSON.parse(await pkiOk(['gencert', '-initca', write('k.json', { CN: 'k', key })])) as { cert: string; key: string };
      const c = parseCertificatesPem(out.cert, 'k')[0]!;
      assert.equal(describeKey(c.publicKey).label, label);
      assert.equal(c.sigAlg, sig);
    }
  });

  it('-initca -ca-key re-makes a CA around an existing key; -renewca keeps key and lifetime', async () => {
    const out = JSON.parse(await pkiOk(['gencert', '-initca', '-ca-key', f('ca-key.pem'), f('ca-csr.json')])) as Record<string, string>;
    assert.deepEqual(Object.keys(out), ['cert', 'csr']);
    const [old] = readCertificates(f('ca.pem'));
    assert.ok(parseCertificatesPem(out.cert!, 'x')[0]!.spki.equals(old!.spki));
    const renewed = JSON.parse(await pkiOk(['gencert', '-renewca', '-ca', f('ca.pem'), '-ca-key', f('ca-key.pem')])) as Record<string, string>;
    assert.deepEqual(Object.keys(renewed), ['cert']);
  });

  it('fails with exit code 1 and a sentence for each mistake', async () => {
    const cases: [string[], RegExp, string?][] = [
      [['gencert', '-initca', f('missing.json')], /^Error: CSRJSON file .*missing\.json does not exist; check the path\n$/],
      [['gencert', '-initca', write('bad.json', '{\n "CN": "x"\n "hosts": []\n}')], /^Error: .*bad\.json:3:2: invalid JSON: expected ',' or '}' after the value of "CN", found "\\""\n$/],
      [['gencert', '-initca', write('dsa.json', { CN: 'x', key: { algo: 'dsa', size: 2048 } })], /unsupported key algorithm "dsa"; use "algo": "rsa" \(size 2048, 3072 or 4096\) or "ecdsa"/],
      [['gencert', '-initca', write('weak.json', { CN: 'x', key: { algo: 'rsa', size: 1024 } })], /RSA key size 1024 is too weak/],
      [['gencert', '-initca', write('curve.json', { CN: 'x', key: { algo: 'ecdsa', size: 2048 } })], /ECDSA key size 2048 names no supported curve/],
      [['gencert', '-initca', write('nosubj.json', { hosts: ['a'] })], /missing subject information/],
      [['gencert', `-ca=${f('ca.pem')}`, `-ca-key=${f('ca-key.pem')}`, `-config=${f('inter.json')}`, '-profile=peer', f('m.json')], /\nError: unknown profile "peer": .*inter\.json has profiles "inter"/],
      [['gencert', `-ca=${f('ca.pem')}`, `-ca-key=${f('ca-key.pem')}`, f('pl.json')], /has a "ca" section, which only -initca reads/],
      [['gencert', `-ca=${f('ca.pem')}`, f('m.json')], /need the CA key to sign with: pass -ca-key=ca-key\.pem/],
      [['gencert', f('m.json')], /need a CA certificate to sign with: pass -ca=ca\.pem/],
      [['gencert', `-ca=${f('ca.pem')}`, `-ca-key=${f('ca-csr.json')}`, f('m.json')], /ca-csr\.json holds no PEM private key, not a private key/],
      [['gencert', '-renewca', '-ca', f('ca.pem')], /-renewca needs the CA certificate and key/],
      [['json', '-bare', f('x')], /standard input: is empty/, ''],
      [['json', f('x')], /request failed \(this looks like gencert output: add -bare\)/, '{"cert":"x"}'],
      [['certinfo', '-cert', f('ca-csr.json')], /holds no PEM data, not a PEM certificate/],
    ];
    for (const [args, re, stdin] of cases) {
      const r = await pki(args, stdin ?? '');
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.err}`);
      assert.equal(r.out, '', 'nothing on stdout');
      assert.match(r.err, re);
    }
  });

  it('exits 2 for command-line mistakes', async () => {
    for (const args of [['gencert', '-bogus'], ['gencert', '-initca'], ['gencert', '-initca', 'a.json', 'b.json'], ['nosuch'], ['certinfo']]) {
      const r = await pki(args);
      assert.equal(r.code, 2, args.join(' '));
      assert.notEqual(r.err, '');
    }
  });
});
