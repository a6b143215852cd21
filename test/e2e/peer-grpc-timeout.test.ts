// Two things etcd clients rely on:
//  - the client gRPC API is served on the peer URL too (etcdctl --endpoints=<peer URL>
//    member list works against etcd), while the members' own traffic on that port goes on;
//  - a unary call's grpc-timeout bounds it on the server: a write that cannot commit (no
//    quorum) is answered DeadlineExceeded "context deadline exceeded" when the client's
//    deadline passes, not with etcd's own request timeout seconds later.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import http2 from 'node:http2';
import { after, before, describe, it } from 'node:test';
import { frameMessage } from '../../src/api/grpc/framing.js';
import { PutRequest } from '../../src/proto/etcdserverpb.js';
import { Cluster, type ClusterMember } from './cluster.js';
import { etcdctl } from './harness.js';

/** One unary call with a grpc-timeout header and no client-side deadline; resolves with its status. */
function callWithServerDeadline(endpoint: string, path: string, body: Uint8Array, timeout: string): Promise<{ status: string; message: string }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(endpoint);
    session.on('error', reject);
    const req = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', 'grpc-timeout': timeout });
    const status = { status: '', message: '' };
    const take = (h: http2.IncomingHttpHeaders) => {
      if (h['grpc-status'] !== undefined) status.status = String(h['grpc-status']);
      if (h['grpc-message'] !== undefined) status.message = decodeURIComponent(String(h['grpc-message']));
    };
    req.on('response', take);
    req.on('trailers', take);
    req.on('data', () => {});
    req.on('close', () => {
      session.close();
      resolve(status);
    });
    req.on('error', reject);
    req.end(frameMessage(body));
  });
}

describe('a three-member cluster', () => {
  let c: Cluster;
  before(async () => {
    c = await Cluster.start();
  });
  after(async () => c?.destroy());

  it('serves the client API on the peer URL', async () => {
    const m = c.members[0]!;
    const list = await etcdctl(m.peerUrl, ['member', 'list']);
    assert.equal(list.code, 0, list.stderr);
    assert.equal(list.stdout.trim().split('\n').length, 3);
    assert.equal((await etcdctl(m.peerUrl, ['put', 'via-peer-port', 'yes'])).stdout, 'OK\n');
    const other = c.members[2]!;
    assert.equal((await etcdctl(other.clientUrl, ['get', 'via-peer-port', '--print-value-only'])).stdout, 'yes\n');
    // the members' own endpoints stay where they were, over HTTP/2 as over HTTP/1.1
    for (const proto of ['--http1.1', '--http2-prior-knowledge']) {
      const members = spawnSync('curl', ['-sS', proto, `${m.peerUrl}/members`], { encoding: 'utf8' });
      assert.equal((JSON.parse(members.stdout) as unknown[]).length, 3, `${proto}: ${members.stdout}${members.stderr}`);
    }
  });

  it('answers a write that cannot commit with DeadlineExceeded at the client deadline', async () => {
    const [m1, m2, m3] = c.members as [ClusterMember, ClusterMember, ClusterMember];
    await c.stop(m2);
    await c.stop(m3);
    const put = PutRequest.encode(PutRequest.create({ key: Buffer.from('k'), value: Buffer.from('v') }));
    const r = await callWithServerDeadline(m1.clientUrl, '/etcdserverpb.KV/Put', put, '1S');
    // without a server-side deadline this would be 14 "etcdserver: request timed out"
    assert.deepEqual(r, { status: '4', message: 'context deadline exceeded' });
  });
});
