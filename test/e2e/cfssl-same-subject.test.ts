// Tutorial 004's certificates, made with Debian's real cfssl from the tutorial's JSON: the
// CA and the member certificate share the subject "C=CN, ST=BeiJing, L=BeiJing, O=etcd,
// OU=CA, CN=etcd" and cfssl writes no authority key identifier, which OpenSSL reads as a
// self-signed member certificate. Real etcd (Go's verifier) accepts them; this proves a
// three-member mutual-TLS tsetcd cluster does too, with the real etcdctl, while a
// certificate from another CA with the very same subject, and an expired certificate from
// the right CA, are refused on the client and the peer port, and each refusal is logged
// with its reason and the remote address.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { expiredMember, tutorialPki, type Pair } from '../pki/cfssl-tutorial004.js';
import { tempDir } from '../helpers/tmp.js';
import { etcdctl, freePorts, haveBinary, startMember, TSETCD_BIN, waitUntil, type MemberPorts, type RunningMember } from './harness.js';

function curl(args: string[]): { code: number | null; out: string } {
  const r = spawnSync('curl', ['-sS', '--max-time', '5', ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout + r.stderr };
}

const haveCfssl = haveBinary('cfssl') && haveBinary('cfssljson');

test('tutorial 004: cfssl CA and member certificates with the same subject run a mutual-TLS cluster', { skip: haveCfssl ? false : 'cfssl is not installed' }, async () => {
  const { dir, cleanup } = tempDir();
  const good = tutorialPki(path.join(dir, 'pki'));
  // another CA made from the very same JSON: same subject, another key
  const rogue = tutorialPki(path.join(dir, 'rogue'));
  const expired = expiredMember(path.join(dir, 'pki'));
  const ports: MemberPorts[] = [await freePorts(), await freePorts(), await freePorts()];
  const names = ['infra1', 'infra2', 'infra3'];
  const peerUrl = (i: number) => `https://127.0.0.1:${ports[i]!.peer}`;
  const clientUrl = (i: number) => `https://127.0.0.1:${ports[i]!.client}`;
  const cluster = names.map((n, i) => `${n}=${peerUrl(i)}`).join(',');
  const ctlWith = (p: Pair) => [`--cacert=${good.ca}`, `--cert=${p.cert}`, `--key=${p.key}`];
  const ctl = ctlWith(good.member);
  const tlsFlags = [
    `--cert-file=${good.member.cert}`,
    `--key-file=${good.member.key}`,
    `--trusted-ca-file=${good.ca}`,
    '--client-cert-auth',
    `--peer-cert-file=${good.member.cert}`,
    `--peer-key-file=${good.member.key}`,
    `--peer-trusted-ca-file=${good.ca}`,
    '--peer-client-cert-auth',
  ];
  const start = (i: number) =>
    startMember({
      bin: TSETCD_BIN,
      dataDir: path.join(dir, names[i]!),
      ports: ports[i]!,
      args: [
        `--name=${names[i]}`,
        `--data-dir=${path.join(dir, names[i]!)}`,
        `--listen-client-urls=${clientUrl(i)}`,
        `--advertise-client-urls=${clientUrl(i)}`,
        `--listen-peer-urls=${peerUrl(i)}`,
        `--initial-advertise-peer-urls=${peerUrl(i)}`,
        `--initial-cluster=${cluster}`,
        '--initial-cluster-token=etcd-cluster',
        '--initial-cluster-state=new',
        ...tlsFlags,
      ],
      ready: async () => (await etcdctl(clientUrl(i), [...ctl, 'endpoint', 'health'])).code === 0,
    });
  let members: RunningMember[] = [];
  try {
    members = await Promise.all([0, 1, 2].map(start));
    const all = [0, 1, 2].map(clientUrl).join(',');
    assert.equal((await etcdctl(clientUrl(0), [...ctl, 'put', 'tutorial', '004'])).stdout, 'OK\n');
    for (const i of [1, 2]) {
      const got = await etcdctl(clientUrl(i), [...ctl, 'get', 'tutorial', '--print-value-only']);
      assert.equal(got.stdout, '004\n', got.stderr);
    }
    const health = await etcdctl(all, [...ctl, 'endpoint', 'health']);
    assert.equal(health.code, 0, health.stderr);
    const list = await etcdctl(clientUrl(1), [...ctl, 'member', 'list']);
    for (const [i, n] of names.entries()) assert.ok(list.stdout.includes(`${n}, ${peerUrl(i)}, ${clientUrl(i)}, false`), list.stdout);

    // clients: the same subject from another CA, and an expired certificate, are refused
    for (const bad of [rogue.member, expired]) {
      const r = await etcdctl(clientUrl(0), [...ctlWith(bad), 'get', 'tutorial']);
      assert.notEqual(r.code, 0, `etcdctl with ${bad.cert} must fail`);
      assert.ok(!r.stdout.includes('004'), r.stdout);
    }
    // peers: the same, on the peer port's HTTP endpoints (curl, an OpenSSL client, cannot
    // verify the member's same-subject certificate itself, hence -k: the server's verdict
    // on curl's certificate is what is tested here)
    const members0 = `${peerUrl(0)}/members`;
    const served = curl(['-k', '--cert', good.member.cert, '--key', good.member.key, members0]);
    assert.equal(served.code, 0, served.out);
    assert.equal((JSON.parse(served.out) as unknown[]).length, 3);
    for (const bad of [rogue.member, expired]) {
      const r = curl(['-k', '--cert', bad.cert, '--key', bad.key, members0]);
      assert.notEqual(r.code, 0, `curl with ${bad.cert} must be refused: ${r.out}`);
      assert.ok(!r.out.includes('infra1'), r.out);
    }

    // the peer listener logs etcd's "rejected connection" (the client listeners name the handshake)
    await waitUntil(async () => /rejected connection.*expired/.test(fs.readFileSync(members[0]!.logPath, 'utf8')), undefined, 'peer refusal log', 10000);
    const log = fs.readFileSync(members[0]!.logPath, 'utf8');
    assert.match(log, /rejected a client TLS handshake.*remote-addr.*127\.0\.0\.1.*not signed by the CA/);
    assert.match(log, /rejected a client TLS handshake.*expired at 2021-01-01/);
    assert.match(log, /rejected connection.*not signed by the CA/);
    // the start-up check explains why OpenSSL-based clients (curl) would refuse this member
    assert.match(log, /same subject as the CA that signed it.*etcd and tsetcd verify it by signature and accept it/);
    // the cluster is still healthy after the refusals
    assert.equal((await etcdctl(clientUrl(2), [...ctl, 'put', 'after', 'ok'])).stdout, 'OK\n');

    // followers forward lease keep-alives to the leader over the peer port's HTTPS
    const grant = await etcdctl(clientUrl(0), [...ctl, 'lease', 'grant', '60']);
    const leaseId = /lease ([0-9a-f]+) granted/.exec(grant.stdout)?.[1];
    assert.ok(leaseId, grant.stdout + grant.stderr);
    for (const i of [0, 1, 2]) {
      const kept = await etcdctl(clientUrl(i), [...ctl, 'lease', 'keep-alive', '--once', leaseId]);
      assert.match(kept.stdout, new RegExp(`lease ${leaseId} keepalived with TTL\\(\\d+\\)`), `via member ${i}: ${kept.stderr}`);
    }

    // a fourth member with the tutorial's certificate joins (it asks a member for /members over HTTPS)
    const p4 = await freePorts();
    ports.push(p4);
    names.push('infra4');
    const add = await etcdctl(clientUrl(0), [...ctl, 'member', 'add', 'infra4', `--peer-urls=${peerUrl(3)}`]);
    assert.equal(add.code, 0, add.stderr);
    const joined = await startMember({
      bin: TSETCD_BIN,
      dataDir: path.join(dir, 'infra4'),
      ports: p4,
      args: [
        '--name=infra4',
        `--data-dir=${path.join(dir, 'infra4')}`,
        `--listen-client-urls=${clientUrl(3)}`,
        `--advertise-client-urls=${clientUrl(3)}`,
        `--listen-peer-urls=${peerUrl(3)}`,
        `--initial-advertise-peer-urls=${peerUrl(3)}`,
        `--initial-cluster=${cluster},infra4=${peerUrl(3)}`,
        '--initial-cluster-token=etcd-cluster',
        '--initial-cluster-state=existing',
        ...tlsFlags,
      ],
      ready: async () => (await etcdctl(clientUrl(3), [...ctl, 'endpoint', 'health'])).code === 0,
    });
    members.push(joined);
    const got4 = await etcdctl(clientUrl(3), [...ctl, 'get', 'after', '--print-value-only']);
    assert.equal(got4.stdout, 'ok\n', got4.stderr);
  } finally {
    await Promise.all(members.map((m) => m.kill()));
    if (process.env['KEEP']) console.log(dir); else cleanup();
  }
});
