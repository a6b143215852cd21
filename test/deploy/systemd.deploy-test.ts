// Proves that `tsetcdutl deploy systemd` makes a working three-member mutual-TLS cluster
// with auth: each member's install.sh runs into a staging root of its own, the installed
// unit passes `systemd-analyze verify`, then each member's ExecStart line runs with its
// EnvironmentFile, in its own network namespace and IP (as the tutorials' hosts), with
// the installed files where the unit expects them. The real etcdctl writes through one
// member and reads through another with the client certificate and the root password;
// a killed member leaves the cluster serving and, started again, serves its data.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { Lab, labUnavailable, waitFor, type Proc } from './lab.js';
import { deployTool, etcdctlIn, REPO, hasCommand } from './helpers.js';

const skip = labUnavailable() ?? (hasCommand('etcdctl') ? undefined : 'etcdctl is not installed');

test('systemd: generated units verify, and their ExecStart lines run a TLS cluster with auth', { skip, timeout: 600_000 }, async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsetcd-deploy-systemd-'));
  const lab = new Lab('10.231.7');
  after(() => {
    lab.cleanup();
    fs.rmSync(tmp, { recursive: true, force: true });
  });
  const names = ['m1', 'm2', 'm3'];
  const ips = names.map((n, i) => lab.addHost(n, 11 + i));
  lab.addHost('client', 100);
  const out = path.join(tmp, 'out');
  // directories inside the temp dir, so a run never touches the machine's /etc or /var
  const etc = path.join(tmp, 'etc');
  const varDir = path.join(tmp, 'var');
  const bin = path.join(tmp, 'bin');
  deployTool(['systemd', `--members=${names.map((n, i) => `${n}=${ips[i]}`).join(',')}`, '--tls', '--root-password=s3cret', `--out=${out}`, `--config-dir=${etc}`, `--data-dir=${varDir}`, `--bin-dir=${bin}`]);

  const roots = new Map<string, string>();
  for (const n of names) {
    const root = path.join(tmp, `root-${n}`);
    roots.set(n, root);
    execFileSync(path.join(out, 'install.sh'), [n], { env: { ...process.env, ROOT: root, TSETCD_HOME: REPO }, stdio: 'pipe' });
    fs.mkdirSync(path.join(root, 'usr/lib/systemd'), { recursive: true });
    fs.cpSync('/usr/lib/systemd/system', path.join(root, 'usr/lib/systemd/system'), { recursive: true, verbatimSymlinks: true });
    if (hasCommand('systemd-analyze')) {
      execFileSync('systemd-analyze', [`--root=${root}`, 'verify', 'tsetcd.service'], { stdio: 'pipe' });
    } else console.log('# skipped systemd-analyze verify: systemd-analyze is not installed');
  }
  const unit = fs.readFileSync(path.join(roots.get('m1')!, 'etc/systemd/system/tsetcd.service'), 'utf8');
  const execStart = /^ExecStart=(.*)$/m.exec(unit)![1]!;
  assert.match(unit, /^EnvironmentFile=-\/etc\/default\/tsetcd$/m);

  /** The member as systemd starts it: the unit's environment file, then ExecStart. */
  const start = (n: string): Proc => {
    const root = roots.get(n)!;
    const binds = [etc, varDir, bin].map((d) => `mkdir -p ${d} && mount --bind ${root}${d} ${d}`).join(' && ');
    const script = `${binds} && set -a && . ${root}/etc/default/tsetcd && set +a && exec ${execStart}`;
    return lab.spawn(n, 'sh', ['-c', script]);
  };
  const members = new Map(names.map((n) => [n, start(n)]));
  const ctl = etcdctlIn(lab, 'client', path.join(out, 'pki'));
  const endpoint = (i: number): string => `https://${ips[i]}:2379`;
  try {
    await waitFor('a healthy cluster', () => ctl([`--endpoints=${ips.map((_, i) => endpoint(i)).join(',')}`, 'endpoint', 'health']).code === 0 || undefined);
    const env = { ...process.env, ETCDCTL_ENDPOINTS: ips.map((_, i) => endpoint(i)).join(','), ETCDCTL_CACERT: path.join(out, 'pki/ca.pem'), ETCDCTL_CERT: path.join(out, 'pki/client.pem'), ETCDCTL_KEY: path.join(out, 'pki/client-key.pem') };
    const init = lab.run('client', process.execPath, [path.join(REPO, 'bin/tsetcdutl'), 'deploy', 'auth-init', `--root-password-file=${path.join(out, 'root-password')}`], env);
    assert.equal(init.code, 0, init.err);
    assert.equal(init.out, 'Authentication Enabled\n');
    // safe to repeat
    const again = lab.run('client', process.execPath, [path.join(REPO, 'bin/tsetcdutl'), 'deploy', 'auth-init', `--root-password-file=${path.join(out, 'root-password')}`], env);
    assert.equal(again.out, 'Authentication was already enabled for root\n', again.err);
    const auth = '--user=root:s3cret';
    const wrong = ctl([`--endpoints=${endpoint(0)}`, '--user=root:wrong', 'put', 'nouser', 'x']);
    assert.match(wrong.err, /authentication failed/, 'auth must be on');
    assert.equal(ctl([`--endpoints=${endpoint(0)}`, auth, 'put', 'greeting', 'hello']).code, 0);
    assert.equal(ctl([`--endpoints=${endpoint(1)}`, auth, 'get', 'greeting', '--print-value-only']).out.trim(), 'hello');

    await lab.kill(members.get('m3')!);
    assert.equal(ctl([`--endpoints=${endpoint(0)}`, auth, 'put', 'while-m3-down', 'yes']).code, 0);
    assert.equal(ctl([`--endpoints=${endpoint(1)}`, auth, 'get', 'while-m3-down', '--print-value-only']).out.trim(), 'yes');
    members.set('m3', start('m3'));
    const v = await waitFor('m3 back with the data', () => {
      const r = ctl([`--endpoints=${endpoint(2)}`, auth, 'get', 'while-m3-down', '--print-value-only']);
      return r.code === 0 && r.out.trim() === 'yes' ? r.out.trim() : undefined;
    });
    assert.equal(v, 'yes');
  } catch (err) {
    for (const [n, p] of members) console.log(`--- ${n}\n${p.log.join('').slice(-3000)}`);
    throw err;
  }
});
