// Three members talking to each other over mutual TLS, as the tutorials set them up
// (cfssl-made CA, one certificate per member used for clients and peers), driven with
// the real etcdctl: writes replicate, a member killed with -9 catches up over TLS, and
// peers whose certificate comes from another CA, or carries another CN, are refused —
// both on the peer port and when such a member tries to join.
// Also --auto-tls/--peer-auto-tls: generated certificates, kept across restarts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../helpers/tmp.js';
import { etcdctl, freePorts, startMember, TSETCD_BIN, type MemberPorts, type RunningMember } from './harness.js';
import { makePki, type TestPki } from './pki-helpers.js';

function curl(args: string[]): { code: number | null; out: string } {
  const r = spawnSync('curl', ['-sS', '--max-time', '5', ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout + r.stderr };
}

interface Layout {
  names: string[];
  ports: MemberPorts[];
}

const peerUrl = (l: Layout, i: number): string => `https://127.0.0.1:${l.ports[i]!.peer}`;
const clientUrl = (l: Layout, i: number): string => `https://127.0.0.1:${l.ports[i]!.client}`;

function memberArgs(l: Layout, i: number, dataDir: string, cluster: string, extra: string[]): string[] {
  return [
    `--name=${l.names[i]}`,
    `--data-dir=${dataDir}`,
    `--listen-client-urls=${clientUrl(l, i)}`,
    `--advertise-client-urls=${clientUrl(l, i)}`,
    `--listen-peer-urls=${peerUrl(l, i)}`,
    `--initial-advertise-peer-urls=${peerUrl(l, i)}`,
    `--initial-cluster=${cluster}`,
    '--initial-cluster-token=tls-e2e',
    ...extra,
  ];
}

function mtlsFlags(ca: string, member: TestPki['server']): string[] {
  return [
    '--client-cert-auth',
    `--trusted-ca-file=${ca}`,
    `--cert-file=${member.cert}`,
    `--key-file=${member.key}`,
    '--peer-client-cert-auth',
    `--peer-trusted-ca-file=${ca}`,
    `--peer-cert-file=${member.cert}`,
    `--peer-key-file=${member.key}`,
  ];
}

/** The index of a member that is not the leader, as `endpoint status` reports it. */
async function aFollower(l: Layout, indexes: number[], ctl: string[]): Promise<number> {
  const endpoints = indexes.map((i) => clientUrl(l, i)).join(',');
  const status = await etcdctl(endpoints, [...ctl, 'endpoint', 'status', '-w', 'json']);
  assert.equal(status.code, 0, status.stderr);
  const rows = JSON.parse(status.stdout) as { Status: { header: { member_id: number }; leader: number } }[];
  const follower = rows.findIndex((r) => r.Status.header.member_id !== r.Status.leader);
  assert.ok(follower >= 0, status.stdout);
  return indexes[follower]!;
}

async function layout(n: number): Promise<Layout> {
  const ports: MemberPorts[] = [];
  for (let i = 0; i < n; i++) ports.push(await freePorts());
  return { names: Array.from({ length: n }, (_, i) => `m${i + 1}`), ports };
}

test('three members with client and peer mutual TLS', async () => {
  const { dir, cleanup } = tempDir();
  const a = makePki(path.join(dir, 'pki-a'), 'ca');
  const rogue = makePki(path.join(dir, 'pki-b'), 'rogue');
  const l = await layout(4);
  const three = [0, 1, 2];
  const cluster = three.map((i) => `${l.names[i]}=${peerUrl(l, i)}`).join(',');
  const ctl = [`--cacert=${a.ca}`, `--cert=${a.client.cert}`, `--key=${a.client.key}`];
  const healthy = (i: number) => async () => (await etcdctl(clientUrl(l, i), [...ctl, 'endpoint', 'health'])).code === 0;
  // the member certificates have CN "member"; peers must present exactly that
  const flags = [...mtlsFlags(a.ca, a.server), '--peer-cert-allowed-cn=member'];
  const start = (i: number, extra: string[] = []) =>
    startMember({
      bin: TSETCD_BIN,
      dataDir: path.join(dir, l.names[i]!),
      ports: l.ports[i]!,
      args: memberArgs(l, i, path.join(dir, l.names[i]!), cluster, [...flags, ...extra]),
      ready: healthy(i),
    });
  const members: RunningMember[] = await Promise.all(three.map((i) => start(i)));
  let joiner: RunningMember | undefined;
  try {
    assert.equal((await etcdctl(clientUrl(l, 0), [...ctl, 'put', 'tutorial', 'mtls'])).stdout, 'OK\n');
    assert.equal((await etcdctl(clientUrl(l, 2), [...ctl, 'get', 'tutorial', '--print-value-only'])).stdout, 'mtls\n');
    const list = await etcdctl(clientUrl(l, 1), [...ctl, 'member', 'list']);
    for (const i of three) assert.ok(list.stdout.includes(`${l.names[i]}, ${peerUrl(l, i)}, ${clientUrl(l, i)}, false`), list.stdout);

    // the peer port speaks only TLS, and only to member certificates of this CA
    const peer0 = `${peerUrl(l, 0)}/members`;
    const served = curl(['--cacert', a.ca, '--cert', a.server.cert, '--key', a.server.key, peer0]);
    assert.equal(served.code, 0, served.out);
    assert.equal((JSON.parse(served.out) as unknown[]).length, 3);
    assert.notEqual(curl(['--cacert', a.ca, peer0]).code, 0, 'no client certificate');
    assert.notEqual(curl(['--cacert', a.ca, '--cert', rogue.server.cert, '--key', rogue.server.key, peer0]).code, 0, 'certificate from another CA');
    assert.notEqual(curl(['--cacert', a.ca, '--cert', a.client.cert, '--key', a.client.key, peer0]).code, 0, 'right CA, CN is not "member"');
    assert.notEqual(curl([`http://127.0.0.1:${l.ports[0]!.peer}/members`]).code, 0, 'plain HTTP');

    // a member killed with -9 comes back over TLS and catches up with what it missed
    // (a follower: a write sent just as the leader dies may time out, with etcd too)
    const victim = await aFollower(l, three, ctl);
    const writer = three.find((i) => i !== victim)!;
    await members[victim]!.kill();
    const whileDown = await etcdctl(clientUrl(l, writer), [...ctl, 'put', 'while-down', 'yes']);
    assert.equal(whileDown.stdout, 'OK\n', whileDown.stderr);
    members[victim] = await start(victim);
    assert.equal((await etcdctl(clientUrl(l, victim), [...ctl, 'get', 'while-down', '--print-value-only'])).stdout, 'yes\n');

    // a new member whose certificate comes from another CA is added, but cannot join
    const add = await etcdctl(clientUrl(l, 0), [...ctl, 'member', 'add', 'm4', `--peer-urls=${peerUrl(l, 3)}`]);
    assert.equal(add.code, 0, add.stderr);
    const withM4 = `${cluster},m4=${peerUrl(l, 3)}`;
    joiner = await startMember({
      bin: TSETCD_BIN,
      dataDir: path.join(dir, 'm4'),
      ports: l.ports[3]!,
      // it trusts our CA, so only its own certificate is wrong
      args: memberArgs(l, 3, path.join(dir, 'm4'), withM4, [...mtlsFlags(a.ca, rogue.server), '--initial-cluster-state=existing']),
      waitHealthy: false,
    });
    const code = await Promise.race([joiner.exited, new Promise((r) => setTimeout(() => r('still running'), 20000))]);
    assert.equal(code, 1, 'the rogue member gives up');
    assert.match(fs.readFileSync(joiner.logPath, 'utf8'), /could not retrieve cluster information|certificate|handshake|socket hang up|ECONNRESET/);
    // the three keep a quorum of the four and go on serving
    assert.equal((await etcdctl(clientUrl(l, 2), [...ctl, 'put', 'after-rogue', 'ok'])).stdout, 'OK\n');
    assert.equal((await etcdctl(clientUrl(l, 0), [...ctl, 'get', 'after-rogue', '--print-value-only'])).stdout, 'ok\n');
  } finally {
    await Promise.all([...members, ...(joiner ? [joiner] : [])].map((m) => m.kill()));
    cleanup();
  }
});

test('--auto-tls and --peer-auto-tls: generated certificates, reused after a restart', async () => {
  const { dir, cleanup } = tempDir();
  const l = await layout(3);
  const all = [0, 1, 2];
  const cluster = all.map((i) => `${l.names[i]}=${peerUrl(l, i)}`).join(',');
  // etcdctl 3.4 needs both flags to talk TLS without verifying (as with real etcd)
  const ctl = ['--insecure-transport=false', '--insecure-skip-tls-verify'];
  const start = (i: number) =>
    startMember({
      bin: TSETCD_BIN,
      dataDir: path.join(dir, l.names[i]!),
      ports: l.ports[i]!,
      args: memberArgs(l, i, path.join(dir, l.names[i]!), cluster, ['--auto-tls', '--peer-auto-tls']),
      ready: async () => (await etcdctl(clientUrl(l, i), [...ctl, 'endpoint', 'health'])).code === 0,
    });
  const members: RunningMember[] = await Promise.all(all.map(start));
  try {
    assert.equal((await etcdctl(clientUrl(l, 0), [...ctl, 'put', 'auto', 'tls'])).stdout, 'OK\n');
    assert.equal((await etcdctl(clientUrl(l, 2), [...ctl, 'get', 'auto', '--print-value-only'])).stdout, 'tls\n');
    // nobody can verify a self-signed certificate: a verifying client is refused
    assert.notEqual((await etcdctl(clientUrl(l, 0), ['--insecure-transport=false', 'get', 'auto'])).code, 0);

    const certFile = path.join(dir, 'm1', 'fixtures', 'peer', 'cert.pem');
    const before = fs.readFileSync(certFile, 'utf8');
    assert.match(before, /^-----BEGIN CERTIFICATE-----/);
    assert.equal(fs.statSync(path.join(dir, 'm1', 'fixtures', 'peer', 'key.pem')).mode & 0o777, 0o600);
    const text = spawnSync('openssl', ['x509', '-noout', '-text', '-in', path.join(dir, 'm1', 'fixtures', 'client', 'cert.pem')], { encoding: 'utf8' }).stdout;
    assert.match(text, /Subject: O\s*=\s*etcd/);
    assert.match(text, /IP Address:127\.0\.0\.1/);

    await members[0]!.stop();
    members[0] = await start(0);
    assert.equal(fs.readFileSync(certFile, 'utf8'), before, 'the certificate is kept across restarts');
    assert.equal((await etcdctl(clientUrl(l, 0), [...ctl, 'get', 'auto', '--print-value-only'])).stdout, 'tls\n');
  } finally {
    await Promise.all(members.map((m) => m.kill()));
    cleanup();
  }
});
