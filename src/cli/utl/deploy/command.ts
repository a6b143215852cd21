// `tsetcdutl deploy`: the command tree. `deploy TARGET` turns a cluster spec (flags
// and/or --spec FILE) into the files a target needs, with certificates, under --out;
// `deploy auth-init` turns on authentication of a running cluster; `deploy run-member`
// is the pod command of the Kubernetes targets.
import fs from 'node:fs';
import path from 'node:path';
import type { CommandSpec, RunContext } from '../../ctl/cmdtree.js';
import type { FlagSpec } from '../../ctl/flags.js';
import { CtlExit, ExitCode } from '../../ctl/io.js';
import { writeBundle, type Bundle } from './bundle.js';
import { enableAuth } from './gateway.js';
import { ensurePki, memberHosts, CLIENT_CN, type IssueRequest } from './pki.js';
import { runMemberCommand } from './run-member.js';
import { buildSpec, readSpecFile, SPEC_KEYS, SpecError, TARGETS, type DeploySpec, type RawSpec, type Target } from './spec.js';
import { dockerBundle, openrcBundle, systemdBundle } from './targets-static.js';
import { helmBundle, k8sMemberHosts, kubernetesBundle, PKI_SECRET_KEYS } from './targets-k8s.js';

const SPEC_FLAGS: FlagSpec[] = [
  { name: 'spec', kind: 'string', def: '', usage: 'YAML file with the cluster spec (keys as the flags below; flags win)' },
  { name: 'out', kind: 'string', def: '', usage: 'Required. Directory to write the files into' },
  { name: 'name', kind: 'string', def: 'tsetcd', usage: 'cluster name: initial cluster token; StatefulSet and release name in Kubernetes' },
  { name: 'members', kind: 'string', def: '', usage: 'members as NAME=HOST,... (kubernetes/helm: only their number counts)' },
  { name: 'replicas', kind: 'int64', def: '0', usage: 'kubernetes/helm: number of members (default: the number of --members, else 3)' },
  { name: 'tls', kind: 'bool', def: 'false', usage: 'mutual TLS on client and peer URLs, with a CA and certificates made here' },
  { name: 'root-password', kind: 'string', def: '', usage: 'enable auth with a root user of this password' },
  { name: 'root-password-file', kind: 'string', def: '', usage: 'like --root-password, read from a file' },
  { name: 'data-dir', kind: 'string', def: '/var/lib/tsetcd', usage: 'where members keep their data (each in <data-dir>/<member>)' },
  { name: 'wal-dir', kind: 'string', def: '', usage: 'a separate WAL directory (each member in <wal-dir>/<member>)' },
  { name: 'config-dir', kind: 'string', def: '/etc/tsetcd', usage: 'systemd/openrc: where certificates and conf.yml are installed' },
  { name: 'bin-dir', kind: 'string', def: '/usr/local/bin', usage: 'systemd/openrc: where the install script puts the programs' },
  { name: 'client-port', kind: 'int64', def: '2379', usage: 'client port of every member' },
  { name: 'peer-port', kind: 'int64', def: '2380', usage: 'peer port of every member' },
  { name: 'dashboard-port', kind: 'int64', def: '2382', usage: 'web dashboard port of every member, with the client TLS and auth (0: no dashboard)' },
  { name: 'quota-backend-bytes', kind: 'int64', def: '0', usage: '--quota-backend-bytes of the members' },
  { name: 'auto-compaction-mode', kind: 'string', def: '', usage: '--auto-compaction-mode of the members (periodic or revision)' },
  { name: 'auto-compaction-retention', kind: 'string', def: '', usage: '--auto-compaction-retention of the members' },
  { name: 'snapshot-count', kind: 'int64', def: '0', usage: '--snapshot-count of the members' },
  { name: 'image', kind: 'string', def: '', usage: 'docker/kubernetes/helm: the image (default localhost/tsetcd:0.1.0)' },
  { name: 'namespace', kind: 'string', def: 'default', usage: 'kubernetes/helm: the namespace' },
  { name: 'storage-size', kind: 'string', def: '8Gi', usage: 'kubernetes/helm: the size of each member volume' },
];

/** The spec file's values, overridden by the flags given on the command line. */
function rawSpec(ctx: RunContext): RawSpec {
  const file = ctx.flags.get('spec').string;
  const raw: RawSpec = file ? readSpecFile(file) : {};
  for (const key of SPEC_KEYS) {
    const f = ctx.flags.get(key);
    if (f.changed) raw[key] = f.string;
  }
  return raw;
}

function certRequests(s: DeploySpec, target: Target): IssueRequest[] {
  const members: IssueRequest[] =
    target === 'kubernetes' || target === 'helm'
      ? [{ bare: 'k8s-member', cn: s.name, hosts: k8sMemberHosts(s), profile: 'peer' }]
      : s.members.map((m) => ({ bare: m.name, cn: m.name, hosts: memberHosts(m.host, m.name), profile: 'peer' as const }));
  return [...members, { bare: 'client', cn: CLIENT_CN, hosts: [''], profile: 'client' }];
}

async function bundleFor(s: DeploySpec, target: Target, pkiDir: string): Promise<Bundle> {
  const secret = (): Map<string, string> => new Map(PKI_SECRET_KEYS.map(([key, file]) => [key, s.tls ? fs.readFileSync(path.join(pkiDir, file), 'utf8') : '']));
  switch (target) {
    case 'systemd':
      return systemdBundle(s);
    case 'openrc':
      return openrcBundle(s);
    case 'docker':
      return dockerBundle(s);
    case 'kubernetes':
      return kubernetesBundle(s, secret());
    case 'helm':
      return helmBundle(s, secret());
  }
}

async function deployCommand(ctx: RunContext): Promise<void> {
  const target = ctx.args[0] as Target | undefined;
  if (target === undefined || !TARGETS.includes(target)) {
    throw new CtlExit(ExitCode.BadArgs, `deploy needs a target: one of ${TARGETS.join(', ')}${target ? ` (got "${target}")` : ''}`);
  }
  if (ctx.args.length > 1) throw new CtlExit(ExitCode.BadArgs, `deploy takes one target, got ${ctx.args.join(' ')}`);
  const out = ctx.flags.get('out').string;
  if (out === '') throw new CtlExit(ExitCode.BadArgs, 'deploy needs --out DIR: where to write the files');
  let spec: DeploySpec;
  try {
    spec = buildSpec(rawSpec(ctx), target);
  } catch (err) {
    if (err instanceof SpecError) throw new CtlExit(ExitCode.BadArgs, err.message);
    throw err;
  }
  const outDir = path.resolve(out);
  const log = (line: string): void => ctx.io.err(`${line}\n`);
  const pkiDir = path.join(outDir, 'pki');
  try {
    if (spec.tls) await ensurePki(pkiDir, certRequests(spec, target), log);
    writeBundle(outDir, await bundleFor(spec, target, pkiDir));
  } catch (err) {
    if (err instanceof CtlExit) throw err;
    throw new CtlExit(ExitCode.Error, `deploy ${target}: ${(err as Error).message}`);
  }
  log(`wrote the ${target} deployment of ${spec.name} (${spec.members.map((m) => m.name).join(', ')}) to ${outDir}`);
  ctx.io.out(`${path.join(outDir, 'README.md')} says what to run next\n`);
}

/** ETCDCTL_* as etcdctl reads them, so `. ./etcdctl.env` sets up auth-init too. */
function envOf(ctx: RunContext, name: string): string {
  return ctx.io.env.find(([k]) => k === name)?.[1] ?? '';
}

async function authInitCommand(ctx: RunContext): Promise<void> {
  const flag = (n: string, env: string): string => ctx.flags.get(n).string || envOf(ctx, env);
  const endpoints = flag('endpoints', 'ETCDCTL_ENDPOINTS').split(',').filter((e) => e !== '');
  if (endpoints.length === 0) throw new CtlExit(ExitCode.BadArgs, 'auth-init needs --endpoints (or ETCDCTL_ENDPOINTS)');
  const file = ctx.flags.get('root-password-file').string;
  if (file === '') throw new CtlExit(ExitCode.BadArgs, 'auth-init needs --root-password-file');
  let password: string;
  try {
    password = fs.readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    throw new CtlExit(ExitCode.Error, `cannot read ${file}: ${(err as NodeJS.ErrnoException).code}`);
  }
  const tls = { ca: flag('cacert', 'ETCDCTL_CACERT'), cert: flag('cert', 'ETCDCTL_CERT'), key: flag('key', 'ETCDCTL_KEY') };
  let last: Error | undefined;
  for (const ep of endpoints) {
    const url = /^[a-z]+:\/\//.test(ep) ? ep : `${tls.ca ? 'https' : 'http'}://${ep}`;
    try {
      const r = await enableAuth(url, tls, password);
      if (r === 'other-password') throw new CtlExit(ExitCode.Error, `authentication is already on, and root's password is not the one in ${file}`);
      ctx.io.out(r === 'enabled' ? 'Authentication Enabled\n' : 'Authentication was already enabled for root\n');
      return;
    } catch (err) {
      if (err instanceof CtlExit) throw err;
      last = err as Error;
    }
  }
  throw new CtlExit(ExitCode.Error, `auth-init failed: ${last?.message}`);
}

export function deployCommandSpec(): CommandSpec {
  return {
    use: 'deploy <systemd|openrc|docker|kubernetes|helm>',
    short: 'Writes the files to run a cluster under systemd, OpenRC, Docker, Kubernetes or Helm',
    long:
      `Use it as: tsetcdutl deploy TARGET --members m1=10.0.0.11,m2=10.0.0.12,m3=10.0.0.13 --tls --root-password P --out DIR\n` +
      `TARGET is one of ${TARGETS.join(', ')}. DIR/README.md says what to run next.`,
    flags: SPEC_FLAGS,
    run: deployCommand,
    children: [
      {
        use: 'auth-init',
        short: 'Creates the root user and enables authentication on a running cluster (safe to repeat)',
        flags: [
          { name: 'endpoints', kind: 'string', def: '', usage: 'client URLs (default $ETCDCTL_ENDPOINTS)' },
          { name: 'cacert', kind: 'string', def: '', usage: 'CA bundle (default $ETCDCTL_CACERT)' },
          { name: 'cert', kind: 'string', def: '', usage: 'client certificate (default $ETCDCTL_CERT)' },
          { name: 'key', kind: 'string', def: '', usage: 'client key (default $ETCDCTL_KEY)' },
          { name: 'root-password-file', kind: 'string', def: '', usage: 'Required. File holding the root password' },
        ],
        run: authInitCommand,
      },
      {
        use: 'run-member [-- tsetcd flags]',
        short: 'Runs one StatefulSet member: bootstraps, joins as learner, promotes, cleans up (the pod command)',
        flags: [
          { name: 'name', kind: 'string', def: '', usage: 'Required. The pod name, <statefulset>-<ordinal>' },
          { name: 'peer-domain', kind: 'string', def: '', usage: 'Required. The headless service domain; pods are <pod>.<peer-domain>' },
          { name: 'initial-size', kind: 'int64', def: '3', usage: 'members that bootstrap the cluster (the first install\'s replicas)' },
          { name: 'data-dir', kind: 'string', def: '/var/lib/tsetcd/data', usage: 'the member data directory (on the pod volume)' },
          { name: 'tls', kind: 'bool', def: 'false', usage: 'mutual TLS, with ca.pem, member.pem, client.pem (+ -key.pem) in --pki-dir' },
          { name: 'pki-dir', kind: 'string', def: '/etc/tsetcd/pki', usage: 'the certificate folder' },
          { name: 'client-port', kind: 'int64', def: '2379', usage: 'client port' },
          { name: 'peer-port', kind: 'int64', def: '2380', usage: 'peer port' },
          { name: 'initial-cluster-token', kind: 'string', def: 'tsetcd', usage: 'the cluster token' },
          { name: 'root-password-file', kind: 'string', def: '', usage: 'enable auth with this root password once the cluster is up' },
          { name: 'remove-missing-after', kind: 'string', def: '5m', usage: 'remove a member whose pod name has not resolved for this long' },
          { name: 'scan', kind: 'int64', def: '16', usage: 'ordinals to look at when searching for running members' },
        ],
        requiredFlags: ['name', 'peer-domain'],
        run: runMemberCommand,
      },
    ],
  };
}
