// ETCD_* variables: mapping, precedence and etcd 3.4.23's warnings and fatal
// errors (expected strings taken from the real binary's output).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { envName, FLAGS } from '../../src/config/index.js';
import { fails, ok, run } from './helpers.js';

describe('ETCD_* environment', () => {
  it('maps flag names to upper case with underscores', () => {
    assert.equal(envName('name'), 'ETCD_NAME');
    assert.equal(envName('initial-advertise-peer-urls'), 'ETCD_INITIAL_ADVERTISE_PEER_URLS');
    assert.equal(envName('experimental-enable-v2v3'), 'ETCD_EXPERIMENTAL_ENABLE_V2V3');
  });

  it('fills flags not given on the command line', () => {
    const c = ok([], {
      ETCD_NAME: 'n1',
      ETCD_DATA_DIR: '/var/lib/etcd',
      ETCD_HEARTBEAT_INTERVAL: '200',
      ETCD_ELECTION_TIMEOUT: '2000',
      ETCD_LISTEN_CLIENT_URLS: 'http://127.0.0.1:2379',
      ETCD_ADVERTISE_CLIENT_URLS: 'http://127.0.0.1:2379',
      ETCD_DEBUG: '1',
    });
    assert.equal(c.name, 'n1');
    assert.equal(c.dataDir, '/var/lib/etcd');
    assert.equal(c.heartbeatIntervalMs, 200);
    assert.equal(c.electionTimeoutMs, 2000);
    assert.equal(c.debug, true);
    assert.ok(c.explicitlySet.has('name'));
  });

  it('reports each used variable as a notice', () => {
    const r = run([], { ETCD_NAME: 'n1' });
    assert.ok(r.notices.includes('recognized and used environment variable ETCD_NAME=n1'));
  });

  it('makes a variable shadowed by a command-line flag fatal (even when empty)', () => {
    const expected = {
      message:
        'conflicting environment variable "ETCD_NAME" is shadowed by corresponding command-line flag (either unset environment variable or disable flag)',
      exitCode: 1,
    };
    assert.deepEqual(fails(['--name', 'y'], { ETCD_NAME: 'x' }), expected);
    assert.deepEqual(fails(['--name', 'y'], { ETCD_NAME: '' }), expected);
  });

  it('applies the shadowing rule to flags kept for old scripts too', () => {
    const e = fails(['-v'], { ETCD_V: '1' });
    assert.match(e.message, /^conflicting environment variable "ETCD_V" is shadowed/);
  });

  it('warns about unrecognised ETCD_ variables and ignores them', () => {
    const r = run([], { ETCD_BOGUS: '1', ETCD_DEBUGX: '2', ETCDCTL_API: '3', PATH: '/bin' });
    assert.equal(r.error, undefined);
    assert.deepEqual(
      r.warnings.filter((w) => w.startsWith('unrecognized')),
      ['unrecognized environment variable ETCD_BOGUS=1', 'unrecognized environment variable ETCD_DEBUGX=2'],
    );
  });

  it('treats an empty variable as unset, and then as unrecognised', () => {
    const r = run([], { ETCD_HEARTBEAT_INTERVAL: '' });
    assert.equal(r.config?.heartbeatIntervalMs, 100);
    assert.ok(r.warnings.includes('unrecognized environment variable ETCD_HEARTBEAT_INTERVAL='));
  });

  it('reports a value that does not parse, naming the variable (exit 1)', () => {
    assert.deepEqual(fails([], { ETCD_HEARTBEAT_INTERVAL: 'x' }), {
      message: 'invalid value "x" for ETCD_HEARTBEAT_INTERVAL: parse error',
      exitCode: 1,
    });
  });

  it('keeps the error of the last flag in name order when several fail', () => {
    const e = fails([], { ETCD_HEARTBEAT_INTERVAL: 'y', ETCD_ELECTION_TIMEOUT: 'x' });
    assert.equal(e.message, 'invalid value "y" for ETCD_HEARTBEAT_INTERVAL: parse error');
  });

  it('lets the shadowing error win over a bad value', () => {
    const e = fails(['-v'], { ETCD_V: '1', ETCD_HEARTBEAT_INTERVAL: 'y' });
    assert.match(e.message, /^conflicting environment variable "ETCD_V"/);
  });

  it('counts a URL flag set from the environment as set', () => {
    // like etcd: ETCD_LISTEN_CLIENT_URLS alone drops the default advertise URL
    const e = fails([], { ETCD_LISTEN_CLIENT_URLS: 'http://127.0.0.1:23799' });
    assert.equal(e.message, '--advertise-client-urls is required when --listen-client-urls is set explicitly');
  });

  it('refuses unsupported flags given through the environment', () => {
    assert.equal(fails([], { ETCD_PROXY: 'on' }).message, 'tsetcd: --proxy is a v2 proxy setting, and the v2 proxy is not supported (etcd 3.6 removed it too): run `tsetcd grpc-proxy start` or `tsetcd gateway start` in front of the cluster, or point clients at the members');
  });

  it('ignores ETCD_VERSION with a warning instead of printing the version', () => {
    const r = run([], { ETCD_VERSION: '3.4.23' });
    assert.equal(r.action, undefined);
    assert.ok(r.config);
    assert.ok(r.warnings.includes('cannot set special environment variable ETCD_VERSION=3.4.23'));
  });

  it('gives every declared flag a distinct variable', () => {
    const names = FLAGS.map((f) => envName(f.name));
    assert.equal(new Set(names).size, names.length);
  });
});
