// What an open dashboard costs the member: put throughput (gRPC, CONCURRENCY calls in
// flight) alone, and while a dashboard client does what the live views do — the Cluster
// view's member list, status and alarms every 2 s, the Metrics view's /metrics scrape
// every 2 s, and a watch on every key (so each put is also streamed to the browser).
// Rounds alternate without/with, to spread machine noise over both.
//
//   npm run build; node dist/bench/dashboard.js [seconds-per-round=5] [rounds=3] [watch|nowatch]
//
// `nowatch` leaves the watch out: the Cluster and Metrics views' polling alone.
//
// Printed, never asserted; not run by the tests.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UnaryClient } from '../src/client/unary-client.js';
import { PutRequest } from '../src/proto/etcdserverpb.js';
import { freePort, TSETCD_BIN, waitHealthy } from '../test/e2e/harness.js';

const secondsPerRound = Number(process.argv[2] ?? 5);
const rounds = Number(process.argv[3] ?? 3);
const withWatch = (process.argv[4] ?? 'watch') !== 'nowatch';
const CONCURRENCY = 32;
const VIEW_POLL_MS = 2000;
const H = { 'X-Tsetcd-Dashboard': '1' };

async function putsFor(client: UnaryClient, ms: number): Promise<number> {
  const end = Date.now() + ms;
  let done = 0;
  const value = Buffer.alloc(128, 'v');
  const worker = async (w: number): Promise<void> => {
    for (let i = 0; Date.now() < end; i++) {
      await client.call('/etcdserverpb.KV/Put', PutRequest.encode(PutRequest.create({ key: Buffer.from(`k${w}/${i % 1000}`), value })), { timeoutMs: 10_000 });
      done++;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, (_, w) => worker(w)));
  return done / (ms / 1000);
}

/** The live views' traffic, until stop() is called. */
function openDashboard(base: string, watchAll: boolean): { stop(): void; watched: () => number } {
  const controller = new AbortController();
  let events = 0;
  const poll = async (): Promise<void> => {
    const post = (p: string, body: unknown) => fetch(`${base}/api/v3${p}`, { method: 'POST', headers: H, body: JSON.stringify(body), signal: controller.signal }).then((r) => r.arrayBuffer());
    await Promise.all([post('/cluster/member/list', {}), post('/maintenance/status', {}), post('/maintenance/alarm', { action: 'GET' }), fetch(`${base}/api/metrics`, { signal: controller.signal }).then((r) => r.text())]);
  };
  const timer = setInterval(() => void poll().catch(() => {}), VIEW_POLL_MS);
  if (watchAll) void (async () => {
    const res = await fetch(`${base}/api/watch`, { method: 'POST', headers: H, body: JSON.stringify({ create_request: { key: 'AA==', range_end: 'AA==' } }), signal: controller.signal });
    for await (const chunk of res.body!) events += (chunk as Uint8Array).filter((b) => b === 10).length;
  })().catch(() => {});
  return {
    stop: () => {
      clearInterval(timer);
      controller.abort();
    },
    watched: () => events,
  };
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsetcd-bench-dashboard-'));
  const [client, peer, dash] = [await freePort(), await freePort(), await freePort()];
  const clientUrl = `http://127.0.0.1:${client}`;
  const proc = spawn(TSETCD_BIN, [
    `--data-dir=${dir}/m`,
    `--listen-client-urls=${clientUrl}`,
    `--advertise-client-urls=${clientUrl}`,
    `--listen-peer-urls=http://127.0.0.1:${peer}`,
    `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`,
    `--initial-cluster=default=http://127.0.0.1:${peer}`,
    `--listen-dashboard-urls=http://127.0.0.1:${dash}`,
  ], { stdio: 'ignore' });
  try {
    await waitHealthy(clientUrl);
    const grpc = new UnaryClient(clientUrl);
    await putsFor(grpc, 3000); // warm-up: the JIT and the backend settle
    const without: number[] = [];
    const withDash: number[] = [];
    for (let r = 0; r < rounds; r++) {
      without.push(await putsFor(grpc, secondsPerRound * 1000));
      const d = openDashboard(`http://127.0.0.1:${dash}`, withWatch);
      withDash.push(await putsFor(grpc, secondsPerRound * 1000));
      d.stop();
      console.log(`round ${r + 1}: ${without[r]!.toFixed(0)} puts/s alone, ${withDash[r]!.toFixed(0)} puts/s with the dashboard open (${d.watched()} watch lines streamed)`);
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const cost = (1 - mean(withDash) / mean(without)) * 100;
    console.log(`mean: ${mean(without).toFixed(0)} alone, ${mean(withDash).toFixed(0)} with dashboard: cost ${cost.toFixed(1)}% of throughput`);
    grpc.close();
  } finally {
    proc.kill('SIGTERM');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
