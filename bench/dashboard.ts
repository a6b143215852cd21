// What an open dashboard costs the member: put throughput (gRPC, CONCURRENCY calls in
// flight) alone, and while a dashboard client does what the live views do — the Cluster
// view's member list, status, alarms and every member's status every 2 s, the Metrics
// view's /metrics scrape every 5 s, and a watch on every key (so each put is also streamed to the browser). The
// dashboard client is a separate process, like a browser.
// Two identical single-member clusters are loaded at the same time, each by its own
// CONCURRENCY calls; in each round the dashboard is open on one of them and the other is
// the control, and they swap every round. Measuring both in the same seconds cancels
// the load of a shared machine, which moves throughput by 2x between seconds. Besides
// throughput it prints each member's CPU time per put (from /proc/<pid>/stat).
//
//   npm run build; node dist/bench/dashboard.js [seconds-per-round=5] [rounds=6] [watch|nowatch] [puts-per-second]
//
// `nowatch` leaves the watch out: the Cluster and Metrics views' polling alone. With a
// puts-per-second rate each member's load is paced at that rate instead of as fast as possible:
// then the member's CPU per put compares like with like (at full speed, a slower round
// also batches fewer puts per WAL write, which alone raises CPU per put).
//
// Printed, never asserted; not run by the tests.
import { type ChildProcess, fork, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UnaryClient } from '../src/client/unary-client.js';
import { PutRequest } from '../src/proto/etcdserverpb.js';
import { freePort, TSETCD_BIN, waitHealthy } from '../test/e2e/harness.js';

const secondsPerRound = Number(process.argv[2] ?? 5);
const rounds = Number(process.argv[3] ?? 6);
const withWatch = (process.argv[4] ?? 'watch') !== 'nowatch';
const pacedRate = Number(process.argv[5] ?? 0);
const CONCURRENCY = 32;
/** the Cluster view's and the Metrics view's polling intervals (src/dashboard/ui) */
const CLUSTER_POLL_MS = 2000;
const METRICS_POLL_MS = 5000;
const H = { 'X-Tsetcd-Dashboard': '1' };

async function putsFor(client: UnaryClient, ms: number): Promise<number> {
  const end = Date.now() + ms;
  let done = 0;
  const value = Buffer.alloc(128, 'v');
  const start = Date.now();
  let slot = 0;
  const worker = async (w: number): Promise<void> => {
    for (let i = 0; Date.now() < end; i++) {
      if (pacedRate > 0) {
        const atMs = start + (slot++ * 1000) / pacedRate;
        if (atMs >= end) break;
        if (atMs > Date.now()) await new Promise((r) => setTimeout(r, atMs - Date.now()));
      }
      await client.call('/etcdserverpb.KV/Put', PutRequest.encode(PutRequest.create({ key: Buffer.from(`k${w}/${i % 1000}`), value })), { timeoutMs: 10_000 });
      done++;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, (_, w) => worker(w)));
  return done / (ms / 1000);
}

/** The live views' traffic, until stop() is called. */
function openDashboard(base: string, watchAll: boolean): { stop(): void; watched: () => number; ready: Promise<void> } {
  const controller = new AbortController();
  let events = 0;
  let streaming = (): void => {};
  const ready = watchAll ? new Promise<void>((resolve) => (streaming = resolve)) : Promise.resolve();
  const poll = async (): Promise<void> => {
    const post = (p: string, body: unknown) => fetch(`${base}/api/v3${p}`, { method: 'POST', headers: H, body: JSON.stringify(body), signal: controller.signal }).then((r) => r.arrayBuffer());
    const get = (p: string) => fetch(`${base}${p}`, { signal: controller.signal }).then((r) => r.text());
    await Promise.all([post('/cluster/member/list', {}), post('/maintenance/status', {}), post('/maintenance/alarm', { action: 'GET' }), get('/api/cluster/status')]);
  };
  const scrape = () => fetch(`${base}/api/metrics`, { signal: controller.signal }).then((r) => r.text());
  const timers = [setInterval(() => void poll().catch(() => {}), CLUSTER_POLL_MS), setInterval(() => void scrape().catch(() => {}), METRICS_POLL_MS)];
  if (watchAll) void (async () => {
    const res = await fetch(`${base}/api/watch`, { method: 'POST', headers: H, body: JSON.stringify({ create_request: { key: 'AA==', range_end: 'AA==' } }), signal: controller.signal });
    streaming();
    for await (const chunk of res.body!) events += (chunk as Uint8Array).filter((b) => b === 10).length;
  })().catch(() => {});
  return {
    stop: () => {
      for (const t of timers) clearInterval(t);
      controller.abort();
    },
    watched: () => events,
    ready,
  };
}

/**
 * The dashboard client runs in a process of its own, as a browser would: its own parsing
 * must not slow the process that makes the puts. It is started once, before any round,
 * so its start-up is not measured; each round opens and closes the views.
 */
class DashboardProcess {
  private readonly child: ChildProcess;
  /** the client process is up */
  readonly started: Promise<unknown>;

  constructor(watchAll: boolean) {
    this.child = fork(fileURLToPath(import.meta.url), [CLIENT_MODE, watchAll ? 'watch' : 'nowatch'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.started = new Promise((resolve) => this.child.once('message', resolve));
  }

  private ask(command: string): Promise<number> {
    return new Promise((resolve) => {
      this.child.once('message', (m) => resolve(Number(m)));
      this.child.send(command);
    });
  }

  /** opens the views on the dashboard at base; resolves once the watch is streaming */
  open = (base: string): Promise<number> => this.ask(`open ${base}`);
  /** closes the views; resolves with the watch lines received */
  close = (): Promise<number> => this.ask('close');
  exit = (): void => void this.child.kill();
}

function dashboardClientMain(watchAll: boolean): void {
  let d: ReturnType<typeof openDashboard> | undefined;
  process.on('message', (command) => {
    if (String(command).startsWith('open ')) {
      d = openDashboard(String(command).slice('open '.length), watchAll);
      void d.ready.then(() => process.send!(0));
    } else {
      d?.stop();
      process.send!(d?.watched() ?? 0);
    }
  });
  process.send!(0);
}

/** The member's user+system CPU time so far, in ms (Linux /proc; clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  // after the command name: utime and stime are fields 14 and 15 of stat, 12 and 13 here
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

interface Round {
  putsPerSec: number;
  cpuUsPerPut: number;
}

async function measure(pid: number, client: UnaryClient, ms: number): Promise<Round> {
  const cpu0 = cpuMs(pid);
  const rate = await putsFor(client, ms);
  const cpu = cpuMs(pid) - cpu0;
  return { putsPerSec: rate, cpuUsPerPut: (cpu * 1000) / (rate * (ms / 1000)) };
}

const signed = (x: number): string => (x >= 0 ? '+' : '') + x.toFixed(1);

interface Member {
  proc: ChildProcess;
  grpc: UnaryClient;
  dashboardUrl: string;
}

async function startMember(dir: string, name: string): Promise<Member> {
  const [client, peer, dash] = [await freePort(), await freePort(), await freePort()];
  const clientUrl = `http://127.0.0.1:${client}`;
  const proc = spawn(TSETCD_BIN, [
    `--data-dir=${dir}/${name}`,
    `--listen-client-urls=${clientUrl}`,
    `--advertise-client-urls=${clientUrl}`,
    `--listen-peer-urls=http://127.0.0.1:${peer}`,
    `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`,
    `--initial-cluster=default=http://127.0.0.1:${peer}`,
    `--listen-dashboard-urls=http://127.0.0.1:${dash}`,
  ], { stdio: 'ignore' });
  await waitHealthy(clientUrl);
  return { proc, grpc: new UnaryClient(clientUrl), dashboardUrl: `http://127.0.0.1:${dash}` };
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsetcd-bench-dashboard-'));
  const members: Member[] = [];
  try {
    members.push(await startMember(dir, 'a'), await startMember(dir, 'b'));
    const browser = new DashboardProcess(withWatch);
    await browser.started;
    await Promise.all(members.map((m) => putsFor(m.grpc, 3000))); // warm-up: the JIT and the backend settle
    const without: Round[] = [];
    const withDash: Round[] = [];
    for (let r = 0; r < rounds; r++) {
      // the dashboard is open on one member, the other is the control; they swap every round
      const [open, control] = r % 2 === 0 ? [members[0]!, members[1]!] : [members[1]!, members[0]!];
      await browser.open(open.dashboardUrl);
      const [b, a] = await Promise.all([measure(open.proc.pid!, open.grpc, secondsPerRound * 1000), measure(control.proc.pid!, control.grpc, secondsPerRound * 1000)]);
      const watched = await browser.close();
      without.push(a);
      withDash.push(b);
      console.log(
        `round ${r + 1}: ${a.putsPerSec.toFixed(0)} puts/s without (${a.cpuUsPerPut.toFixed(0)} µs CPU/put), ` +
          `${b.putsPerSec.toFixed(0)} puts/s with the dashboard open (${b.cpuUsPerPut.toFixed(0)} µs CPU/put; ${watched} watch lines streamed)`,
      );
    }
    const mean = (xs: number[]) => xs.reduce((x, y) => x + y, 0) / xs.length;
    const put = (rs: Round[]) => mean(rs.map((x) => x.putsPerSec));
    const cpu = (rs: Round[]) => mean(rs.map((x) => x.cpuUsPerPut));
    console.log(`mean: ${put(without).toFixed(0)} puts/s without, ${put(withDash).toFixed(0)} with dashboard: cost ${signed((1 - put(withDash) / put(without)) * 100)}% of throughput`);
    console.log(`mean CPU per put: ${cpu(without).toFixed(0)} µs without, ${cpu(withDash).toFixed(0)} µs with dashboard: ${signed((cpu(withDash) / cpu(without) - 1) * 100)}%`);
    // the median of each round's own ratio: a round disturbed by other work weighs no more than one
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
    const ratios = (f: (x: Round) => number) => without.map((a, i) => f(withDash[i]!) / f(a));
    console.log(`median per-round cost: throughput ${signed((1 - median(ratios((x) => x.putsPerSec))) * 100)}%, CPU per put ${signed((median(ratios((x) => x.cpuUsPerPut)) - 1) * 100)}%`);
    browser.exit();
  } finally {
    for (const m of members) {
      m.grpc.close();
      m.proc.kill('SIGTERM');
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const CLIENT_MODE = '--dashboard-client';
if (process.argv[2] === CLIENT_MODE) dashboardClientMain(process.argv[3] === 'watch');
else await main();
