// gRPC keepalive on our HTTP/2 server, as etcd's --grpc-keepalive-* flags set it up in
// grpc-go: a client pinging too often gets GOAWAY ENHANCE_YOUR_CALM "too_many_pings" on
// its third early ping (replies we send in between forgive it), and a client that stops
// answering our pings is disconnected after the timeout. Also through bin/tsetcd.
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ErrorCode, Flags, FrameType } from '../../src/api/h2/frames.js';
import { tempDir } from '../helpers/tmp.js';
import { freePorts, startMember, TSETCD_BIN } from '../e2e/harness.js';
import { HELLO, frame, goawayCode, parseFrames, rawExchange, startServer } from './helpers.js';

const PING = (n: number) => frame(FrameType.PING, 0, 0, Buffer.alloc(8, n));

describe('keepalive enforcement (--grpc-keepalive-min-time)', () => {
  it('answers two early pings and sends GOAWAY too_many_pings on the next', async () => {
    const server = await startServer(() => {}, { keepaliveMinTimeMs: 5000 });
    try {
      const { frames } = await rawExchange(server.port, Buffer.concat([HELLO, PING(1), PING(2), PING(3), PING(4)]));
      const acks = frames.filter((f) => f.type === FrameType.PING && f.flags & Flags.ACK);
      assert.equal(acks.length, 3, 'the first ping and two strikes are answered');
      assert.equal(goawayCode(frames), ErrorCode.ENHANCE_YOUR_CALM);
      const goaway = frames.find((f) => f.type === FrameType.GOAWAY)!;
      assert.equal(goaway.payload.subarray(8).toString(), 'too_many_pings');
    } finally {
      await server.close();
    }
  });

  it('enforces nothing when it is not set', async () => {
    const server = await startServer(() => {});
    try {
      const { frames } = await rawExchange(server.port, Buffer.concat([HELLO, PING(1), PING(2), PING(3), PING(4), PING(5)]));
      assert.equal(goawayCode(frames), undefined);
    } finally {
      await server.close();
    }
  });
});

describe('server pings (--grpc-keepalive-interval, --grpc-keepalive-timeout)', () => {
  it('pings a silent client and closes the connection when it does not answer', async () => {
    const server = await startServer(() => {}, { keepaliveIntervalMs: 200, keepaliveTimeoutMs: 200 });
    try {
      const { frames, closed } = await rawExchange(server.port, HELLO, 10_000);
      assert.ok(frames.some((f) => f.type === FrameType.PING && !(f.flags & Flags.ACK)), 'the server pinged');
      assert.equal(closed, true, 'and gave up on the silent client');
    } finally {
      await server.close();
    }
  });
});

describe('bin/tsetcd', () => {
  it('applies --grpc-keepalive-min-time on its client port', async () => {
    const { dir, cleanup } = tempDir();
    const m = await startMember({ bin: TSETCD_BIN, dataDir: path.join(dir, 'd'), ports: await freePorts(), extraArgs: ['--grpc-keepalive-min-time=10s'] });
    try {
      const port = Number(new URL(m.clientUrl).port);
      const received = await new Promise<Buffer>((resolve) => {
        const chunks: Buffer[] = [];
        const s = net.connect(port, '127.0.0.1', () => s.write(Buffer.concat([HELLO, PING(1), PING(2), PING(3), PING(4)])));
        s.on('data', (c) => chunks.push(c));
        s.on('close', () => resolve(Buffer.concat(chunks)));
        setTimeout(() => s.destroy(), 5000).unref();
      });
      assert.equal(goawayCode(parseFrames(received)), ErrorCode.ENHANCE_YOUR_CALM);
    } finally {
      await m.kill();
      cleanup();
    }
  });
});
