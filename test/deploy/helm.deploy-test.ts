// Proves the Helm chart as users install it: `tsetcdutl deploy helm` writes the chart, a
// values file in the Bitnami chart's shape and the certificate Secret; the chart renders
// with Go's text/template and sprig (helm-render, built offline from Debian's Go
// packages) the tutorial's way (--set replicaCount=3 --set auth.rbac.rootPassword=...);
// the output validates against Kubernetes' schemas; its pods, run as the kubelet would
// (k8s-pods.ts), form a TLS cluster with auth: a write through one pod is read through
// another with etcdctl, and a killed pod comes back with its data.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { Lab, labUnavailable, waitFor } from './lab.js';
import { deployTool, etcdctlIn, hasCommand, REPO } from './helpers.js';
import { PodRunner, readStatefulSet } from './k8s-pods.js';
import { validateManifests } from './k8s-validate.js';

const SPRIG = '/usr/share/gocode/src/github.com/Masterminds/sprig';
const skip =
  labUnavailable() ??
  (hasCommand('etcdctl') ? undefined : 'etcdctl is not installed') ??
  (hasCommand('go') ? undefined : 'go is not installed (apt-get install -y golang-go)') ??
  (fs.existsSync(SPRIG) ? undefined : 'sprig is not installed (apt-get install -y golang-github-masterminds-sprig-dev)');
const SUBNET = '10.233.4';

function buildRenderer(dir: string): string {
  const bin = path.join(dir, 'helm-render');
  execFileSync('go', ['build', '-o', bin, path.join(REPO, 'test/deploy/helm-render/main.go')], {
    env: { ...process.env, GOPATH: '/usr/share/gocode', GO111MODULE: 'off', GOCACHE: path.join(dir, 'gocache'), GOFLAGS: '' },
    stdio: 'pipe',
  });
  return bin;
}

test('helm: the chart renders, validates, and its pods run a TLS cluster with auth', { skip, timeout: 600_000 }, async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsetcd-deploy-helm-'));
  const lab = new Lab(SUBNET);
  after(() => {
    lab.cleanup();
    fs.rmSync(tmp, { recursive: true, force: true });
  });
  const out = path.join(tmp, 'out');
  deployTool(['helm', '--replicas=3', '--tls', '--root-password=unused', `--out=${out}`, '--name=my-etcd', '--namespace=etcd']);
  const render = buildRenderer(tmp);
  const rendered = execFileSync(render, [path.join(out, 'tsetcd'), '--name', 'my-etcd', '-n', 'etcd', '-f', path.join(out, 'values.yaml'), '--set', 'replicaCount=3', '--set', 'auth.rbac.rootPassword=czw123456']).toString();
  const all = `${rendered}\n---\n${fs.readFileSync(path.join(out, 'secret-pki.yaml'), 'utf8')}`;
  assert.deepEqual((await validateManifests(all)).sort(), ['PodDisruptionBudget', 'Secret', 'Secret', 'Service', 'Service', 'StatefulSet']);
  // a chart error reads as Helm's does
  const bad = (() => {
    try {
      execFileSync(render, [path.join(out, 'tsetcd'), '--set', 'auth.rbac.rootPassword=x', '--set', 'auth.client.secureTransport=true'], { stdio: 'pipe' });
      return '';
    } catch (err) {
      return String((err as { stderr: Buffer }).stderr);
    }
  })();
  assert.match(bad, /auth.client.secureTransport and auth.peer.secureTransport must be equal/);
  // the tutorial's command line alone (no TLS) renders valid manifests too
  const tutorial = execFileSync(render, [path.join(out, 'tsetcd'), '--name', 'my-etcd', '-n', 'etcd', '--set', 'replicaCount=3', '--set', 'auth.rbac.rootPassword=czw123456']).toString();
  assert.deepEqual((await validateManifests(tutorial)).sort(), ['PodDisruptionBudget', 'Secret', 'Service', 'Service', 'StatefulSet']);

  const sts = readStatefulSet(all);
  assert.equal(sts.serviceName, 'my-etcd-headless');
  const pods = new PodRunner(lab, sts, tmp, SUBNET);
  lab.addHost('client', 200);
  const ctl = etcdctlIn(lab, 'client', path.join(out, 'pki'));
  const url = (i: number): string => `--endpoints=https://${pods.fqdn(i)}:2379`;
  const auth = '--user=root:czw123456';
  try {
    for (const i of [0, 1, 2]) pods.start(i);
    await waitFor('auth on and a write through pod 0', () => (ctl([url(0), auth, 'put', '/message', 'Hello']).code === 0 && /authentication failed/.test(ctl([url(0), '--user=root:wrong', 'get', 'x']).err)) || undefined, 180_000);
    assert.equal(ctl([url(2), auth, 'get', '/message', '--print-value-only']).out.trim(), 'Hello');
    // what the kubelet's probes ask: plain HTTP on the metrics port, no client certificate
    for (const probe of ['/livez', '/readyz']) {
      const get = `require('http').get('http://${pods.fqdn(0)}:2381${probe}',r=>{let b='';r.on('data',d=>b+=d);r.on('end',()=>{console.log(r.statusCode,b.trim())})})`;
      assert.equal(lab.run('client', process.execPath, ['-e', get]).out.trim(), '200 ok', probe);
    }
    await pods.delete(1);
    assert.equal(ctl([url(0), auth, 'put', '/while-1-down', 'yes']).code, 0);
    assert.equal(ctl([url(2), auth, 'get', '/while-1-down', '--print-value-only']).out.trim(), 'yes');
    pods.start(1);
    await waitFor('pod 1 back with the data', () => ctl([url(1), auth, 'get', '/while-1-down', '--print-value-only']).out.trim() === 'yes' || undefined);
  } catch (err) {
    console.log(pods.logs());
    throw err;
  }
});
