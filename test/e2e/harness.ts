// Starts real etcd or tsetcd members on loopback and drives them with the real etcdctl,
// so tests compare what users see.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
/** repository root (this file runs from dist/test/e2e) */
export const REPO_ROOT = path.resolve(here, '../../..');
export const TSETCD_BIN = path.join(REPO_ROOT, 'bin/tsetcd');

export function haveBinary(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export interface MemberPorts {
  client: number;
  peer: number;
}

export async function freePorts(): Promise<MemberPorts> {
  return { client: await freePort(), peer: await freePort() };
}

export interface RunningMember {
  readonly proc: ChildProcess;
  readonly clientUrl: string;
  readonly logPath: string;
  /** SIGTERM and wait for exit */
  stop(): Promise<number | null>;
  /** SIGKILL and wait for exit */
  kill(): Promise<void>;
  exited: Promise<number | null>;
}

export interface StartOptions {
  bin: string;
  dataDir: string;
  ports: MemberPorts;
  name?: string;
  extraArgs?: string[];
  env?: NodeJS.ProcessEnv;
  /** wait until /health answers (default true) */
  waitHealthy?: boolean;
  /** the whole command line, replacing memberArgs (e.g. for https URLs) */
  args?: string[];
  /** how to tell the member is up, instead of GET /health over plain HTTP */
  ready?: () => Promise<boolean>;
}

export function memberArgs(o: StartOptions): string[] {
  const name = o.name ?? 'default';
  const peer = `http://127.0.0.1:${o.ports.peer}`;
  const client = `http://127.0.0.1:${o.ports.client}`;
  return [
    `--name=${name}`,
    `--data-dir=${o.dataDir}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=${name}=${peer}`,
    ...(o.extraArgs ?? []),
  ];
}

export async function startMember(o: StartOptions): Promise<RunningMember> {
  fs.mkdirSync(path.dirname(o.dataDir), { recursive: true });
  const logPath = `${o.dataDir}.log`;
  const log = fs.openSync(logPath, 'a');
  const proc = spawn(o.bin, o.args ?? memberArgs(o), {
    stdio: ['ignore', log, log],
    env: { ...process.env, ETCDCTL_API: '3', ...o.env },
  });
  fs.closeSync(log);
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const clientUrl = `http://127.0.0.1:${o.ports.client}`;
  const member: RunningMember = {
    proc,
    clientUrl,
    logPath,
    exited,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      return exited;
    },
    async kill() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
  if (o.waitHealthy !== false) {
    try {
      if (o.ready) await waitUntil(o.ready, exited, `member ${o.dataDir}`);
      else await waitHealthy(clientUrl, exited);
    } catch (err) {
      await member.kill();
      throw new Error(`${(err as Error).message}\n--- ${logPath}:\n${fs.readFileSync(logPath, 'utf8').slice(-3000)}`);
    }
  }
  return member;
}

/** Polls `ready` until it answers true; fails early when the process exits. */
export async function waitUntil(ready: () => Promise<boolean>, exited?: Promise<number | null>, what = 'member', timeoutMs = 20000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let dead = false;
  void exited?.then(() => (dead = true));
  while (Date.now() < deadline) {
    if (dead) throw new Error(`${what} exited before it became ready`);
    if (await ready()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} not ready after ${timeoutMs} ms`);
}

export async function waitHealthy(clientUrl: string, exited?: Promise<number | null>, timeoutMs = 20000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let dead = false;
  void exited?.then(() => (dead = true));
  while (Date.now() < deadline) {
    if (dead) throw new Error(`member at ${clientUrl} exited before it became healthy`);
    try {
      const res = await fetch(`${clientUrl}/health`);
      if (res.ok) return;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`member at ${clientUrl} not healthy after ${timeoutMs} ms`);
}

export interface CtlResult {
  stdout: string;
  /** stderr without etcdctl's own JSON log lines (retries etc.) */
  stderr: string;
  code: number | null;
}

export function etcdctl(endpoint: string, args: string[], stdin?: string): Promise<CtlResult> {
  return new Promise((resolve) => {
    const proc = spawn('etcdctl', [`--endpoints=${endpoint}`, '--dial-timeout=3s', '--command-timeout=10s', ...args], {
      env: { ...scrubbedEnv(), ETCDCTL_API: '3' },
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    proc.on('close', (code) => {
      const filtered = stderr
        .split('\n')
        .filter((l) => !l.startsWith('{"level":'))
        .join('\n');
      resolve({ stdout, stderr: filtered, code });
    });
    // a command that exits before reading its input must not fail the test with EPIPE
    proc.stdin.on('error', () => {});
    proc.stdin.end(stdin ?? '');
  });
}

function scrubbedEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('ETCDCTL_') || /_proxy$/i.test(k)) continue;
    env[k] = v;
  }
  return env;
}
