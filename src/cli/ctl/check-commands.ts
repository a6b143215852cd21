// check perf and check datascale, as etcdctl 3.5 runs them, with their verdicts:
//
// - perf: for `duration` seconds, puts of 1 KiB values under --prefix at `limit` per
//   second from `clients` connections; PASS when the throughput reaches 90% of the
//   limit, the slowest put took at most 0.5 s and the latencies' standard deviation is
//   at most 0.1 s; otherwise FAIL and exit 1;
// - datascale: `limit` puts of 512-byte keys and values from `clients` connections,
//   reading process_resident_memory_bytes from the first endpoint's /metrics before and
//   after; PASS with the memory it took, FAIL on errors or an unreadable metric;
// - both refuse a --prefix that already has keys (exit 3), delete what they wrote, and
//   with --auto-compact / --auto-defrag compact to the deletion's revision and
//   defragment every endpoint.
//
// The load levels are etcd's (s, m, l, xl, and their long names). For tests only,
// TSETCDCTL_CHECK_LOAD="limit,clients,duration" replaces the chosen level's numbers.
import crypto from 'node:crypto';
import { KVService, MaintenanceService, RangeRequest } from '../../proto/etcdserverpb.js';
import { argBytes } from './argv.js';
import { CtlClient, RpcError } from './client.js';
import type { CommandSpec, RunContext } from './cmdtree.js';
import { connect, endpointsOf } from './global.js';
import { goQuote } from './gofmt.js';
import { CtlExit, ExitCode, type Io } from './io.js';
import { prefixEnd } from './kv-commands.js';
import type { ConnectionSettings } from './connection.js';

interface Load {
  limit: number;
  clients: number;
  /** perf: seconds; datascale: bytes per key-value */
  extra: number;
}

const PERF_LOADS: Record<string, Load> = {
  s: { limit: 150, clients: 50, extra: 60 },
  m: { limit: 1000, clients: 200, extra: 60 },
  l: { limit: 8000, clients: 500, extra: 60 },
  xl: { limit: 15000, clients: 1000, extra: 60 },
};
const DATASCALE_LOADS: Record<string, Load> = {
  s: { limit: 10000, clients: 50, extra: 1024 },
  m: { limit: 100000, clients: 200, extra: 1024 },
  l: { limit: 1000000, clients: 500, extra: 1024 },
  xl: { limit: 3000000, clients: 1000, extra: 1024 },
};
const ALIASES: Record<string, string> = { s: 's', small: 's', m: 'm', medium: 'm', l: 'l', large: 'l', xl: 'xl', xLarge: 'xl' };
const CLEANUP_TIMEOUT_MS = 30_000;

function loadFor(table: Record<string, Load>, ctx: RunContext): Load {
  const name = ctx.flags.get('load').string;
  const model = Object.hasOwn(ALIASES, name) ? ALIASES[name]! : undefined;
  if (model === undefined) throw new CtlExit(ExitCode.BadFeature, `unknown load option ${name}`);
  const load = { ...table[model]! };
  const override = process.env['TSETCDCTL_CHECK_LOAD'];
  if (override) {
    const [limit, clients, extra] = override.split(',').map(Number);
    if (limit! > 0) load.limit = limit!;
    if (clients! > 0) load.clients = clients!;
    if (extra! > 0 && table === PERF_LOADS) load.extra = extra!;
  }
  return load;
}

/** Latencies and errors of a run (etcd's report package). */
class Report {
  readonly latenciesS: number[] = [];
  readonly errors = new Map<string, number>();
  private readonly startedNs = process.hrtime.bigint();

  add(err: string | undefined, tookS: number): void {
    if (err === undefined) this.latenciesS.push(tookS);
    else this.errors.set(err, (this.errors.get(err) ?? 0) + 1);
  }

  stats(): { rps: number; slowestS: number; stddevS: number } {
    const totalS = Number(process.hrtime.bigint() - this.startedNs) / 1e9;
    const n = this.latenciesS.length;
    const mean = n > 0 ? this.latenciesS.reduce((a, b) => a + b, 0) / n : 0;
    const variance = n > 0 ? this.latenciesS.reduce((a, b) => a + (b - mean) ** 2, 0) / n : 0;
    return { rps: n / totalS, slowestS: n > 0 ? Math.max(...this.latenciesS) : 0, stddevS: Math.sqrt(variance) };
  }
}

/** A put of `value` under prefix + a random varint-coded key of `keyBytes` bytes. */
function randomKey(prefix: Buffer, keyBytes: number): Buffer {
  const k = Buffer.alloc(keyBytes);
  // binary.PutVarint of a random non-negative int64: zig-zag, 7 bits a byte
  let v = (crypto.randomBytes(8).readBigUInt64BE() >> 1n) << 1n;
  let i = 0;
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    k[i++] = b;
  } while (v > 0n);
  return Buffer.concat([prefix, k]);
}

async function timedPut(c: CtlClient, key: Buffer, value: Buffer, report: Report): Promise<void> {
  const started = process.hrtime.bigint();
  try {
    const request = { key, value, lease: 0n, prev_kv: false, ignore_value: false, ignore_lease: false };
    await c.call(KVService.methods.Put, request, Date.now() + CLEANUP_TIMEOUT_MS, { repeatable: false });
    report.add(undefined, Number(process.hrtime.bigint() - started) / 1e9);
  } catch (err) {
    if (!(err instanceof RpcError)) throw err;
    report.add(err.message, 0);
  }
}

/** A progress bar on stdout in the spirit of the one etcdctl draws, redrawn in place. */
function drawBar(io: Io, done: number, total: number): void {
  const width = 40;
  const filled = total > 0 ? Math.round((done / total) * width) : width;
  io.out(`\r${done} / ${total} B${'o'.repeat(filled)}${' '.repeat(width - filled)}! ${((done / Math.max(total, 1)) * 100).toFixed(2)}%`);
  if (done >= total) io.out('\n');
}

function clientsFor(ctx: RunContext, n: number): { clients: CtlClient[]; settings: ConnectionSettings } {
  const { client, settings } = connect(ctx);
  const clients = [client];
  for (let i = 1; i < n; i++) clients.push(new CtlClient(endpointsOf(ctx.flags), settings));
  return { clients, settings };
}

async function refuseUsedPrefix(c: CtlClient, prefix: Buffer, hint: string): Promise<void> {
  const request = RangeRequest.create({ key: prefix, range_end: prefixEnd(prefix), limit: 1 });
  const ans = await c.call(KVService.methods.Range, request, Date.now() + CLEANUP_TIMEOUT_MS, { repeatable: true }).catch((err: unknown) => {
    if (err instanceof RpcError) throw new CtlExit(ExitCode.Error, err.message);
    throw err;
  });
  if (ans.msg.kvs.length > 0) throw new CtlExit(ExitCode.InvalidInput, `prefix ${goQuote(prefix)} has keys. ${hint}`);
}

/** Deletes the prefix; returns the deletion's revision, or undefined (with etcdctl's FAIL line). */
async function cleanup(c: CtlClient, prefix: Buffer, io: Io, failQuietly: boolean): Promise<number | undefined> {
  try {
    const request = { key: prefix, range_end: prefixEnd(prefix), prev_kv: false };
    const ans = await c.call(KVService.methods.DeleteRange, request, Date.now() + CLEANUP_TIMEOUT_MS, { repeatable: false });
    return ans.msg.header?.revision ?? 0;
  } catch (err) {
    if (!(err instanceof RpcError)) throw err;
    if (failQuietly) io.out(`FAIL: Cleanup failed during key deletion: ERROR(${err.message})\n`);
    else throw new CtlExit(ExitCode.Error, err.message);
    return undefined;
  }
}

async function compactAndDefrag(ctx: RunContext, c: CtlClient, rev: number | undefined): Promise<void> {
  const fail = (err: unknown): never => {
    if (err instanceof RpcError) throw new CtlExit(ExitCode.Error, err.message);
    throw err;
  };
  if (ctx.flags.get('auto-compact').bool && rev !== undefined) {
    ctx.io.out(`Compacting with revision ${rev}\n`);
    await c.call(KVService.methods.Compact, { revision: rev, physical: true }, Date.now() + CLEANUP_TIMEOUT_MS, { repeatable: false }).catch(fail);
    ctx.io.out(`Compacted with revision ${rev}\n`);
  }
  if (ctx.flags.get('auto-defrag').bool) {
    for (const ep of endpointsOf(ctx.flags)) {
      ctx.io.out(`Defragmenting ${goQuote(ep)}\n`);
      await c.call(MaintenanceService.methods.Defragment, {}, Date.now() + CLEANUP_TIMEOUT_MS, { repeatable: false, endpoint: ep }).catch(fail);
      ctx.io.out(`Defragmented ${goQuote(ep)}\n`);
    }
  }
}

function printErrors(io: Io, report: Report): void {
  io.out('FAIL: too many errors\n');
  for (const [err, n] of report.errors) io.out(`FAIL: ERROR(${err}) -> ${n}\n`);
}

/** Go's %f: six decimals. */
const f6 = (x: number): string => x.toFixed(6);

async function checkPerfCommand(ctx: RunContext): Promise<void> {
  const load = loadFor(PERF_LOADS, ctx);
  const prefix = argBytes(ctx.flags.get('prefix').string);
  const { clients } = clientsFor(ctx, load.clients);
  const prefixText = ctx.flags.get('prefix').string;
  await refuseUsedPrefix(clients[0]!, prefix, `Delete with 'etcdctl del --prefix ${prefixText}' first`);
  const report = new Report();
  const value = Buffer.alloc(1024);
  const endAt = Date.now() + load.extra * 1000;
  const intervalMs = 1000 / load.limit;
  const inFlight = new Set<Promise<void>>();
  let next = 0;
  let seconds = 0;
  drawBar(ctx.io, 0, load.extra);
  const ticker = setInterval(() => drawBar(ctx.io, Math.min(++seconds, load.extra), load.extra), 1000);
  // an interrupted check still removes its keys
  const onInt = (): void => void cleanup(clients[0]!, prefix, ctx.io, true).finally(() => process.exit(ExitCode.Interrupted));
  process.once('SIGINT', onInt);
  try {
    // a token every 1/limit seconds, handed to the clients in turn
    for (let due = Date.now(); due < endAt; due += intervalMs) {
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const c = clients[next++ % clients.length]!;
      const p = timedPut(c, randomKey(prefix, 256), value, report).finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
    await Promise.all(inFlight);
  } finally {
    clearInterval(ticker);
    process.off('SIGINT', onInt);
  }
  if (seconds < load.extra) drawBar(ctx.io, load.extra, load.extra);
  const stats = report.stats();
  const rev = await cleanup(clients[0]!, prefix, ctx.io, true);
  await compactAndDefrag(ctx, clients[0]!, rev);
  for (const c of clients) c.close();
  let ok = true;
  if (report.errors.size > 0) {
    printErrors(ctx.io, report);
    ok = false;
  }
  if (stats.rps / load.limit <= 0.9) {
    ctx.io.out(`FAIL: Throughput too low: ${Math.trunc(stats.rps) + 1} writes/s\n`);
    ok = false;
  } else ctx.io.out(`PASS: Throughput is ${Math.trunc(stats.rps) + 1} writes/s\n`);
  if (stats.slowestS > 0.5) {
    ctx.io.out(`Slowest request took too long: ${f6(stats.slowestS)}s\n`);
    ok = false;
  } else ctx.io.out(`PASS: Slowest request took ${f6(stats.slowestS)}s\n`);
  if (stats.stddevS > 0.1) {
    ctx.io.out(`Stddev too high: ${f6(stats.stddevS)}s\n`);
    ok = false;
  } else ctx.io.out(`PASS: Stddev is ${f6(stats.stddevS)}s\n`);
  ctx.io.out(ok ? 'PASS\n' : 'FAIL\n');
  if (!ok) throw new CtlExit(ExitCode.Error);
}

/** process_resident_memory_bytes from the endpoint's /metrics, or 0 with etcdctl's reason. */
async function residentBytes(endpoint: string, settings: ConnectionSettings, io: Io): Promise<number> {
  const host = /^https?:\/\//.test(endpoint) ? endpoint : `http://${endpoint}`;
  const url = `${host}/metrics`;
  let text: string;
  try {
    const res = await fetchText(url, host.startsWith('https://') ? settings : undefined);
    text = res;
  } catch (err) {
    io.out(`fetch error: ${(err as Error).message}\n`);
    return 0;
  }
  const line = text.split('\n').find((l) => l.startsWith('process_resident_memory_bytes'));
  if (line === undefined) {
    io.out('could not find: process_resident_memory_bytes\n');
    return 0;
  }
  const value = Number(line.slice('process_resident_memory_bytes'.length).trim());
  if (!Number.isFinite(value)) {
    io.out(`parse error: strconv.ParseFloat: parsing ${goQuote(line.slice(29).trim())}: invalid syntax\n`);
    return 0;
  }
  return value;
}

async function fetchText(url: string, settings: ConnectionSettings | undefined): Promise<string> {
  const { default: https } = await import('node:https');
  const { default: http } = await import('node:http');
  return new Promise((resolve, reject) => {
    const tls = settings?.tls;
    const lib = url.startsWith('https://') ? https : http;
    const req = lib.get(url, { ...(tls && { cert: tls.cert, key: tls.key, ca: tls.ca, rejectUnauthorized: tls.rejectUnauthorized }) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

async function checkDatascaleCommand(ctx: RunContext): Promise<void> {
  const load = loadFor(DATASCALE_LOADS, ctx);
  const prefix = argBytes(ctx.flags.get('prefix').string);
  const { clients, settings } = clientsFor(ctx, load.clients);
  const endpoint = endpointsOf(ctx.flags)[0]!;
  const prefixText = ctx.flags.get('prefix').string;
  await refuseUsedPrefix(clients[0]!, prefix, `Delete with etcdctl del --prefix ${prefixText} first`);
  const before = await residentBytes(endpoint, settings, ctx.io);
  if (before === 0) {
    ctx.io.out('FAIL: Could not read process_resident_memory_bytes before the put operations.\n');
    throw new CtlExit(ExitCode.Error);
  }
  ctx.io.out(`Start data scale check for work load [${load.limit} key-value pairs, ${load.extra} bytes per key-value, ${load.clients} concurrent clients].\n`);
  const report = new Report();
  const value = Buffer.alloc(512);
  let issued = 0;
  let finished = 0;
  drawBar(ctx.io, 0, load.limit);
  const step = Math.max(1, Math.floor(load.limit / 100));
  await Promise.all(
    clients.map(async (c) => {
      while (issued < load.limit) {
        issued++;
        await timedPut(c, randomKey(prefix, 512), value, report);
        finished++;
        if (finished % step === 0 && finished < load.limit) drawBar(ctx.io, finished, load.limit);
      }
    }),
  );
  drawBar(ctx.io, load.limit, load.limit);
  const after = await residentBytes(endpoint, settings, ctx.io);
  if (after === 0) {
    ctx.io.out('FAIL: Could not read process_resident_memory_bytes after the put operations.\n');
    throw new CtlExit(ExitCode.Error);
  }
  const rev = await cleanup(clients[0]!, prefix, ctx.io, false);
  await compactAndDefrag(ctx, clients[0]!, rev);
  for (const c of clients) c.close();
  if (report.errors.size > 0) {
    printErrors(ctx.io, report);
    throw new CtlExit(ExitCode.Error);
  }
  ctx.io.out(`PASS: Approximate system memory used : ${((after - before) / (1024 * 1024)).toFixed(2)} MB.\n`);
}

const COMMON_FLAGS = (what: string, prefix: string): CommandSpec['flags'] => [
  { name: 'load', kind: 'string', def: 's', usage: `the ${what} check's load: s(small), m(medium), l(large) or xl(xLarge)` },
  { name: 'prefix', kind: 'string', def: prefix, usage: `where the ${what} check writes its keys` },
  { name: 'auto-compact', kind: 'bool', def: 'false', usage: 'compact the history to the last revision once the check is done' },
  { name: 'auto-defrag', kind: 'bool', def: 'false', usage: 'defragment the endpoints once the check is done' },
];

export const CHECK_COMMAND: CommandSpec = {
  use: 'check <subcommand>',
  short: 'Checks how the cluster performs',
  children: [
    { use: 'perf [options]', short: 'Checks that the cluster sustains a write load', flags: COMMON_FLAGS('performance', '/etcdctl-check-perf/'), run: checkPerfCommand },
    {
      use: 'datascale [options]',
      short: 'Measures the memory one member uses to hold a data set',
      long: 'The member measured is the first of --endpoints (127.0.0.1:2379 by default).',
      flags: COMMON_FLAGS('datascale', '/etcdctl-check-datascale/'),
      run: checkDatascaleCommand,
    },
  ],
};
