// Our server against curl (libcurl + nghttp2) speaking h2c with prior knowledge.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, type TestServer } from './helpers.js';

function curl(args: string[]): Promise<{ stdout: string; code: number }> {
  return new Promise((resolve) => {
    execFile('curl', ['--http2-prior-knowledge', '-s', '--max-time', '20', ...args], { maxBuffer: 64 << 20 }, (err, stdout) =>
      resolve({ stdout, code: err ? ((err as { code?: number }).code ?? 1) : 0 }),
    );
  });
}

const haveCurl = await new Promise<boolean>((resolve) => execFile('curl', ['--version'], (err) => resolve(!err)));

describe('h2 server with curl', { skip: haveCurl ? false : 'curl not installed' }, () => {
  let server: TestServer;
  before(async () => {
    server = await startServer((s) => {
      const chunks: Buffer[] = [];
      s.onData = (c) => chunks.push(c);
      s.onEnd = () => {
        const body = Buffer.concat(chunks);
        s.respond({ ':status': 200, 'content-type': 'text/plain', 'x-method': s.headers[':method']! });
        if (body.length > 0) s.write(Buffer.from(crypto.createHash('sha256').update(body).digest('hex')));
        else s.write(Buffer.from(`hello ${s.headers[':path']} via ${s.headers['user-agent']?.split('/')[0]}\n`));
        s.end();
      };
    });
  });
  after(async () => {
    await server.close();
  });

  it('GET', async () => {
    const r = await curl(['-w', '%{http_version} %{http_code}', `http://127.0.0.1:${server.port}/x`]);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, 'hello /x via curl\n2 200');
  });

  it('POST with a 3 MiB body', async () => {
    const body = crypto.randomBytes(3 << 20);
    const file = path.join(os.tmpdir(), `h2-curl-${process.pid}.bin`);
    fs.writeFileSync(file, body);
    try {
      const r = await curl(['--data-binary', `@${file}`, `http://127.0.0.1:${server.port}/upload`]);
      assert.equal(r.code, 0);
      assert.equal(r.stdout, crypto.createHash('sha256').update(body).digest('hex'));
    } finally {
      fs.rmSync(file, { force: true });
    }
  });

  // (Several URLs on one connection are not tested: curl 7.88 fails the second request
  // with exit 16 against node:http2's server too.)
  it('sends request headers and reads response headers', async () => {
    const r = await curl(['-i', '-H', 'x-token: abc', '-X', 'PUT', `http://127.0.0.1:${server.port}/h`]);
    assert.equal(r.code, 0);
    const [head, body] = r.stdout.split('\r\n\r\n');
    assert.match(head!, /^HTTP\/2 200 ?\r\n/);
    assert.match(head!, /\r\nx-method: PUT/);
    assert.match(head!, /\r\ncontent-type: text\/plain/);
    assert.equal(body, 'hello /h via curl\n');
  });
});
