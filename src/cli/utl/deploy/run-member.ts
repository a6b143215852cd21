// `tsetcdutl deploy run-member`: the command a Kubernetes StatefulSet pod runs. It works
// out how this pod's member must start, starts tsetcd as its child (forwarding SIGTERM and
// SIGINT, exiting with the child's status), and then looks after membership:
//
//  - data in --data-dir and still a member (or no other member answers): restart with it;
//  - no data, ordinal below --initial-size and no running cluster: bootstrap a new
//    cluster with the pods <sts>-0 ... <sts>-(initial-size - 1);
//  - no data and a running cluster: join as a learner (an old entry with this pod's
//    peer URL, left by a lost volume, is removed first), then promote it once it has
//    caught up; data whose member was removed meanwhile is moved aside first;
//  - once healthy: with --root-password-file, create root and enable auth (once per
//    cluster); the leader removes members whose pod name no longer resolves in DNS for
//    --remove-missing-after, which is how a scale-down leaves the cluster.
//
// Pods are <sts>-<ordinal>.<peer-domain>; the headless service must publish not-ready
// addresses so that members can find each other before they are ready.
import { spawn, type ChildProcess } from 'node:child_process';
import dns from 'node:dns/promises';
import fs from 'node:fs';
import path from 'node:path';
import type { RunContext } from '../../ctl/cmdtree.js';
import { CtlExit, ExitCode } from '../../ctl/io.js';
import { parseGoDurationMs } from '../../../pki/duration.js';
import { PACKAGE_ROOT } from './bundle.js';
import { enableAuth, Gateway, type GatewayTls, type Member } from './gateway.js';

export interface RunMemberOptions {
  name: string;
  peerDomain: string;
  initialSize: number;
  dataDir: string;
  tls: boolean;
  pkiDir: string;
  clientPort: number;
  peerPort: number;
  token: string;
  rootPassword?: string;
  removeMissingAfterMs: number;
  /** how many ordinals to look at when searching for running members */
  scan: number;
  /** extra tsetcd flags (quota, compaction...) */
  extraArgs: string[];
  log: (msg: string) => void;
}

const RECONCILE_EVERY_MS = 5000;

function ordinalOf(name: string): { base: string; ordinal: number } {
  const m = /^(.*)-(\d+)$/.exec(name);
  if (!m) throw new CtlExit(ExitCode.BadArgs, `--name ${name} is not a StatefulSet pod name (<statefulset>-<ordinal>)`);
  return { base: m[1]!, ordinal: Number(m[2]) };
}

export class Pod {
  readonly base: string;
  readonly ordinal: number;
  constructor(readonly o: RunMemberOptions) {
    ({ base: this.base, ordinal: this.ordinal } = ordinalOf(o.name));
  }
  host(ordinal = this.ordinal): string {
    return `${this.base}-${ordinal}.${this.o.peerDomain}`;
  }
  scheme(): string {
    return this.o.tls ? 'https' : 'http';
  }
  peerUrl(ordinal = this.ordinal): string {
    return `${this.scheme()}://${this.host(ordinal)}:${this.o.peerPort}`;
  }
  clientUrl(ordinal = this.ordinal): string {
    return `${this.scheme()}://${this.host(ordinal)}:${this.o.clientPort}`;
  }
  tlsFiles(): GatewayTls {
    if (!this.o.tls) return {};
    return { ca: path.join(this.o.pkiDir, 'ca.pem'), cert: path.join(this.o.pkiDir, 'client.pem'), key: path.join(this.o.pkiDir, 'client-key.pem') };
  }
  gateway(endpoint: string): Gateway {
    return new Gateway(endpoint, this.tlsFiles(), this.o.rootPassword);
  }
}

/** The member list from the first other pod that answers, with that pod's gateway. */
async function findCluster(pod: Pod): Promise<{ gw: Gateway; members: Member[] } | undefined> {
  const limit = Math.max(pod.o.scan, pod.o.initialSize, pod.ordinal + 1);
  for (let i = 0; i < limit; i++) {
    if (i === pod.ordinal) continue;
    const gw = pod.gateway(pod.clientUrl(i));
    try {
      return { gw, members: await gw.memberList() };
    } catch {
      // that pod does not exist or does not serve yet
    }
  }
  return undefined;
}

const hasData = (dataDir: string): boolean => fs.existsSync(path.join(dataDir, 'member'));

function serverArgs(pod: Pod, state: 'new' | 'existing', initialCluster: string): string[] {
  const o = pod.o;
  const s = pod.scheme();
  const args = [
    `--name=${o.name}`,
    `--data-dir=${o.dataDir}`,
    `--listen-client-urls=${s}://0.0.0.0:${o.clientPort}`,
    `--advertise-client-urls=${pod.clientUrl()}`,
    `--listen-peer-urls=${s}://0.0.0.0:${o.peerPort}`,
    `--initial-advertise-peer-urls=${pod.peerUrl()}`,
    `--initial-cluster=${initialCluster}`,
    `--initial-cluster-state=${state}`,
    `--initial-cluster-token=${o.token}`,
  ];
  if (o.tls) {
    const ca = path.join(o.pkiDir, 'ca.pem');
    const cert = path.join(o.pkiDir, 'member.pem');
    const key = path.join(o.pkiDir, 'member-key.pem');
    args.push('--client-cert-auth', `--trusted-ca-file=${ca}`, `--cert-file=${cert}`, `--key-file=${key}`);
    args.push('--peer-client-cert-auth', `--peer-trusted-ca-file=${ca}`, `--peer-cert-file=${cert}`, `--peer-key-file=${key}`);
  }
  return [...args, ...o.extraArgs];
}

interface StartPlan {
  args: string[];
  /** the member id to promote once it has caught up */
  learnerId?: string;
}

/** Decides how this pod's member starts; may add it to (or remove it from) the cluster. */
export async function planStart(pod: Pod): Promise<StartPlan> {
  const o = pod.o;
  const initial = Array.from({ length: o.initialSize }, (_, i) => `${pod.base}-${i}=${pod.peerUrl(i)}`).join(',');
  const cluster = await findCluster(pod);
  const mine = cluster?.members.find((m) => (m.peerURLs ?? []).includes(pod.peerUrl()));
  if (hasData(o.dataDir)) {
    if (cluster === undefined || mine !== undefined) {
      o.log(`restarting with the data in ${o.dataDir}`);
      return { args: serverArgs(pod, 'existing', initial) };
    }
    // removed while away (a scale-down, then up again with the volume kept): start afresh
    const aside = `${o.dataDir}.removed-${Date.now()}`;
    fs.renameSync(o.dataDir, aside);
    o.log(`this member was removed from the cluster; its old data is kept in ${aside}`);
  }
  if (cluster === undefined) {
    if (pod.ordinal >= o.initialSize) throw new Error(`no member of the cluster answers yet and ${o.name} is not one of the first ${o.initialSize}; will retry`);
    o.log(`bootstrapping a new cluster: ${initial}`);
    return { args: serverArgs(pod, 'new', initial) };
  }
  if (mine !== undefined && !mine.name && !mine.isLearner && pod.ordinal < o.initialSize) {
    // one of the initial members that never started: the cluster is still bootstrapping
    o.log(`joining the cluster being bootstrapped: ${initial}`);
    return { args: serverArgs(pod, 'new', initial) };
  }
  if (mine !== undefined) {
    // a member that ran here before and lost its volume: its old identity cannot come back
    o.log(`removing the old member ${mine.ID} that had this pod's peer URL`);
    await cluster.gw.memberRemove(mine.ID);
  }
  const added = await cluster.gw.memberAdd([pod.peerUrl()], true);
  o.log(`added as learner ${added.member.ID}`);
  const list = added.members.map((m) => `${m.ID === added.member.ID ? o.name : m.name || ''}=${(m.peerURLs ?? [])[0]}`).filter((e) => !e.startsWith('='));
  return { args: serverArgs(pod, 'existing', list.join(',')), learnerId: added.member.ID };
}

function startServer(args: string[], log: (msg: string) => void): ChildProcess {
  const entry = path.join(PACKAGE_ROOT, 'dist', 'src', 'cli', 'tsetcd.js');
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ETCD_')));
  const child = spawn(process.execPath, [entry, ...args], { stdio: 'inherit', env });
  log(`started tsetcd (pid ${child.pid})`);
  return child;
}

/** Promotes the learner once it has caught up; the leader refuses until then. */
async function promoteWhenReady(pod: Pod, id: string, stopped: () => boolean): Promise<void> {
  const gw = pod.gateway(pod.clientUrl());
  while (!stopped()) {
    try {
      await gw.memberPromote(id);
      pod.o.log(`promoted ${id} to a voting member`);
      return;
    } catch (err) {
      // already promoted (an earlier answer was lost) or removed meanwhile: nothing left to do
      if (/can only promote a learner member|member not found/.test((err as Error).message)) return;
    }
    await sleep(2000);
  }
}

// not unref'd: while the start is retried, this timer is all that keeps the process alive
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function resolves(host: string): Promise<boolean | undefined> {
  try {
    await dns.lookup(host);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // only "no such name" means the pod is gone; a DNS outage says nothing
    return code === 'ENOTFOUND' ? false : undefined;
  }
}

/** One pass of the leader's clean-up: members whose pod is gone for long are removed. */
export async function reconcile(pod: Pod, missingSince: Map<string, number>, nowMs: number): Promise<void> {
  const gw = pod.gateway(pod.clientUrl());
  if (!(await isLeader(pod))) return missingSince.clear();
  if ((await resolves(pod.host())) !== true) return; // our own name must resolve, or DNS is not to be trusted
  const members = await gw.memberList();
  for (const m of members) {
    const url = (m.peerURLs ?? [])[0];
    if (url === undefined || url === pod.peerUrl()) continue;
    const host = new URL(url).hostname;
    if (!host.endsWith(`.${pod.o.peerDomain}`)) continue;
    const found = await resolves(host);
    if (found !== false) {
      missingSince.delete(m.ID);
      continue;
    }
    const since = missingSince.get(m.ID) ?? nowMs;
    missingSince.set(m.ID, since);
    if (nowMs - since >= pod.o.removeMissingAfterMs) {
      pod.o.log(`removing member ${m.name || m.ID} (${host}): its pod has been gone for ${Math.round((nowMs - since) / 1000)}s`);
      await gw.memberRemove(m.ID);
      missingSince.delete(m.ID);
    }
  }
}

async function isLeader(pod: Pod): Promise<boolean> {
  const gw = pod.gateway(pod.clientUrl());
  try {
    const s = await gw.call<{ header?: { member_id?: string; memberId?: string }; leader?: string }>('/v3/maintenance/status', {});
    const self = s.header?.member_id ?? s.header?.memberId;
    return self !== undefined && self === s.leader;
  } catch {
    return false;
  }
}

async function afterStart(pod: Pod, plan: StartPlan, stopped: () => boolean): Promise<void> {
  if (plan.learnerId !== undefined) await promoteWhenReady(pod, plan.learnerId, stopped);
  if (pod.o.rootPassword !== undefined) {
    while (!stopped()) {
      try {
        const r = await enableAuth(pod.clientUrl(), pod.tlsFiles(), pod.o.rootPassword);
        if (r === 'enabled') pod.o.log('created the root user and enabled authentication');
        if (r === 'other-password') pod.o.log("authentication is on and root's password is not the one in --root-password-file; leaving it as it is");
        break;
      } catch {
        await sleep(2000);
      }
    }
  }
  const missing = new Map<string, number>();
  while (!stopped()) {
    await sleep(RECONCILE_EVERY_MS);
    await reconcile(pod, missing, Date.now()).catch((err: Error) => pod.o.log(`membership check failed: ${err.message}`));
  }
}

export async function runMember(o: RunMemberOptions): Promise<number> {
  const pod = new Pod(o);
  let plan: StartPlan | undefined;
  for (let attempt = 1; plan === undefined; attempt++) {
    try {
      plan = await planStart(pod);
    } catch (err) {
      if (err instanceof CtlExit) throw err;
      o.log(`cannot start yet (${(err as Error).message}); retrying`);
      if (attempt >= 60) throw new CtlExit(ExitCode.Error, `gave up after ${attempt} attempts: ${(err as Error).message}`);
      await sleep(3000);
    }
  }
  const child = startServer(plan.args, o.log);
  let stopping = false;
  const forward = (sig: NodeJS.Signals): void => {
    stopping = true;
    child.kill(sig);
  };
  process.on('SIGTERM', () => forward('SIGTERM'));
  process.on('SIGINT', () => forward('SIGINT'));
  const exited = new Promise<number>((resolve) => child.on('exit', (code, sig) => resolve(code ?? (sig ? 128 + (sig === 'SIGKILL' ? 9 : 15) : 1))));
  let done = false;
  void afterStart(pod, plan, () => done || stopping).catch((err: Error) => o.log(`membership helper stopped: ${err.message}`));
  const code = await exited;
  done = true;
  return code;
}

/** Flags → options; the extra arguments after `--` go to tsetcd as they are. */
export async function runMemberCommand(ctx: RunContext): Promise<void> {
  const f = (n: string): string => ctx.flags.get(n).string;
  const num = (n: string): number => {
    const v = Number(f(n));
    if (!Number.isInteger(v) || v < 1) throw new CtlExit(ExitCode.BadArgs, `--${n} must be a whole number above 0, got ${JSON.stringify(f(n))}`);
    return v;
  };
  const removeAfter = parseGoDurationMs(f('remove-missing-after'));
  if (typeof removeAfter === 'string') throw new CtlExit(ExitCode.BadArgs, `--remove-missing-after: ${removeAfter}`);
  let rootPassword: string | undefined;
  if (f('root-password-file') !== '') {
    try {
      rootPassword = fs.readFileSync(f('root-password-file'), 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new CtlExit(ExitCode.Error, `cannot read --root-password-file ${f('root-password-file')}: ${(err as NodeJS.ErrnoException).code}`);
    }
  }
  const o: RunMemberOptions = {
    name: f('name'),
    peerDomain: f('peer-domain'),
    initialSize: num('initial-size'),
    dataDir: f('data-dir'),
    tls: ctx.flags.get('tls').bool,
    pkiDir: f('pki-dir'),
    clientPort: num('client-port'),
    peerPort: num('peer-port'),
    token: f('initial-cluster-token'),
    removeMissingAfterMs: removeAfter,
    scan: num('scan'),
    extraArgs: ctx.args,
    log: (msg) => ctx.io.err(`run-member: ${msg}\n`),
  };
  if (rootPassword !== undefined) o.rootPassword = rootPassword;
  const code = await runMember(o);
  if (code !== 0) throw new CtlExit(code);
}
