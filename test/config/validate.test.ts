// Validation messages. Where etcd has the check, the expected string is the
// one etcd 3.4.23 printed after "error verifying flags, " or at start-up.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FLAGS } from '../../src/config/index.js';
import { fails, ok, run } from './helpers.js';

const LOCAL = [
  '--listen-peer-urls=http://127.0.0.1:23803',
  '--listen-client-urls=http://127.0.0.1:23793',
  '--advertise-client-urls=http://127.0.0.1:23793',
];

describe('unsupported flags', () => {
  it('refuses one by name', () => {
    assert.deepEqual(fails(['--proxy=readonly']), { message: 'tsetcd: --proxy is a v2 proxy setting, and the v2 proxy is not supported (etcd 3.6 removed it too): run `tsetcd grpc-proxy start` or `tsetcd gateway start` in front of the cluster, or point clients at the members', exitCode: 1 });
  });

  it('names every one that is set', () => {
    assert.equal(
      fails(['--proxy-refresh-interval=1000', '--proxy=on']).message,
      // listed in table (help) order
      'tsetcd: --proxy, --proxy-refresh-interval are v2 proxy settings, and the v2 proxy is not supported (etcd 3.6 removed it too): run `tsetcd grpc-proxy start` or `tsetcd gateway start` in front of the cluster, or point clients at the members',
    );
  });

  it('accepts them at their default value', () => {
    ok(['--client-cert-auth=false', '--strict-reconfig-check=true', '--discovery-fallback=proxy', '--proxy=off', '--auth-token=simple']);
  });

  it('accepts --enable-v2 with a warning that v2 is not served', () => {
    ok(['--enable-v2=false']);
    const r = run(['--enable-v2'], {}, { bootstrapChecks: false });
    assert.equal(r.error, undefined);
    assert.ok(r.warnings.some((w) => w.includes('serves only the v3 API')), r.warnings.join('\n'));
  });

  it('a compact hash check interval must be positive (etcd\'s rule)', () => {
    assert.equal(fails(['--experimental-compact-hash-check-time=0s']).message, '--experimental-compact-hash-check-time must be >0 (set to 0s)');
  });

  it('lease checkpoint persistence needs checkpoints (etcd\'s rule), and checkpoints alone warn', () => {
    assert.equal(
      fails(['--experimental-enable-lease-checkpoint-persist']).message,
      'setting experimental-enable-lease-checkpoint-persist requires experimental-enable-lease-checkpoint',
    );
    const r = run(['--experimental-enable-lease-checkpoint'], {}, { bootstrapChecks: false });
    assert.equal(r.error, undefined);
    assert.ok(r.warnings.includes('Detected that checkpointing is enabled without persistence. Consider enabling experimental-enable-lease-checkpoint-persist'));
  });

  it('accepts the flags kubeadm and etcd.conf.yml.sample set', () => {
    ok(['--enable-pprof', '--experimental-initial-corrupt-check=true', '--experimental-watch-progress-notify-interval=5s', '--experimental-corrupt-check-time=3m']);
  });

  it('declares exactly the supported set we implement', () => {
    const supported = FLAGS.filter((f) => f.supported && f.kind !== 'ignored').map((f) => f.name).sort();
    assert.deepEqual(supported, [
      'advertise-client-urls',
      'auth-token',
      'auth-token-ttl',
      'auto-compaction-mode',
      'auto-compaction-retention',
      'auto-tls',
      'backend-batch-interval',
      'backend-batch-limit',
      'backend-bbolt-freelist-type',
      'bcrypt-cost',
      'cert-file',
      'cipher-suites',
      'client-cert-allowed-hostname',
      'client-cert-auth',
      'client-cert-file',
      'client-crl-file',
      'client-key-file',
      'config-file',
      'cors',
      'data-dir',
      'debug',
      'discovery',
      'discovery-fallback',
      'discovery-proxy',
      'discovery-srv',
      'discovery-srv-name',
      'election-timeout',
      'enable-grpc-gateway',
      'enable-log-rotation',
      'enable-pprof',
      'enable-v2',
      'experimental-backend-bbolt-freelist-type',
      'experimental-bootstrap-defrag-threshold-megabytes',
      'experimental-compact-hash-check-enabled',
      'experimental-compact-hash-check-time',
      'experimental-compaction-batch-limit',
      'experimental-corrupt-check-time',
      'experimental-distributed-tracing-address',
      'experimental-distributed-tracing-instance-id',
      'experimental-distributed-tracing-sampling-rate',
      'experimental-distributed-tracing-service-name',
      'experimental-downgrade-check-time',
      'experimental-enable-distributed-tracing',
      'experimental-enable-lease-checkpoint',
      'experimental-enable-lease-checkpoint-persist',
      'experimental-enable-v2v3',
      'experimental-initial-corrupt-check',
      'experimental-lease-checkpoint-interval',
      'experimental-max-learners',
      'experimental-memory-mlock',
      'experimental-peer-skip-client-san-verification',
      'experimental-snapshot-catchup-entries',
      'experimental-stop-grpc-service-on-defrag',
      'experimental-txn-mode-write-with-shared-buffer',
      'experimental-warning-apply-duration',
      'experimental-watch-progress-notify-interval',
      'force-new-cluster',
      'grpc-keepalive-interval',
      'grpc-keepalive-min-time',
      'grpc-keepalive-timeout',
      'heartbeat-interval',
      'host-whitelist',
      'initial-advertise-peer-urls',
      'initial-cluster',
      'initial-cluster-state',
      'initial-cluster-token',
      'initial-election-tick-advance',
      'key-file',
      'listen-client-http-urls',
      'listen-client-urls',
      'listen-dashboard-urls',
      'listen-metrics-urls',
      'listen-peer-urls',
      'log-level',
      'log-output',
      'log-outputs',
      'log-package-levels',
      'log-rotation-config-json',
      'logger',
      'max-concurrent-streams',
      'max-request-bytes',
      'max-snapshots',
      'max-txn-ops',
      'max-wals',
      'metrics',
      'name',
      'peer-auto-tls',
      'peer-cert-allowed-cn',
      'peer-cert-allowed-hostname',
      'peer-cert-file',
      'peer-client-cert-auth',
      'peer-client-cert-file',
      'peer-client-key-file',
      'peer-crl-file',
      'peer-key-file',
      'peer-trusted-ca-file',
      'pre-vote',
      'quota-backend-bytes',
      'raft-read-timeout',
      'raft-write-timeout',
      'self-signed-cert-validity',
      'snapshot-count',
      'socket-reuse-address',
      'socket-reuse-port',
      'strict-reconfig-check',
      'tls-max-version',
      'tls-min-version',
      'trusted-ca-file',
      'unsafe-no-fsync',
      'v2-deprecation',
      'version',
      'wal-dir',
    ]);
  });
});

describe('etcd validation messages', () => {
  it('heartbeat and election timeout', () => {
    assert.equal(fails(['--heartbeat-interval', '0']).message, '--heartbeat-interval must be >0 (set to 0ms)');
    assert.equal(fails(['--election-timeout', '0']).message, '--election-timeout must be >0 (set to 0ms)');
    assert.equal(
      fails(['--heartbeat-interval', '500']).message,
      '--election-timeout[1000ms] should be at least as 5 times as --heartbeat-interval[500ms]',
    );
    assert.equal(
      fails(['--election-timeout', '60000', '--heartbeat-interval', '100']).message,
      '--election-timeout[60000ms] is too long, and should be set less than 50000ms',
    );
    ok(['--heartbeat-interval', '200', '--election-timeout', '1000']);
  });

  it('advertise client URLs are required once listen client URLs are set', () => {
    const msg = '--advertise-client-urls is required when --listen-client-urls is set explicitly';
    assert.equal(fails(['--listen-client-urls', 'http://127.0.0.1:23794']).message, msg);
    // an empty value still counts as set, and keeps the default listener
    assert.equal(fails(['--listen-client-urls', '']).message, msg);
    ok(['--listen-client-urls', 'http://127.0.0.1:23794', '--advertise-client-urls', 'http://127.0.0.1:23794']);
  });

  it('listen URLs must name an IP (or localhost)', () => {
    assert.equal(
      fails(['--listen-client-urls', 'http://example.com:23794', '--advertise-client-urls', 'http://127.0.0.1:23794']).message,
      'expected IP in URL for binding (http://example.com:23794)',
    );
    assert.equal(
      fails(['--listen-peer-urls', 'http://example.com:2380']).message,
      'expected IP in URL for binding (http://example.com:2380)',
    );
    assert.equal(fails(['--listen-metrics-urls', 'http://m.example:2381']).message, 'expected IP in URL for binding (http://m.example:2381)');
  });

  it('advertised URLs need a host', () => {
    assert.equal(
      fails(['--advertise-client-urls', 'http://:2379']).message,
      '--advertise-client-urls "http://:2379" must be "host:port" (unexpected empty host (http://:2379))',
    );
    assert.equal(
      fails(['--initial-advertise-peer-urls', 'http://:2379']).message,
      '--initial-advertise-peer-urls "http://:2379" must be "host:port" (unexpected empty host (http://:2379))',
    );
  });

  it('auto compaction mode', () => {
    assert.equal(fails(['--auto-compaction-mode', 'foo']).message, 'unknown auto-compaction-mode "foo"');
  });

  it('auto compaction retention', () => {
    assert.equal(fails(['--auto-compaction-retention', 'abc']).message, 'error parsing CompactionRetention: time: invalid duration "abc"');
    assert.equal(fails(['--auto-compaction-retention', '-1']).message, 'error parsing CompactionRetention: time: missing unit in duration "-1"');
    assert.equal(fails(['--auto-compaction-retention', '5x']).message, 'error parsing CompactionRetention: time: unknown unit "x" in duration "5x"');
    // etcd would read these as nonsense; we refuse them
    assert.equal(
      fails(['--auto-compaction-mode', 'revision', '--auto-compaction-retention', '1h']).message,
      'error parsing CompactionRetention: revision mode needs a whole number of revisions, got "1h"',
    );
    assert.equal(
      fails(['--auto-compaction-retention', '-5m']).message,
      'error parsing CompactionRetention: retention must not be negative, got "-5m"',
    );
  });

  it('logger and log outputs', () => {
    assert.equal(fails(['--logger', 'foo']).message, 'unknown logger option "foo"');
    assert.equal(
      fails(['--logger', 'capnslog', '--log-outputs', 'stderr,stdout']).message,
      `--logger=capnslog supports only 1 value in '--log-outputs', got ["stderr" "stdout"]`,
    );
    assert.equal(
      fails(['--logger', 'capnslog', '--log-outputs', '/tmp/x.log']).message,
      'unknown log-output "/tmp/x.log" (only supports "default", "stderr", "stdout")',
    );
    assert.equal(fails(['--logger', 'zap', '--log-outputs', 'default,stderr']).message, 'multi logoutput for "default" is not supported yet');
    assert.equal(
      fails(['--log-outputs', 'systemd/journal,stderr']).message,
      `running with systemd/journal but other '--log-outputs' values (["stderr" "systemd/journal"]) are configured with 'default'; override 'default' value with something else`,
    );
    ok(['--log-outputs', 'stderr,/tmp/etcd.log']);
  });

  it('log level (etcd 3.4 panics with this text)', () => {
    assert.equal(fails(['--log-level', 'bad']).message, 'unknown level "bad"');
    assert.equal(ok(['--log-level', 'warn']).logLevel, 'warn');
  });

  it('metrics level', () => {
    assert.equal(fails(['--metrics', 'full']).message, `--metrics must be 'basic' or 'extensive' (got "full")`);
    assert.equal(ok(['--metrics', 'extensive']).metrics, 'extensive');
  });
});

describe('bootstrap checks, with etcd 3.4.23 messages', () => {
  const member = (...extra: string[]) => [...LOCAL, '--name', 'n1', '--initial-advertise-peer-urls', 'http://127.0.0.1:23803', ...extra];

  it('the member must be in --initial-cluster', () => {
    assert.equal(
      fails(member('--initial-cluster', 'n2=http://127.0.0.1:23803')).message,
      'couldn\'t find local name "n1" in the initial cluster configuration',
    );
    assert.equal(fails(member('--initial-cluster', '')).message, 'couldn\'t find local name "n1" in the initial cluster configuration');
  });

  it('the member entry must match --initial-advertise-peer-urls', () => {
    assert.equal(
      fails(member('--initial-cluster', 'n1=http://127.0.0.1:23809')).message,
      '--initial-cluster has n1=http://127.0.0.1:23809 but missing from --initial-advertise-peer-urls=http://127.0.0.1:23803 (resolved urls: "http://127.0.0.1:23803" != "http://127.0.0.1:23809")',
    );
    const two = [...LOCAL, '--name', 'n1', '--initial-advertise-peer-urls', 'http://127.0.0.1:23803,http://127.0.0.1:23804'];
    assert.equal(
      fails([...two, '--initial-cluster', 'n1=http://127.0.0.1:23803']).message,
      '--initial-advertise-peer-urls has http://127.0.0.1:23804 but missing from --initial-cluster=n1=http://127.0.0.1:23803,n1=http://127.0.0.1:23804',
    );
  });

  it('no URL may appear twice', () => {
    assert.equal(
      fails(member('--initial-cluster', 'n1=http://127.0.0.1:23803,n2=http://127.0.0.1:23803')).message,
      'initial cluster n1=http://127.0.0.1:23803,n2=http://127.0.0.1:23803 has duplicate url',
    );
  });

  it('every --initial-cluster URL must parse', () => {
    assert.equal(
      fails(member('--initial-cluster', 'n1=127.0.0.1:23803')).message,
      'error setting up initial cluster: parse "127.0.0.1:23803": first path segment in URL cannot contain colon',
    );
  });

  it('skips the advertise match for a member joining an existing cluster', () => {
    ok(member('--initial-cluster', 'n1=http://127.0.0.1:23809,n2=http://127.0.0.1:23810', '--initial-cluster-state', 'existing'));
  });

  it('can be left to the server, which knows whether a WAL exists', () => {
    const r = run(member('--initial-cluster', 'n2=http://127.0.0.1:23803'), {}, { bootstrapChecks: false });
    assert.equal(r.error, undefined);
  });

  it('warns instead of failing when host names would need DNS to compare', () => {
    const r = run([
      ...LOCAL,
      '--name=n1',
      '--initial-advertise-peer-urls=http://127.0.0.1:2380',
      '--initial-cluster=n1=http://localhost:2380',
    ]);
    assert.equal(r.error, undefined);
    assert.ok(r.warnings.some((w) => w.includes('must resolve to the same addresses')));
  });
});

describe('warnings etcd logs', () => {
  it('large request and quota sizes', () => {
    const r = run(['--max-request-bytes', '20000000', '--quota-backend-bytes', '9000000000']);
    assert.equal(r.error, undefined);
    assert.ok(r.warnings.includes('MaxRequestBytes 20000000 exceeds maximum recommended size 10485760'));
    assert.ok(r.warnings.includes('backend quota 9000000000 exceeds maximum recommended quota 8589934592'));
  });

  it('deprecated logging flags', () => {
    const r = run(['--debug', '--logger=capnslog']);
    assert.ok(r.warnings.includes(`Deprecated '--debug' flag is set to true (use '--log-level=debug' instead`));
    assert.ok(r.warnings.includes(`Deprecated '--debug' flag is set to true with inconsistent '--log-level=info' flag`));
    assert.ok(r.warnings.includes(`Deprecated '--logger=capnslog' flag is set; use '--logger=zap' flag instead`));
    assert.equal(r.config?.logLevel, 'debug');
  });
});

describe('flags with nothing to act on in Node.js', () => {
  it('warn at start only when set to something other than their default', () => {
    const quiet = run(['--socket-reuse-address=false'], {}, { bootstrapChecks: false });
    assert.ok(!quiet.warnings.some((w) => w.includes('no effect')), quiet.warnings.join('\n'));
    const set = run(['--socket-reuse-address', '--log-package-levels=etcdserver=DEBUG'], {}, { bootstrapChecks: false });
    assert.ok(set.warnings.includes('--socket-reuse-address has no effect in tsetcd: Node.js always sets SO_REUSEADDR on listening sockets'), set.warnings.join('\n'));
    assert.ok(set.warnings.some((w) => w.startsWith('--log-package-levels has no effect in tsetcd')));
  });

  it("take 3.4's --log-output as --log-outputs, with a deprecation warning", () => {
    const r = run(['--log-output=stdout'], {}, { bootstrapChecks: false });
    assert.deepEqual(r.config?.logOutputs, ['stdout']);
    assert.ok(r.warnings.some((w) => w.includes("'--log-output' flag is deprecated")));
  });

  it('refuse --peer-cert-allowed-cn with --peer-cert-allowed-hostname, as etcd', () => {
    assert.equal(
      fails(['--peer-cert-allowed-cn=a', '--peer-cert-allowed-hostname=b.example']).message,
      'AllowedCN and AllowedHostname are mutually exclusive (cn="a", hostname="b.example")',
    );
  });
});
