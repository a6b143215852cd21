// Watch benchmark: real etcd and tsetcd, started the same way one after the other on the
// same ports, driven by the same clients (our gRPC client on node:http2).
//
//   npx tsc -p tsconfig.json; node dist/bench/watch.js [scale]
//
// Cases (scale multiplies the counts, default 1):
//   latency   one watcher, 2,000 sequential puts: put sent -> event received (p50/p99)
//   fan-out   1,000 watchers of one prefix on 10 streams, 2,000 puts from 16 clients:
//             events delivered per second, member CPU per 1,000 events
//   spread    one stream of 10,000 single-key watchers, one put per key
// Printed, never asserted; not run by the tests.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KvClient } from '../test/e2e/client.js';
import { freePorts, haveBinary, startMember, TSETCD_BIN, type RunningMember } from '../test/e2e/harness.js';
import { WatchClient } from '../test/watch/watch-client.js';

const scale = Number(process.argv[2] ?? 1);
const LATENCY_PUTS = Math.round(2000 * scale);
const FAN_WATCHERS = Math.round(1000 * scale);
const FAN_STREAMS = 10;
const FAN_PUTS = Math.round(2000 * scale);
const SPREAD_WATCHERS = Math.round(10_000 * scale);
const WRITERS = 16;

function cpuMs(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * (1000 / 100);
}

function rssMiB(pid: number): number {
  const kib = Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
  return Math.round(kib / 102.4) / 10;
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const ms = (x: number) => Math.round(x * 100) / 100;

async function writeAll(clients: KvClient[], n: number, key: (i: number) => string): Promise<void> {
  let next = 0;
  await Promise.all(
    clients.map(async (c) => {
      while (next < n) await c.put(key(next++), 'v'.repeat(64));
    }),
  );
}

async function latency(m: RunningMember): Promise<Record<string, number>> {
  const wc = new WatchClient(m.clientUrl);
  const kv = new KvClient(m.clientUrl);
  wc.create({ key: 'lat' });
  await wc.waitFor((rs) => rs.length >= 1);
  const sentAt = new Map<number, number>();
  const lat: number[] = [];
  let waiting: (() => void) | undefined;
  wc.onResponse = (r) => {
    const now = performance.now();
    for (const e of r.events) {
      const v = Number(Buffer.from(e.kv!.value).toString());
      lat.push(now - sentAt.get(v)!);
    }
    waiting?.();
  };
  for (let i = 0; i < LATENCY_PUTS; i++) {
    const got = new Promise<void>((resolve) => (waiting = resolve));
    sentAt.set(i, performance.now());
    await kv.put('lat', String(i));
    await got;
  }
  wc.close();
  kv.close();
  lat.sort((a, b) => a - b);
  return { 'latency p50 ms': ms(pct(lat, 50)), 'latency p99 ms': ms(pct(lat, 99)), 'latency mean ms': ms(lat.reduce((a, b) => a + b, 0) / lat.length) };
}

async function fanOut(m: RunningMember, pid: number): Promise<Record<string, number>> {
  const streams = Array.from({ length: FAN_STREAMS }, () => new WatchClient(m.clientUrl));
  let events = 0;
  for (const [i, s] of streams.entries()) {
    for (let j = 0; j < FAN_WATCHERS / FAN_STREAMS; j++) s.create({ key: 'fan/', range_end: 'fan0' });
    s.onResponse = (r) => (events += r.events.length);
    void i;
  }
  await Promise.all(streams.map((s) => s.waitFor((rs) => rs.length >= FAN_WATCHERS / FAN_STREAMS, 60_000)));
  const clients = Array.from({ length: WRITERS }, () => new KvClient(m.clientUrl));
  const want = FAN_WATCHERS * FAN_PUTS;
  const cpu0 = cpuMs(pid);
  const t0 = performance.now();
  await writeAll(clients, FAN_PUTS, (i) => `fan/${i}`);
  while (events < want) await new Promise((r) => setTimeout(r, 2));
  const secs = (performance.now() - t0) / 1000;
  const cpu = cpuMs(pid) - cpu0;
  for (const c of clients) c.close();
  for (const s of streams) s.close();
  return { 'fan-out events/s': Math.round(want / secs), 'fan-out member CPU ms per 1k events': ms((cpu / want) * 1000), 'fan-out RSS MiB': rssMiB(pid) };
}

async function spread(m: RunningMember, pid: number): Promise<Record<string, number>> {
  const wc = new WatchClient(m.clientUrl);
  const key = (i: number) => `spread/${String(i).padStart(6, '0')}`;
  const rss0 = rssMiB(pid);
  const t0 = performance.now();
  for (let i = 0; i < SPREAD_WATCHERS; i++) wc.create({ key: key(i) });
  await wc.waitFor((rs) => rs.length >= SPREAD_WATCHERS, 120_000);
  const createMs = performance.now() - t0;
  const rss1 = rssMiB(pid);
  const clients = Array.from({ length: WRITERS }, () => new KvClient(m.clientUrl));
  const cpu0 = cpuMs(pid);
  const t1 = performance.now();
  await writeAll(clients, SPREAD_WATCHERS, key);
  await wc.waitFor((rs) => rs.length >= 2 * SPREAD_WATCHERS, 120_000);
  const secs = (performance.now() - t1) / 1000;
  const cpu = cpuMs(pid) - cpu0;
  for (const c of clients) c.close();
  wc.close();
  return {
    [`spread: create ${SPREAD_WATCHERS} watchers ms`]: Math.round(createMs),
    'spread: RSS growth MiB': ms(rss1 - rss0),
    'spread: put+event per s': Math.round(SPREAD_WATCHERS / secs),
    'spread: member CPU ms per put+event': ms(cpu / SPREAD_WATCHERS),
  };
}

async function run(bin: string, dataDir: string, ports: { client: number; peer: number }): Promise<Record<string, number>> {
  const m = await startMember({ bin, dataDir, ports });
  try {
    const pid = m.proc.pid!;
    return { ...(await latency(m)), ...(await fanOut(m, pid)), ...(await spread(m, pid)) };
  } finally {
    await m.stop();
  }
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsetcd-bench-watch-'));
  try {
    const ports = await freePorts();
    const etcd = haveBinary('etcd') ? await run('etcd', path.join(dir, 'etcd'), ports) : undefined;
    const ours = await run(TSETCD_BIN, path.join(dir, 'tsetcd'), ports);
    console.log(`watch benchmark (scale ${scale}): ${os.cpus().length} CPUs, ${os.cpus()[0]?.model ?? ''}`);
    console.log(`${'metric'.padEnd(42)}${'etcd 3.4'.padStart(12)}${'tsetcd'.padStart(12)}${'tsetcd/etcd'.padStart(13)}`);
    for (const [k, v] of Object.entries(ours)) {
      const e = etcd?.[k];
      const ratio = e ? (v / e).toFixed(2) : '-';
      console.log(`${k.padEnd(42)}${String(e ?? '-').padStart(12)}${String(v).padStart(12)}${ratio.padStart(13)}`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
