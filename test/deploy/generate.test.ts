// `tsetcdutl deploy` as a user meets it, without starting anything: every target writes
// its files from the flag form and from a YAML spec; a bad spec is refused with a
// sentence naming the key; generated certificates carry each member's host; the
// Kubernetes manifests validate against Kubernetes' schemas and build with kubectl
// kustomize; the OpenRC config is a config file tsetcd accepts; the docker compose file
// and the systemd environment files are settings tsetcd accepts. Every target turns the
// web dashboard on (port 2382 unless --dashboard-port says otherwise; 0 turns it off),
// with the client URLs' scheme, and --metrics=extensive for its latency chart.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import YAML from 'yaml';
import { parseConfig } from '../../src/config/index.js';
import { deployTool, hasCommand, REPO } from './helpers.js';
import { validateManifests } from './k8s-validate.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsetcd-deploy-gen-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
const MEMBERS = '--members=m1=10.0.0.11,m2=10.0.0.12,m3=10.0.0.13';

function deployFails(args: string[]): { code: number | null; err: string } {
  const r = spawnSync(process.execPath, [path.join(REPO, 'bin/tsetcdutl'), 'deploy', ...args], { encoding: 'utf8' });
  return { code: r.status, err: r.stderr };
}

function envFile(file: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

test('systemd: one environment file per member, each a valid tsetcd configuration', () => {
  const out = path.join(tmp, 'systemd');
  deployTool(['systemd', MEMBERS, '--tls', '--root-password=pw', `--out=${out}`, '--quota-backend-bytes=8589934592', '--snapshot-count=5000', '--auto-compaction-mode=periodic', '--auto-compaction-retention=1h']);
  for (const [i, name] of ['m1', 'm2', 'm3'].entries()) {
    const { DAEMON_ARGS: _, ...vars } = envFile(path.join(out, name, 'tsetcd.env'));
    const r = parseConfig([], vars);
    assert.equal(r.error, undefined, r.error?.message);
    assert.equal(r.config!.name, name);
    assert.equal(vars['ETCD_ADVERTISE_CLIENT_URLS'], `https://10.0.0.1${i + 1}:2379`);
    assert.equal(vars['ETCD_QUOTA_BACKEND_BYTES'], '8589934592');
    assert.equal(vars['ETCD_SNAPSHOT_COUNT'], '5000');
    assert.deepEqual(r.config!.listenDashboardUrls.map(String), [`https://10.0.0.1${i + 1}:2382/`]);
    assert.equal(r.config!.metrics, 'extensive');
    const cert = new X509Certificate(fs.readFileSync(path.join(out, 'pki', `${name}.pem`)));
    assert.match(cert.subjectAltName ?? '', new RegExp(`IP Address:10\\.0\\.0\\.1${i + 1}`));
    assert.ok(cert.checkIssued(new X509Certificate(fs.readFileSync(path.join(out, 'pki/ca.pem')))));
  }
  assert.equal(fs.readFileSync(path.join(out, 'root-password'), 'utf8').trim(), 'pw');
  // etcdctl.env, sourced from the folder as its README says, names the files absolutely
  const env = execFileSync('bash', ['-c', 'cd "$1" && . ./etcdctl.env && cd / && echo "$ETCDCTL_ENDPOINTS $ETCDCTL_CACERT $ETCDCTL_KEY"', 'sh', out]).toString().trim().split(' ');
  assert.deepEqual(env, ['https://10.0.0.11:2379,https://10.0.0.12:2379,https://10.0.0.13:2379', path.join(out, 'pki/ca.pem'), path.join(out, 'pki/client-key.pem')]);
  assert.equal(fs.statSync(path.join(out, 'install.sh')).mode & 0o111, 0o111);
  assert.match(fs.readFileSync(path.join(out, 'tsetcd.service'), 'utf8'), /^ExecStart=\/usr\/local\/bin\/tsetcd \$DAEMON_ARGS$/m);
});

test('openrc: the init script is a shell script and each conf.yml is a config file tsetcd accepts', () => {
  const out = path.join(tmp, 'openrc');
  deployTool(['openrc', MEMBERS, '--tls', `--out=${out}`]);
  execFileSync('sh', ['-n', path.join(out, 'tsetcd.initd')]);
  assert.match(fs.readFileSync(path.join(out, 'tsetcd.initd'), 'utf8'), /^#!\/sbin\/openrc-run$/m);
  const r = parseConfig([`--config-file=${path.join(out, 'm2/conf.yml')}`], {});
  assert.equal(r.error, undefined, r.error?.message);
  assert.equal(r.config!.name, 'm2');
  assert.equal(r.config!.clientTls.clientCertAuth, true);
  assert.equal(r.config!.peerTls.clientCertAuth, true);
  assert.deepEqual(r.config!.listenDashboardUrls.map(String), ['https://10.0.0.12:2382/']);
});

test('docker: compose services carry tsetcd flags tsetcd accepts, with fixed IPs on one subnet', () => {
  const out = path.join(tmp, 'docker');
  deployTool(['docker', MEMBERS, '--tls', `--out=${out}`]);
  const compose = YAML.parse(fs.readFileSync(path.join(out, 'compose.yaml'), 'utf8'));
  assert.deepEqual(Object.keys(compose.services), ['m1', 'm2', 'm3']);
  assert.equal(compose.networks.tsetcd.ipam.config[0].subnet, '10.0.0.0/24');
  const [cmd, ...args] = compose.services.m3.command as string[];
  assert.equal(cmd, 'tsetcd');
  const r = parseConfig(args, {});
  assert.equal(r.error, undefined, r.error?.message);
  assert.equal(compose.services.m3.networks.tsetcd.ipv4_address, '10.0.0.13');
  assert.deepEqual(r.config!.listenDashboardUrls.map(String), ['https://0.0.0.0:2382/']);
  assert.match(fs.readFileSync(path.join(out, 'docker-run.sh'), 'utf8'), /docker run -d \\\n {2}--name m3/);
});

test('kubernetes: the manifests validate against Kubernetes schemas and build with kubectl kustomize', async () => {
  const out = path.join(tmp, 'kubernetes');
  deployTool(['kubernetes', '--replicas=3', '--tls', '--root-password=pw', `--out=${out}`, '--namespace=etcd', '--name=my-etcd']);
  const text = fs
    .readdirSync(out)
    .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
    .map((f) => fs.readFileSync(path.join(out, f), 'utf8'))
    .join('---\n');
  const kinds = await validateManifests(text);
  assert.deepEqual([...kinds].sort(), ['Namespace', 'PodDisruptionBudget', 'Secret', 'Secret', 'Service', 'Service', 'StatefulSet']);
  assert.equal(kinds[0], 'Namespace', 'the namespace comes first');
  const sts = YAML.parseAllDocuments(text).map((d) => d.toJS()).find((d) => d?.kind === 'StatefulSet');
  const c = sts.spec.template.spec.containers[0];
  assert.equal(c.livenessProbe.httpGet.path, '/livez');
  assert.equal(c.readinessProbe.httpGet.path, '/readyz');
  assert.ok(sts.spec.template.spec.affinity.podAntiAffinity);
  assert.deepEqual(c.ports.find((p: { name: string }) => p.name === 'dashboard'), { name: 'dashboard', containerPort: 2382 });
  assert.ok(c.args.includes('--listen-dashboard-urls=https://0.0.0.0:2382') && c.args.includes('--metrics=extensive'), c.args.join(' '));
  const cert = new X509Certificate(fs.readFileSync(path.join(out, 'pki/k8s-member.pem')));
  assert.match(cert.subjectAltName ?? '', /DNS:\*\.my-etcd-headless\.etcd\.svc\.cluster\.local/);
  if (hasCommand('kubectl')) assert.match(execFileSync('kubectl', ['kustomize', out]).toString(), /kind: PodDisruptionBudget/);
  else console.log('# skipped kubectl kustomize: kubectl is not installed');
});

test('a YAML spec file gives the same settings as the flags, and flags win over it', () => {
  const spec = path.join(tmp, 'cluster.yaml');
  fs.writeFileSync(spec, ['name: prod', 'tls: true', 'members:', '  - {name: a, host: 192.168.1.11}', '  - {name: b, host: 192.168.1.12, client-port: 12379}', 'snapshot-count: 777', 'wal-dir: /wal', ''].join('\n'));
  const out = path.join(tmp, 'fromspec');
  deployTool(['systemd', `--spec=${spec}`, `--out=${out}`, '--snapshot-count=888']);
  const b = envFile(path.join(out, 'b/tsetcd.env'));
  assert.equal(b['ETCD_ADVERTISE_CLIENT_URLS'], 'https://192.168.1.12:12379');
  assert.equal(b['ETCD_INITIAL_CLUSTER_TOKEN'], 'prod');
  assert.equal(b['ETCD_WAL_DIR'], '/wal/b');
  assert.equal(b['ETCD_SNAPSHOT_COUNT'], '888');
  assert.equal(b['ETCD_LISTEN_DASHBOARD_URLS'], 'https://192.168.1.12:2382');
  const off = path.join(tmp, 'nodashboard');
  deployTool(['systemd', `--spec=${spec}`, `--out=${off}`, '--dashboard-port=0']);
  const a = envFile(path.join(off, 'a/tsetcd.env'));
  assert.equal(a['ETCD_LISTEN_DASHBOARD_URLS'], undefined, '--dashboard-port=0: no dashboard');
  assert.equal(a['ETCD_METRICS'], undefined);
});

test('bad specs are refused with a sentence that names the problem', () => {
  const out = path.join(tmp, 'bad');
  const cases: Array<[string[], RegExp]> = [
    [['systemd', `--out=${out}`], /members is required, as in --members m1=10\.0\.0\.11/],
    [['systemd', '--members=m1', `--out=${out}`], /"m1" is not NAME=HOST/],
    [['systemd', '--members=M1=10.0.0.1', `--out=${out}`], /name "M1" must be lower-case/],
    [['systemd', '--members=a=1.1.1.1,a=1.1.1.2', `--out=${out}`], /a is given twice/],
    [['nomad', MEMBERS, `--out=${out}`], /one of systemd, openrc, docker, kubernetes, helm \(got "nomad"\)/],
    [['systemd', MEMBERS], /needs --out DIR/],
    [['systemd', MEMBERS, '--auto-compaction-mode=hourly', `--out=${out}`], /auto-compaction-mode must be periodic or revision/],
    [['systemd', MEMBERS, '--data-dir=relative', `--out=${out}`], /data-dir must be an absolute path/],
    [['systemd', MEMBERS, '--replicas=3', `--out=${out}`], /replicas is for kubernetes and helm/],
  ];
  for (const [args, message] of cases) {
    const r = deployFails(args);
    assert.notEqual(r.code, 0, args.join(' '));
    assert.match(r.err, message);
    assert.doesNotMatch(r.err, /\n {4}at /, 'no stack trace');
  }
  fs.writeFileSync(path.join(tmp, 'typo.yaml'), 'memebers: a=1.2.3.4\n');
  assert.match(deployFails(['systemd', `--spec=${path.join(tmp, 'typo.yaml')}`, `--out=${out}`]).err, /unknown key "memebers"/);
});
