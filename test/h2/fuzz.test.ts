// Seeded, bounded fuzzing of the HTTP/2 input path (issue 13): the pure FrameReader, the
// HPACK decoder, and a whole server connection fed the same bytes. Proves that no input,
// in any split across reads, crashes them: the reader and the decoder either accept it
// or throw H2Error (never another exception), and a connection answers every input it
// rejects with a GOAWAY carrying an error code, without reporting a bug of its own.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { serveHttp2 } from '../../src/api/h2/index.js';
import { CLIENT_PREFACE, ErrorCode, FrameType, H2Error, buildFrame } from '../../src/api/h2/frames.js';
import { FrameReader, type FrameSink } from '../../src/api/h2/frame-reader.js';
import { HpackDecoder } from '../../src/api/h2/hpack-decoder.js';
import { HpackEncoder } from '../../src/api/h2/hpack-encoder.js';
import { FakeSocket, SETTINGS_EMPTY, parseFrames, tick } from './helpers.js';

const SEED = 20231010;
const RUNS = 300;

const noopSink: FrameSink = {
  data() {},
  headers() {},
  priorityError() {},
  rstStream() {},
  settings() {},
  settingsAck() {},
  ping() {},
  goaway() {},
  windowUpdate() {},
};

/** A frame with a random type (known and unknown), flags, small stream id and payload. */
const anyFrame = fc
  .record({
    type: fc.integer({ min: 0, max: 11 }),
    flags: fc.integer({ min: 0, max: 255 }),
    id: fc.integer({ min: 0, max: 9 }),
    payload: fc.uint8Array({ maxLength: 48 }),
  })
  .map(({ type, flags, id, payload }) => buildFrame(type, flags, id, payload));

/** A HEADERS frame whose block is a real request, sometimes with END_STREAM. */
const encoder = new HpackEncoder();
const requestFrame = fc.record({ id: fc.integer({ min: 1, max: 9 }), end: fc.boolean() }).map(({ id, end }) =>
  buildFrame(FrameType.HEADERS, 0x4 | (end ? 1 : 0), id | 1, encoder.encode({ ':method': 'POST', ':scheme': 'http', ':path': '/x', ':authority': 'a' })),
);

/** The preface and SETTINGS, then frames and raw bytes mixed; cut into random reads. */
const session = fc
  .record({
    body: fc.array(fc.oneof(anyFrame, requestFrame, fc.uint8Array({ maxLength: 24 }).map((b) => Buffer.from(b))), { maxLength: 24 }),
    cuts: fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 12 }),
  })
  .map(({ body, cuts }) => {
    const bytes = Buffer.concat([CLIENT_PREFACE, SETTINGS_EMPTY, ...body]);
    const chunks: Buffer[] = [];
    let at = 0;
    for (const n of cuts) {
      if (at >= bytes.length) break;
      chunks.push(bytes.subarray(at, at + n));
      at += n;
    }
    if (at < bytes.length) chunks.push(bytes.subarray(at));
    return chunks;
  });

describe('fuzzing the HTTP/2 input path (seeded)', () => {
  it('FrameReader: any bytes in any split are accepted or refused with H2Error', () => {
    fc.assert(
      fc.property(session, (chunks) => {
        const reader = new FrameReader(noopSink, { maxFrameSize: 16384, maxHeaderListSize: 4096 });
        try {
          for (const c of chunks) reader.push(c);
        } catch (err) {
          assert.ok(err instanceof H2Error, `not an H2Error: ${String(err)}`);
        }
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('HPACK decoder: any block decodes or is a COMPRESSION_ERROR, and the table stays usable', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { minLength: 1, maxLength: 6 }), (blocks) => {
        const decoder = new HpackDecoder(4096);
        for (const block of blocks) {
          const out: string[] = [];
          try {
            decoder.decode(Buffer.from(block), 0, block.length, out, 8192);
          } catch (err) {
            assert.ok(err instanceof H2Error && err.code === ErrorCode.COMPRESSION_ERROR, `unexpected: ${String(err)}`);
            return;
          }
          assert.equal(out.length % 2, 0);
        }
      }),
      { seed: SEED, numRuns: RUNS * 3 },
    );
  });

  it('a connection answers whatever it refuses with GOAWAY and never reports a bug of its own', async () => {
    await fc.assert(
      fc.asyncProperty(session, async (chunks) => {
        const sock = new FakeSocket();
        const errors: Error[] = [];
        const conn = serveHttp2(sock.asSocket(), Buffer.alloc(0), (s) => {
          s.onEnd = () => s.end({ 'grpc-status': '0' });
        });
        conn.onError = (e) => errors.push(e);
        for (const c of chunks) sock.feed(c);
        await tick();
        const bugs = errors.filter((e) => !(e instanceof H2Error) || e.code === ErrorCode.INTERNAL_ERROR);
        assert.deepEqual(bugs.map(String), []);
        const goaways = parseFrames(sock.output()).filter((f) => f.type === FrameType.GOAWAY);
        if (errors.length > 0) assert.ok(goaways.length > 0 && goaways[0]!.payload.readUInt32BE(4) !== 0, 'a refused input gets GOAWAY with an error code');
        conn.destroy();
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });
});
