// Our server against Node's own HTTP/2 client (nghttp2): an independent peer.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import crypto from 'node:crypto';
import type { H2ServerStream } from '../../src/api/h2/index.js';
import { delay, startServer, type TestServer } from './helpers.js';

const GRPC_HEADERS = Object.freeze({ ':status': 200, 'content-type': 'application/grpc' });
const OK_TRAILERS = Object.freeze({ 'grpc-status': '0' });

interface Seen {
  headers: Record<string, string>;
  trailers?: Record<string, string>;
  ended: boolean;
  closed: number;
}

/** Routes by :path; every stream is recorded. */
function handler(seen: Seen[]) {
  return (s: H2ServerStream): void => {
    const record: Seen = { headers: s.headers, ended: false, closed: 0 };
    seen.push(record);
    s.onClose = () => record.closed++;
    const path = s.headers[':path'];
    const body: Buffer[] = [];
    switch (path) {
      case '/echo':
        // unary: collect, then headers + body + trailers
        s.onData = (c) => body.push(c);
        s.onEnd = () => {
          record.ended = true;
          record.trailers = s.trailers;
          s.respond(GRPC_HEADERS);
          s.write(Buffer.concat(body));
          s.end({ 'grpc-status': '0', 'grpc-message': 'fine', 'x-len': Buffer.concat(body).length });
        };
        return;
      case '/stream-echo': {
        // echo as it arrives, honouring write() backpressure only for accounting
        s.respond(GRPC_HEADERS);
        s.onData = (c) => s.write(c);
        s.onEnd = () => {
          record.ended = true;
          s.end(OK_TRAILERS);
        };
        return;
      }
      case '/big': {
        const size = Number(s.headers['x-size']);
        const data = crypto.createHash('sha256').update(String(size)).digest();
        s.respond({ ':status': 200, 'x-sum': sha(bigBody(size, data)) });
        const full = bigBody(size, data);
        let off = 0;
        const pump = () => {
          while (off < full.length) {
            const n = Math.min(100_000, full.length - off);
            const ok = s.write(full.subarray(off, off + n));
            off += n;
            if (!ok) return;
          }
          s.end();
        };
        s.onDrain = pump;
        s.onEnd = () => {
          record.ended = true;
          pump();
        };
        return;
      }
      case '/slow-upload':
        s.onData = (c) => body.push(c);
        s.onEnd = () => {
          record.ended = true;
          s.respond({ ':status': 200 }, true);
        };
        return;
      case '/sink':
        // never answers: only the client can end it
        s.onEnd = () => (record.ended = true);
        return;
      case '/hold':
        // answered later by the test
        s.onEnd = () => {
          record.ended = true;
          setTimeout(() => {
            s.respond({ ':status': 200 });
            s.end();
          }, 100);
        };
        return;
      default:
        s.onEnd = () => {
          record.ended = true;
          s.respond({ ':status': 200, 'content-type': 'text/plain' });
          s.write(Buffer.from(`hello ${path}`));
          s.end();
        };
    }
  };
}

function bigBody(size: number, seed: Buffer): Buffer {
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i += seed.length) seed.copy(out, i);
  return out;
}

function sha(b: Buffer): string {
  return crypto.createHash('sha256').update(b).digest('hex');
}

interface Reply {
  headers: http2.IncomingHttpHeaders;
  body: Buffer;
  trailers?: http2.IncomingHttpHeaders;
}

function request(
  client: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
  body?: Buffer,
  opts: { trailers?: http2.OutgoingHttpHeaders } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = client.request(headers, { waitForTrailers: opts.trailers !== undefined });
    const chunks: Buffer[] = [];
    let respHeaders: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders | undefined;
    req.on('response', (h) => (respHeaders = h));
    req.on('trailers', (t) => (trailers = t));
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve({ headers: respHeaders, body: Buffer.concat(chunks), trailers }));
    req.on('error', reject);
    if (opts.trailers !== undefined) req.on('wantTrailers', () => req.sendTrailers(opts.trailers!));
    req.end(body);
  });
}

function connect(port: number, options: http2.ClientSessionOptions = {}): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const c = http2.connect(`http://127.0.0.1:${port}`, options);
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });
}

describe('h2 server with the node:http2 client', () => {
  let server: TestServer;
  const seen: Seen[] = [];
  before(async () => {
    server = await startServer(handler(seen));
  });
  after(async () => {
    await server.close();
  });

  it('serves a unary POST with a body and a trailers response', async () => {
    const client = await connect(server.port);
    const body = Buffer.from('\x00\x00\x00\x00\x05hello');
    const r = await request(
      client,
      { ':method': 'POST', ':path': '/echo', 'content-type': 'application/grpc', te: 'trailers', 'x-custom': 'a' },
      body,
    );
    assert.equal(r.headers[':status'], 200);
    assert.equal(r.headers['content-type'], 'application/grpc');
    assert.deepEqual(r.body, body);
    assert.equal(r.trailers?.['grpc-status'], '0');
    assert.equal(r.trailers?.['grpc-message'], 'fine');
    assert.equal(r.trailers?.['x-len'], String(body.length));
    const s = seen.at(-1)!;
    assert.equal(s.headers[':method'], 'POST');
    assert.equal(s.headers[':scheme'], 'http');
    assert.equal(s.headers[':authority'], `127.0.0.1:${server.port}`);
    assert.equal(s.headers['x-custom'], 'a');
    assert.equal(s.closed, 1);
    client.close();
  });

  it('receives trailers sent by the client', async () => {
    const client = await connect(server.port);
    const r = await request(client, { ':method': 'POST', ':path': '/echo' }, Buffer.from('abc'), {
      trailers: { 'x-trailer': 'yes', 'x-n': '2' },
    });
    assert.deepEqual(r.body, Buffer.from('abc'));
    const s = seen.at(-1)!;
    assert.equal(s.trailers?.['x-trailer'], 'yes');
    assert.equal(s.trailers?.['x-n'], '2');
    client.close();
  });

  it('accepts a full URL in :authority, as grpc-go sends for etcd endpoint calls', async () => {
    const client = await connect(server.port);
    const r = await request(client, { ':method': 'POST', ':path': '/echo', ':authority': 'http://127.0.0.1:1234' }, Buffer.from('x'));
    assert.equal(r.headers[':status'], 200);
    assert.equal(seen.at(-1)!.headers[':authority'], 'http://127.0.0.1:1234');
    client.close();
  });

  it('runs 200 concurrent streams on one connection', async () => {
    const client = await connect(server.port);
    const replies = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        request(client, { ':method': 'POST', ':path': '/echo' }, Buffer.from(`request ${i}`)),
      ),
    );
    replies.forEach((r, i) => {
      assert.equal(r.body.toString(), `request ${i}`);
      assert.equal(r.trailers?.['grpc-status'], '0');
    });
    assert.equal(server.connections.at(-1)!.openStreams, 0);
    client.close();
  });

  it('moves 5 MiB each way through small client windows', async () => {
    const client = await connect(server.port, { settings: { initialWindowSize: 16384 } });
    const big = crypto.randomBytes(5 << 20);
    const r = await request(client, { ':method': 'POST', ':path': '/stream-echo' }, big);
    assert.equal(r.body.length, big.length);
    assert.ok(r.body.equals(big));
    assert.equal(r.trailers?.['grpc-status'], '0');
    client.close();
  });

  it('sends a 5 MiB response with backpressure', async () => {
    const client = await connect(server.port, { settings: { initialWindowSize: 32768 } });
    const r = await request(client, { ':method': 'GET', ':path': '/big', 'x-size': String(5 << 20) });
    assert.equal(r.body.length, 5 << 20);
    assert.equal(sha(r.body), r.headers['x-sum']);
    client.close();
  });

  it('takes a 5 MiB upload (server windows replenished)', async () => {
    const client = await connect(server.port);
    const big = crypto.randomBytes(5 << 20);
    const r = await request(client, { ':method': 'POST', ':path': '/echo' }, big);
    assert.ok(r.body.equals(big));
    client.close();
  });

  it('reports a client cancel mid-body through onClose, once', async () => {
    const client = await connect(server.port);
    const before = seen.length;
    const req = client.request({ ':method': 'POST', ':path': '/sink' });
    req.on('error', () => {});
    req.write(Buffer.alloc(1000));
    await delay(50);
    assert.equal(seen.length, before + 1);
    const s = seen.at(-1)!;
    assert.equal(s.closed, 0);
    // (Node sends END_STREAM and then RST_STREAM(CANCEL) here; the raw-frame tests
    // cover RST_STREAM alone.)
    req.close(http2.constants.NGHTTP2_CANCEL);
    await delay(50);
    assert.equal(s.closed, 1);
    assert.equal(server.connections.at(-1)!.openStreams, 0);
    client.close();
  });

  it('answers PING', async () => {
    const client = await connect(server.port);
    const payload = Buffer.from('12345678');
    const echoed = await new Promise<Buffer>((resolve, reject) =>
      client.ping(payload, (err, _ms, p) => (err ? reject(err) : resolve(p))),
    );
    assert.deepEqual(echoed, payload);
    client.close();
  });

  it('close() sends GOAWAY, finishes open streams, then ends the connection', async () => {
    const client = await connect(server.port);
    const inFlight = request(client, { ':method': 'GET', ':path': '/hold' });
    await delay(30);
    const conn = server.connections.at(-1)!;
    const goaway = new Promise<number>((resolve) => client.once('goaway', (code) => resolve(code)));
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    conn.close();
    assert.equal(await goaway, 0);
    const r = await inFlight;
    assert.equal(r.headers[':status'], 200);
    await closed;
    assert.equal(conn.openStreams, 0);
  });

  it('lets streams finish after the client sends GOAWAY', async () => {
    const client = await connect(server.port);
    const inFlight = request(client, { ':method': 'GET', ':path': '/hold' });
    await delay(30);
    client.close();
    const r = await inFlight;
    assert.equal(r.headers[':status'], 200);
  });

  it('refuses streams beyond maxConcurrentStreams', async () => {
    const limited = await startServer(handler([]), { maxConcurrentStreams: 2 });
    const client = await connect(limited.port);
    await new Promise((resolve) => client.once('remoteSettings', resolve));
    // Node queues requests above the advertised limit, so all eventually succeed.
    const replies = await Promise.all(
      Array.from({ length: 6 }, () => request(client, { ':method': 'GET', ':path': '/hold' })),
    );
    for (const r of replies) assert.equal(r.headers[':status'], 200);
    client.close();
    await limited.close();
  });
});
