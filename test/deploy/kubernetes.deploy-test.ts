// Proves the `kubernetes` bundle works as a StatefulSet would run it (k8s-pods.ts: one
// network namespace per pod, names as <pod>.<headless service>, Secrets and volumes as
// folders): three TLS members bootstrap and turn auth on by themselves; etcdctl writes
// through one pod and reads through another; a killed pod comes back with its data and
// identity; scaling to five adds two members that end up voting (learners promoted);
// scaling back to three removes them from the cluster; a pod whose volume was lost
// rejoins as a new member. The manifests also build with `kubectl kustomize`.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { Lab, labUnavailable, waitFor } from './lab.js';
import { deployTool, etcdctlIn, hasCommand } from './helpers.js';
import { PodRunner, readStatefulSet } from './k8s-pods.js';

const skip = labUnavailable() ?? (hasCommand('etcdctl') ? undefined : 'etcdctl is not installed');
const SUBNET = '10.232.9';

interface MemberRow {
  id: string;
  name: string;
  learner: boolean;
}

function members(out: string): MemberRow[] {
  return out
    .trim()
    .split('\n')
    .filter((l) => l)
    .map((l) => {
      const f = l.split(', ');
      return { id: f[0]!, name: f[2]!, learner: f[5] === 'true' };
    });
}

test('kubernetes: StatefulSet pods bootstrap, restart, scale up and down, and rejoin after a lost volume', { skip, timeout: 900_000 }, async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsetcd-deploy-k8s-'));
  const lab = new Lab(SUBNET);
  after(() => {
    lab.cleanup();
    fs.rmSync(tmp, { recursive: true, force: true });
  });
  const out = path.join(tmp, 'out');
  deployTool(['kubernetes', '--members=m1=a,m2=b,m3=c', '--tls', '--root-password=s3cret', `--out=${out}`, '--quota-backend-bytes=4294967296']);
  if (hasCommand('kubectl')) {
    const built = execFileSync('kubectl', ['kustomize', out], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
    assert.match(built, /kind: StatefulSet/);
  } else console.log('# skipped kubectl kustomize: kubectl is not installed');

  const text = fs
    .readdirSync(out)
    .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
    .map((f) => fs.readFileSync(path.join(out, f), 'utf8'))
    .join('---\n');
  const sts = readStatefulSet(text);
  // five minutes is right for a real cluster; the test has no time for it
  const pods = new PodRunner(lab, sts, tmp, SUBNET, (args) => args.map((a) => (a.startsWith('--remove-missing-after=') ? '--remove-missing-after=3s' : a)));
  lab.addHost('client', 200);
  const ctl = etcdctlIn(lab, 'client', path.join(out, 'pki'));
  const url = (i: number): string => `--endpoints=https://${pods.fqdn(i)}:2379`;
  const auth = '--user=root:s3cret';
  const list = (i: number): MemberRow[] | undefined => {
    const r = ctl([url(i), auth, 'member', 'list']);
    return r.code === 0 ? members(r.out) : undefined;
  };
  try {
    for (const i of [0, 1, 2]) pods.start(i);
    await waitFor('auth on and a write through pod 0', () => ctl([url(0), auth, 'put', 'greeting', 'hello']).code === 0 && /authentication failed/.test(ctl([url(0), '--user=root:wrong', 'get', 'x']).err) || undefined, 180_000);
    assert.equal(ctl([url(1), auth, 'get', 'greeting', '--print-value-only']).out.trim(), 'hello');

    // a pod that dies comes back with its volume, data and member ID
    const before = list(0)!;
    await pods.delete(2);
    assert.equal(ctl([url(0), auth, 'put', 'while-2-down', 'yes']).code, 0);
    pods.start(2);
    await waitFor('pod 2 back with the data', () => ctl([url(2), auth, 'get', 'while-2-down', '--print-value-only']).out.trim() === 'yes' || undefined);
    assert.deepEqual(list(0)!.map((m) => m.id).sort(), before.map((m) => m.id).sort());

    // scale 3 → 5: learners first, then voting members
    pods.start(3);
    pods.start(4);
    const five = await waitFor('five voting members', () => {
      const l = list(0);
      return l && l.length === 5 && l.every((m) => !m.learner && m.name !== '') ? l : undefined;
    }, 240_000);
    assert.deepEqual(five.map((m) => m.name).sort(), [0, 1, 2, 3, 4].map((i) => pods.podName(i)));
    assert.equal(ctl([url(4), auth, 'get', 'greeting', '--print-value-only']).out.trim(), 'hello');

    // scale 5 → 3: the leader removes the members whose pods are gone
    await pods.delete(4);
    await pods.delete(3);
    await waitFor('three members again', () => (list(0)?.length === 3 ? true : undefined), 120_000);
    assert.equal(ctl([url(1), auth, 'put', 'after-scale-down', 'ok']).code, 0);

    // pod 1 loses its volume: it rejoins as a new member
    const oldId = list(0)!.find((m) => m.name === pods.podName(1))!.id;
    await pods.delete(1);
    fs.rmSync(pods.volumeDir(1), { recursive: true, force: true });
    pods.start(1);
    const rejoined = await waitFor('pod 1 rejoined as a voting member', () => {
      const l = list(0);
      const m = l?.find((x) => x.name === pods.podName(1));
      return l && l.length === 3 && m && m.id !== oldId && !m.learner ? m : undefined;
    }, 240_000);
    assert.notEqual(rejoined.id, oldId);
    await waitFor('pod 1 serves the data', () => ctl([url(1), auth, 'get', 'after-scale-down', '--print-value-only']).out.trim() === 'ok' || undefined);
  } catch (err) {
    console.log(pods.logs());
    throw err;
  }
});
