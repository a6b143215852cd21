// encodeMessage/decodeMessage and encodeConfChange/decodeConfChange: round trips of
// arbitrary values, and malformed input rejected with RaftDecodeError (never a crash,
// never a read past the buffer).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  type ConfChange,
  ConfChangeType,
  decodeConfChange,
  decodeMessage,
  encodeConfChange,
  encodedMessageSize,
  encodeMessage,
  MAX_MESSAGE_TYPE,
  makeMessage,
  type Message,
  MessageType,
  RaftDecodeError,
} from '../../src/raft/index.js';

const MAX_U64 = (1n << 64n) - 1n;
const id = fc.oneof(
  fc.constantFrom(0n, 1n, 127n, 128n, (1n << 28n) - 1n, 1n << 28n, (1n << 53n) - 1n, 1n << 53n, 1n << 56n, 1n << 63n, MAX_U64),
  fc.bigInt({ min: 0n, max: MAX_U64 }),
);
const num = fc.oneof(fc.constantFrom(0, 1, 127, 128, 16383, 16384, Number.MAX_SAFE_INTEGER), fc.nat());
const bytes = fc.uint8Array({ maxLength: 40 });
const entry = fc.record({ term: num, index: num, type: fc.constantFrom(0, 1), data: bytes });
const snapshot = fc.record({
  metadata: fc.record({ index: num, term: num, confState: fc.record({ voters: fc.array(id, { maxLength: 5 }), learners: fc.array(id, { maxLength: 3 }) }) }),
  data: bytes,
});
const message: fc.Arbitrary<Message> = fc
  .record({
    type: fc.integer({ min: 0, max: MAX_MESSAGE_TYPE }),
    to: id,
    from: id,
    term: num,
    logTerm: num,
    index: num,
    entries: fc.array(entry, { maxLength: 4 }),
    commit: num,
    snapshot: fc.option(snapshot, { nil: undefined }),
    reject: fc.boolean(),
    rejectHint: num,
    context: bytes,
  })
  .map((m) => {
    const out: Message = { ...m, type: m.type as MessageType };
    if (m.snapshot === undefined) delete out.snapshot;
    return out;
  });

/** decoded byte fields are views into the buffer: compare as plain arrays */
function plain(m: unknown): unknown {
  return JSON.parse(JSON.stringify(m, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v instanceof Uint8Array ? [...v] : v)));
}

test('messages round-trip', () => {
  fc.assert(
    fc.property(message, (m) => {
      const b = encodeMessage(m);
      assert.equal(b.length, encodedMessageSize(m));
      assert.deepEqual(plain(decodeMessage(b)), plain(m));
    }),
    { numRuns: 2000 },
  );
});

/** LEB128 of a uint64, one bit-group at a time: the wire format peers must agree on */
function leb128(v: bigint): number[] {
  const out: number[] = [];
  do {
    const group = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v > 0n ? group | 0x80 : group);
  } while (v > 0n);
  return out;
}

test('member ids are plain LEB128 varints on the wire', () => {
  fc.assert(
    fc.property(id, id, (to, from) => {
      const b = encodeMessage(makeMessage({ type: MessageType.MsgHeartbeat, to, from, term: 1 }));
      // version, type, flags, then to and from
      assert.deepEqual([...b.subarray(3, 3 + leb128(to).length + leb128(from).length)], [...leb128(to), ...leb128(from)]);
    }),
    { numRuns: 2000 },
  );
});

test('a typical MsgApp is compact', () => {
  const m = makeMessage({
    type: MessageType.MsgApp,
    to: 2n,
    from: 1n,
    term: 5,
    logTerm: 5,
    index: 1000,
    commit: 999,
    entries: [{ term: 5, index: 1001, type: 0, data: new Uint8Array(100) }],
  });
  // 3 header + 2 ids + 5 varints + context + count + entry (term, index, type, len, data)
  assert.ok(encodeMessage(m).length <= 130, `${encodeMessage(m).length} bytes`);
});

test('every truncation of a valid message is rejected with RaftDecodeError', () => {
  fc.assert(
    fc.property(message, (m) => {
      const b = encodeMessage(m);
      for (let n = 0; n < b.length; n++) assert.throws(() => decodeMessage(b.subarray(0, n)), RaftDecodeError);
    }),
    { numRuns: 300 },
  );
});

test('random bytes never crash the decoder', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
      try {
        const m = decodeMessage(b);
        // if it decoded, it must re-encode to the same bytes (the format is canonical)
        assert.deepEqual([...encodeMessage(m)], [...b]);
      } catch (err) {
        assert.ok(err instanceof RaftDecodeError, String(err));
      }
    }),
    { numRuns: 5000 },
  );
});

test('random corruption of valid messages is rejected or decodes canonically', () => {
  fc.assert(
    fc.property(message, fc.nat(), fc.integer({ min: 0, max: 255 }), (m, pos, val) => {
      const b = encodeMessage(m).slice();
      b[pos % b.length] = val;
      try {
        assert.deepEqual([...encodeMessage(decodeMessage(b))], [...b]);
      } catch (err) {
        assert.ok(err instanceof RaftDecodeError, String(err));
      }
    }),
    { numRuns: 3000 },
  );
});

test('specific malformed inputs', () => {
  const good = encodeMessage(makeMessage({ type: MessageType.MsgHeartbeat, to: 1n, from: 2n, term: 3 }));
  const bad = (b: Uint8Array | number[], re: RegExp) => assert.throws(() => decodeMessage(Uint8Array.from(b)), (e: Error) => e instanceof RaftDecodeError && re.test(e.message));
  bad([], /truncated/);
  bad([2, ...good.subarray(1)], /version/);
  bad([1, 19, ...good.subarray(2)], /message type/);
  bad([1, 8, 4, ...good.subarray(3)], /flags/);
  bad([...good, 0], /trailing/);
  // to = 2^64 (ten bytes, the last carrying bit 64)
  bad([1, 8, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02], /uint64/);
  // a term of 2^53 does not fit a JS number exactly
  bad([1, 8, 0, 1, 2, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10], /2\^53/);
  // non-minimal varint (0x80 0x00 encodes 0 in two bytes)
  bad([1, 8, 0, 0x80, 0x00], /non-minimal/);
  // a context length beyond the buffer
  const ctxAt = 3 + 2 + 5; // header, two one-byte ids, five one-byte varints
  const huge = [...good.subarray(0, ctxAt), 0xff, 0xff, 0x03];
  bad(huge, /exceeds/);
  // an entry count that cannot fit
  const noCtx = [...good.subarray(0, ctxAt), 0];
  bad([...noCtx, 0xff, 0x01], /cannot fit/);
  assert.throws(() => decodeMessage('nope' as unknown as Uint8Array), RaftDecodeError);
});

test('encoding refuses values it cannot represent', () => {
  assert.throws(() => encodeMessage(makeMessage({ type: MessageType.MsgApp, term: -1 })), RangeError);
  assert.throws(() => encodeMessage(makeMessage({ type: MessageType.MsgApp, term: 1.5 })), RangeError);
  assert.throws(() => encodeMessage(makeMessage({ type: MessageType.MsgApp, to: 1n << 64n })), RangeError);
});

test('conf changes round-trip and reject malformed input', () => {
  fc.assert(
    fc.property(fc.constantFrom(0, 1, 2, 3), id, bytes, (type, nodeId, context) => {
      const cc: ConfChange = { type: type as ConfChangeType, nodeId, context };
      assert.deepEqual(plain(decodeConfChange(encodeConfChange(cc))), plain(cc));
    }),
  );
  const b = encodeConfChange({ type: ConfChangeType.AddLearnerNode, nodeId: 7n, context: new TextEncoder().encode('{"name":"m7"}') });
  for (let n = 0; n < b.length; n++) assert.throws(() => decodeConfChange(b.subarray(0, n)), RaftDecodeError);
  assert.throws(() => decodeConfChange(Uint8Array.from([1, 4, 1, 0])), /conf change type/);
  assert.throws(() => decodeConfChange(Uint8Array.from([9, 0, 1, 0])), /version/);
  assert.throws(() => decodeConfChange(Uint8Array.from([...b, 1])), /trailing/);
});
