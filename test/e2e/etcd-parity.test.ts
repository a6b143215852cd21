// Behaviour etcd's own e2e suite checks, checked here against tsetcd (and, where the
// answer must be equal, against real etcd in the same test):
//  - --max-concurrent-streams: the gateway shares that many calls, so with as many JSON
//    watches open a range waits (curl times out), one fewer and it is served;
//  - etcd_mvcc_put_total / delete_total / range_total / txn_total count as etcd's do;
//  - /health turns false with "ALARM NOSPACE" under a NOSPACE alarm (?exclude=NOSPACE
//    ignores it);
//  - unix:// peer and client URLs serve, as etcd's;
//  - the log lines log-watching tooling waits for ("enabled capabilities for version").
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from '../helpers/tmp.js';
import { etcdctl, freePorts, haveBinary, startMember, TSETCD_BIN, waitUntil, type RunningMember } from './harness.js';

function metric(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

async function withMember<T>(bin: string, extraArgs: string[], fn: (m: RunningMember, dir: string) => Promise<T>): Promise<T> {
  const { dir, cleanup } = tempDir();
  const m = await startMember({ bin, dataDir: path.join(dir, 'd'), ports: await freePorts(), extraArgs });
  try {
    return await fn(m, dir);
  } finally {
    await m.kill();
    cleanup();
  }
}

/** curl as etcd's e2e runs it; resolves with its exit code and output. */
function curl(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn('curl', ['-sS', ...args]);
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.on('close', (code) => resolve({ code, out }));
  });
}

describe('--max-concurrent-streams', () => {
  const watchBody = JSON.stringify({ create_request: { key: Buffer.from('foo').toString('base64'), start_revision: 1 } });
  const rangeBody = JSON.stringify({ key: Buffer.from('foo').toString('base64') });

  async function rangeWithWatches(watches: number): Promise<{ code: number | null; out: string }> {
    return withMember(TSETCD_BIN, ['--max-concurrent-streams=3'], async (m) => {
      const open = Array.from({ length: watches }, () => spawn('curl', ['-sS', '-N', '-X', 'POST', '-d', watchBody, `${m.clientUrl}/v3/watch`]));
      const created = open.map(() => false);
      open.forEach((p, i) => p.stdout.on('data', (d: Buffer) => (created[i] = created[i] || d.toString().includes('"created":true'))));
      try {
        // each watch holds its slot once the server answered its creation
        await waitUntil(async () => created.every(Boolean));
        return await curl(['--max-time', '5', '-X', 'POST', '-d', rangeBody, `${m.clientUrl}/v3/kv/range`]);
      } finally {
        for (const p of open) p.kill();
      }
    });
  }

  it('serves a range next to one watch fewer than the limit', async () => {
    const r = await rangeWithWatches(2);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /"revision":"1"/);
  });

  it('makes a range wait while the limit is reached', async () => {
    const r = await rangeWithWatches(3);
    assert.equal(r.code, 28, `curl timed out: ${r.out}`);
    assert.match(r.out, /Operation timed out/);
  });
});

describe('mvcc operation counters', () => {
  const ops = async (m: RunningMember): Promise<Record<string, number | undefined>> => {
    for (const args of [['put', 'k', 'v'], ['put', 'k2', 'v'], ['del', 'k2'], ['del', 'nothing'], ['get', 'k'], ['txn']] as const) {
      const r = await etcdctl(m.clientUrl, [...args], args[0] === 'txn' ? '\nput t1 a\nput t2 b\n\n\n' : undefined);
      assert.equal(r.code, 0, r.stderr);
    }
    const text = await (await fetch(`${m.clientUrl}/metrics`)).text();
    const names = ['etcd_mvcc_put_total', 'etcd_mvcc_delete_total', 'etcd_mvcc_txn_total', 'etcd_debugging_mvcc_put_total', 'etcd_debugging_mvcc_keys_total'];
    return Object.fromEntries(names.map((n) => [n, metric(text, n)]));
  };

  it('count puts, deletes and transactions as etcd does', { skip: !haveBinary('etcd') && 'needs etcd on the PATH' }, async () => {
    const ours = await withMember(TSETCD_BIN, [], ops);
    const theirs = await withMember('etcd', [], ops);
    assert.deepEqual(ours, theirs);
    assert.equal(ours['etcd_mvcc_put_total'], 4);
  });
});

describe('/health under an alarm', () => {
  it('is false with ALARM NOSPACE while the quota is exceeded, unless excluded', async () => {
    await withMember(TSETCD_BIN, ['--quota-backend-bytes=1'], async (m) => {
      const put = await etcdctl(m.clientUrl, ['put', 'big', 'x'.repeat(1000)]);
      assert.match(put.stderr, /database space exceeded/);
      await waitUntil(async () => (await etcdctl(m.clientUrl, ['alarm', 'list'])).stdout.includes('NOSPACE'));
      const res = await fetch(`${m.clientUrl}/health`);
      assert.equal(res.status, 503);
      assert.deepEqual(await res.json(), { health: 'false', reason: 'ALARM NOSPACE' });
      const excluded = await fetch(`${m.clientUrl}/health?exclude=NOSPACE`);
      assert.deepEqual(await excluded.json(), { health: 'true', reason: '' });
    });
  });
});

describe('unix socket URLs', () => {
  it('serve peers and clients on unix:// URLs', async () => {
    const { dir, cleanup } = tempDir();
    // etcd takes the URL's host as the socket path, relative to the working directory
    const cwd = process.cwd();
    process.chdir(dir);
    let m: RunningMember | undefined;
    try {
      m = await startMember({
        bin: TSETCD_BIN,
        dataDir: path.join(dir, 'd'),
        ports: await freePorts(),
        args: [
          '--name=e1',
          `--data-dir=${path.join(dir, 'd')}`,
          '--listen-peer-urls=unix://peer.unix:1',
          '--initial-advertise-peer-urls=unix://peer.unix:1',
          '--initial-cluster=e1=unix://peer.unix:1',
          '--listen-client-urls=unix://client.unix:1',
          '--advertise-client-urls=unix://client.unix:1',
        ],
        waitHealthy: false,
      });
      await waitUntil(async () => fs.existsSync(path.join(dir, 'client.unix:1')) && (await etcdctl('unix://client.unix:1', ['put', 'k', 'v'])).code === 0, m.exited);
      const list = await etcdctl('unix://client.unix:1', ['member', 'list']);
      assert.match(list.stdout, /started, e1, unix:\/\/peer\.unix:1, unix:\/\/client\.unix:1, false/);
      const health = spawnSync('curl', ['-sS', '--unix-socket', 'client.unix:1', 'http://localhost/health'], { encoding: 'utf8' });
      assert.equal(health.stdout, '{"health":"true","reason":""}');
      assert.match(fs.readFileSync(m.logPath, 'utf8'), /"msg":"enabled capabilities for version","cluster-version":"3\.5"/);
    } finally {
      process.chdir(cwd);
      await m?.kill();
      cleanup();
    }
  });
});

describe('the JSON gateway', () => {
  it('keeps int64 numbers beyond 2^53 exact and answers them as strings, as etcd', async () => {
    await withMember(TSETCD_BIN, [], async (m) => {
      const r = await curl(['-X', 'POST', '-d', '{"ID":4470665692409248866,"TTL":20}', `${m.clientUrl}/v3/lease/grant`]);
      assert.match(r.out, /"ID":"4470665692409248866","TTL":"20"/);
      const leases = await etcdctl(m.clientUrl, ['lease', 'list']);
      assert.match(leases.stdout, new RegExp((4470665692409248866n).toString(16)));
    });
  });

  it('streams a watch over HTTP/2 (curl --http2-prior-knowledge) without connection-specific headers', async () => {
    await withMember(TSETCD_BIN, [], async (m) => {
      const body = JSON.stringify({ create_request: { key: Buffer.from('foo').toString('base64') } });
      const r = await curl(['--http2-prior-knowledge', '-N', '--max-time', '3', '-X', 'POST', '-d', body, `${m.clientUrl}/v3/watch`]);
      // curl stops it at --max-time (28): the stream itself was well-formed and answered
      assert.equal(r.code, 28, r.out);
      assert.match(r.out, /"created":true/);
    });
  });
});
