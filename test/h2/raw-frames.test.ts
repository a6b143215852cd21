// Hand-built frames: malformed input, stream rules, padding, CONTINUATION, flow control.
// Most cases run on a fake socket (deterministic splits, no timing); the connection
// errors also run over TCP to show the server keeps serving other connections.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { serveHttp2, type H2ServerStream, type H2Settings } from '../../src/api/h2/index.js';
import { CLIENT_PREFACE, ErrorCode, Flags, FrameType } from '../../src/api/h2/frames.js';
import { HpackEncoder } from '../../src/api/h2/hpack-encoder.js';
import { DecodeStatus, HpackDecoder } from '../../src/api/h2/hpack-decoder.js';
import {
  FakeSocket,
  HELLO,
  POST_ROOT_BLOCK,
  frame,
  goawayCode,
  parseFrames,
  rawExchange,
  rstCodes,
  startServer,
  tick,
  type Frame,
  type TestServer,
} from './helpers.js';

const SETTINGS_ACK = frame(FrameType.SETTINGS, Flags.ACK, 0);
const END_HEADERS = Flags.END_HEADERS;
const END_STREAM = Flags.END_STREAM;

function block(headers: Record<string, string | number>): Buffer {
  return Buffer.from(new HpackEncoder().encode(headers));
}

const GET = { ':method': 'GET', ':scheme': 'http', ':path': '/x', ':authority': 'h' };

interface Observed {
  streams: H2ServerStream[];
  data: Map<number, Buffer[]>;
  ended: Set<number>;
  closed: Map<number, number>;
}

/** Records everything; answers "ok" on END_STREAM unless the path is /sink. */
function recorder(o: Observed) {
  return (s: H2ServerStream): void => {
    o.streams.push(s);
    o.data.set(s.id, []);
    s.onData = (c) => o.data.get(s.id)!.push(Buffer.from(c));
    s.onClose = () => o.closed.set(s.id, (o.closed.get(s.id) ?? 0) + 1);
    s.onEnd = () => {
      o.ended.add(s.id);
      if (s.headers[':path'] === '/sink') return;
      s.respond({ ':status': 200 });
      s.write(Buffer.from('ok'));
      s.end();
    };
  };
}

function fake(settings?: H2Settings, onStream?: (s: H2ServerStream) => void) {
  const o: Observed = { streams: [], data: new Map(), ended: new Set(), closed: new Map() };
  const sock = new FakeSocket();
  const conn = serveHttp2(sock.asSocket(), Buffer.alloc(0), onStream ?? recorder(o), settings);
  const errors: Error[] = [];
  conn.onError = (e) => errors.push(e);
  return {
    o,
    sock,
    conn,
    errors,
    async send(...parts: Buffer[]): Promise<Frame[]> {
      sock.feed(Buffer.concat(parts));
      await tick();
      await tick();
      return parseFrames(sock.output());
    },
  };
}

function responseStatus(frames: Frame[], id: number): string | undefined {
  const d = new HpackDecoder();
  for (const f of frames) {
    if (f.type !== FrameType.HEADERS) continue;
    const out: string[] = [];
    assert.equal(d.decode(f.payload, 0, f.payload.length, out), DecodeStatus.OK);
    if (f.id === id && out[0] === ':status') return out[1];
  }
  return undefined;
}

function dataOf(frames: Frame[], id: number): Buffer {
  return Buffer.concat(frames.filter((f) => f.type === FrameType.DATA && f.id === id).map((f) => f.payload));
}

describe('h2 connection errors answer with GOAWAY and the right code', () => {
  const cases: Array<[string, Buffer, number]> = [
    ['bad preface', Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), ErrorCode.PROTOCOL_ERROR],
    ['garbage after the preface', Buffer.concat([CLIENT_PREFACE, Buffer.from('hello, this is not http/2 at all')]), ErrorCode.FRAME_SIZE_ERROR],
    ['a first frame that is not SETTINGS', Buffer.concat([CLIENT_PREFACE, frame(FrameType.PING, 0, 0, Buffer.alloc(8))]), ErrorCode.PROTOCOL_ERROR],
    ['a frame above our max frame size', Buffer.concat([HELLO, Buffer.from([0x00, 0x40, 0x01, 0, 0, 0, 0, 0, 1])]), ErrorCode.FRAME_SIZE_ERROR],
    ['SETTINGS of 5 bytes', Buffer.concat([HELLO, frame(FrameType.SETTINGS, 0, 0, [0, 1, 0, 0, 0])]), ErrorCode.FRAME_SIZE_ERROR],
    ['SETTINGS ACK with payload', Buffer.concat([HELLO, frame(FrameType.SETTINGS, Flags.ACK, 0, [0, 1, 0, 0, 0, 0])]), ErrorCode.FRAME_SIZE_ERROR],
    ['SETTINGS on a stream', Buffer.concat([HELLO, frame(FrameType.SETTINGS, 0, 1)]), ErrorCode.PROTOCOL_ERROR],
    ['SETTINGS_ENABLE_PUSH 2', Buffer.concat([HELLO, frame(FrameType.SETTINGS, 0, 0, [0, 2, 0, 0, 0, 2])]), ErrorCode.PROTOCOL_ERROR],
    ['SETTINGS_INITIAL_WINDOW_SIZE 2^31', Buffer.concat([HELLO, frame(FrameType.SETTINGS, 0, 0, [0, 4, 0x80, 0, 0, 0])]), ErrorCode.FLOW_CONTROL_ERROR],
    ['SETTINGS_MAX_FRAME_SIZE 100', Buffer.concat([HELLO, frame(FrameType.SETTINGS, 0, 0, [0, 5, 0, 0, 0, 100])]), ErrorCode.PROTOCOL_ERROR],
    ['PING of 7 bytes', Buffer.concat([HELLO, frame(FrameType.PING, 0, 0, Buffer.alloc(7))]), ErrorCode.FRAME_SIZE_ERROR],
    ['PING on a stream', Buffer.concat([HELLO, frame(FrameType.PING, 0, 1, Buffer.alloc(8))]), ErrorCode.PROTOCOL_ERROR],
    ['HPACK index out of range', Buffer.concat([HELLO, frame(FrameType.HEADERS, END_HEADERS | END_STREAM, 1, [0x82, 0xff, 0x10])]), ErrorCode.COMPRESSION_ERROR],
    ['bad Huffman in a header', Buffer.concat([HELLO, frame(FrameType.HEADERS, END_HEADERS, 1, [0x04, 0x81, 0x00])]), ErrorCode.COMPRESSION_ERROR],
    ['connection window overflow', Buffer.concat([HELLO, frame(FrameType.WINDOW_UPDATE, 0, 0, [0x7f, 0xff, 0xff, 0xff])]), ErrorCode.FLOW_CONTROL_ERROR],
    ['WINDOW_UPDATE of 0 on the connection', Buffer.concat([HELLO, frame(FrameType.WINDOW_UPDATE, 0, 0, [0, 0, 0, 0])]), ErrorCode.PROTOCOL_ERROR],
    ['WINDOW_UPDATE of 3 bytes', Buffer.concat([HELLO, frame(FrameType.WINDOW_UPDATE, 0, 0, [0, 0, 1])]), ErrorCode.FRAME_SIZE_ERROR],
    ['WINDOW_UPDATE on an idle stream', Buffer.concat([HELLO, frame(FrameType.WINDOW_UPDATE, 0, 5, [0, 0, 0, 1])]), ErrorCode.PROTOCOL_ERROR],
    ['DATA on an idle stream', Buffer.concat([HELLO, frame(FrameType.DATA, 0, 3, [1, 2, 3])]), ErrorCode.PROTOCOL_ERROR],
    ['DATA on stream 0', Buffer.concat([HELLO, frame(FrameType.DATA, 0, 0, [1])]), ErrorCode.PROTOCOL_ERROR],
    ['RST_STREAM on an idle stream', Buffer.concat([HELLO, frame(FrameType.RST_STREAM, 0, 7, [0, 0, 0, 8])]), ErrorCode.PROTOCOL_ERROR],
    ['RST_STREAM of 3 bytes', Buffer.concat([HELLO, frame(FrameType.HEADERS, END_HEADERS, 1, POST_ROOT_BLOCK), frame(FrameType.RST_STREAM, 0, 1, [0, 0, 8])]), ErrorCode.FRAME_SIZE_ERROR],
    ['PUSH_PROMISE from the client', Buffer.concat([HELLO, frame(FrameType.PUSH_PROMISE, END_HEADERS, 1, [0, 0, 0, 2, 0x82])]), ErrorCode.PROTOCOL_ERROR],
    ['HEADERS on an even stream', Buffer.concat([HELLO, frame(FrameType.HEADERS, END_HEADERS | END_STREAM, 2, POST_ROOT_BLOCK)]), ErrorCode.PROTOCOL_ERROR],
    ['HEADERS on stream 0', Buffer.concat([HELLO, frame(FrameType.HEADERS, END_HEADERS, 0, POST_ROOT_BLOCK)]), ErrorCode.PROTOCOL_ERROR],
    ['HEADERS padding longer than the frame', Buffer.concat([HELLO, frame(FrameType.HEADERS, END_HEADERS | Flags.PADDED, 1, [200, 0x82])]), ErrorCode.PROTOCOL_ERROR],
    ['CONTINUATION without HEADERS', Buffer.concat([HELLO, frame(FrameType.CONTINUATION, END_HEADERS, 1, POST_ROOT_BLOCK)]), ErrorCode.PROTOCOL_ERROR],
    ['another frame inside a header block', Buffer.concat([HELLO, frame(FrameType.HEADERS, 0, 1, POST_ROOT_BLOCK), frame(FrameType.PING, 0, 0, Buffer.alloc(8))]), ErrorCode.PROTOCOL_ERROR],
    ['CONTINUATION on another stream', Buffer.concat([HELLO, frame(FrameType.HEADERS, 0, 1, POST_ROOT_BLOCK), frame(FrameType.CONTINUATION, END_HEADERS, 3)]), ErrorCode.PROTOCOL_ERROR],
    ['a new stream id below the last one', Buffer.concat([HELLO, frame(FrameType.HEADERS, END_HEADERS | END_STREAM, 5, block(GET)), frame(FrameType.HEADERS, END_HEADERS | END_STREAM, 3, block(GET))]), ErrorCode.STREAM_CLOSED],
  ];

  for (const [name, bytes, code] of cases) {
    it(name, async () => {
      const t = fake();
      const frames = await t.send(bytes);
      assert.equal(goawayCode(frames), code, `frames: ${JSON.stringify(frames.map((f) => f.type))}`);
      assert.ok(t.sock.ended || t.sock.destroyed, 'socket ended');
      assert.equal(t.errors.length, 1);
    });
  }

  it('DATA beyond the connection window', async () => {
    // Windows are replenished as data is consumed, so only one frame larger than the
    // whole window can overrun it.
    const t = fake({ connectionWindowSize: 65535, maxFrameSize: 100000 });
    const head = frame(FrameType.HEADERS, END_HEADERS, 1, POST_ROOT_BLOCK);
    const frames = await t.send(HELLO, head, frame(FrameType.DATA, 0, 1, Buffer.alloc(70000)));
    assert.equal(goawayCode(frames), ErrorCode.FLOW_CONTROL_ERROR);
  });

  describe('over TCP, the server keeps accepting connections', () => {
    let server: TestServer;
    before(async () => {
      server = await startServer((s) => {
        s.onEnd = () => {
          s.respond({ ':status': 200 });
          s.end();
        };
      });
    });
    after(async () => {
      await server.close();
    });

    for (const [name, bytes, code] of cases.slice(0, 3).concat(cases.slice(12, 13))) {
      it(name, async () => {
        const r = await rawExchange(server.port, bytes);
        assert.equal(goawayCode(r.frames), code);
        assert.ok(r.closed, 'server closed the connection');
      });
    }

    it('then still serves a normal client', async () => {
      const client = http2.connect(`http://127.0.0.1:${server.port}`);
      const status = await new Promise((resolve, reject) => {
        const req = client.request({ ':path': '/' });
        req.on('response', (h) => resolve(h[':status']));
        req.on('error', reject);
        req.end();
      });
      assert.equal(status, 200);
      client.close();
    });
  });
});

describe('h2 stream-level rules', () => {
  it('resets malformed requests and keeps the connection', async () => {
    const t = fake();
    const bad: Array<Record<string, string>> = [
      { ':method': 'GET', ':scheme': 'http', ':authority': 'h' }, // no :path
      { ':method': 'GET', ':path': '/', ':authority': 'h' }, // no :scheme
      { ':scheme': 'http', ':path': '/' }, // no :method
      { ...GET, connection: 'keep-alive' },
      { ...GET, te: 'gzip' },
      { ...GET, ':status': '200' },
      { ...GET, ':foo': 'x' },
      { ...GET, 'content-length': 'abc' },
    ];
    const frames = await t.send(
      HELLO,
      ...bad.map((h, i) => frame(FrameType.HEADERS, END_HEADERS | END_STREAM, 1 + 2 * i, block(h))),
      // upper-case name, literal: 0x00 len 'X-A' len 'b'
      frame(FrameType.HEADERS, END_HEADERS | END_STREAM, 17, Buffer.concat([block(GET), Buffer.from([0, 3]), Buffer.from('X-A'), Buffer.from([1]), Buffer.from('b')])),
      // pseudo-header after a regular one
      frame(FrameType.HEADERS, END_HEADERS | END_STREAM, 19, Buffer.concat([block({ ':method': 'GET', ':scheme': 'http', 'x-a': 'b' }), block({ ':path': '/' })])),
      frame(FrameType.HEADERS, END_HEADERS | END_STREAM, 21, block(GET)),
    );
    assert.equal(goawayCode(frames), undefined);
    const resets = rstCodes(frames);
    assert.deepEqual(
      resets,
      [1, 3, 5, 7, 9, 11, 13, 15, 17, 19].map((id) => [id, ErrorCode.PROTOCOL_ERROR]),
    );
    assert.equal(responseStatus(frames, 21), '200');
    assert.deepEqual(t.o.streams.map((s) => s.id), [21]);
  });

  it('checks content-length against the body', async () => {
    const t = fake();
    const frames = await t.send(
      HELLO,
      frame(FrameType.HEADERS, END_HEADERS, 1, block({ ...GET, ':method': 'POST', 'content-length': '5' })),
      frame(FrameType.DATA, END_STREAM, 1, Buffer.from('abc')),
      frame(FrameType.HEADERS, END_HEADERS, 3, block({ ...GET, ':method': 'POST', 'content-length': '3' })),
      frame(FrameType.DATA, END_STREAM, 3, Buffer.from('abc')),
    );
    assert.deepEqual(rstCodes(frames), [[1, ErrorCode.PROTOCOL_ERROR]]);
    assert.equal(responseStatus(frames, 3), '200');
    assert.equal(t.o.closed.get(1), 1);
    assert.ok(!t.o.ended.has(1));
  });

  it('refuses streams over maxConcurrentStreams', async () => {
    const t = fake({ maxConcurrentStreams: 2 });
    const sink = { ...GET, ':path': '/sink' };
    const frames = await t.send(
      HELLO,
      frame(FrameType.HEADERS, END_HEADERS | END_STREAM, 1, block(sink)),
      frame(FrameType.HEADERS, END_HEADERS | END_STREAM, 3, block(sink)),
      frame(FrameType.HEADERS, END_HEADERS | END_STREAM, 5, block(sink)),
    );
    assert.deepEqual(rstCodes(frames), [[5, ErrorCode.REFUSED_STREAM]]);
    assert.equal(t.conn.openStreams, 2);
    const settings = frames.find((f) => f.type === FrameType.SETTINGS && f.flags === 0)!;
    assert.equal(settings.payload.readUInt16BE(0), 3);
    assert.equal(settings.payload.readUInt32BE(2), 2);
  });

  it('an RST_STREAM from the client mid-body closes the stream once, without onEnd', async () => {
    const t = fake();
    const frames = await t.send(
      HELLO,
      frame(FrameType.HEADERS, END_HEADERS, 1, POST_ROOT_BLOCK),
      frame(FrameType.DATA, 0, 1, Buffer.from('part')),
      frame(FrameType.RST_STREAM, 0, 1, [0, 0, 0, 8]),
      frame(FrameType.DATA, 0, 1, Buffer.from('late')), // in flight: ignored... with STREAM_CLOSED
      frame(FrameType.WINDOW_UPDATE, 0, 1, [0, 0, 0, 1]), // ignored
    );
    assert.equal(goawayCode(frames), undefined);
    assert.equal(t.o.closed.get(1), 1);
    assert.ok(!t.o.ended.has(1));
    assert.deepEqual(Buffer.concat(t.o.data.get(1)!), Buffer.from('part'));
    assert.equal(t.conn.openStreams, 0);
    t.conn.destroy();
    await tick();
    assert.equal(t.o.closed.get(1), 1);
  });

  it('DATA after END_STREAM gets RST_STREAM(STREAM_CLOSED)', async () => {
    const t = fake();
    const frames = await t.send(
      HELLO,
      frame(FrameType.HEADERS, END_HEADERS | END_STREAM, 1, block({ ...GET, ':path': '/sink' })),
      frame(FrameType.DATA, 0, 1, Buffer.from('x')),
    );
    assert.deepEqual(rstCodes(frames), [[1, ErrorCode.STREAM_CLOSED]]);
    assert.equal(t.o.closed.get(1), 1);
  });

  it('resets on a stream flow-control violation', async () => {
    const t = fake({ initialWindowSize: 100 });
    const frames = await t.send(
      HELLO,
      SETTINGS_ACK,
      frame(FrameType.HEADERS, END_HEADERS, 1, POST_ROOT_BLOCK),
      frame(FrameType.DATA, 0, 1, Buffer.alloc(101)),
    );
    assert.deepEqual(rstCodes(frames), [[1, ErrorCode.FLOW_CONTROL_ERROR]]);
    assert.equal(goawayCode(frames), undefined);
  });

  it('resets on a stream window overflow and a zero WINDOW_UPDATE', async () => {
    const t = fake();
    const sink = block({ ...GET, ':path': '/sink' });
    const frames = await t.send(
      HELLO,
      frame(FrameType.HEADERS, END_HEADERS, 1, sink),
      frame(FrameType.WINDOW_UPDATE, 0, 1, [0x7f, 0xff, 0xff, 0xff]),
      frame(FrameType.HEADERS, END_HEADERS, 3, sink),
      frame(FrameType.WINDOW_UPDATE, 0, 3, [0, 0, 0, 0]),
    );
    assert.deepEqual(rstCodes(frames), [
      [1, ErrorCode.FLOW_CONTROL_ERROR],
      [3, ErrorCode.PROTOCOL_ERROR],
    ]);
  });

  it('answers an oversized header list with 431', async () => {
    const t = fake({ maxHeaderListSize: 200 });
    const frames = await t.send(
      HELLO,
      frame(FrameType.HEADERS, END_HEADERS | END_STREAM, 1, block({ ...GET, 'x-big': 'v'.repeat(300) })),
      frame(FrameType.HEADERS, END_HEADERS | END_STREAM, 3, block(GET)),
    );
    assert.equal(responseStatus(frames, 1), '431');
    assert.equal(responseStatus(frames, 3), '200');
  });

  it('rejects pseudo-headers in client trailers', async () => {
    const t = fake();
    const frames = await t.send(
      HELLO,
      frame(FrameType.HEADERS, END_HEADERS, 1, POST_ROOT_BLOCK),
      frame(FrameType.HEADERS, END_HEADERS | END_STREAM, 1, block({ ':path': '/' })),
      frame(FrameType.HEADERS, END_HEADERS, 3, POST_ROOT_BLOCK),
      frame(FrameType.HEADERS, END_HEADERS, 3, block({ 'x-t': '1' })), // trailers without END_STREAM
    );
    assert.deepEqual(rstCodes(frames), [
      [1, ErrorCode.PROTOCOL_ERROR],
      [3, ErrorCode.PROTOCOL_ERROR],
    ]);
  });
});

describe('h2 framing details', () => {
  it('handles padded HEADERS with priority, CONTINUATION and padded DATA', async () => {
    const t = fake();
    const hb = block({ ...GET, ':method': 'POST', 'x-a': 'a'.repeat(50), 'x-b': 'b'.repeat(50) });
    const padded = Buffer.concat([Buffer.from([4]), Buffer.from([0, 0, 0, 0, 16]), hb.subarray(0, 10), Buffer.alloc(4)]);
    const frames = await t.send(
      HELLO,
      frame(FrameType.HEADERS, Flags.PADDED | Flags.PRIORITY, 1, padded),
      frame(FrameType.CONTINUATION, 0, 1, hb.subarray(10, 60)),
      frame(FrameType.CONTINUATION, END_HEADERS, 1, hb.subarray(60)),
      frame(FrameType.PRIORITY, 0, 1, [0, 0, 0, 0, 1]),
      frame(FrameType.DATA, Flags.PADDED, 1, Buffer.concat([Buffer.from([3]), Buffer.from('hello'), Buffer.alloc(3)])),
      frame(FrameType.DATA, Flags.PADDED | END_STREAM, 1, Buffer.from([0])),
      frame(0xfa, 0, 0, [1, 2, 3]), // unknown type: ignored
    );
    assert.equal(goawayCode(frames), undefined);
    const s = t.o.streams[0]!;
    assert.equal(s.headers['x-a'], 'a'.repeat(50));
    assert.equal(s.headers['x-b'], 'b'.repeat(50));
    assert.deepEqual(Buffer.concat(t.o.data.get(1)!), Buffer.from('hello'));
    assert.equal(responseStatus(frames, 1), '200');
    assert.deepEqual(dataOf(frames, 1), Buffer.from('ok'));
  });

  it('parses input split at every byte', async () => {
    const t = fake();
    const input = Buffer.concat([
      HELLO,
      frame(FrameType.HEADERS, END_HEADERS, 1, block({ ...GET, ':method': 'POST' })),
      frame(FrameType.DATA, 0, 1, Buffer.from('abc')),
      frame(FrameType.DATA, END_STREAM, 1, Buffer.from('defgh')),
      frame(FrameType.PING, 0, 0, Buffer.from('pingpong')),
    ]);
    for (let i = 0; i < input.length; i++) t.sock.feed(input.subarray(i, i + 1));
    await tick();
    await tick();
    const frames = parseFrames(t.sock.output());
    assert.deepEqual(Buffer.concat(t.o.data.get(1)!), Buffer.from('abcdefgh'));
    assert.equal(responseStatus(frames, 1), '200');
    const pong = frames.find((f) => f.type === FrameType.PING)!;
    assert.equal(pong.flags, Flags.ACK);
    assert.deepEqual(pong.payload, Buffer.from('pingpong'));
  });

  it('accepts the preface in the alreadyRead bytes', async () => {
    const o: Observed = { streams: [], data: new Map(), ended: new Set(), closed: new Map() };
    const sock = new FakeSocket();
    serveHttp2(sock.asSocket(), Buffer.concat([CLIENT_PREFACE.subarray(0, 5)]), recorder(o));
    sock.feed(Buffer.concat([CLIENT_PREFACE.subarray(5), SETTINGS_ACK.subarray(0, 0), HELLO.subarray(CLIENT_PREFACE.length), frame(FrameType.HEADERS, END_HEADERS | END_STREAM, 1, block(GET))]));
    await tick();
    await tick();
    assert.equal(responseStatus(parseFrames(sock.output()), 1), '200');
  });

  it('sends SETTINGS, a connection WINDOW_UPDATE, and ACKs SETTINGS in one write', async () => {
    const t = fake();
    const frames = await t.send(HELLO);
    assert.equal(t.sock.written.length, 1);
    assert.deepEqual(
      frames.map((f) => [f.type, f.flags]),
      [
        [FrameType.SETTINGS, 0],
        [FrameType.WINDOW_UPDATE, 0],
        [FrameType.SETTINGS, Flags.ACK],
      ],
    );
    assert.equal(frames[1]!.payload.readUInt32BE(0), (8 << 20) - 65535);
    const settings = new Map<number, number>();
    for (let p = 0; p < frames[0]!.payload.length; p += 6) {
      settings.set(frames[0]!.payload.readUInt16BE(p), frames[0]!.payload.readUInt32BE(p + 2));
    }
    assert.equal(settings.get(4), 1 << 20);
    assert.equal(settings.get(6), 1 << 20);
  });

  it('applies a SETTINGS_INITIAL_WINDOW_SIZE change to open streams', async () => {
    const t = fake(undefined, (s) => {
      s.onEnd = () => {
        s.respond({ ':status': 200 });
        s.write(Buffer.alloc(100, 7));
        s.end({ 'x-done': '1' });
      };
    });
    let frames = await t.send(
      CLIENT_PREFACE,
      frame(FrameType.SETTINGS, 0, 0, [0, 4, 0, 0, 0, 10]),
      frame(FrameType.HEADERS, END_HEADERS | END_STREAM, 1, block(GET)),
    );
    assert.equal(dataOf(frames, 1).length, 10);
    frames = await t.send(frame(FrameType.SETTINGS, 0, 0, [0, 4, 0, 0, 0, 60]));
    assert.equal(dataOf(frames, 1).length, 60);
    frames = await t.send(frame(FrameType.WINDOW_UPDATE, 0, 1, [0, 0, 0, 40]));
    assert.equal(dataOf(frames, 1).length, 100);
    // trailers come after all the data
    const last = frames.at(-1)!;
    assert.equal(last.type, FrameType.HEADERS);
    assert.equal(last.flags & END_STREAM, END_STREAM);
  });

  it('splits DATA at the peer max frame size and waits for the connection window', async () => {
    const t = fake(undefined, (s) => {
      s.onEnd = () => {
        s.respond({ ':status': 200 });
        assert.equal(s.write(Buffer.alloc(70000, 1)), false); // above the 64 KiB mark
        s.end();
      };
    });
    let frames = await t.send(HELLO, frame(FrameType.HEADERS, END_HEADERS | END_STREAM, 1, block(GET)));
    let data = frames.filter((f) => f.type === FrameType.DATA);
    assert.deepEqual(data.map((f) => f.payload.length), [16384, 16384, 16384, 16383]);
    frames = await t.send(frame(FrameType.WINDOW_UPDATE, 0, 0, [0, 1, 0, 0]), frame(FrameType.WINDOW_UPDATE, 0, 1, [0, 1, 0, 0]));
    data = frames.filter((f) => f.type === FrameType.DATA);
    assert.equal(data.reduce((n, f) => n + f.payload.length, 0), 70000);
    assert.equal(data.at(-1)!.flags & END_STREAM, END_STREAM);
  });

  it('replenishes the receive windows after half is consumed', async () => {
    const t = fake({ initialWindowSize: 65536, connectionWindowSize: 131072 });
    const parts = [HELLO, SETTINGS_ACK, frame(FrameType.HEADERS, END_HEADERS, 1, block({ ...GET, ':method': 'POST', ':path': '/sink' }))];
    for (let i = 0; i < 3; i++) parts.push(frame(FrameType.DATA, 0, 1, Buffer.alloc(16384)));
    let frames = await t.send(...parts);
    let updates = frames.filter((f) => f.type === FrameType.WINDOW_UPDATE).map((f) => [f.id, f.payload.readUInt32BE(0)]);
    assert.deepEqual(updates, [[0, 131072 - 65535], [1, 32768]]);
    frames = await t.send(frame(FrameType.DATA, 0, 1, Buffer.alloc(16384)), frame(FrameType.DATA, 0, 1, Buffer.alloc(16384)));
    updates = frames.filter((f) => f.type === FrameType.WINDOW_UPDATE).map((f) => [f.id, f.payload.readUInt32BE(0)]);
    assert.deepEqual(updates.slice(2), [[0, 65536], [1, 32768]]);
  });

  it('closes every stream once when the socket closes', async () => {
    const t = fake();
    const sink = block({ ...GET, ':path': '/sink' });
    await t.send(
      HELLO,
      frame(FrameType.HEADERS, END_HEADERS, 1, sink),
      frame(FrameType.HEADERS, END_HEADERS, 3, sink),
    );
    assert.equal(t.conn.openStreams, 2);
    t.sock.emit('error', Object.assign(new Error('boom'), { code: 'ECONNRESET' }));
    t.sock.destroy();
    await tick();
    await tick();
    assert.deepEqual([...t.o.closed.entries()], [[1, 1], [3, 1]]);
  });

  it('answers everything from one input chunk in one socket write', async () => {
    const t = fake();
    await t.send(HELLO);
    const before = t.sock.written.length;
    const parts: Buffer[] = [];
    for (let id = 1; id <= 199; id += 2) parts.push(frame(FrameType.HEADERS, END_HEADERS | END_STREAM, id, block(GET)));
    parts.push(frame(FrameType.PING, 0, 0, Buffer.alloc(8)));
    const frames = await t.send(...parts);
    assert.equal(t.sock.written.length, before + 1);
    const mine = parseFrames(t.sock.written.at(-1)!);
    assert.equal(mine.filter((f) => f.type === FrameType.HEADERS).length, 100);
    assert.equal(mine.filter((f) => f.type === FrameType.DATA).length, 100);
    assert.equal(mine.filter((f) => f.type === FrameType.PING).length, 1);
    assert.equal(goawayCode(frames), undefined);
  });

  it('close() with no open streams sends GOAWAY(NO_ERROR) and ends the socket', async () => {
    const t = fake();
    await t.send(HELLO, frame(FrameType.HEADERS, END_HEADERS | END_STREAM, 1, block(GET)));
    t.conn.close();
    await tick();
    const frames = parseFrames(t.sock.output());
    const g = frames.find((f) => f.type === FrameType.GOAWAY)!;
    assert.equal(g.payload.readUInt32BE(0), 1);
    assert.equal(g.payload.readUInt32BE(4), ErrorCode.NO_ERROR);
    assert.ok(t.sock.ended);
  });

  it('ignores new streams after GOAWAY, finishing the open ones', async () => {
    const t = fake();
    await t.send(HELLO, frame(FrameType.HEADERS, END_HEADERS | END_STREAM, 1, block({ ...GET, ':path': '/sink' })));
    t.conn.close();
    await t.send(frame(FrameType.HEADERS, END_HEADERS | END_STREAM, 3, block(GET)));
    assert.deepEqual(t.o.streams.map((s) => s.id), [1]);
    assert.ok(!t.sock.ended);
    t.o.streams[0]!.respond({ ':status': 204 }, true);
    await tick();
    await tick();
    assert.ok(t.sock.ended);
    assert.equal(t.o.closed.get(1), 1);
  });

  it('rejects respond() without :status and a second respond()', async () => {
    const t = fake();
    await t.send(HELLO, frame(FrameType.HEADERS, END_HEADERS, 1, block({ ...GET, ':path': '/sink' })));
    const s = t.o.streams[0]!;
    assert.throws(() => s.respond({ 'content-type': 'x' }), /without ':status'/);
    s.respond({ ':status': 200 });
    assert.throws(() => s.respond({ ':status': 200 }), /already sent/);
    s.reset();
    assert.equal(s.closed, true);
    assert.equal(s.write(Buffer.from('x')), false);
  });

  it('resets a stream whose callback throws, and reports the error', async () => {
    const t = fake(undefined, (s) => {
      s.onData = () => {
        throw new Error('handler bug');
      };
    });
    const frames = await t.send(
      HELLO,
      frame(FrameType.HEADERS, END_HEADERS, 1, POST_ROOT_BLOCK),
      frame(FrameType.DATA, 0, 1, Buffer.from('x')),
    );
    assert.deepEqual(rstCodes(frames), [[1, ErrorCode.INTERNAL_ERROR]]);
    assert.equal(t.errors[0]?.message, 'handler bug');
  });
});
