// A member of another cluster pointed at ours: it is refused with the reason (cluster ID
// mismatch), it logs that once instead of "established"/"lost the stream" many times a
// second, it backs off (a bounded number of connections over several seconds, where it
// used to redial every ~50 ms), and our side's log of the refusals is rate-limited.
// Also the backoff arithmetic with pinned randomness, and a peer of our own cluster that
// connects and goes away logging one line per change.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { tempDir } from '../helpers/tmp.js';
import { MAX_BACKOFF_MS, MAX_REFUSED_BACKOFF_MS, nextBackoff } from '../../src/peer/peer-stream.js';
import { PREFACE_BYTES } from '../../src/peer/protocol.js';
import { PeerTransport } from '../../src/peer/transport.js';

interface Logged {
  level: string;
  msg: string;
  fields: Record<string, unknown>;
}

function transport(localId: bigint, clusterId: bigint, peers: bigint[], dir: string, lines: Logged[]): PeerTransport {
  const log = (level: string) => (msg: string, fields: Record<string, unknown> = {}) => lines.push({ level, msg, fields });
  return new PeerTransport({
    localId,
    clusterId: () => clusterId,
    snapshotDir: dir,
    logger: { info: log('info'), warn: log('warn') },
    onMessage: () => {},
    onSnapshot: () => {},
    onUnreachable: () => {},
    isKnownPeer: (id) => peers.includes(id),
    isRemovedPeer: () => false,
    onRemovedFromCluster: () => {},
  });
}

/** A peer port for `t` on loopback; counts the connections it accepted. */
async function peerPort(t: PeerTransport): Promise<{ url: string; accepted: () => number; close: () => Promise<void> }> {
  let accepted = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      if (head.length < PREFACE_BYTES) return;
      socket.off('data', onData);
      t.accept(socket, head);
    };
    socket.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    accepted: () => accepted,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const streamLines = (lines: Logged[]) => lines.filter((l) => /stream/.test(l.msg));

test('a member of another cluster dialing ours is refused with the reason, backs off and logs once', async () => {
  const { dir, cleanup } = tempDir();
  const ourLines: Logged[] = [];
  const theirLines: Logged[] = [];
  const ours = transport(1n, 0xaaaan, [2n], `${dir}/ours`, ourLines);
  const port = await peerPort(ours);
  // member 2 of cluster 0xbbbb believes member 1 is at our address
  const theirs = transport(2n, 0xbbbbn, [1n], `${dir}/theirs`, theirLines);
  try {
    theirs.addPeer(1n, [port.url]);
    await sleep(6000);
    // every delay is at least half the backoff, which doubles from 50 ms: 25+50+...+3200 ms
    // exceeds 6 s, so at most 9 connections (the old loop made ~18 a second)
    assert.ok(port.accepted() >= 2, `it retried (${port.accepted()} connections)`);
    assert.ok(port.accepted() <= 9, `${port.accepted()} connections in 6 s: no backoff`);
    // two changes of state: the first connection, then its refusal; later tries are silent
    const theirs6 = streamLines(theirLines);
    assert.deepEqual(theirs6.map((l) => l.msg), ['established a stream to the remote peer', 'the remote peer refused the stream; backing off'], JSON.stringify(theirs6));
    assert.match(String(theirs6[1]!.fields['reason']), /cluster ID mismatch: the peer is in cluster bbbb, this member in aaaa/);
    const refused = ourLines.filter((l) => l.msg === 'rejected a stream from a peer');
    assert.ok(refused.length >= 1 && refused.length <= 10, `our refusals logged: ${refused.length}`);
    assert.match(String(refused[0]!.fields['reason']), /cluster ID mismatch/);
    assert.equal(refused[0]!.fields['remote-addr'], '127.0.0.1');
    assert.equal(theirs.activePeerCount(), 0);
  } finally {
    theirs.close();
    ours.close();
    await port.close();
    cleanup();
  }
});

test('a peer of our own cluster: one line when the stream is up, one when it is lost, with the reason', async () => {
  const { dir, cleanup } = tempDir();
  const aLines: Logged[] = [];
  const bLines: Logged[] = [];
  const a = transport(1n, 0xaaaan, [2n], `${dir}/a`, aLines);
  const b = transport(2n, 0xaaaan, [1n], `${dir}/b`, bLines);
  const port = await peerPort(a);
  try {
    b.addPeer(1n, [port.url]);
    for (let i = 0; i < 100 && b.activePeerCount() === 0; i++) await sleep(50);
    assert.equal(b.activePeerCount(), 1);
    a.close();
    await port.close();
    await sleep(3000);
    const lines = streamLines(bLines).map((l) => l.msg);
    assert.equal(lines[0], 'established a stream to the remote peer');
    assert.equal(lines.filter((m) => m === 'established a stream to the remote peer').length, 1, JSON.stringify(lines));
    // the stream closes, then dials are refused by the OS: at most those two states
    const lost = streamLines(bLines).filter((l) => l.msg === 'lost the stream to the remote peer');
    assert.ok(lost.length >= 1 && lost.length <= 2, JSON.stringify(lost));
    assert.ok(lost.some((l) => /ECONNREFUSED|closed/.test(String(l.fields['reason']))), JSON.stringify(lost));
  } finally {
    b.close();
    a.close();
    cleanup();
  }
});

test('a peer that cuts every stream at once (as when it refuses our certificate) is logged twice and backed off', async () => {
  const { dir, cleanup } = tempDir();
  const lines: Logged[] = [];
  let accepted = 0;
  const server = net.createServer((socket) => {
    accepted++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const t = transport(2n, 0xaaaan, [1n], `${dir}/t`, lines);
  try {
    t.addPeer(1n, [`http://127.0.0.1:${(server.address() as net.AddressInfo).port}`]);
    await sleep(6000);
    // delays of at least half the backoff (50 ms doubling, capped at 1 s): at most ~17 tries in 6 s
    assert.ok(accepted >= 2 && accepted <= 20, `${accepted} connections in 6 s`);
    const msgs = streamLines(lines).map((l) => l.msg);
    assert.deepEqual(msgs, ['established a stream to the remote peer', 'lost the stream to the remote peer'], JSON.stringify(lines));
  } finally {
    t.close();
    await new Promise((r) => server.close(r));
    cleanup();
  }
});

test('backoff doubles up to its cap and waits between half and all of it', () => {
  assert.deepEqual(nextBackoff(100, MAX_BACKOFF_MS, () => 0), { backoffMs: 200, delayMs: 50 });
  assert.deepEqual(nextBackoff(100, MAX_BACKOFF_MS, () => 0.999), { backoffMs: 200, delayMs: 100 });
  assert.equal(nextBackoff(800, MAX_BACKOFF_MS, () => 0.5).backoffMs, MAX_BACKOFF_MS);
  assert.equal(nextBackoff(8000, MAX_REFUSED_BACKOFF_MS, () => 0.5).backoffMs, MAX_REFUSED_BACKOFF_MS);
  // two members refused at the same moment do not redial in step
  assert.notEqual(nextBackoff(1000, MAX_BACKOFF_MS, () => 0.1).delayMs, nextBackoff(1000, MAX_BACKOFF_MS, () => 0.9).delayMs);
});
