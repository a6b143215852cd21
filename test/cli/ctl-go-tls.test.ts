// tsetcdctl verifies a member's certificate as etcdctl (Go's crypto/x509) does, not as
// OpenSSL does. With tutorial 004's certificates made by the real cfssl (the CA and the
// member share one subject and carry no key identifiers, which OpenSSL reads as a
// self-signed member certificate) tsetcdctl works, as etcdctl does, over unary calls and a
// stream. It still refuses what Go refuses, with etcdctl's error and exit code and the reason
// in clientv3's log line: a CA with the very same subject but another key, a host name the
// certificate does not name, an expired certificate, and a certificate that names its host
// only in the common name (OpenSSL/Node accept that one; Go does not). Each refusal is
// checked against etcdctl on the same server, and --insecure-skip-tls-verify shows that the
// server itself would have answered.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { freePorts, startMember, TSETCD_BIN, type RunningMember } from '../e2e/harness.js';
import { tempDir } from '../helpers/tmp.js';
import { cfssl, expiredMember, tutorialPki, type Pair } from '../pki/cfssl-tutorial004.js';
import { BIN, haveBinary, run } from './helpers.js';

const haveTools = haveBinary('cfssl') && haveBinary('cfssljson') && haveBinary('etcdctl');

interface Out {
  stdout: string;
  stderr: string;
  code: number | null;
  /** clientv3's JSON log lines, apart from the rest of stderr */
  logs: string[];
}

async function invoke(bin: string, args: string[]): Promise<Out> {
  const r = await run(bin, args, { env: { ETCDCTL_API: '3' } });
  const lines = r.stderr.split('\n');
  return {
    stdout: r.stdout.toString('utf8'),
    stderr: lines.filter((l) => !l.startsWith('{"level":')).join('\n'),
    code: r.code,
    logs: lines.filter((l) => l.startsWith('{"level":')),
  };
}

/** tsetcdctl's answer, after checking etcdctl gives the same stdout, stderr and exit code. */
async function both(args: string[]): Promise<Out> {
  const [ours, theirs] = await Promise.all([invoke(BIN.tsetcdctl, args), invoke('etcdctl', args)]);
  const strip = ({ logs: _, ...o }: Out) => o;
  assert.deepEqual(strip(ours), strip(theirs), `tsetcdctl and etcdctl differ for ${args.join(' ')}`);
  return ours;
}

/** The "error" field of tsetcdctl's "retrying of unary invoker failed" line. */
function loggedError(o: Out): string {
  const line = o.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'retrying of unary invoker failed');
  assert.ok(line, `no retry log line in ${JSON.stringify(o.logs)}`);
  return String(line.error);
}

/**
 * A TLS server with `pair`'s certificate that answers every gRPC call with OK and an empty
 * message — enough for `put` to print "OK" once the client accepts the certificate.
 */
async function fakeMember(pair: Pair, host = '127.0.0.1'): Promise<{ url: string; close: () => void }> {
  const server = http2.createSecureServer({ cert: fs.readFileSync(pair.cert), key: fs.readFileSync(pair.key) });
  server.on('stream', (stream) => {
    stream.on('error', () => {});
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    stream.resume();
    stream.on('end', () => stream.end(Buffer.alloc(5)));
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  return { url: `https://${host}:${(server.address() as AddressInfo).port}`, close: () => server.close() };
}

test('tsetcdctl accepts tutorial 004 cfssl certificates and refuses what Go refuses', { skip: haveTools ? false : 'cfssl or etcdctl is not installed' }, async () => {
  const { dir, cleanup } = tempDir('ctl-go-tls-');
  const good = tutorialPki(path.join(dir, 'pki'));
  const rogue = tutorialPki(path.join(dir, 'rogue'));
  const expired = expiredMember(path.join(dir, 'pki'));
  // a certificate for "localhost" in its common name only (cfssl writes no SANs without hosts)
  fs.writeFileSync(path.join(dir, 'pki', 'cn-csr.json'), JSON.stringify({ CN: 'localhost', key: { algo: 'ecdsa', size: 256 } }));
  const cnOnly = cfssl(path.join(dir, 'pki'), ['-ca=ca.pem', '-ca-key=ca-key.pem', '-config=ca-config.json', '-profile=etcd', 'cn-csr.json'], 'cn-only');
  const ports = await freePorts();
  const url = `https://127.0.0.1:${ports.client}`;
  const files = [`--cacert=${good.ca}`, `--cert=${good.member.cert}`, `--key=${good.member.key}`];
  const quick = ['--dial-timeout=1s', '--command-timeout=1s'];
  const refused = { stdout: '', stderr: 'Error: context deadline exceeded\n', code: 1 };
  let member: RunningMember | undefined;
  const fakes: Array<{ close: () => void }> = [];
  try {
    member = await startMember({
      bin: TSETCD_BIN,
      dataDir: path.join(dir, 'data'),
      ports,
      args: [
        `--data-dir=${path.join(dir, 'data')}`,
        `--listen-client-urls=${url}`,
        `--advertise-client-urls=${url}`,
        `--listen-peer-urls=http://127.0.0.1:${ports.peer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${ports.peer}`,
        `--initial-cluster=default=http://127.0.0.1:${ports.peer}`,
        '--client-cert-auth',
        `--trusted-ca-file=${good.ca}`,
        `--cert-file=${good.member.cert}`,
        `--key-file=${good.member.key}`,
      ],
      ready: async () => (await invoke('etcdctl', [`--endpoints=${url}`, ...files, ...quick, 'endpoint', 'health'])).code === 0,
    });

    // the tutorial's certificates work, for unary calls and for a keep-alive stream
    assert.deepEqual((await invoke(BIN.tsetcdctl, [`--endpoints=${url}`, ...files, 'put', 'tutorial', '004'])).stdout, 'OK\n');
    const got = await both([`--endpoints=${url}`, ...files, 'get', 'tutorial']);
    assert.deepEqual([got.stdout, got.code], ['tutorial\n004\n', 0]);
    const grant = await invoke(BIN.tsetcdctl, [`--endpoints=${url}`, ...files, 'lease', 'grant', '60']);
    const lease = /^lease ([0-9a-f]+) granted with TTL\(60s\)\n$/.exec(grant.stdout)?.[1];
    assert.ok(lease, grant.stdout + grant.stderr);
    const kept = await invoke(BIN.tsetcdctl, [`--endpoints=${url}`, ...files, 'lease', 'keep-alive', '--once', lease]);
    assert.deepEqual([kept.stdout, kept.code], [`lease ${lease} keepalived with TTL(60)\n`, 0]);

    // a CA with the same subject (another key) is not the member's CA
    const rogueCa = await both([`--endpoints=${url}`, `--cacert=${rogue.ca}`, `--cert=${good.member.cert}`, `--key=${good.member.key}`, ...quick, 'get', 'tutorial']);
    assert.deepEqual({ ...rogueCa, logs: [] }, { ...refused, logs: [] });
    assert.match(loggedError(rogueCa), /transport: authentication handshake failed: x509: certificate signed by unknown authority \(certificate .* is not signed by the CA .* that has its issuer's name\)/);

    // "localhost" is not among the member certificate's names (127.0.0.1, 172.17.0.1, 10.0.8.4)
    const wrongHost = await both([`--endpoints=https://localhost:${ports.client}`, ...files, ...quick, 'get', 'tutorial']);
    assert.equal(wrongHost.stderr, refused.stderr);
    assert.match(loggedError(wrongHost), /x509: certificate is not valid for any names, but wanted to match localhost/);
    // the member's certificate served on another loopback address
    const alias = await fakeMember(good.member, '127.0.0.2');
    fakes.push(alias);
    const wrongIp = await both([`--endpoints=${alias.url}`, ...files, ...quick, 'put', 'k', 'v']);
    assert.deepEqual([wrongIp.stdout, wrongIp.stderr, wrongIp.code], [refused.stdout, refused.stderr, refused.code]);
    assert.match(loggedError(wrongIp), /x509: certificate is valid for 127\.0\.0\.1, 172\.17\.0\.1, 10\.0\.8\.4, not 127\.0\.0\.2/);

    // an expired certificate from the right CA (served by a stand-in: tsetcd will not start with it)
    const old = await fakeMember(expired);
    fakes.push(old);
    const expiredAns = await both([`--endpoints=${old.url}`, ...files, ...quick, 'put', 'k', 'v']);
    assert.deepEqual([expiredAns.stdout, expiredAns.stderr, expiredAns.code], [refused.stdout, refused.stderr, refused.code]);
    assert.match(loggedError(expiredAns), /x509: certificate has expired or is not yet valid \(certificate .* expired at 2021-01-01T00:00:00\.000Z/);
    const skipped = await both([`--endpoints=${old.url}`, '--insecure-skip-tls-verify', `--cert=${good.member.cert}`, `--key=${good.member.key}`, ...quick, 'put', 'k', 'v']);
    assert.deepEqual([skipped.stdout, skipped.code], ['OK\n', 0], 'the stand-in answers once verification is off');

    // the host only in the common name: Node would accept it for "localhost", Go does not
    const legacy = await fakeMember(cnOnly);
    fakes.push(legacy);
    const port = new URL(legacy.url).port;
    const cnAns = await both([`--endpoints=https://localhost:${port}`, ...files, ...quick, 'put', 'k', 'v']);
    assert.deepEqual([cnAns.stdout, cnAns.stderr, cnAns.code], [refused.stdout, refused.stderr, refused.code]);
    assert.match(loggedError(cnAns), /x509: certificate relies on legacy Common Name field/);
  } finally {
    for (const f of fakes) f.close();
    await member?.stop();
    cleanup();
  }
});
