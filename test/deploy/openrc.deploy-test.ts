// Proves `tsetcdutl deploy openrc` the way tutorial 002 runs etcd on Alpine: each
// member's install.sh runs into a staging root of its own; then, in the member's own
// network namespace (its own IP) with a private /run for OpenRC's state, the installed
// /etc/init.d/tsetcd is started by openrc-run, which reads /etc/conf.d/tsetcd and the
// member's conf.yml and keeps tsetcd under supervise-daemon. etcdctl writes through one
// member and reads through another with the client certificate and the root password;
// a member killed with SIGKILL is started again by supervise-daemon and serves its data;
// `rc-service`-style stop ends it.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { Lab, labUnavailable, waitFor } from './lab.js';
import { deployTool, etcdctlIn, hasCommand, REPO } from './helpers.js';

const skip = labUnavailable() ?? (hasCommand('etcdctl') ? undefined : 'etcdctl is not installed') ?? (fs.existsSync('/sbin/openrc-run') ? undefined : 'OpenRC is not installed (apt-get install -y openrc)');

/** OpenRC's state folders, made in a private /run as its boot would make them. */
const OPENRC_STATE = 'mkdir -p /run/openrc && cd /run/openrc && mkdir -p daemons exclusive failed hotplugged inactive options scheduled started starting stopping tmp wasinactive && echo default > softlevel && cd /';

test('openrc: openrc-run starts each member from conf.d and conf.yml; supervise-daemon brings a killed one back', { skip, timeout: 600_000 }, async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsetcd-deploy-openrc-'));
  const lab = new Lab('10.234.2');
  after(() => {
    lab.cleanup();
    fs.rmSync(tmp, { recursive: true, force: true });
  });
  const names = ['m1', 'm2', 'm3'];
  const ips = names.map((n, i) => lab.addHost(n, 21 + i));
  lab.addHost('client', 100);
  const out = path.join(tmp, 'out');
  const etc = path.join(tmp, 'etc');
  const varDir = path.join(tmp, 'var');
  const bin = path.join(tmp, 'bin');
  deployTool(['openrc', `--members=${names.map((n, i) => `${n}=${ips[i]}`).join(',')}`, '--tls', '--root-password=s3cret', `--out=${out}`, `--config-dir=${etc}`, `--data-dir=${varDir}`, `--bin-dir=${bin}`]);

  const roots = new Map<string, string>();
  const start = (n: string): { code: number; out: string; err: string } => {
    const root = roots.get(n)!;
    const binds = [etc, varDir, bin].map((d) => `mkdir -p ${d} && mount --bind ${root}${d} ${d}`).join(' && ');
    // the service runs as root here (the machine's etcd user cannot read this temp dir)
    return lab.run(n, 'sh', ['-c', `mount -t tmpfs tmpfs /run && ${OPENRC_STATE} && ${binds} && ${root}/etc/init.d/tsetcd start`]);
  };
  for (const n of names) {
    const root = path.join(tmp, `root-${n}`);
    roots.set(n, root);
    execFileSync(path.join(out, 'install.sh'), [n], { env: { ...process.env, ROOT: root, TSETCD_HOME: REPO }, stdio: 'pipe' });
    fs.appendFileSync(path.join(root, 'etc/conf.d/tsetcd'), `TSETCD_USER=root\nTSETCD_GROUP=root\nTSETCD_LOG_DIR=${tmp}/log-${n}\n`);
    const r = start(n);
    assert.equal(r.code, 0, `${r.out}${r.err}`);
  }
  const ctl = etcdctlIn(lab, 'client', path.join(out, 'pki'));
  const endpoint = (i: number): string => `--endpoints=https://${ips[i]}:2379`;
  const logs = (): string => names.map((n) => `--- ${n}\n${fs.existsSync(`${tmp}/log-${n}/tsetcd.log`) ? fs.readFileSync(`${tmp}/log-${n}/tsetcd.log`, 'utf8').slice(-3000) : '(no log)'}`).join('\n');
  try {
    await waitFor('a healthy cluster', () => ctl([`--endpoints=${ips.map((ip) => `https://${ip}:2379`).join(',')}`, 'endpoint', 'health']).code === 0 || undefined);
    const env = { ...process.env, ETCDCTL_ENDPOINTS: `https://${ips[0]}:2379`, ETCDCTL_CACERT: path.join(out, 'pki/ca.pem'), ETCDCTL_CERT: path.join(out, 'pki/client.pem'), ETCDCTL_KEY: path.join(out, 'pki/client-key.pem') };
    const init = lab.run('client', process.execPath, [path.join(REPO, 'bin/tsetcdutl'), 'deploy', 'auth-init', `--root-password-file=${path.join(out, 'root-password')}`], env);
    assert.equal(init.code, 0, init.err);
    const auth = '--user=root:s3cret';
    assert.match(ctl([endpoint(0), '--user=root:wrong', 'get', 'x']).err, /authentication failed/);
    assert.equal(ctl([endpoint(0), auth, 'put', 'greeting', 'hello']).code, 0);
    assert.equal(ctl([endpoint(1), auth, 'get', 'greeting', '--print-value-only']).out.trim(), 'hello');

    // SIGKILL the member process itself; supervise-daemon must start it again
    const member = lab.pidsIn('m2').find((pid) => {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      return cmd.includes('--config-file=') && !cmd.includes('supervise-daemon');
    });
    assert.ok(member, 'the member runs in m2');
    process.kill(member, 'SIGKILL');
    assert.equal(ctl([endpoint(0), auth, 'put', 'while-m2-down', 'yes']).code, 0);
    assert.equal(ctl([endpoint(2), auth, 'get', 'while-m2-down', '--print-value-only']).out.trim(), 'yes');
    await waitFor('m2 back with the data', () => ctl([endpoint(1), auth, 'get', 'while-m2-down', '--print-value-only']).out.trim() === 'yes' || undefined);
    assert.ok(!lab.pidsIn('m2').includes(member), 'a new process serves m2');
  } catch (err) {
    console.log(logs());
    throw err;
  }
});
