// --config-file: etcd's YAML keys, nested TLS objects, precedence over flags
// and environment, and etcd 3.4.23's decode errors (expected strings taken
// from the real binary's output).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/index.js';
import { fromYaml } from './helpers.js';

const BASE = `name: n1
data-dir: /tmp/etcdx/d3
listen-client-urls: http://127.0.0.1:23792
advertise-client-urls: http://127.0.0.1:23792
listen-peer-urls: http://127.0.0.1:23802
initial-advertise-peer-urls: http://127.0.0.1:23802
initial-cluster: n1=http://127.0.0.1:23802
`;

function good(yaml: string) {
  const r = fromYaml(yaml);
  assert.equal(r.error, undefined, r.error?.message);
  return r.config!;
}

function bad(yaml: string): string {
  const r = fromYaml(yaml);
  assert.ok(r.error, 'expected an error');
  assert.equal(r.error.exitCode, 1);
  return r.error.message;
}

describe('config file', () => {
  it('reads etcd keys', () => {
    const c = good(
      BASE +
        `heartbeat-interval: 200
election-timeout: 2000
snapshot-count: 5000
max-snapshots: 3
max-wals: 4
quota-backend-bytes: 8589934592
max-txn-ops: 256
max-request-bytes: 2097152
initial-cluster-state: existing
initial-cluster-token: tok
auto-compaction-mode: revision
auto-compaction-retention: "1000"
logger: zap
log-level: warn
log-outputs: [stderr]
metrics: extensive
listen-metrics-urls: http://127.0.0.1:2381
wal-dir: /tmp/wal
enable-v2: false
`,
    );
    assert.equal(c.source, 'config-file');
    assert.equal(c.configFile, '/etc/etcd.yml');
    assert.equal(c.name, 'n1');
    assert.equal(c.heartbeatIntervalMs, 200);
    assert.equal(c.electionTimeoutMs, 2000);
    assert.equal(c.snapshotCount, 5000);
    assert.equal(c.maxSnapshots, 3);
    assert.equal(c.maxWals, 4);
    assert.equal(c.quotaBackendBytes, 8589934592);
    assert.equal(c.maxTxnOps, 256);
    assert.equal(c.maxRequestBytes, 2097152);
    assert.equal(c.initialClusterState, 'existing');
    assert.equal(c.initialClusterToken, 'tok');
    assert.deepEqual(c.autoCompaction, { mode: 'revision', retentionRevisions: 1000 });
    assert.equal(c.logLevel, 'warn');
    assert.deepEqual(c.logOutputs, ['stderr']);
    assert.equal(c.metrics, 'extensive');
    assert.equal(c.listenMetricsUrls[0]!.href, 'http://127.0.0.1:2381/');
    assert.equal(c.walDir, '/tmp/wal');
    assert.equal(c.dedicatedWalDir, true);
  });

  it('ignores the command line and the environment entirely', () => {
    const r = fromYaml(BASE, ['--name', 'other', '--client-cert-auth'], { ETCD_NAME: 'x', ETCD_BOGUS: '1' });
    assert.equal(r.error, undefined, r.error?.message);
    assert.equal(r.config!.name, 'n1');
    assert.ok(!r.warnings.some((w) => w.includes('ETCD_')));
    assert.ok(r.warnings.includes('ignoring command-line flags because --config-file is set: --name, --client-cert-auth'));
  });

  it('takes the file from ETCD_CONFIG_FILE when --config-file is absent', () => {
    let read = '';
    const r = parseConfig([], { ETCD_CONFIG_FILE: '/etc/e.yml', ETCD_NAME: 'x' }, { readFile: (p) => ((read = p), BASE) });
    assert.equal(read, '/etc/e.yml');
    assert.equal(r.config?.name, 'n1');
  });

  it('prefers --config-file over ETCD_CONFIG_FILE without calling it a conflict', () => {
    let read = '';
    const r = parseConfig(['--config-file', '/a.yml'], { ETCD_CONFIG_FILE: '/b.yml' }, { readFile: (p) => ((read = p), BASE) });
    assert.equal(r.error, undefined);
    assert.equal(read, '/a.yml');
  });

  it('still honours --version and flag syntax errors', () => {
    assert.equal(fromYaml(BASE, ['--version']).action, 'version');
    assert.equal(fromYaml(BASE, ['--bogus']).error?.exitCode, 2);
  });

  it('uses defaults for an empty file and for null values', () => {
    const c = good('');
    assert.equal(c.name, 'default');
    assert.equal(c.dataDir, 'default.etcd');
    const d = good('name:\nheartbeat-interval: ~\n');
    assert.equal(d.name, 'default');
    assert.equal(d.heartbeatIntervalMs, 100);
  });

  it('ignores unknown keys, as etcd does', () => {
    assert.equal(good(BASE + 'bogus-key: 1\n').name, 'n1');
  });

  it('matches keys case-insensitively when there is no exact match', () => {
    assert.equal(good(BASE + 'Heartbeat-Interval: 10\nElection-Timeout: 100\n').heartbeatIntervalMs, 10);
  });

  it('reads YAML 1.1 booleans, as etcd does', () => {
    const r = fromYaml(BASE + 'enable-v2: no\ndebug: yes\n');
    assert.equal(r.config?.debug, true);
  });

  it('keeps a listen URL without an advertise URL valid (no flag-mode rule)', () => {
    const c = good('listen-client-urls: http://127.0.0.1:23796\n');
    assert.equal(c.advertiseClientUrls[0]!.href, 'http://localhost:2379/');
  });

  it('reads the nested transport security objects', () => {
    const r = fromYaml(
      BASE +
        `client-transport-security:
  cert-file: /c.pem
  key-file: /c-key.pem
  client-cert-auth: true
  trusted-ca-file: /ca.pem
  auto-tls: false
peer-transport-security:
  cert-file: /p.pem
  key-file: /p-key.pem
  client-cert-auth: true
  trusted-ca-file: /ca.pem
  auto-tls: true
`,
    );
    assert.equal(r.error, undefined);
    assert.deepEqual(
      [r.config?.peerTls.certFile, r.config?.peerTls.keyFile, r.config?.peerTls.clientCertAuth, r.config?.peerTls.trustedCaFile, r.config?.peerTls.autoTls],
      ['/p.pem', '/p-key.pem', true, '/ca.pem', true],
    );
    const client = good(BASE + 'client-transport-security:\n  cert-file: /c.pem\n  key-file: /c-key.pem\n  client-cert-auth: true\n  trusted-ca-file: /ca.pem\n');
    assert.deepEqual(
      [client.clientTls.certFile, client.clientTls.keyFile, client.clientTls.clientCertAuth, client.clientTls.trustedCaFile],
      ['/c.pem', '/c-key.pem', true, '/ca.pem'],
    );
  });

  it('accepts transport security objects that only restate defaults', () => {
    const c = good(BASE + 'client-transport-security:\n  cert-file: ""\n  auto-tls: false\n');
    assert.equal(c.clientTls.certFile, '');
    assert.equal(c.clientTls.autoTls, false);
  });

  describe('decode errors, with etcd 3.4.23 messages', () => {
    it('refuses a number where etcd wants a string', () => {
      assert.equal(
        bad(BASE + 'auto-compaction-retention: 1\n'),
        'error unmarshaling JSON: while decoding JSON: json: cannot unmarshal number into Go struct field configYAML.auto-compaction-retention of type string',
      );
      assert.equal(
        bad(BASE + 'name: 123\n'),
        'error unmarshaling JSON: while decoding JSON: json: cannot unmarshal number into Go struct field configYAML.name of type string',
      );
    });

    it('refuses a string where etcd wants a number or bool', () => {
      assert.equal(
        bad(BASE + 'heartbeat-interval: abc\n'),
        'error unmarshaling JSON: while decoding JSON: json: cannot unmarshal string into Go struct field configYAML.heartbeat-interval of type uint',
      );
      assert.equal(
        bad('debug: "true"\nname: 5\n'),
        'error unmarshaling JSON: while decoding JSON: json: cannot unmarshal string into Go struct field configYAML.debug of type bool',
      );
    });

    it('refuses negative and fractional numbers for unsigned fields', () => {
      assert.equal(
        bad('heartbeat-interval: -5\n'),
        'error unmarshaling JSON: while decoding JSON: json: cannot unmarshal number -5 into Go struct field configYAML.heartbeat-interval of type uint',
      );
      assert.equal(
        bad('heartbeat-interval: 1.5\n'),
        'error unmarshaling JSON: while decoding JSON: json: cannot unmarshal number 1.5 into Go struct field configYAML.heartbeat-interval of type uint',
      );
    });

    it('wants durations as integer nanoseconds', () => {
      assert.equal(
        bad('backend-batch-interval: 10ms\n'),
        'error unmarshaling JSON: while decoding JSON: json: cannot unmarshal string into Go struct field configYAML.backend-batch-interval of type time.Duration',
      );
    });

    it('wants lists where etcd has slices', () => {
      assert.equal(
        bad('log-outputs: stderr\n'),
        'error unmarshaling JSON: while decoding JSON: json: cannot unmarshal string into Go struct field configYAML.log-outputs of type []string',
      );
      assert.equal(
        bad('log-outputs: [1]\n'),
        'error unmarshaling JSON: while decoding JSON: json: cannot unmarshal number into Go struct field configYAML.log-outputs of type string',
      );
    });

    it('names the nested field and its struct', () => {
      assert.equal(
        bad('client-transport-security: 5\n'),
        'error unmarshaling JSON: while decoding JSON: json: cannot unmarshal number into Go struct field configYAML.client-transport-security of type embed.securityConfig',
      );
      assert.equal(
        bad('client-transport-security:\n  cert-file: 5\n'),
        'error unmarshaling JSON: while decoding JSON: json: cannot unmarshal number into Go struct field securityConfig.client-transport-security.cert-file of type string',
      );
    });

    it('names the proxy struct for proxy keys', () => {
      assert.equal(
        bad('proxy-failure-wait: x\n'),
        'error unmarshaling JSON: while decoding JSON: json: cannot unmarshal string into Go struct field configProxy.proxy-failure-wait of type uint',
      );
    });

    it('refuses a document that is not a mapping', () => {
      assert.equal(
        bad('- 1\n- 2\n'),
        'error unmarshaling JSON: while decoding JSON: json: cannot unmarshal array into Go value of type embed.configYAML',
      );
      assert.equal(
        bad('abc\n'),
        'error unmarshaling JSON: while decoding JSON: json: cannot unmarshal string into Go value of type embed.configYAML',
      );
    });

    it('reports YAML syntax errors with a line number', () => {
      assert.match(bad('a: [\n'), /^error converting YAML to JSON: yaml: line \d+: /);
    });
  });

  describe('URL keys, with etcd 3.4.23 messages', () => {
    it('names the key that failed', () => {
      assert.equal(
        bad('listen-client-urls: 127.0.0.1:1\n'),
        'unexpected error setting up listen-client-urls: parse "127.0.0.1:1": first path segment in URL cannot contain colon',
      );
    });

    it('keeps etcd\'s label for advertise-client-urls', () => {
      assert.equal(
        bad('advertise-client-urls: http://127.0.0.1\n'),
        'unexpected error setting up advertise-peer-urls: URL address does not have the form "host:port": http://127.0.0.1',
      );
    });
  });

  describe('validation in file mode, with etcd 3.4.23 messages', () => {
    it('checks the cluster state text', () => {
      assert.equal(bad(BASE + 'initial-cluster-state: foo\n'), 'unexpected clusterState "foo"');
    });

    it('checks election timeout against heartbeat', () => {
      assert.equal(
        bad(BASE + 'heartbeat-interval: 500\n'),
        '--election-timeout[1000ms] should be at least as 5 times as --heartbeat-interval[500ms]',
      );
    });

    it('checks the retention text', () => {
      assert.equal(bad(BASE + 'auto-compaction-retention: abc\n'), 'error parsing CompactionRetention: time: invalid duration "abc"');
    });
  });

  describe('reading the file', () => {
    it('reports a missing file like Go', () => {
      const r = parseConfig(['--config-file', '/nonexist.yml'], {}, {
        readFile: () => {
          throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
        },
      });
      assert.deepEqual(r.error, { message: 'open /nonexist.yml: no such file or directory', exitCode: 1 });
    });

    it('reports a directory like Go', () => {
      const r = parseConfig(['--config-file', '/tmp'], {});
      assert.deepEqual(r.error, { message: 'read /tmp: is a directory', exitCode: 1 });
    });
  });
});
