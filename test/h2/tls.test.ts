// h2 over TLS: serveHttp2 on a TLSSocket (ALPN "h2") with the node:http2 client.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http2 from 'node:http2';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { serveHttp2 } from '../../src/api/h2/index.js';

function selfSigned(): { key: string; cert: string } | undefined {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'h2-tls-'));
  try {
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
        '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1',
        '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')],
      { stdio: 'ignore' },
    );
    return { key: fs.readFileSync(path.join(dir, 'key.pem'), 'utf8'), cert: fs.readFileSync(path.join(dir, 'cert.pem'), 'utf8') };
  } catch {
    return undefined;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const pair = selfSigned();

describe('h2 over TLS', { skip: pair ? false : 'openssl not available' }, () => {
  let server: tls.Server;
  let port = 0;
  before(async () => {
    server = tls.createServer({ key: pair!.key, cert: pair!.cert, ALPNProtocols: ['h2'] }, (socket) => {
      serveHttp2(socket, Buffer.alloc(0), (s) => {
        const chunks: Buffer[] = [];
        s.onData = (c) => chunks.push(c);
        s.onEnd = () => {
          s.respond({ ':status': 200, 'x-alpn': String(socket.alpnProtocol) });
          s.write(Buffer.from(crypto.createHash('sha256').update(Buffer.concat(chunks)).digest('hex')));
          s.end({ 'grpc-status': '0' });
        };
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('serves requests with a 2 MiB body', async () => {
    const client = http2.connect(`https://127.0.0.1:${port}`, { ca: pair!.cert });
    const body = crypto.randomBytes(2 << 20);
    const r = await new Promise<{ status: unknown; alpn: unknown; text: string; grpc: unknown }>((resolve, reject) => {
      const req = client.request({ ':method': 'POST', ':path': '/tls' });
      let status: unknown;
      let alpn: unknown;
      let grpc: unknown;
      const chunks: Buffer[] = [];
      req.on('response', (h) => {
        status = h[':status'];
        alpn = h['x-alpn'];
      });
      req.on('trailers', (t) => (grpc = t['grpc-status']));
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => resolve({ status, alpn, text: Buffer.concat(chunks).toString(), grpc }));
      req.on('error', reject);
      req.end(body);
    });
    assert.equal(r.status, 200);
    assert.equal(r.alpn, 'h2');
    assert.equal(r.grpc, '0');
    assert.equal(r.text, crypto.createHash('sha256').update(body).digest('hex'));
    client.close();
  });
});
