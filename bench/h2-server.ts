// Micro-benchmark: a unary gRPC-shaped echo on our HTTP/2 server (src/api/h2) vs the
// same handler on node:http2, driven by node:http2 clients.
//
//   npx tsc -p tsconfig.json; node dist/bench/h2-server.js [seconds-per-case] [connections] [streams]
//
// Defaults: 3 s per case, 1 connection, 100 concurrent streams. Each server runs in a
// child process so that process.cpuUsage() there counts server work only; the parent
// is the load generator. Printed, never asserted; not run by the tests.

import { fork, type ChildProcess } from 'node:child_process';
import http2 from 'node:http2';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { serveHttp2 } from '../src/api/h2/index.js';

type Kind = 'ours' | 'node';

const GRPC_HEADERS = Object.freeze({ ':status': 200, 'content-type': 'application/grpc' });
const GRPC_OK = Object.freeze({ 'grpc-status': '0' });

// ---- server side (child process) ---------------------------------------------------

function serve(kind: Kind): void {
  let requests = 0;
  let started = process.cpuUsage();
  let startedRequests = 0;
  const onListening = (port: number) => process.send!({ type: 'ready', port });

  if (kind === 'ours') {
    const server = net.createServer((socket) => {
      serveHttp2(socket, Buffer.alloc(0), (s) => {
        const chunks: Buffer[] = [];
        s.onData = (c) => chunks.push(c);
        s.onEnd = () => {
          requests++;
          s.respond(GRPC_HEADERS);
          s.write(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
          s.end(GRPC_OK);
        };
      });
    });
    server.listen(0, '127.0.0.1', () => onListening((server.address() as net.AddressInfo).port));
  } else {
    const server = http2.createServer({ settings: { maxConcurrentStreams: 1000 } });
    server.on('stream', (stream) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        requests++;
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        stream.end(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
      });
      stream.on('error', () => {});
    });
    server.listen(0, '127.0.0.1', () => onListening((server.address() as net.AddressInfo).port));
  }

  process.on('message', (m: { type: string }) => {
    if (m.type === 'start') {
      started = process.cpuUsage();
      startedRequests = requests;
    } else if (m.type === 'stop') {
      const cpu = process.cpuUsage(started);
      process.send!({ type: 'stats', cpuMicros: cpu.user + cpu.system, requests: requests - startedRequests });
    }
  });
}

// ---- load generator (parent) -------------------------------------------------------

function waitFor<T>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve) => {
    const on = (m: { type: string }) => {
      if (m.type === type) {
        child.off('message', on);
        resolve(m as T);
      }
    };
    child.on('message', on);
  });
}

async function runCase(kind: Kind, seconds: number, conns: number, streams: number): Promise<void> {
  const child = fork(fileURLToPath(import.meta.url), ['--serve', kind], { stdio: 'inherit' });
  const { port } = await waitFor<{ port: number }>(child, 'ready');
  const sessions = await Promise.all(
    Array.from(
      { length: conns },
      () =>
        new Promise<http2.ClientHttp2Session>((resolve, reject) => {
          const s = http2.connect(`http://127.0.0.1:${port}`);
          s.once('remoteSettings', () => resolve(s));
          s.once('error', reject);
        }),
    ),
  );
  // A Put-sized gRPC message: 5-byte prefix + 40 bytes.
  const body = Buffer.alloc(45, 0x61);
  body.writeUInt32BE(40, 1);
  body[0] = 0;
  const headers = {
    ':method': 'POST',
    ':path': '/etcdserverpb.KV/Put',
    'content-type': 'application/grpc',
    te: 'trailers',
  };

  let running = true;
  let completed = 0;
  let errors = 0;
  const one = (session: http2.ClientHttp2Session): Promise<void> =>
    new Promise((resolve) => {
      const req = session.request(headers);
      req.on('data', () => {});
      req.on('end', () => {
        completed++;
        resolve();
      });
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end(body);
    });
  const worker = async (session: http2.ClientHttp2Session) => {
    while (running) await one(session);
  };

  // Warm up, then measure.
  const warm = Date.now() + 500;
  const workers: Promise<void>[] = [];
  for (let i = 0; i < streams; i++) workers.push(worker(sessions[i % conns]!));
  await new Promise((r) => setTimeout(r, warm - Date.now()));
  child.send({ type: 'start' });
  const startCompleted = completed;
  const t0 = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  child.send({ type: 'stop' });
  const stats = await waitFor<{ cpuMicros: number; requests: number }>(child, 'stats');
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  const done = completed - startCompleted;
  running = false;
  await Promise.all(workers);
  for (const s of sessions) s.close();
  child.kill();

  const rps = done / elapsed;
  const cpuPerReq = stats.cpuMicros / Math.max(1, stats.requests);
  console.log(
    `${kind === 'ours' ? 'src/api/h2 ' : 'node:http2 '}  ${rps.toFixed(0).padStart(7)} req/s   ` +
      `server CPU ${cpuPerReq.toFixed(2).padStart(6)} µs/req   ` +
      `(server ${(stats.cpuMicros / 1e6 / elapsed).toFixed(2)} cores busy${errors ? `, ${errors} errors` : ''})`,
  );
}

async function main(): Promise<void> {
  const seconds = Number(process.argv[2] ?? 3);
  const conns = Number(process.argv[3] ?? 1);
  const streams = Number(process.argv[4] ?? 100);
  console.log(`unary echo, ${conns} connection(s), ${streams} concurrent streams, ${seconds} s per case`);
  await runCase('ours', seconds, conns, streams);
  await runCase('node', seconds, conns, streams);
}

const serveAt = process.argv.indexOf('--serve');
if (serveAt >= 0) serve(process.argv[serveAt + 1] as Kind);
else await main();
