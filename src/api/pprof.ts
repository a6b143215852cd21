// --enable-pprof: /debug/pprof/* on the client URLs, as etcd serves Go's net/http/pprof.
//
// Contract: the paths a Go operator's tools fetch give the same kind of answer, built
// from V8's own profilers (node:inspector) and encoded in pprof's format (gzipped
// protobuf, by the `pprof-format` library), so `go tool pprof http://host:2379/debug/pprof/profile`
// works against tsetcd:
//   /debug/pprof/               an index of what is served (HTML, like Go's)
//   /debug/pprof/profile        CPU profile for ?seconds=N (default 30): samples/count, cpu/nanoseconds
//   /debug/pprof/heap, /allocs  V8's sampling heap profile of live objects:
//                               inuse_objects/count, inuse_space/bytes
//   /debug/pprof/cmdline        the command line, NUL-separated
// Go-only profiles (goroutine, block, mutex, threadcreate, trace, symbol) answer 404 with a
// sentence saying why. Heap sampling runs from start-up, as Go's heap profile always does.
import { Session } from 'node:inspector/promises';
import { gzipSync } from 'node:zlib';
import { Function as PFunction, Line, Location, Profile, Sample, StringTable, ValueType } from 'pprof-format';
import type { HttpRequestLike, HttpResponseLike } from './listener.js';

export const PPROF_PREFIX = '/debug/pprof';
/** Go's runtime.MemProfileRate: one sample per 512 KiB allocated on average */
const HEAP_SAMPLING_INTERVAL_BYTES = 512 * 1024;
const DEFAULT_CPU_SECONDS = 30;
const NS_PER_US = 1000;

/** The shape of V8's call frames in both profilers. */
interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface CpuNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfileData {
  nodes: CpuNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

interface HeapNode {
  callFrame: CallFrame;
  id: number;
  children: HeapNode[];
}

interface HeapProfileData {
  head: HeapNode;
  samples: Array<{ size: number; nodeId: number }>;
}

/** Builds pprof functions and locations for V8 call frames, one location per frame. */
class FrameTable {
  readonly strings = new StringTable();
  readonly functions: PFunction[] = [];
  readonly locations: Location[] = [];
  private readonly byFrame = new Map<string, number>();

  locationOf(f: CallFrame): number {
    const key = `${f.functionName}\0${f.url}\0${f.lineNumber}\0${f.columnNumber}`;
    const known = this.byFrame.get(key);
    if (known !== undefined) return known;
    const id = this.locations.length + 1;
    const name = this.strings.dedup(f.functionName || '(anonymous)');
    this.functions.push(new PFunction({ id, name, systemName: name, filename: this.strings.dedup(f.url), startLine: f.lineNumber + 1 }));
    // V8 numbers lines from 0, pprof from 1
    this.locations.push(new Location({ id, line: [new Line({ functionId: id, line: f.lineNumber + 1 })] }));
    this.byFrame.set(key, id);
    return id;
  }

  valueType(type: string, unit: string): ValueType {
    return new ValueType({ type: this.strings.dedup(type), unit: this.strings.dedup(unit) });
  }
}

/** V8 CPU profile → pprof: one sample per distinct stack, with its count and time. */
export function cpuProfileToPprof(p: CpuProfileData): Uint8Array {
  const t = new FrameTable();
  const parent = new Map<number, number>();
  const nodes = new Map<number, CpuNode>();
  for (const n of p.nodes) {
    nodes.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const totals = new Map<number, { count: number; ns: number }>();
  const samples = p.samples ?? [];
  samples.forEach((nodeId, i) => {
    const tot = totals.get(nodeId) ?? { count: 0, ns: 0 };
    tot.count += 1;
    tot.ns += Math.max(0, p.timeDeltas?.[i] ?? 0) * NS_PER_US;
    totals.set(nodeId, tot);
  });
  const out: Sample[] = [];
  for (const [nodeId, tot] of totals) {
    const stack: number[] = [];
    for (let id: number | undefined = nodeId; id !== undefined; id = parent.get(id)) {
      const frame = nodes.get(id)!.callFrame;
      if (frame.functionName === '(root)') continue;
      stack.push(t.locationOf(frame));
    }
    out.push(new Sample({ locationId: stack, value: [tot.count, tot.ns] }));
  }
  const durationUs = Math.max(0, p.endTime - p.startTime);
  const periodUs = samples.length > 0 ? durationUs / samples.length : 0;
  const cpu = t.valueType('cpu', 'nanoseconds');
  return new Profile({
    sampleType: [t.valueType('samples', 'count'), cpu],
    sample: out,
    location: t.locations,
    function: t.functions,
    stringTable: t.strings,
    timeNanos: BigInt(Date.now()) * 1_000_000n,
    durationNanos: Math.round(durationUs * NS_PER_US),
    periodType: cpu,
    period: Math.round(periodUs * NS_PER_US),
  }).encode();
}

/** V8 sampling heap profile → pprof: live sampled objects and their bytes per stack. */
export function heapProfileToPprof(p: HeapProfileData, samplingIntervalBytes: number): Uint8Array {
  const t = new FrameTable();
  const stacks = new Map<number, number[]>();
  const walk = (n: HeapNode, above: number[]): void => {
    const here = n.callFrame.functionName === '(root)' ? above : [t.locationOf(n.callFrame), ...above];
    stacks.set(n.id, here);
    for (const c of n.children) walk(c, here);
  };
  walk(p.head, []);
  const totals = new Map<number, { objects: number; bytes: number }>();
  for (const s of p.samples) {
    const tot = totals.get(s.nodeId) ?? { objects: 0, bytes: 0 };
    tot.objects += 1;
    tot.bytes += s.size;
    totals.set(s.nodeId, tot);
  }
  const out: Sample[] = [];
  for (const [nodeId, tot] of totals) out.push(new Sample({ locationId: stacks.get(nodeId) ?? [], value: [tot.objects, tot.bytes] }));
  const space = t.valueType('space', 'bytes');
  return new Profile({
    sampleType: [t.valueType('inuse_objects', 'count'), t.valueType('inuse_space', 'bytes')],
    sample: out,
    location: t.locations,
    function: t.functions,
    stringTable: t.strings,
    timeNanos: BigInt(Date.now()) * 1_000_000n,
    periodType: space,
    period: samplingIntervalBytes,
  }).encode();
}

const GO_ONLY: Record<string, string> = {
  goroutine: 'Node.js has no goroutines',
  threadcreate: 'Node.js has no goroutine threads to report',
  block: 'Node.js has no blocking profile',
  mutex: 'Node.js has no mutex profile',
  trace: 'Go execution traces do not exist for Node.js',
  symbol: 'profiles served here are already symbolized',
};

const INDEX_HTML = `<html>
<head>
<title>/debug/pprof/</title>
</head>
<body>
/debug/pprof/<br>
<br>
Types of profiles available:
<table>
<thead><td>Count</td><td>Profile</td></thead>
<tr><td></td><td><a href='allocs'>allocs</a></td></tr>
<tr><td></td><td><a href='cmdline'>cmdline</a></td></tr>
<tr><td></td><td><a href='heap'>heap</a></td></tr>
<tr><td></td><td><a href='profile'>profile</a></td></tr>
</table>
<p>
profile: CPU profile of the Node.js process (V8's profiler); ?seconds=N, default ${DEFAULT_CPU_SECONDS}.<br>
heap, allocs: V8's sampling heap profile of live objects.<br>
</p>
</body>
</html>
`;

export interface PprofHandler {
  (req: HttpRequestLike, res: HttpResponseLike): void;
  close(): Promise<void>;
}

function sendText(res: HttpResponseLike, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function sendProfile(res: HttpResponseLike, name: string, bytes: Uint8Array): void {
  const body = gzipSync(bytes);
  res.writeHead(200, {
    'Content-Type': 'application/octet-stream',
    'Content-Disposition': `attachment; filename="${name}"`,
    'X-Content-Type-Options': 'nosniff',
    'Content-Length': body.length,
  });
  res.end(body);
}

/** Starts heap sampling and returns the handler for every path under /debug/pprof. */
export async function createPprofHandler(argv: readonly string[] = process.argv): Promise<PprofHandler> {
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.startSampling', { samplingInterval: HEAP_SAMPLING_INTERVAL_BYTES });
  let cpuBusy = false;

  const cpu = async (res: HttpResponseLike, query: URLSearchParams): Promise<void> => {
    const raw = query.get('seconds');
    const seconds = raw === null || raw === '' ? DEFAULT_CPU_SECONDS : Number(raw);
    if (!Number.isInteger(seconds) || seconds <= 0) return sendText(res, 400, 'Bad Request: invalid value for "seconds"\n');
    if (cpuBusy) return sendText(res, 500, 'Could not enable CPU profiling: cpu profiling already in use\n');
    cpuBusy = true;
    try {
      await session.post('Profiler.enable');
      await session.post('Profiler.start');
      await new Promise((r) => setTimeout(r, seconds * 1000));
      const { profile } = (await session.post('Profiler.stop')) as { profile: CpuProfileData };
      await session.post('Profiler.disable');
      sendProfile(res, 'profile', cpuProfileToPprof(profile));
    } finally {
      cpuBusy = false;
    }
  };
  const heap = async (res: HttpResponseLike, name: string): Promise<void> => {
    const { profile } = (await session.post('HeapProfiler.getSamplingProfile')) as unknown as { profile: HeapProfileData };
    sendProfile(res, name, heapProfileToPprof(profile, HEAP_SAMPLING_INTERVAL_BYTES));
  };

  const handler = ((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const name = url.pathname.slice(PPROF_PREFIX.length).replace(/^\//, '');
    const fail = (err: unknown) => sendText(res, 500, `${(err as Error).message}\n`);
    if (name === '') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(INDEX_HTML) });
      return void res.end(INDEX_HTML);
    }
    if (name === 'cmdline') return sendText(res, 200, argv.join('\x00'));
    if (name === 'profile') return void cpu(res, url.searchParams).catch(fail);
    if (name === 'heap' || name === 'allocs') return void heap(res, name).catch(fail);
    const why = GO_ONLY[name];
    sendText(res, 404, why ? `Unknown profile: ${name} (${why}; tsetcd serves profile, heap, allocs and cmdline)\n` : 'Unknown profile\n');
  }) as PprofHandler;
  handler.close = async () => {
    await session.post('HeapProfiler.stopSampling').catch(() => {});
    session.disconnect();
  };
  return handler;
}
