// deploy/systemd: the unit passes systemd's own checks, asks for the READY=1 tsetcd sends,
// and its example environment file is settings tsetcd accepts, every one of them.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/index.js';
import { tempDir } from '../helpers/tmp.js';
import { REPO_ROOT, TSETCD_BIN, haveBinary } from '../e2e/harness.js';

const UNIT = path.join(REPO_ROOT, 'deploy/systemd/tsetcd.service');
const ENV_EXAMPLE = path.join(REPO_ROOT, 'deploy/systemd/tsetcd.env.example');

/** KEY=VALUE lines of a systemd EnvironmentFile (no quoting is used in ours) */
function readEnvFile(file: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const t = line.trim();
    if (t === '' || t.startsWith('#')) continue;
    const eq = t.indexOf('=');
    assert.ok(eq > 0, `not KEY=VALUE: ${t}`);
    out[t.slice(0, eq)] = t.slice(eq + 1);
  }
  return out;
}

test('systemd-analyze verify finds nothing wrong with the unit', (t) => {
  assert.ok(haveBinary('systemd-analyze'), 'systemd-analyze is needed (apt-get install -y systemd)');
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  // the unit names the installed path; point it at this checkout's binary for the check
  const copy = path.join(dir, 'tsetcd.service');
  fs.writeFileSync(copy, fs.readFileSync(UNIT, 'utf8').replaceAll('/usr/local/bin/tsetcd', TSETCD_BIN));
  const r = spawnSync('systemd-analyze', ['verify', copy], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal((r.stdout + r.stderr).trim(), '', 'no warnings');
});

test('the unit waits for READY=1 from the member and accepts it from systemd-notify', () => {
  const unit = fs.readFileSync(UNIT, 'utf8');
  assert.match(unit, /^Type=notify$/m);
  assert.match(unit, /^NotifyAccess=all$/m);
  assert.match(unit, /^ExecStart=\/usr\/local\/bin\/tsetcd \$DAEMON_ARGS$/m);
  assert.match(unit, /^EnvironmentFile=-\/etc\/default\/tsetcd$/m);
});

test('every variable of the example environment file is a setting tsetcd takes', () => {
  const env = readEnvFile(ENV_EXAMPLE);
  const { DAEMON_ARGS: daemonArgs = '', ...etcdVars } = env;
  assert.ok(Object.keys(etcdVars).every((k) => k.startsWith('ETCD_')), Object.keys(etcdVars).join(' '));
  const r = parseConfig(daemonArgs.split(' ').filter(Boolean), etcdVars);
  assert.equal(r.error, undefined, r.error?.message);
  assert.deepEqual(r.warnings, [], 'no unrecognized or ignored variables');
  const c = r.config!;
  assert.equal(c.name, 'etcd1');
  assert.equal(c.initialClusterState, 'new');
  assert.equal(c.clientTls.clientCertAuth, true);
  assert.equal(c.peerTls.clientCertAuth, true);
  assert.deepEqual([...c.initialCluster.keys()], ['etcd1', 'etcd2', 'etcd3']);
});
