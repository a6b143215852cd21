// `eval "$(tsetcdutl cluster up)"` leaves the real etcdctl talking mutual TLS to three
// members with one leader; `cluster down` stops exactly those members; `up` again on the
// same directory brings the same cluster back with its data. Each member serves the web
// dashboard on its own port (HTTPS, the client certificate required), whose Cluster view
// has every member's raft status, asked over the mutual-TLS peer port, and tells a
// stopped member as unreachable.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../helpers/tmp.js';
import { REPO_ROOT } from './harness.js';

const UTL = path.join(REPO_ROOT, 'bin/tsetcdutl');

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen({ host: '127.0.0.1', port, exclusive: true }, () => s.close(() => resolve(true)));
  });
}

/** A base port with `n` free ports from it. */
async function freeRange(n: number): Promise<number> {
  for (;;) {
    const base = 30000 + 2 * Math.floor(Math.random() * 14000);
    let ok = true;
    for (let p = base; p < base + n && ok; p++) ok = await portFree(p);
    if (ok) return base;
  }
}

function sh(script: string, env: NodeJS.ProcessEnv = {}): { code: number | null; out: string; err: string } {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ETCDCTL_') && !k.startsWith('ETCD_')));
  const r = spawnSync('bash', ['-c', script], { encoding: 'utf8', timeout: 90_000, env: { ...clean, ...env } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

interface MemberStatus {
  ID: string;
  error?: string;
  status?: { header: { member_id: string }; raftTerm: string; raftIndex: string; dbSize: string };
}

function httpsGet(url: string, tls: { ca: Buffer; cert?: Buffer; key?: Buffer }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, tls, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
}

/** Running, not just an unreaped zombie (members outlive the tsetcdutl that started them). */
function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

test('cluster up / down: three members with mutual TLS for etcdctl in one command', async () => {
  const { dir, cleanup } = tempDir();
  const d = path.join(dir, 'c');
  const base = await freeRange(9);
  const up = `${UTL} cluster up --dir ${d} --base-port ${base}`;
  try {
    const first = sh(`eval "$(${up})" && etcdctl put tutorial done && etcdctl get tutorial --print-value-only && etcdctl endpoint status -w json`);
    assert.equal(first.code, 0, first.err);
    const [ok, value, statusJson] = first.out.split('\n');
    assert.equal(ok, 'OK');
    assert.equal(value, 'done');
    const status = JSON.parse(statusJson!) as Array<{ Endpoint: string; Status: { header: { member_id: number }; leader: number } }>;
    assert.deepEqual(status.map((s) => s.Endpoint), [0, 2, 4].map((i) => `https://127.0.0.1:${base + i}`));
    const leaders = new Set(status.map((s) => s.Status.leader));
    assert.equal(leaders.size, 1, 'all members agree on one leader');
    assert.ok(status.some((s) => s.Status.header.member_id === [...leaders][0]), 'the leader is one of the three');
    assert.match(first.err, /3 members healthy, m\d is the leader/);
    const dashboards = [6, 7, 8].map((i) => `https://127.0.0.1:${base + i}`);
    assert.ok(first.err.includes(`dashboard: ${dashboards.join(' ')}`), first.err);

    const pki = { ca: fs.readFileSync(path.join(d, 'pki/ca.pem')), cert: fs.readFileSync(path.join(d, 'pki/client.pem')), key: fs.readFileSync(path.join(d, 'pki/client-key.pem')) };
    assert.equal((await httpsGet(`${dashboards[1]}/api/session`, { ca: pki.ca })).status, 403, 'no client certificate, no dashboard');
    const all = JSON.parse((await httpsGet(`${dashboards[1]}/api/cluster/status`, pki)).body) as { members: MemberStatus[] };
    assert.equal(all.members.length, 3);
    for (const m of all.members) {
      assert.equal(m.error, undefined, `member ${m.ID} answers over the peer port`);
      assert.equal(String(m.status!.header.member_id), m.ID, 'each member answered for itself');
      assert.ok(Number(m.status!.raftIndex) > 0 && Number(m.status!.dbSize) > 0);
    }
    assert.equal(new Set(all.members.map((m) => String(m.status!.raftTerm))).size, 1, 'one term across the cluster');
    const m3 = Number(fs.readFileSync(path.join(d, 'm3.pid'), 'utf8'));
    process.kill(m3, 'SIGTERM');
    for (let i = 0; i < 100 && alive(m3); i++) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 1100)); // past the dashboard's 1 s answer cache
    const without = JSON.parse((await httpsGet(`${dashboards[0]}/api/cluster/status`, pki)).body) as { members: MemberStatus[] };
    const answering = without.members.filter((m) => m.status);
    const stopped = without.members.filter((m) => m.error);
    assert.equal(answering.length, 2, JSON.stringify(without));
    assert.equal(stopped.length, 1, 'the stopped member is reported unreachable, with the reason');
    assert.ok(!answering.some((m) => String(m.status!.header.member_id) === stopped[0]!.ID), 'and it is the one that does not answer');

    // what it printed: etcdctl's environment, pointing into the directory (and m3 is back)
    const exports = sh(up).out;
    assert.equal(
      exports,
      [
        'export ETCDCTL_API=3',
        `export ETCDCTL_ENDPOINTS=https://127.0.0.1:${base},https://127.0.0.1:${base + 2},https://127.0.0.1:${base + 4}`,
        `export ETCDCTL_CACERT=${d}/pki/ca.pem`,
        `export ETCDCTL_CERT=${d}/pki/client.pem`,
        `export ETCDCTL_KEY=${d}/pki/client-key.pem`,
        '',
      ].join('\n'),
    );
    // without the client certificate the cluster refuses etcdctl
    const noCert = sh(`eval "$(${up} 2>/dev/null)"; unset ETCDCTL_CERT ETCDCTL_KEY; etcdctl --dial-timeout=2s --command-timeout=3s get tutorial`);
    assert.notEqual(noCert.code, 0);

    const pids = ['m1', 'm2', 'm3'].map((m) => Number(fs.readFileSync(path.join(d, `${m}.pid`), 'utf8')));
    assert.ok(pids.every(alive));
    const down = sh(`${UTL} cluster down --dir ${d}`);
    assert.equal(down.code, 0, down.err);
    assert.match(down.err, /stopped m1 \(pid \d+\)\nstopped m2 \(pid \d+\)\nstopped m3 \(pid \d+\)/);
    assert.ok(pids.every((p) => !alive(p)), 'every member process is gone');
    assert.equal(sh(`${UTL} cluster down --dir ${d}`).err, `no member of ${d} was running\n`);

    const again = sh(`eval "$(${up})" && etcdctl get tutorial --print-value-only`);
    assert.equal(again.code, 0, again.err);
    assert.equal(again.out, 'done\n', 'the same cluster, with its data');
    assert.doesNotMatch(again.err, /made a CA/, 'the certificates are kept');

    const resize = sh(`${UTL} cluster up --dir ${d} --size 5`);
    assert.notEqual(resize.code, 0);
    assert.match(resize.err, /holds a 3-member cluster/);
  } finally {
    sh(`${UTL} cluster down --dir ${d}`);
    cleanup();
  }
});
