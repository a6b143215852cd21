// Our server against the real etcdctl (grpc-go): `endpoint status` sends a full URL in
// :authority, which node:http2 rejects. A hand-encoded StatusResponse is enough here.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import type { H2ServerStream } from '../../src/api/h2/index.js';
import { startServer, type TestServer } from './helpers.js';

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 127) {
    out.push((n & 127) | 128);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

function field(tag: number, bytes: Buffer): Buffer {
  return Buffer.from([tag, bytes.length, ...bytes]);
}

// etcdserverpb.StatusResponse: header{cluster_id, member_id, revision, raft_term},
// version, dbSize, leader, raftIndex, raftTerm.
const HEADER = Buffer.from([0x08, ...varint(1234), 0x10, ...varint(0xabc), 0x18, ...varint(5), 0x20, ...varint(2)]);
const STATUS = Buffer.concat([
  field(0x0a, HEADER),
  field(0x12, Buffer.from('3.4.99-ts')),
  Buffer.from([0x18, ...varint(4096), 0x20, ...varint(0xabc), 0x28, ...varint(77), 0x30, ...varint(2)]),
]);

const GRPC_HEADERS = Object.freeze({ ':status': 200, 'content-type': 'application/grpc' });
const GRPC_OK = Object.freeze({ 'grpc-status': '0' });

function grpcFrame(msg: Buffer): Buffer {
  const out = Buffer.alloc(5 + msg.length);
  out.writeUInt32BE(msg.length, 1);
  msg.copy(out, 5);
  return out;
}

function run(args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve) => {
    execFile('etcdctl', args, { env: { ...process.env, ETCDCTL_API: '3' }, timeout: 20000 }, (err, stdout, stderr) =>
      resolve({ stdout, stderr, code: err ? ((err as { code?: number }).code ?? 1) : 0 }),
    );
  });
}

const haveEtcdctl = await new Promise<boolean>((resolve) => execFile('etcdctl', ['version'], (err) => resolve(!err)));

describe('h2 server with the real etcdctl (grpc-go)', { skip: haveEtcdctl ? false : 'etcdctl not installed' }, () => {
  let server: TestServer;
  const authorities: string[] = [];
  before(async () => {
    server = await startServer((s: H2ServerStream) => {
      authorities.push(s.headers[':authority']!);
      s.onEnd = () => {
        if (s.headers[':path'] === '/etcdserverpb.Maintenance/Status') {
          s.respond(GRPC_HEADERS);
          s.write(grpcFrame(STATUS));
          s.end(GRPC_OK);
        } else {
          s.respond({ ...GRPC_HEADERS, 'grpc-status': '12', 'grpc-message': 'not here' }, true);
        }
      };
    });
  });
  after(async () => {
    await server.close();
  });

  it('answers `endpoint status`, whose :authority is a full URL', async () => {
    const endpoint = `http://127.0.0.1:${server.port}`;
    const r = await run([`--endpoints=${endpoint}`, 'endpoint', 'status', '-w', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const [status] = JSON.parse(r.stdout) as Array<{ Endpoint: string; Status: { version: string; raftIndex: number } }>;
    assert.equal(status!.Endpoint, endpoint);
    assert.equal(status!.Status.version, '3.4.99-ts');
    assert.equal(status!.Status.raftIndex, 77);
    assert.ok(authorities.includes(endpoint), `authorities seen: ${authorities.join(' ')}`);
  });

  it('delivers a trailers-only error status', async () => {
    const r = await run([`--endpoints=127.0.0.1:${server.port}`, '--command-timeout=3s', 'get', 'foo']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /code = Unimplemented desc = not here/);
  });
});
