// bin/tsetcd refuses what it cannot honour before it touches any data: the v2 proxy's
// flags by name, bad values with the flag and the reason, unknown flags as etcd.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../helpers/tmp.js';
import { TSETCD_BIN } from './harness.js';

function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(TSETCD_BIN, args, { encoding: 'utf8', env: { PATH: process.env['PATH'], ...env }, timeout: 20000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('a v2 proxy flag is refused by name, with what to run instead, and no data dir is created', () => {
  const { dir, cleanup } = tempDir();
  try {
    const dataDir = path.join(dir, 'd');
    const r = run([`--data-dir=${dataDir}`, '--proxy=on']);
    assert.notEqual(r.code, 0);
    assert.match(r.err, /--proxy is a v2 proxy setting/);
    assert.match(r.err, /not supported/);
    assert.match(r.err, /tsetcd grpc-proxy start/);
    assert.equal(fs.existsSync(dataDir), false);
  } finally {
    cleanup();
  }
});

test('a bad value names the flag and why, like etcd', () => {
  const { dir, cleanup } = tempDir();
  try {
    const dataDir = path.join(dir, 'd');
    const r = run([`--data-dir=${dataDir}`, '--heartbeat-interval=abc']);
    assert.equal(r.code, 2);
    assert.match(r.err, /invalid value "abc" for flag -heartbeat-interval/);
    const state = run([`--data-dir=${dataDir}`, '--initial-cluster-state=sideways']);
    assert.notEqual(state.code, 0);
    assert.match(state.err, /initial-cluster-state/);
    const timing = run([`--data-dir=${dataDir}`, '--heartbeat-interval=500', '--election-timeout=1000']);
    assert.notEqual(timing.code, 0);
    assert.match(timing.err, /election-timeout/);
    assert.equal(fs.existsSync(dataDir), false);
  } finally {
    cleanup();
  }
});

test('unknown flags and positional arguments are rejected as etcd rejects them', () => {
  const unknown = run(['--bogus']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.err, /flag provided but not defined: -bogus/);
  const positional = run(['foo']);
  assert.equal(positional.code, 1);
  assert.match(positional.err, /'foo' is not a valid flag/);
});

test('ETCD_* variables and a shadowing flag conflict as in etcd', () => {
  const { dir, cleanup } = tempDir();
  try {
    const r = run([`--data-dir=${path.join(dir, 'd')}`, '--name=a'], { ETCD_NAME: 'b' });
    assert.notEqual(r.code, 0);
    assert.match(r.err, /ETCD_NAME/);
  } finally {
    cleanup();
  }
});

test('--version and --help answer without starting a member', () => {
  const v = run(['--version']);
  assert.equal(v.code, 0);
  assert.match(v.out, /etcd API Version: 3\.\d+\.\d+/);
  const h = run(['--help']);
  assert.equal(h.code, 0);
  assert.match(h.out, /--listen-client-urls/);
});
