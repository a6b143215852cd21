// tsetcdutl cluster up / down: the tutorials' whole TLS walk-through as one command.
// `up` makes a CA and certificates (cluster-pki.ts), starts the members in the
// background with mutual TLS on client and peer URLs (and, for tsetcd members, the web
// dashboard on its own port, with the client API's TLS), waits until every member is
// healthy and one leads, and prints `export ETCDCTL_...` lines for `eval`. `down` stops
// exactly the members it started, found through pid files that are checked against the
// process's command line, so a recycled pid is never signalled.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunContext } from '../ctl/cmdtree.js';
import { CtlExit, ExitCode, type Io } from '../ctl/io.js';
import { ensureClusterPki, type ClusterPki } from './cluster-pki.js';

const STATE_FILE = 'cluster.json';
const DEFAULT_DIR = 'tsetcd-cluster';
const DEFAULT_BASE_PORT = 2379;
const MAX_SIZE = 9;
/** client, peer and dashboard */
const PORTS_PER_MEMBER = 3;
const HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;
const POLL_MS = 200;

/** What `up` decided the first time; later runs on the same directory reuse it. */
interface ClusterState {
  size: number;
  basePort: number;
  token: string;
  /** the member binary; our own tsetcd unless --bin named another (e.g. etcd) */
  bin: string;
}

interface MemberLayout {
  name: string;
  clientPort: number;
  peerPort: number;
  /** after every member's client/peer pair: m1 at basePort + 2 * size, m2 next, ... */
  dashboardPort: number;
  dataDir: string;
  pidFile: string;
  logFile: string;
}

const here = path.dirname(fileURLToPath(import.meta.url));
/** dist/src/cli/tsetcd.js, next to this file's folder */
const TSETCD_ENTRY = path.resolve(here, '..', 'tsetcd.js');

function layout(dir: string, s: ClusterState): MemberLayout[] {
  return Array.from({ length: s.size }, (_, i) => {
    const name = `m${i + 1}`;
    return {
      name,
      // m1 2379/2380, m2 2381/2382, ...: contiguous, and m1 sits on etcd's default ports
      clientPort: s.basePort + 2 * i,
      peerPort: s.basePort + 2 * i + 1,
      dashboardPort: s.basePort + 2 * s.size + i,
      dataDir: path.join(dir, name),
      pidFile: path.join(dir, `${name}.pid`),
      logFile: path.join(dir, `${name}.log`),
    };
  });
}

const clientUrl = (m: MemberLayout): string => `https://${HOST}:${m.clientPort}`;
const peerUrl = (m: MemberLayout): string => `https://${HOST}:${m.peerPort}`;
const dashboardUrl = (m: MemberLayout): string => `https://${HOST}:${m.dashboardPort}`;
/** other member binaries (etcd itself, via --bin) have no dashboard */
const hasDashboard = (s: ClusterState): boolean => s.bin === 'tsetcd';

function readState(dir: string): ClusterState | undefined {
  const file = path.join(dir, STATE_FILE);
  if (!fs.existsSync(file)) return undefined;
  try {
    const s = JSON.parse(fs.readFileSync(file, 'utf8')) as ClusterState;
    if (!Number.isInteger(s.size) || !Number.isInteger(s.basePort) || typeof s.token !== 'string' || typeof s.bin !== 'string') throw new Error('missing fields');
    return s;
  } catch (err) {
    throw new CtlExit(ExitCode.Error, `${file} is damaged (${(err as Error).message}); remove ${dir} to start a new cluster`);
  }
}

function intFlag(ctx: RunContext, name: string, min: number, max: number): number | undefined {
  const f = ctx.flags.get(name);
  if (!f.changed) return undefined;
  const v = Number(f.string);
  if (!Number.isInteger(v) || v < min || v > max) throw new CtlExit(ExitCode.BadArgs, `--${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(f.string)}`);
  return v;
}

/** The pid in the member's pid file, if that process is alive and is that member. */
function runningPid(m: MemberLayout): number | undefined {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(m.pidFile, 'utf8').trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
  } catch {
    return undefined;
  }
  try {
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    if (!cmdline.includes(`--data-dir=${m.dataDir}`)) return undefined;
  } catch {
    return undefined;
  }
  return pid;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen({ host: HOST, port, exclusive: true }, () => s.close(() => resolve(true)));
  });
}

function memberArgs(m: MemberLayout, all: MemberLayout[], pki: ClusterPki, s: ClusterState): string[] {
  const own = pki.members.get(m.name)!;
  return [
    `--name=${m.name}`,
    `--data-dir=${m.dataDir}`,
    `--listen-client-urls=${clientUrl(m)}`,
    `--advertise-client-urls=${clientUrl(m)}`,
    `--listen-peer-urls=${peerUrl(m)}`,
    `--initial-advertise-peer-urls=${peerUrl(m)}`,
    `--initial-cluster=${all.map((x) => `${x.name}=${peerUrl(x)}`).join(',')}`,
    `--initial-cluster-token=${s.token}`,
    '--initial-cluster-state=new',
    '--client-cert-auth',
    `--trusted-ca-file=${pki.ca}`,
    `--cert-file=${own.cert}`,
    `--key-file=${own.key}`,
    '--peer-client-cert-auth',
    `--peer-trusted-ca-file=${pki.ca}`,
    `--peer-cert-file=${own.cert}`,
    `--peer-key-file=${own.key}`,
    ...(hasDashboard(s) ? [`--listen-dashboard-urls=${dashboardUrl(m)}`, '--metrics=extensive'] : []),
  ];
}

function startMember(m: MemberLayout, args: string[], bin: string): number {
  fs.mkdirSync(path.dirname(m.logFile), { recursive: true });
  const log = fs.openSync(m.logFile, 'a');
  const [command, argv] = bin === 'tsetcd' ? [process.execPath, [TSETCD_ENTRY, ...args]] : [bin, args];
  // detached and with no pipe back to us, so `eval "$(tsetcdutl cluster up)"` returns
  // ETCD_* variables from the caller's shell would fight the flags (etcd refuses both)
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ETCD_')));
  const child = spawn(command, argv, { detached: true, stdio: ['ignore', log, log], env });
  fs.closeSync(log);
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new CtlExit(ExitCode.Error, `could not start ${m.name} (${command})`);
  fs.writeFileSync(m.pidFile, `${pid}\n`);
  return pid;
}

/** GET path on a member over mutual TLS; undefined when it does not answer 200. */
function get(m: MemberLayout, pki: ClusterPki, pathname: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = https.get(
      `${clientUrl(m)}${pathname}`,
      { ca: fs.readFileSync(pki.ca), cert: fs.readFileSync(pki.client.cert), key: fs.readFileSync(pki.client.key), timeout: 2000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve(res.statusCode === 200 ? body : undefined));
        res.on('error', () => resolve(undefined));
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
  });
}

async function isLeader(m: MemberLayout, pki: ClusterPki): Promise<boolean> {
  const metrics = await get(m, pki, '/metrics');
  return metrics !== undefined && /^etcd_server_is_leader 1$/m.test(metrics);
}

function logTail(file: string, lines = 15): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

async function waitReady(members: MemberLayout[], pki: ClusterPki, io: Io): Promise<MemberLayout> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let unhealthy = members;
  while (Date.now() < deadline) {
    const health = await Promise.all(members.map((m) => get(m, pki, '/health')));
    unhealthy = members.filter((_, i) => health[i] === undefined || !health[i]!.includes('"health":"true"'));
    const dead = members.filter((m) => runningPid(m) === undefined);
    if (dead.length > 0) {
      throw new CtlExit(ExitCode.Error, dead.map((m) => `${m.name} exited; the end of ${m.logFile}:\n${logTail(m.logFile)}`).join('\n'));
    }
    if (unhealthy.length === 0) {
      const leaders = (await Promise.all(members.map((m) => isLeader(m, pki)))).flatMap((yes, i) => (yes ? [members[i]!] : []));
      if (leaders.length === 1) return leaders[0]!;
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  io.err(unhealthy.map((m) => `${m.name} is not healthy; the end of ${m.logFile}:\n${logTail(m.logFile)}\n`).join(''));
  throw new CtlExit(ExitCode.Error, `the cluster did not become healthy with one leader within ${READY_TIMEOUT_MS / 1000}s; stop it with: tsetcdutl cluster down --dir ${path.dirname(members[0]!.dataDir)}`);
}

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:,@%+=-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function dirOf(ctx: RunContext): string {
  return path.resolve(ctx.flags.get('dir').string || DEFAULT_DIR);
}

export async function clusterUpCommand(ctx: RunContext): Promise<void> {
  const dir = dirOf(ctx);
  const size = intFlag(ctx, 'size', 1, MAX_SIZE);
  const basePort = intFlag(ctx, 'base-port', 1024, 65535 - PORTS_PER_MEMBER * MAX_SIZE);
  const binFlag = ctx.flags.get('bin');
  let state = readState(dir);
  if (state) {
    if (size !== undefined && size !== state.size) {
      throw new CtlExit(ExitCode.BadArgs, `${dir} holds a ${state.size}-member cluster; a cluster's size changes with member add/remove, or remove ${dir} to start a new one`);
    }
    if (basePort !== undefined && basePort !== state.basePort) {
      throw new CtlExit(ExitCode.BadArgs, `${dir} holds a cluster on ports from ${state.basePort}; its members' URLs are in its data, so remove ${dir} to start one elsewhere`);
    }
    if (binFlag.changed && binFlag.string !== state.bin) throw new CtlExit(ExitCode.BadArgs, `${dir} holds a cluster run by ${state.bin}`);
  } else {
    state = { size: size ?? 3, basePort: basePort ?? DEFAULT_BASE_PORT, token: `tsetcd-cluster-${randomBytes(4).toString('hex')}`, bin: binFlag.string || 'tsetcd' };
  }
  const log = (line: string): void => ctx.io.err(`${line}\n`);
  const members = layout(dir, state);
  const pki = await ensureClusterPki(path.join(dir, 'pki'), members.map((m) => m.name), log);
  fs.writeFileSync(path.join(dir, STATE_FILE), JSON.stringify(state, null, 2) + '\n');

  const toStart = members.filter((m) => {
    const pid = runningPid(m);
    if (pid !== undefined) log(`${m.name} is already running (pid ${pid})`);
    return pid === undefined;
  });
  for (const m of toStart) {
    for (const port of hasDashboard(state) ? [m.clientPort, m.peerPort, m.dashboardPort] : [m.clientPort, m.peerPort]) {
      if (!(await portFree(port))) {
        throw new CtlExit(ExitCode.Error, `port ${port} (${m.name}) is in use by another program; pick other ports with --base-port (on a new --dir)`);
      }
    }
  }
  for (const m of toStart) {
    const pid = startMember(m, memberArgs(m, members, pki, state), state.bin);
    const dashboard = hasDashboard(state) ? `, dashboard ${dashboardUrl(m)}` : '';
    log(`started ${m.name} (pid ${pid}): client ${clientUrl(m)}, peer ${peerUrl(m)}${dashboard}, log ${m.logFile}`);
  }
  let leader: MemberLayout;
  try {
    leader = await waitReady(members, pki, ctx.io);
  } catch (err) {
    // members this run started and that are not serving would hold the ports: stop them
    await stopMembers(toStart, () => {});
    throw err;
  }
  log(`${members.length} member${members.length === 1 ? '' : 's'} healthy, ${leader.name} is the leader; stop them with: tsetcdutl cluster down --dir ${shellQuote(dir)}`);
  if (hasDashboard(state)) {
    log(`dashboard: ${members.map(dashboardUrl).join(' ')} (the browser presents ${pki.client.cert} with ${pki.client.key}, trusting ${pki.ca})`);
  }
  ctx.io.out(
    [
      'export ETCDCTL_API=3',
      `export ETCDCTL_ENDPOINTS=${members.map(clientUrl).join(',')}`,
      `export ETCDCTL_CACERT=${shellQuote(pki.ca)}`,
      `export ETCDCTL_CERT=${shellQuote(pki.client.cert)}`,
      `export ETCDCTL_KEY=${shellQuote(pki.client.key)}`,
      '',
    ].join('\n'),
  );
}

async function stopMembers(members: MemberLayout[], log: (line: string) => void): Promise<number> {
  const running = members.flatMap((m) => {
    const pid = runningPid(m);
    return pid === undefined ? [] : [{ m, pid }];
  });
  for (const { pid } of running) process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  for (const { m, pid } of running) {
    while (runningPid(m) !== undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    if (runningPid(m) !== undefined) {
      process.kill(pid, 'SIGKILL');
      log(`${m.name} (pid ${pid}) did not stop within ${STOP_TIMEOUT_MS / 1000}s; killed it`);
    } else log(`stopped ${m.name} (pid ${pid})`);
    fs.rmSync(m.pidFile, { force: true });
  }
  return running.length;
}

export async function clusterDownCommand(ctx: RunContext): Promise<void> {
  const dir = dirOf(ctx);
  const state = readState(dir);
  if (!state) throw new CtlExit(ExitCode.Error, `${dir} holds no cluster made by tsetcdutl cluster up`);
  const stopped = await stopMembers(layout(dir, state), (line) => ctx.io.err(`${line}\n`));
  if (stopped === 0) ctx.io.err(`no member of ${dir} was running\n`);
  else ctx.io.err(`data and certificates are kept in ${dir}: cluster up --dir ${shellQuote(dir)} starts the same cluster again\n`);
}
