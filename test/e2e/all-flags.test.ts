// Every flag of etcd 3.5's `--help` set to a non-default valid value, and the member starts
// and serves etcdctl (over mutual TLS): once with all of them at once, and once per help
// section. The value table must name every flag tsetcd declares; the few that cannot take a
// non-default value in such a start are listed with the reason and the test that covers
// them, so a new flag without a value here fails the first test.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FLAGS } from '../../src/config/index.js';
import { tempDir } from '../helpers/tmp.js';
import { etcdctl, freePort, freePorts, startMember, TSETCD_BIN } from './harness.js';
import { expiredCrl, issue, makePki, type TestPki } from './pki-helpers.js';

/** flags that cannot take a non-default value in a fresh one-member start, with where they are tested */
const NOT_HERE: Record<string, string> = {
  'initial-cluster-state': "'existing' needs a running cluster to join (test/e2e/cluster-up, membership tests)",
  discovery: 'excludes --initial-cluster (test/e2e/discovery.test.ts)',
  'discovery-srv': 'excludes --initial-cluster (test/e2e/discovery.test.ts)',
  'socket-reuse-port': 'Node.js 20 cannot set SO_REUSEPORT: refused at start (test/e2e/more-flags.test.ts)',
  'experimental-memory-mlock': 'Node.js has no mlockall: refused at start (test/e2e/more-flags.test.ts)',
  'config-file': 'another way to give the flags (test/config/yaml.test.ts)',
  version: 'prints the version and exits (test/config)',
  proxy: 'the v2 proxy: refused by name (test/config/validate.test.ts, and below)',
  'proxy-failure-wait': 'the v2 proxy',
  'proxy-refresh-interval': 'the v2 proxy',
  'proxy-dial-timeout': 'the v2 proxy',
  'proxy-write-timeout': 'the v2 proxy',
  'proxy-read-timeout': 'the v2 proxy',
};

interface Ctx {
  dir: string;
  pki: TestPki;
  crl: string;
  jwtKey: string;
  ports: { client: number; peer: number; http: number; metrics: number; dashboard: number };
}

/** flag → the arguments that set it to a non-default valid value (one start, all at once) */
function values(c: Ctx): Record<string, string[]> {
  const peer = `https://127.0.0.1:${c.ports.peer}`;
  const client = `https://127.0.0.1:${c.ports.client}`;
  const f = (name: string, v: string | number | boolean) => [`--${name}=${v}`];
  return {
    name: f('name', 'all-flags'),
    'data-dir': f('data-dir', path.join(c.dir, 'data')),
    'wal-dir': f('wal-dir', path.join(c.dir, 'wal')),
    'snapshot-count': f('snapshot-count', 5000),
    'heartbeat-interval': f('heartbeat-interval', 50),
    'election-timeout': f('election-timeout', 600),
    'initial-election-tick-advance': f('initial-election-tick-advance', false),
    'listen-peer-urls': f('listen-peer-urls', peer),
    'listen-client-urls': f('listen-client-urls', client),
    'listen-client-http-urls': f('listen-client-http-urls', `https://127.0.0.1:${c.ports.http}`),
    'max-snapshots': f('max-snapshots', 3),
    'max-wals': f('max-wals', 3),
    'quota-backend-bytes': f('quota-backend-bytes', 104857600),
    'backend-bbolt-freelist-type': f('backend-bbolt-freelist-type', 'map'),
    'backend-batch-interval': f('backend-batch-interval', '50ms'),
    'backend-batch-limit': f('backend-batch-limit', 500),
    'max-txn-ops': f('max-txn-ops', 256),
    'max-request-bytes': f('max-request-bytes', 2097152),
    'max-concurrent-streams': f('max-concurrent-streams', 1000),
    'grpc-keepalive-min-time': f('grpc-keepalive-min-time', '2s'),
    'grpc-keepalive-interval': f('grpc-keepalive-interval', '1h'),
    'grpc-keepalive-timeout': f('grpc-keepalive-timeout', '10s'),
    'socket-reuse-address': f('socket-reuse-address', true),
    'raft-read-timeout': f('raft-read-timeout', '3s'),
    'raft-write-timeout': f('raft-write-timeout', '3s'),
    'initial-advertise-peer-urls': f('initial-advertise-peer-urls', peer),
    'initial-cluster': f('initial-cluster', `all-flags=${peer}`),
    'initial-cluster-token': f('initial-cluster-token', 'all-flags-token'),
    'advertise-client-urls': f('advertise-client-urls', client),
    'discovery-fallback': f('discovery-fallback', 'exit'),
    'discovery-proxy': f('discovery-proxy', 'http://127.0.0.1:9'),
    'discovery-srv-name': f('discovery-srv-name', 'unused'),
    'strict-reconfig-check': f('strict-reconfig-check', false),
    'pre-vote': f('pre-vote', true),
    'auto-compaction-retention': f('auto-compaction-retention', 1000),
    'auto-compaction-mode': f('auto-compaction-mode', 'revision'),
    'enable-v2': f('enable-v2', true),
    'v2-deprecation': f('v2-deprecation', 'write-only'),
    'cert-file': f('cert-file', c.pki.server.cert),
    'key-file': f('key-file', c.pki.server.key),
    'client-cert-file': f('client-cert-file', c.pki.server.cert),
    'client-key-file': f('client-key-file', c.pki.server.key),
    'client-cert-auth': f('client-cert-auth', true),
    'client-crl-file': f('client-crl-file', c.crl),
    'client-cert-allowed-hostname': f('client-cert-allowed-hostname', 'localhost'),
    'trusted-ca-file': f('trusted-ca-file', c.pki.ca),
    'auto-tls': f('auto-tls', true),
    'peer-cert-file': f('peer-cert-file', c.pki.server.cert),
    'peer-key-file': f('peer-key-file', c.pki.server.key),
    'peer-client-cert-file': f('peer-client-cert-file', c.pki.server.cert),
    'peer-client-key-file': f('peer-client-key-file', c.pki.server.key),
    'peer-client-cert-auth': f('peer-client-cert-auth', true),
    'peer-trusted-ca-file': f('peer-trusted-ca-file', c.pki.ca),
    'peer-cert-allowed-cn': f('peer-cert-allowed-cn', 'member'),
    'peer-cert-allowed-hostname': f('peer-cert-allowed-hostname', 'localhost'),
    'peer-auto-tls': f('peer-auto-tls', true),
    'peer-crl-file': f('peer-crl-file', c.crl),
    'self-signed-cert-validity': f('self-signed-cert-validity', 2),
    'tls-min-version': f('tls-min-version', 'TLS1.3'),
    'tls-max-version': f('tls-max-version', 'TLS1.3'),
    'cipher-suites': f('cipher-suites', 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384'),
    cors: f('cors', 'https://example.com:443'),
    'host-whitelist': f('host-whitelist', '127.0.0.1,localhost'),
    'auth-token': f('auth-token', `jwt,priv-key=${c.jwtKey},sign-method=RS256,ttl=10m`),
    'bcrypt-cost': f('bcrypt-cost', 4),
    'auth-token-ttl': f('auth-token-ttl', 60),
    'enable-pprof': f('enable-pprof', true),
    metrics: f('metrics', 'extensive'),
    'listen-metrics-urls': f('listen-metrics-urls', `http://127.0.0.1:${c.ports.metrics}`),
    'listen-dashboard-urls': f('listen-dashboard-urls', `http://127.0.0.1:${c.ports.dashboard}`),
    // etcd 3.5 knows no logger but zap: set explicitly, at its only valid value
    logger: f('logger', 'zap'),
    'log-outputs': f('log-outputs', path.join(c.dir, 'member.log')),
    'log-level': f('log-level', 'debug'),
    'enable-log-rotation': f('enable-log-rotation', true),
    'log-rotation-config-json': f('log-rotation-config-json', '{"maxsize": 10, "maxage": 1, "maxbackups": 2, "localtime": true, "compress": false}'),
    'experimental-initial-corrupt-check': f('experimental-initial-corrupt-check', true),
    'experimental-corrupt-check-time': f('experimental-corrupt-check-time', '1m'),
    'experimental-compact-hash-check-enabled': f('experimental-compact-hash-check-enabled', true),
    'experimental-compact-hash-check-time': f('experimental-compact-hash-check-time', '30s'),
    'experimental-enable-v2v3': f('experimental-enable-v2v3', '/v2'),
    'experimental-backend-bbolt-freelist-type': f('experimental-backend-bbolt-freelist-type', 'map'),
    'experimental-enable-lease-checkpoint': f('experimental-enable-lease-checkpoint', true),
    'experimental-enable-lease-checkpoint-persist': f('experimental-enable-lease-checkpoint-persist', true),
    'experimental-lease-checkpoint-interval': f('experimental-lease-checkpoint-interval', '1m'),
    'experimental-compaction-batch-limit': f('experimental-compaction-batch-limit', 500),
    'experimental-peer-skip-client-san-verification': f('experimental-peer-skip-client-san-verification', true),
    'experimental-watch-progress-notify-interval': f('experimental-watch-progress-notify-interval', '5s'),
    'experimental-warning-apply-duration': f('experimental-warning-apply-duration', '200ms'),
    'experimental-downgrade-check-time': f('experimental-downgrade-check-time', '10s'),
    'experimental-txn-mode-write-with-shared-buffer': f('experimental-txn-mode-write-with-shared-buffer', false),
    'experimental-stop-grpc-service-on-defrag': f('experimental-stop-grpc-service-on-defrag', true),
    'experimental-bootstrap-defrag-threshold-megabytes': f('experimental-bootstrap-defrag-threshold-megabytes', 100),
    'experimental-max-learners': f('experimental-max-learners', 2),
    'experimental-snapshot-catchup-entries': f('experimental-snapshot-catchup-entries', 1000),
    'experimental-enable-distributed-tracing': f('experimental-enable-distributed-tracing', true),
    'experimental-distributed-tracing-address': f('experimental-distributed-tracing-address', '127.0.0.1:4318'),
    'experimental-distributed-tracing-service-name': f('experimental-distributed-tracing-service-name', 'tsetcd-all'),
    'experimental-distributed-tracing-instance-id': f('experimental-distributed-tracing-instance-id', 'i-1'),
    'experimental-distributed-tracing-sampling-rate': f('experimental-distributed-tracing-sampling-rate', 100),
    'force-new-cluster': f('force-new-cluster', true),
    'unsafe-no-fsync': f('unsafe-no-fsync', true),
    debug: f('debug', true),
    'log-package-levels': f('log-package-levels', 'etcdserver=DEBUG'),
    'log-output': f('log-output', 'stderr'),
    'enable-grpc-gateway': f('enable-grpc-gateway', false),
  };
}

/** pairs that exclude each other: the all-at-once start takes the first, the section's start the second */
const EXCLUSIVE: [string, string][] = [
  ['peer-cert-allowed-cn', 'peer-cert-allowed-hostname'],
  // cipher suites cannot be chosen for TLS 1.3
  ['tls-min-version', 'cipher-suites'],
];

/** what every start needs to be a TLS member etcdctl can reach, whatever the section */
const BASE = [
  'name', 'data-dir', 'listen-peer-urls', 'listen-client-urls', 'initial-advertise-peer-urls', 'initial-cluster', 'advertise-client-urls',
  'cert-file', 'key-file', 'trusted-ca-file', 'peer-cert-file', 'peer-key-file', 'peer-trusted-ca-file',
];

describe("every flag of etcd 3.5's --help, non-default", () => {
  const { dir, cleanup } = tempDir();
  let ctx: Ctx;
  let ctl: string[];
  let run = 0;

  before(async () => {
    const pki = makePki(path.join(dir, 'pki'));
    // a client certificate valid for "localhost" (--client-cert-allowed-hostname)
    const client = issue(pki, 'ca', 'client-localhost', { usages: ['signing', 'key encipherment', 'client auth'], expiry: '8760h' }, { CN: 'client', hosts: ['localhost'] });
    const crl = path.join(dir, 'empty.crl');
    fs.writeFileSync(crl, Buffer.from((await expiredCrl(pki, path.join(pki.dir, 'ca-key.pem'), ['0badc0de'])).rawData));
    const jwtKey = path.join(dir, 'jwt.key');
    fs.writeFileSync(jwtKey, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }));
    ctl = [`--cacert=${pki.ca}`, `--cert=${client.cert}`, `--key=${client.key}`];
    ctx = { dir, pki, crl, jwtKey, ports: { client: 0, peer: 0, http: 0, metrics: 0, dashboard: 0 } };
  });
  after(() => cleanup());

  /** A fresh member with `flags` (plus the base), serving put/get through etcdctl over TLS. */
  async function startWith(flags: string[], check: (log: string) => void = () => {}): Promise<void> {
    const ports = await freePorts();
    ctx = { ...ctx, dir: path.join(dir, `run${++run}`), ports: { ...ports, http: await freePort(), metrics: await freePort(), dashboard: await freePort() } };
    fs.mkdirSync(ctx.dir, { recursive: true });
    const v = values(ctx);
    const names = [...new Set([...BASE, ...flags])];
    const args = names.flatMap((n) => v[n]!);
    const endpoint = `https://127.0.0.1:${ctx.ports.client}`;
    const m = await startMember({
      bin: TSETCD_BIN,
      dataDir: path.join(ctx.dir, 'data'),
      ports,
      args,
      ready: async () => (await etcdctl(endpoint, [...ctl, 'endpoint', 'health'])).code === 0,
    });
    try {
      const put = await etcdctl(endpoint, [...ctl, 'put', 'k', 'v']);
      assert.equal(put.stdout, 'OK\n', put.stderr);
      const get = await etcdctl(endpoint, [...ctl, 'get', 'k', '--print-value-only']);
      assert.equal(get.stdout, 'v\n', get.stderr);
      const logFile = path.join(ctx.dir, 'member.log');
      check(fs.readFileSync(m.logPath, 'utf8') + (fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : ''));
    } finally {
      await m.kill();
    }
  }

  it('the table names every flag tsetcd declares', () => {
    const v = values({ dir, pki: { dir, ca: 'ca', server: { cert: 'c', key: 'k' }, client: { cert: 'c', key: 'k' } }, crl: 'x', jwtKey: 'j', ports: { client: 1, peer: 2, http: 3, metrics: 4, dashboard: 5 } });
    const missing = FLAGS.filter((f) => f.kind !== 'ignored' && v[f.name] === undefined && NOT_HERE[f.name] === undefined).map((f) => f.name);
    assert.deepEqual(missing, []);
    for (const [name, args] of Object.entries(v)) {
      const spec = FLAGS.find((f) => f.name === name);
      assert.ok(spec, `${name} is a flag`);
      if (name !== 'logger') assert.notEqual(args[0], `--${name}=${Array.isArray(spec.default) ? spec.default.join(',') : String(spec.default)}`, `${name} differs from its default`);
    }
  });

  it('starts with all of them at once', async () => {
    await startWith(Object.keys(values(ctx)).filter((n) => !EXCLUSIVE.some(([, second]) => second === n)), (log) => {
      assert.match(log, /--experimental-enable-distributed-tracing has no effect in tsetcd: tsetcd has no OpenTelemetry exporter/);
    });
  });

  const sections = [...new Set(FLAGS.filter((f) => f.kind !== 'ignored' && f.section !== 'Usage' && !f.section.startsWith('v2 Proxy')).map((f) => f.section))];
  for (const section of sections) {
    it(`starts with the ${section} section's flags`, async () => {
      const names = FLAGS.filter((f) => f.section === section && f.kind !== 'ignored' && NOT_HERE[f.name] === undefined).map((f) => f.name);
      await startWith(names.filter((n) => !EXCLUSIVE.some(([first]) => first === n)));
    });
  }

  it('refuses the v2 proxy flags by name', async () => {
    const r = await import('node:child_process').then((cp) => cp.spawnSync(TSETCD_BIN, ['--proxy=on', '--proxy-dial-timeout=500'], { encoding: 'utf8', cwd: dir }));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /tsetcd: --proxy, --proxy-dial-timeout are v2 proxy settings, and the v2 proxy is not supported/);
  });
});
