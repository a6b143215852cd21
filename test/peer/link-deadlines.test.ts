// --raft-read-timeout / --raft-write-timeout on raft streams: a sender whose receiver
// stops reading loses the stream after the write timeout (and says "i/o timeout"); an idle
// stream carries link heartbeats (empty frames) every third of the read timeout, so the
// receiver's read deadline does not cut it; a receiver closes a stream on which nothing
// arrives for the read timeout.
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { PeerStream } from '../../src/peer/peer-stream.js';
import { armReadDeadline } from '../../src/peer/link-deadlines.js';
import { eventually } from '../e2e/cluster.js';

async function listen(onConn: (s: net.Socket) => void): Promise<{ url: string; server: net.Server }> {
  const server = net.createServer(onConn);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, server };
}

function stream(url: string, logs: string[], timeouts: { readTimeoutMs: number; writeTimeoutMs: number }): PeerStream {
  const events = {
    onUnreachable: () => {},
    onActive: () => {},
    onRemoved: () => {},
    log: (msg: string, f: Record<string, unknown>) => logs.push(`${msg} ${JSON.stringify(f)}`),
    warn: (msg: string, f: Record<string, unknown>) => logs.push(`${msg} ${JSON.stringify(f)}`),
  };
  return new PeerStream([url], { clusterId: 1n, from: 2n, to: 3n }, undefined, events, undefined, timeouts);
}

describe('raft stream deadlines', () => {
  it('a receiver that stops reading costs the sender its stream after the write timeout', async () => {
    const held: net.Socket[] = [];
    const { url, server } = await listen((s) => {
      s.pause(); // never reads
      held.push(s);
    });
    const logs: string[] = [];
    const s = stream(url, logs, { readTimeoutMs: 0, writeTimeoutMs: 300 });
    s.start();
    await eventually('connected', 5_000, async () => (s.connected ? true : undefined));
    const big = Buffer.alloc(1024 * 1024, 7);
    // more than the socket buffers of both ends hold; sent a few at a time, below the queue limits
    for (let i = 0; i < 40 && s.connected; i++) {
      s.send(big);
      await new Promise((r) => setImmediate(r));
    }
    await eventually('the stream is dropped', 10_000, async () => (logs.some((l) => l.includes('i/o timeout')) ? true : undefined));
    s.close();
    for (const h of held) h.destroy();
    server.close();
  });

  it('an idle stream carries empty heartbeat frames, and a silent one is closed by the read deadline', async () => {
    const received: Buffer[] = [];
    const { url, server } = await listen((sock) => sock.on('data', (b: Buffer) => received.push(b)));
    const s = stream(url, [], { readTimeoutMs: 300, writeTimeoutMs: 0 });
    s.start();
    await eventually('heartbeats', 5_000, async () => {
      const all = Buffer.concat(received);
      // preface + hello, then at least two zero-length frames
      return all.length >= 8 && all.subarray(all.length - 8).equals(Buffer.alloc(8)) ? true : undefined;
    });
    s.close();
    server.close();

    const silent = await listen(() => {});
    const client = net.connect((silent.server.address() as net.AddressInfo).port, '127.0.0.1');
    const accepted = await new Promise<net.Socket>((resolve) => silent.server.once('connection', resolve));
    let error = '';
    accepted.on('error', (e) => (error = e.message));
    armReadDeadline(accepted, 200);
    await new Promise((resolve) => accepted.once('close', resolve));
    assert.match(error, /i\/o timeout/);
    client.destroy();
    silent.server.close();
  });
});
