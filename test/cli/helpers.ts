// Processes for the CLI tests: real etcd members on loopback and the two clients
// (etcdctl and bin/tsetcdctl) run with the same arguments, environment and stdin.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
/** repository root (this file runs from dist/test/cli) */
export const REPO_ROOT = path.resolve(here, '../../..');
export const BIN = {
  tsetcd: path.join(REPO_ROOT, 'bin/tsetcd'),
  tsetcdctl: path.join(REPO_ROOT, 'bin/tsetcdctl'),
  tsetcdutl: path.join(REPO_ROOT, 'bin/tsetcdutl'),
};

export function haveBinary(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export interface Member {
  clientPort: number;
  endpoint: string;
  dataDir: string;
  stop(): Promise<void>;
}

async function waitHealthy(url: string, exited: () => boolean, log: string): Promise<void> {
  const deadline = Date.now() + 20000;
  while (Date.now() < deadline) {
    if (exited()) throw new Error(`member exited before it was healthy:\n${fs.readFileSync(log, 'utf8').slice(-2000)}`);
    try {
      if ((await fetch(`${url}/health`)).ok) return;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`member at ${url} not healthy in time:\n${fs.readFileSync(log, 'utf8').slice(-2000)}`);
}

/**
 * Starts a single-member cluster. The peer URL it advertises is the default
 * (http://localhost:2380), so two members started this way have the same member and
 * cluster IDs and differ only in their client port.
 */
export async function startMember(bin: string, dataDir: string, clientPort?: number, extraArgs: string[] = []): Promise<Member> {
  const port = clientPort ?? (await freePort());
  const peerPort = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const log = `${dataDir}.log`;
  const fd = fs.openSync(log, 'a');
  const proc: ChildProcess = spawn(
    bin,
    [`--data-dir=${dataDir}`, `--listen-client-urls=${url}`, `--advertise-client-urls=${url}`, `--listen-peer-urls=http://127.0.0.1:${peerPort}`, ...extraArgs],
    { stdio: ['ignore', fd, fd], env: cleanEnv() },
  );
  fs.closeSync(fd);
  let dead = false;
  const exited = new Promise<void>((r) => proc.once('exit', () => ((dead = true), r())));
  try {
    await waitHealthy(url, () => dead, log);
  } catch (err) {
    proc.kill('SIGKILL');
    throw err;
  }
  return {
    clientPort: port,
    endpoint: `127.0.0.1:${port}`,
    dataDir,
    async stop() {
      if (!dead) proc.kill('SIGTERM');
      await exited;
    },
  };
}

/** The test process's environment without ETCDCTL_* and proxy settings. */
export function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('ETCDCTL_') || /_proxy$/i.test(k)) continue;
    env[k] = v;
  }
  return env;
}

export interface Result {
  stdout: Buffer;
  stderr: string;
  code: number | null;
  /** the signal that ended the process, if one did */
  signal: NodeJS.Signals | null;
}

export function run(bin: string, args: string[], opts: { env?: Record<string, string>; stdin?: string | Buffer } = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const proc = spawn(bin, args, { env: { ...cleanEnv(), ...opts.env } });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    proc.stdout.on('data', (d: Buffer) => out.push(d));
    proc.stderr.on('data', (d: Buffer) => err.push(d));
    proc.once('error', reject);
    proc.once('close', (code, signal) => resolve({ stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8'), code, signal }));
    proc.stdin.on('error', () => {});
    proc.stdin.end(opts.stdin ?? '');
  });
}
