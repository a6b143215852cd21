// The Watch service over real HTTP/2 in process: our listener and gRPC router in front of
// a WatchableStore on a temp backend. Progress notifications at a short interval, a
// client that stops reading (HTTP/2 flow control backs the stream up: bounded, then
// caught up), a request that does not decode.
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { test } from 'node:test';
import { GrpcRouter } from '../../src/api/grpc/server.js';
import { frameMessage, MessageDeframer } from '../../src/api/grpc/framing.js';
import { listenCleartext, type ClientListener } from '../../src/api/listener.js';
import { registerWatchService, type WatchServiceOptions } from '../../src/api/watch-service.js';
import { WatchCreateRequest, WatchRequest, WatchResponse } from '../../src/proto/etcdserverpb.js';
import { freePort } from '../e2e/harness.js';
import { StoreHarness } from './harness.js';
import { eventsOf, WatchClient } from './watch-client.js';

interface Served {
  h: StoreHarness;
  url: string;
  close(): Promise<void>;
}

async function serve(opts: WatchServiceOptions = {}): Promise<Served> {
  const h = StoreHarness.open();
  const router = new GrpcRouter({ maxReceiveMessageBytes: 2 << 20 });
  const host = { header: (revision: number) => ({ cluster_id: 11n, member_id: 22n, revision, raft_term: 3 }), maxRequestBytes: 1.5 * 1024 * 1024 };
  registerWatchService(router, host, h.watchable, opts);
  const port = await freePort();
  const listener: ClientListener = await listenCleartext('127.0.0.1', port, {
    onGrpcStream: (s) => router.handle(s),
    onHttpRequest: (_req, res) => res.end(),
  });
  return {
    h,
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      await listener.close();
      await h.close();
    },
  };
}

test('progress_notify: idle watchers hear the revision every interval; busy ones do not', async () => {
  const s = await serve({ progressNotifyIntervalMs: 150 });
  const wc = new WatchClient(s.url);
  try {
    wc.create({ key: 'idle', progress_notify: true, watch_id: 1 });
    wc.create({ key: 'busy', progress_notify: true, watch_id: 2 });
    await wc.waitFor((rs) => rs.filter((r) => r.created).length === 2);
    const stopWriting = Date.now() + 600;
    while (Date.now() < stopWriting) {
      s.h.put('busy', 'x');
      await new Promise((r) => setTimeout(r, 20));
    }
    await wc.waitFor((rs) => rs.filter((r) => r.watch_id === 1 && !r.created && r.events.length === 0).length >= 2, 3000, 'two progress notifications');
    const progress = wc.responses.filter((r) => !r.created && r.events.length === 0);
    assert.ok(progress.every((r) => r.watch_id === 1), 'only the idle watcher is notified');
    for (const p of progress) {
      assert.equal(p.header!.cluster_id, 11n);
      assert.ok(p.header!.revision >= 2);
    }
  } finally {
    wc.close();
    await s.close();
  }
});

test('a client that stops reading backs the stream up; the member holds a bounded buffer, then catches it up', async () => {
  const s = await serve();
  const session = http2.connect(s.url);
  session.on('error', () => {});
  const req = session.request({ ':method': 'POST', ':path': '/etcdserverpb.Watch/Watch', 'content-type': 'application/grpc', te: 'trailers' });
  let streamError: Error | undefined;
  req.on('error', (err) => (streamError = err));
  const deframer = new MessageDeframer(1 << 30);
  const revs: number[] = [];
  let created = false;
  req.on('data', (chunk: Buffer) => {
    for (const m of deframer.push(chunk)) {
      const r = WatchResponse.decode(m);
      if (r.created) created = true;
      for (const e of r.events) revs.push(e.kv!.mod_revision);
    }
  });
  try {
    const create = WatchCreateRequest.create({ key: Buffer.from('k/'), range_end: Buffer.from('k0') });
    req.write(frameMessage(WatchRequest.encode({ create_request: create, cancel_request: undefined, progress_request: undefined })));
    while (!created) await new Promise((r) => setTimeout(r, 5));
    req.pause();
    const first = s.h.store.rev + 1;
    const writes = 20_000;
    let maxPending = 0;
    for (let i = 0; i < writes; i++) {
      s.h.put(`k/${i % 100}`, 'v'.repeat(200));
      if (i % 500 === 0) {
        await new Promise((r) => setImmediate(r));
        maxPending = Math.max(maxPending, s.h.watchable.stats().pendingBytes);
      }
    }
    const stalled = s.h.watchable.stats();
    assert.equal(stalled.victims, 1, `the reader that stopped is a victim: ${JSON.stringify(stalled)}`);
    assert.ok(revs.length < writes / 2, `only what fit in the windows got out (${revs.length})`);
    assert.ok(maxPending <= 4 * 1024 * 1024);
    req.resume();
    const deadline = Date.now() + 30_000;
    while (revs.length < writes && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(streamError, undefined);
    assert.equal(revs.length, writes);
    revs.forEach((rev, i) => assert.equal(rev, first + i));
  } finally {
    req.close();
    session.close();
    await s.close();
  }
});

test('a request that does not decode ends the stream with an error', async () => {
  const s = await serve();
  const session = http2.connect(s.url);
  session.on('error', () => {});
  try {
    const req = session.request({ ':method': 'POST', ':path': '/etcdserverpb.Watch/Watch', 'content-type': 'application/grpc', te: 'trailers' });
    let status: string | undefined;
    req.on('trailers', (t) => (status = String(t['grpc-status'])));
    req.on('response', (h) => (status ??= h['grpc-status'] === undefined ? undefined : String(h['grpc-status'])));
    req.on('data', () => {});
    req.write(frameMessage(Buffer.from([0x0a, 0x05, 0x01])));
    await new Promise((r) => req.on('close', r));
    assert.equal(status, '13');
  } finally {
    session.close();
    await s.close();
  }
});

test('events reach the right watchers over the wire, with prev_kv and filters', async () => {
  const s = await serve();
  const wc = new WatchClient(s.url);
  try {
    wc.create({ key: 'a', range_end: 'b', prev_kv: true, watch_id: 1 });
    wc.create({ key: 'ab', watch_id: 2, filters: [1] });
    await wc.waitFor((rs) => rs.filter((r) => r.created).length === 2);
    s.h.put('aa', '1');
    s.h.put('ab', '1');
    s.h.put('ab', '2');
    s.h.write([{ t: 'delrange', start: 'a', end: 'b' }]);
    await wc.waitFor((rs) => eventsOf(rs, 1).length === 5);
    assert.deepEqual(
      eventsOf(wc.responses, 1).map((e) => `${e.type}:${e.key}=${e.value}${e.prev ? ` (was ${e.prev})` : ''}@${e.rev}`),
      ['0:aa=1@2', '0:ab=1@3', '0:ab=2 (was 1)@4', '1:aa= (was 1)@5', '1:ab= (was 2)@5'],
    );
    await wc.waitFor((rs) => eventsOf(rs, 2).length === 2);
    assert.deepEqual(eventsOf(wc.responses, 2).map((e) => e.rev), [3, 4]);
    // the range delete of revision 5 came in one response
    assert.equal(wc.responses.filter((r) => r.watch_id === 1 && r.header!.revision === 5).length, 1);
  } finally {
    wc.close();
    await s.close();
  }
});
