// etcd flags that used to be refused, each doing what etcd does with it (or, where Node.js
// has nothing to act on, saying so at start and in --help):
//  - one start with all of them set to non-default values works;
//  - --experimental-max-learners lets that many learners in; --enable-grpc-gateway=false
//    takes the JSON gateway away; --experimental-warning-apply-duration warns about slow
//    applies; --experimental-bootstrap-defrag-threshold-megabytes decides at start;
//    --log-output (3.4's name) still sends the log where it says;
//  - --experimental-memory-mlock and --socket-reuse-port (on a Node.js without
//    SO_REUSEPORT) stop the start with the reason, touching nothing.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from '../helpers/tmp.js';
import { etcdctl, freePorts, startMember, TSETCD_BIN, waitUntil } from './harness.js';

const ALL_AT_ONCE = [
  '--backend-batch-interval=10ms',
  '--backend-batch-limit=100',
  '--backend-bbolt-freelist-type=map',
  '--experimental-backend-bbolt-freelist-type=map',
  '--socket-reuse-address=true',
  '--experimental-txn-mode-write-with-shared-buffer=false',
  '--experimental-downgrade-check-time=10s',
  '--experimental-peer-skip-client-san-verification=true',
  '--log-package-levels=etcdserver=DEBUG',
  '--unsafe-no-fsync',
  '--experimental-max-learners=2',
  '--experimental-snapshot-catchup-entries=100',
  '--experimental-warning-apply-duration=1ns',
  '--experimental-bootstrap-defrag-threshold-megabytes=1',
  '--experimental-corrupt-check-time=1m',
  '--experimental-watch-progress-notify-interval=1m',
  '--max-concurrent-streams=100',
  '--enable-grpc-gateway=false',
  '--experimental-compaction-batch-limit=2',
  '--grpc-keepalive-min-time=1s',
  '--grpc-keepalive-interval=1h',
  '--grpc-keepalive-timeout=5s',
  '--cors=http://a.example:8080',
  '--host-whitelist=127.0.0.1',
];

describe('flags etcd has and tsetcd now honours', () => {
  it('start a member with all of them set at once, and act as etcd', async () => {
    const { dir, cleanup } = tempDir();
    const logFile = path.join(dir, 'member.log');
    const m = await startMember({ bin: TSETCD_BIN, dataDir: path.join(dir, 'd'), ports: await freePorts(), extraArgs: [...ALL_AT_ONCE, `--log-output=${logFile}`] });
    try {
      assert.equal((await etcdctl(m.clientUrl, ['put', 'k', 'v'])).stdout, 'OK\n');
      // --log-output, 3.4's name of --log-outputs
      await waitUntil(async () => fs.existsSync(logFile) && fs.readFileSync(logFile, 'utf8').includes('apply request took too long'));
      const log = fs.readFileSync(logFile, 'utf8');
      assert.match(log, /--backend-bbolt-freelist-type has no effect in tsetcd: the backend is LMDB/);
      assert.match(log, /--socket-reuse-address has no effect in tsetcd/);
      assert.match(log, /"msg":"Skipping defragmentation"/);
      // two learners, where etcd's default of one would refuse the second
      for (const [i, name] of ['l1', 'l2'].entries()) {
        const add = await etcdctl(m.clientUrl, ['member', 'add', name, `--peer-urls=http://127.0.0.1:${40001 + i}`, '--learner']);
        assert.equal(add.code, 0, add.stderr);
      }
      // a physical compaction in batches of two revisions still removes all it must
      for (let i = 0; i < 7; i++) assert.equal((await etcdctl(m.clientUrl, ['put', 'k', `v${i}`])).code, 0);
      const compact = await etcdctl(m.clientUrl, ['compact', '7', '--physical']);
      assert.equal(compact.stdout, 'compacted revision 7\n', compact.stderr);
      assert.match((await etcdctl(m.clientUrl, ['get', 'k', '--rev=6'])).stderr, /required revision has been compacted/);
      assert.equal((await etcdctl(m.clientUrl, ['get', 'k', '--print-value-only'])).stdout, 'v6\n');
      const gateway = await fetch(`${m.clientUrl}/v3/kv/range`, { method: 'POST', body: '{"key":"aw=="}' });
      assert.equal(gateway.status, 404, 'no JSON gateway with --enable-grpc-gateway=false');
    } finally {
      await m.kill();
      cleanup();
    }
  });

  it('refuse one learner too many by default, as etcd', async () => {
    const { dir, cleanup } = tempDir();
    const m = await startMember({ bin: TSETCD_BIN, dataDir: path.join(dir, 'd'), ports: await freePorts() });
    try {
      assert.equal((await etcdctl(m.clientUrl, ['member', 'add', 'l1', '--peer-urls=http://127.0.0.1:40011', '--learner'])).code, 0);
      const second = await etcdctl(m.clientUrl, ['member', 'add', 'l2', '--peer-urls=http://127.0.0.1:40012', '--learner']);
      assert.match(second.stderr, /etcdserver: too many learner members in cluster/);
    } finally {
      await m.kill();
      cleanup();
    }
  });

  it('show in --help which flags have nothing to act on in Node.js', () => {
    const help = spawnSync(TSETCD_BIN, ['--help'], { encoding: 'utf8' }).stdout;
    assert.match(help, /--socket-reuse-address 'false'\n {4}.*\[etcd 3\.5; no effect in tsetcd: Node\.js always sets SO_REUSEADDR/);
    assert.match(help, /--enable-pprof 'false'\n {4}.*pprof's format from V8's profilers/);
  });
});

describe('flags this Node.js cannot honour', () => {
  const refused = (flag: string) => {
    const { dir, cleanup } = tempDir();
    try {
      const data = path.join(dir, 'd');
      const r = spawnSync(TSETCD_BIN, [`--data-dir=${data}`, flag], { encoding: 'utf8', timeout: 20000 });
      return { code: r.status, err: r.stderr, touched: fs.existsSync(data) };
    } finally {
      cleanup();
    }
  };

  it('stop the start for --experimental-memory-mlock, saying why', () => {
    const r = refused('--experimental-memory-mlock');
    assert.equal(r.code, 1);
    assert.match(r.err, /--experimental-memory-mlock: Node\.js cannot lock the process in RAM/);
    assert.equal(r.touched, false);
  });

  it('stop the start for --socket-reuse-port where Node.js cannot set SO_REUSEPORT', { skip: Number(process.versions.node.split('.')[0]) >= 23 && 'this Node.js can' }, () => {
    const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
    if (major === 22 && minor >= 12) return;
    const r = refused('--socket-reuse-port');
    assert.equal(r.code, 1);
    assert.match(r.err, /--socket-reuse-port: Node\.js v[0-9.]+ cannot set SO_REUSEPORT/);
  });
});

describe('--cors and --host-whitelist', () => {
  const check = async (bin: string) => {
    const { dir, cleanup } = tempDir();
    const m = await startMember({
      bin,
      dataDir: path.join(dir, 'd'),
      ports: await freePorts(),
      extraArgs: ['--cors=http://a.example:8080', '--host-whitelist=127.0.0.1,localhost'],
    });
    const curl = (args: string[]) => spawnSync('curl', ['-s', '-i', ...args, `${m.clientUrl}/version`], { encoding: 'utf8' }).stdout;
    try {
      const rebinding = curl(['-H', 'Host: evil.example:2379']);
      const allowed = curl(['-H', 'Origin: http://a.example:8080']);
      const other = curl(['-H', 'Origin: http://b.example:8080']);
      const preflight = curl(['-X', 'OPTIONS', '-H', 'Origin: http://a.example:8080']);
      return {
        rebinding: /^HTTP\/1\.1 (\d+)/.exec(rebinding)?.[1],
        rebindingText: rebinding.includes('etcd --host-whitelist "evil.example"'),
        allowedOrigin: /access-control-allow-origin: (\S+)/i.exec(allowed)?.[1],
        otherOrigin: /access-control-allow-origin: (\S+)/i.exec(other)?.[1] ?? 'none',
        preflight: /^HTTP\/1\.1 (\d+)/.exec(preflight)?.[1],
      };
    } finally {
      await m.kill();
      cleanup();
    }
  };

  it('refuse foreign Host headers without TLS and announce only listed origins, as etcd', { skip: !spawnSync('sh', ['-c', 'command -v etcd']).stdout && 'needs etcd' }, async () => {
    const ours = await check(TSETCD_BIN);
    assert.deepEqual(ours, { rebinding: '421', rebindingText: true, allowedOrigin: 'http://a.example:8080', otherOrigin: 'none', preflight: '200' });
    assert.deepEqual(ours, await check('etcd'));
  });
});

describe('--listen-client-http-urls', () => {
  it('moves HTTP to its own URL and leaves gRPC alone on the client URL', async () => {
    const { dir, cleanup } = tempDir();
    const httpPort = (await freePorts()).client;
    const httpUrl = `http://127.0.0.1:${httpPort}`;
    const m = await startMember({
      bin: TSETCD_BIN,
      dataDir: path.join(dir, 'd'),
      ports: await freePorts(),
      extraArgs: [`--listen-client-http-urls=${httpUrl}`],
      waitHealthy: false,
    });
    try {
      await waitUntil(async () => (await fetch(`${httpUrl}/health`).catch(() => undefined))?.ok === true, m.exited);
      assert.equal((await etcdctl(m.clientUrl, ['put', 'k', 'v'])).stdout, 'OK\n');
      assert.equal((await fetch(`${m.clientUrl}/health`)).status, 404, 'no HTTP on the gRPC URL');
      const r = await fetch(`${httpUrl}/v3/kv/range`, { method: 'POST', body: JSON.stringify({ key: Buffer.from('k').toString('base64') }) });
      assert.match(await r.text(), /"value":"dg=="/);
      assert.notEqual((await etcdctl(httpUrl, ['get', 'k'])).code, 0, 'no gRPC on the HTTP URL');
    } finally {
      await m.kill();
      cleanup();
    }
  });
});
