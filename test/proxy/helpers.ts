// Runs `tsetcd grpc-proxy start` as a process for the proxy tests: a free listen port (and
// metrics port), a log file, a wait until the proxy answers, and metric lookups.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { freePort, TSETCD_BIN, waitUntil } from '../e2e/harness.js';

export interface RunningProxy {
  readonly addr: string;
  readonly metricsUrl: string;
  readonly proc: ChildProcess;
  readonly exited: Promise<number | null>;
  log(): string;
  /** a metric from /proxy/metrics on the metrics address (NaN when absent) */
  metric(name: string): Promise<number>;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

export interface ProxyStart {
  endpoints: string[];
  logPath: string;
  extraArgs?: string[];
  /** how to tell the proxy is up (default: GET /health on its listen address over HTTP) */
  ready?: (p: { addr: string; metricsUrl: string }) => Promise<boolean>;
}

export async function startProxy(o: ProxyStart): Promise<RunningProxy> {
  const addr = `127.0.0.1:${await freePort()}`;
  const metricsUrl = `http://127.0.0.1:${await freePort()}`;
  const log = fs.openSync(o.logPath, 'a');
  const args = ['grpc-proxy', 'start', `--endpoints=${o.endpoints.join(',')}`, `--listen-addr=${addr}`, `--metrics-addr=${metricsUrl}`, ...(o.extraArgs ?? [])];
  const proc = spawn(TSETCD_BIN, args, { stdio: ['ignore', log, log] });
  fs.closeSync(log);
  live.add(proc);
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  void exited.then(() => live.delete(proc));
  const proxy: RunningProxy = {
    addr,
    metricsUrl,
    proc,
    exited,
    log: () => fs.readFileSync(o.logPath, 'utf8'),
    async metric(name: string) {
      const text = await (await fetch(`${metricsUrl}/proxy/metrics`)).text();
      const line = text.split('\n').find((l) => l.startsWith(`${name} `));
      return line ? Number(line.slice(name.length + 1)) : NaN;
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
  const ready =
    o.ready ??
    (async () => {
      try {
        return (await fetch(`${metricsUrl}/proxy/health`)).ok;
      } catch {
        return false;
      }
    });
  try {
    await waitUntil(() => ready({ addr, metricsUrl }), exited, 'grpc-proxy');
  } catch (err) {
    proc.kill('SIGKILL');
    throw new Error(`${(err as Error).message}\n--- proxy log:\n${proxy.log().slice(-3000)}`);
  }
  return proxy;
}

/** A running `etcdctl watch` whose output is collected as it comes. */
export interface CtlWatch {
  output(): string;
  stop(): Promise<void>;
}

export function watchWithEtcdctl(endpoint: string, args: string[], extraCtlArgs: string[] = []): CtlWatch {
  const proc = spawn('etcdctl', [`--endpoints=${endpoint}`, ...extraCtlArgs, 'watch', ...args], { env: { ...process.env, ETCDCTL_API: '3' } });
  live.add(proc);
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', () => {});
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  return {
    output: () => out,
    async stop() {
      proc.kill('SIGTERM');
      await exited;
      live.delete(proc);
    },
  };
}
