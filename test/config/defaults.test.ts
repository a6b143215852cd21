// Defaults and derived values of the Config, and the help text.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FLAGS, helpText, parseRetention, usageText, yamlKeyOf } from '../../src/config/index.js';
import { ok, run } from './helpers.js';

describe('defaults', () => {
  it('match etcd 3.4', () => {
    const c = ok([]);
    assert.equal(c.source, 'flags');
    assert.equal(c.configFile, undefined);
    assert.equal(c.name, 'default');
    assert.equal(c.dataDir, 'default.etcd');
    assert.equal(c.walDir, 'default.etcd/member/wal');
    assert.equal(c.dedicatedWalDir, false);
    assert.deepEqual(c.listenClientUrls.map(String), ['http://localhost:2379/']);
    assert.deepEqual(c.advertiseClientUrls.map(String), ['http://localhost:2379/']);
    assert.deepEqual(c.listenPeerUrls.map(String), ['http://localhost:2380/']);
    assert.deepEqual(c.initialAdvertisePeerUrls.map(String), ['http://localhost:2380/']);
    assert.deepEqual(c.listenMetricsUrls, []);
    assert.equal(c.initialClusterRaw, 'default=http://localhost:2380');
    assert.deepEqual([...c.initialCluster.keys()], ['default']);
    assert.equal(c.initialClusterState, 'new');
    assert.equal(c.initialClusterToken, 'etcd-cluster');
    assert.equal(c.snapshotCount, 100000);
    assert.equal(c.maxSnapshots, 5);
    assert.equal(c.maxWals, 5);
    assert.equal(c.heartbeatIntervalMs, 100);
    assert.equal(c.electionTimeoutMs, 1000);
    assert.equal(c.maxRequestBytes, 1572864);
    assert.equal(c.maxTxnOps, 128);
    assert.equal(c.quotaBackendBytes, 0);
    assert.equal(c.autoCompactionMode, 'periodic');
    assert.equal(c.autoCompactionRetention, '0');
    assert.deepEqual(c.autoCompaction, { mode: 'periodic', retentionMs: 0 });
    assert.equal(c.logger, 'zap');
    assert.deepEqual(c.logOutputs, ['default']);
    assert.equal(c.logLevel, 'info');
    assert.equal(c.metrics, 'basic');
    assert.equal(c.enableV2, false);
    assert.equal(c.clientTls.certFile, '');
    assert.equal(c.peerTls.clientCertAuth, false);
    assert.equal(c.explicitlySet.size, 0);
  });

  it('warns that the data directory was defaulted, as etcd does', () => {
    assert.ok(run([]).warnings.includes('no data-dir provided, using default data-dir ./default.etcd'));
    assert.ok(!run(['--data-dir', '/d']).warnings.some((w) => w.includes('data-dir')));
  });

  it('derive the data, WAL directory and initial cluster from --name', () => {
    const c = ok(['--name', 'n1', '--initial-advertise-peer-urls', 'http://127.0.0.1:2380,http://127.0.0.1:2480']);
    assert.equal(c.dataDir, 'n1.etcd');
    assert.equal(c.walDir, 'n1.etcd/member/wal');
    assert.equal(c.initialClusterRaw, 'n1=http://127.0.0.1:2380,n1=http://127.0.0.1:2480');
    assert.deepEqual(c.initialCluster.get('n1')!.map((u) => u.host), ['127.0.0.1:2380', '127.0.0.1:2480']);
  });

  it('put the WAL under the given data directory', () => {
    assert.equal(ok(['--data-dir', '/var/lib/etcd']).walDir, '/var/lib/etcd/member/wal');
    const c = ok(['--data-dir', '/var/lib/etcd', '--wal-dir', '/wal']);
    assert.equal(c.walDir, '/wal');
    assert.equal(c.dedicatedWalDir, true);
  });

  it('parse --initial-cluster into a name → URLs map', () => {
    const c = ok([
      '--name=b',
      '--listen-peer-urls=http://127.0.0.2:2380',
      '--initial-advertise-peer-urls=http://127.0.0.2:2380',
      '--initial-cluster=a=http://127.0.0.1:2380,b=http://127.0.0.2:2380,c=https://127.0.0.3:2380',
    ]);
    assert.deepEqual([...c.initialCluster.keys()], ['a', 'b', 'c']);
    assert.equal(c.initialCluster.get('c')![0]!.protocol, 'https:');
  });

  it('replace a snapshot count of 0 by the default, as etcd does', () => {
    assert.equal(ok(['--snapshot-count', '0']).snapshotCount, 100000);
  });
});

describe('auto compaction retention', () => {
  it('reads a bare integer as hours in periodic mode', () => {
    assert.deepEqual(parseRetention('periodic', '1'), { ok: true, value: { mode: 'periodic', retentionMs: 3_600_000 } });
    assert.deepEqual(ok(['--auto-compaction-retention', '72']).autoCompaction, { mode: 'periodic', retentionMs: 72 * 3_600_000 });
  });

  it('reads durations in periodic mode', () => {
    assert.deepEqual(ok(['--auto-compaction-retention', '5m']).autoCompaction, { mode: 'periodic', retentionMs: 300_000 });
    assert.deepEqual(ok(['--auto-compaction-retention', '1.5h']).autoCompaction, { mode: 'periodic', retentionMs: 5_400_000 });
    assert.deepEqual(ok(['--auto-compaction-retention', '250ms']).autoCompaction, { mode: 'periodic', retentionMs: 250 });
  });

  it('reads a revision count in revision mode', () => {
    const c = ok(['--auto-compaction-mode', 'revision', '--auto-compaction-retention', '1000']);
    assert.equal(c.autoCompactionRetention, '1000');
    assert.deepEqual(c.autoCompaction, { mode: 'revision', retentionRevisions: 1000 });
  });
});

describe('help', () => {
  it('lists every visible flag once, in etcd\'s sections', () => {
    const text = helpText();
    for (const f of FLAGS) {
      if (f.hidden || f.section === 'Usage') continue;
      assert.equal(text.split(`\n  --${f.name} `).length, 2, f.name);
    }
    const order = ['Member:', 'Clustering:', 'Security:', 'Auth:', 'Profiling and Monitoring:', 'Logging:', 'v2 Proxy', 'Experimental feature:', 'Unsafe feature:', 'TO BE DEPRECATED:'];
    const at = order.map((s) => text.indexOf(`\n${s}`));
    assert.ok(at.every((x) => x > 0));
    assert.deepEqual([...at].sort((a, b) => a - b), at);
  });

  it('starts with the usage and marks unsupported flags', () => {
    assert.ok(helpText().startsWith(usageText()));
    assert.match(helpText(), /--proxy 'off'\n {4}.*\[refused: tsetcd has no v2 proxy\]/);
    assert.match(helpText(), /--data-dir '\$\{name\}\.etcd'/);
  });
});

describe('flag table', () => {
  it('declares every flag of etcd 3.4', () => {
    // the flag names etcd 3.4.23 registers (etcdmain/config.go), ignored ones included
    const etcd34 = `config-file data-dir wal-dir listen-peer-urls listen-client-urls listen-metrics-urls max-snapshots max-wals name
      snapshot-count heartbeat-interval election-timeout initial-election-tick-advance quota-backend-bytes backend-batch-interval
      backend-batch-limit max-txn-ops max-request-bytes grpc-keepalive-min-time grpc-keepalive-interval grpc-keepalive-timeout
      max-concurrent-streams initial-advertise-peer-urls advertise-client-urls discovery discovery-fallback discovery-proxy
      discovery-srv discovery-srv-name initial-cluster initial-cluster-token initial-cluster-state strict-reconfig-check enable-v2
      pre-vote proxy proxy-failure-wait proxy-refresh-interval proxy-dial-timeout proxy-write-timeout proxy-read-timeout cert-file
      key-file client-cert-auth client-crl-file client-cert-allowed-hostname trusted-ca-file auto-tls peer-cert-file peer-key-file
      peer-client-cert-auth peer-trusted-ca-file peer-auto-tls peer-crl-file peer-cert-allowed-cn peer-cert-allowed-hostname
      cipher-suites experimental-peer-skip-client-san-verification cors host-whitelist logger log-output log-outputs debug
      log-level log-package-levels version auto-compaction-retention auto-compaction-mode enable-pprof metrics auth-token
      bcrypt-cost auth-token-ttl enable-grpc-gateway experimental-initial-corrupt-check experimental-corrupt-check-time
      experimental-enable-v2v3 experimental-backend-bbolt-freelist-type experimental-enable-lease-checkpoint
      experimental-enable-lease-checkpoint-persist experimental-compaction-batch-limit experimental-watch-progress-notify-interval
      experimental-warning-apply-duration unsafe-no-fsync force-new-cluster cluster-active-size cluster-remove-delay
      cluster-sync-interval config force max-result-buffer max-retry-attempts peer-heartbeat-interval peer-election-timeout
      retry-interval snapshot v vv test.coverprofile test.outputdir`.split(/\s+/);
    const declared = new Set(FLAGS.map((f) => f.name));
    for (const name of etcd34) assert.ok(declared.has(name), name);
    const extra = FLAGS.filter((f) => !etcd34.includes(f.name));
    assert.ok(extra.every((f) => f.since === '3.5' || f.since === 'tsetcd'), extra.filter((f) => f.since === undefined).map((f) => f.name).join());
    assert.equal(declared.size, FLAGS.length);
  });

  it('maps the TLS flags to etcd\'s nested YAML keys', () => {
    const key = (n: string) => yamlKeyOf(FLAGS.find((f) => f.name === n)!);
    assert.equal(key('cert-file'), 'client-transport-security.cert-file');
    assert.equal(key('trusted-ca-file'), 'client-transport-security.trusted-ca-file');
    assert.equal(key('auto-tls'), 'client-transport-security.auto-tls');
    assert.equal(key('peer-client-cert-auth'), 'peer-transport-security.client-cert-auth');
    assert.equal(key('peer-key-file'), 'peer-transport-security.key-file');
    assert.equal(key('client-crl-file'), null);
    assert.equal(key('name'), 'name');
  });
});
