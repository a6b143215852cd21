// `eval "$(tsetcdutl cluster up)"` leaves the real etcdctl talking mutual TLS to three
// members with one leader; `cluster down` stops exactly those members; `up` again on the
// same directory brings the same cluster back with its data.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
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
  const base = await freeRange(6);
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

    // what it printed: etcdctl's environment, pointing into the directory
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
