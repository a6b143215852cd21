// Wire-format edge cases: malformed input, unknown fields, merging, packed and
// unpacked repeated fields, oneof, enums the schema does not know, zero-copy views.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ProtoDecodeError } from '../../src/proto/runtime.js';
import {
  AuthenticateRequest,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeRequest_SortOrder,
  RangeResponse,
  RequestOp,
  TxnRequest,
  WatchCreateRequest,
} from '../../src/proto/etcdserverpb.js';
import { KeyValue } from '../../src/proto/mvccpb.js';
import { arbMessage, codec, pbType } from './helpers.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function throwsDecode(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ProtoDecodeError, `expected ProtoDecodeError, got ${String(e)}`);
    assert.match(e.message, re);
    return true;
  });
}

/** Writes varint v in front of `end` in buf (building messages back to front); returns the new start. */
function prependVarint(buf: Buffer, end: number, v: number): number {
  const bytes: number[] = [];
  while (v > 0x7f) {
    bytes.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  bytes.push(v);
  const start = end - bytes.length;
  Buffer.from(bytes).copy(buf, start);
  return start;
}

/** RequestOp{request_txn: TxnRequest{success: [RequestOp{...}]}} nested `levels` deep. */
function nestedTxn(levels: number): Buffer {
  const buf = Buffer.alloc(levels * 14);
  const end = buf.length;
  let pos = end;
  for (let i = 0; i < levels; i++) {
    pos = prependVarint(buf, pos, end - pos);
    buf[--pos] = 0x12; // TxnRequest.success (2, LEN)
    pos = prependVarint(buf, pos, end - pos);
    buf[--pos] = 0x22; // RequestOp.request_txn (4, LEN)
  }
  return buf.subarray(pos);
}

describe('malformed input throws ProtoDecodeError', () => {
  it('length past the end', () => throwsDecode(() => PutRequest.decode(hex('0a 05 01')), /^unexpected EOF$/));
  it('truncated varint', () => throwsDecode(() => PutRequest.decode(hex('18 ff')), /unexpected EOF/));
  it('truncated tag', () => throwsDecode(() => PutRequest.decode(hex('0a 01 61 82')), /unexpected EOF/));
  it('varint longer than 10 bytes', () => throwsDecode(() => PutRequest.decode(hex('18 ffffffffffffffffffff 01')), /integer overflow/));
  it('huge length', () => {
    throwsDecode(() => PutRequest.decode(hex('0a ffffffff0f 00')), /unexpected EOF/);
    throwsDecode(() => PutRequest.decode(hex('0a ffffffffffffffff7f')), /unexpected EOF/);
    throwsDecode(() => PutRequest.decode(hex('0a ffffffffffffffffff01')), /negative length/);
  });
  it('truncated fixed-width unknown fields', () => {
    throwsDecode(() => PutRequest.decode(hex('79 01020304')), /unexpected EOF/); // field 15, I64
    throwsDecode(() => PutRequest.decode(hex('7d 0102')), /unexpected EOF/); // field 15, I32
  });
  it('illegal wire types 6 and 7', () => {
    throwsDecode(() => PutRequest.decode(hex('3f')), /^proto: illegal wireType 7$/); // field 7 (unknown)
    throwsDecode(() => PutRequest.decode(hex('3e')), /^proto: illegal wireType 6$/);
  });
  it('wire type that does not fit the field', () => {
    throwsDecode(() => PutRequest.decode(hex('08 01')), /^proto: wrong wireType = 0 for field Key$/);
    throwsDecode(() => PutRequest.decode(hex('1a 01 00')), /wrong wireType = 2 for field Lease/);
    throwsDecode(() => RangeResponse.decode(hex('10 01')), /wrong wireType = 0 for field Kvs/);
    throwsDecode(() => WatchCreateRequest.decode(hex('2d 00000000')), /wrong wireType = 5 for field Filters/);
  });
  it('field number 0', () => throwsDecode(() => PutRequest.decode(hex('00 00')), /illegal tag 0/));
  it('end group without start', () => throwsDecode(() => PutRequest.decode(hex('4c')), /end group for non-group/));
  it('group not closed, or closed by another field', () => {
    throwsDecode(() => PutRequest.decode(hex('4b 08 01')), /unexpected EOF/);
    throwsDecode(() => PutRequest.decode(hex('4b 54')), /mismatched end group/);
  });
  it('a nested message whose content runs past its length', () => {
    // RangeResponse.kvs with length 3 holding KeyValue.key of length 5
    throwsDecode(() => RangeResponse.decode(hex('12 03 0a 05 61 62 63 64 65')), /unexpected EOF/);
  });
  it('absurd nesting depth is an error, not a crash', () => {
    throwsDecode(() => RequestOp.decode(nestedTxn(200000)), /nested too deeply/);
    let op = RequestOp.decode(nestedTxn(50));
    let depth = 0;
    while (op.request_txn !== undefined) {
      depth++;
      const next = op.request_txn.success[0];
      if (next === undefined) break;
      op = next;
    }
    assert.equal(depth, 50);
  });

  it('every truncation of a valid message decodes or throws ProtoDecodeError (property)', () => {
    for (const name of ['etcdserverpb.TxnRequest', 'etcdserverpb.RangeResponse', 'etcdserverpb.WatchResponse']) {
      const c = codec(name);
      fc.assert(
        fc.property(arbMessage(pbType(name), 2), fc.nat(), (m, cut) => {
          const b = c.encode(m);
          const prefix = b.subarray(0, b.length === 0 ? 0 : cut % b.length);
          try {
            c.decode(prefix);
          } catch (e) {
            assert.ok(e instanceof ProtoDecodeError, String(e));
          }
        }),
        { numRuns: 300 },
      );
    }
  });

  it('random bytes decode or throw ProtoDecodeError, nothing else (property)', () => {
    const targets = ['etcdserverpb.TxnRequest', 'etcdserverpb.InternalRaftRequest', 'testpb.Scalars', 'testpb.Repeated', 'testpb.Outer'].map(codec);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        for (const c of targets) {
          try {
            c.decode(bytes);
          } catch (e) {
            assert.ok(e instanceof ProtoDecodeError, String(e));
          }
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('proto3 decoding rules', () => {
  it('skips unknown fields of every wire type, including groups', () => {
    const plain = PutRequest.encode(PutRequest.create({ key: Buffer.from('k'), lease: 5n }));
    const unknown = hex(
      [
        'f806 2a', // field 111 varint
        'f106 0102030405060708', // field 110 fixed64
        'ea06 03 616263', // field 109 bytes
        'e506 01020304', // field 108 fixed32
        'db06 08 01 13 08 02 14 dc06', // field 107 group holding a varint and a nested group
      ].join(''),
    );
    const m = PutRequest.decode(Buffer.concat([unknown, plain, unknown]));
    assert.deepEqual(Buffer.from(m.key).toString(), 'k');
    assert.equal(m.lease, 5n);
  });

  it('accepts repeated numbers packed and unpacked, and writes them packed', () => {
    assert.deepEqual(WatchCreateRequest.decode(hex('28 01 28 00')).filters, [1, 0]);
    assert.deepEqual(WatchCreateRequest.decode(hex('2a 02 01 00')).filters, [1, 0]);
    assert.deepEqual(WatchCreateRequest.decode(hex('28 01 2a 02 00 01 28 00')).filters, [1, 0, 1, 0]);
    assert.equal(WatchCreateRequest.encode(WatchCreateRequest.create({ filters: [1, 0] })).toString('hex'), '2a020100');
    throwsDecode(() => WatchCreateRequest.decode(hex('2a 02 01 80')), /unexpected EOF/);
  });

  it('appends each occurrence of a repeated message', () => {
    const kv = (k: string) => KeyValue.encode(KeyValue.create({ key: Buffer.from(k) }));
    const field = (b: Buffer) => Buffer.concat([Buffer.from([0x12, b.length]), b]);
    const m = RangeResponse.decode(Buffer.concat([field(kv('a')), field(kv('b'))]));
    assert.deepEqual(m.kvs.map((x) => Buffer.from(x.key).toString()), ['a', 'b']);
  });

  it('merges a singular message that occurs twice (last scalar wins, others kept)', () => {
    const part = (init: Partial<KeyValue>) => {
      const b = KeyValue.encode(KeyValue.create(init));
      return Buffer.concat([Buffer.from([0x12, b.length]), b]);
    };
    const m = PutResponse.decode(Buffer.concat([part({ key: Buffer.from('a'), version: 1 }), part({ value: Buffer.from('b'), version: 2 })]));
    assert.equal(Buffer.from(m.prev_kv!.key).toString(), 'a');
    assert.equal(Buffer.from(m.prev_kv!.value).toString(), 'b');
    assert.equal(m.prev_kv!.version, 2);
  });

  it('oneof: the last member on the wire wins; the encoder writes the first set member', () => {
    const range = RangeRequest.encode(RangeRequest.create({ key: Buffer.from('r') }));
    const put = PutRequest.encode(PutRequest.create({ key: Buffer.from('p') }));
    const wire = Buffer.concat([Buffer.from([0x0a, range.length]), range, Buffer.from([0x12, put.length]), put]);
    const op = RequestOp.decode(wire);
    assert.equal(op.request_range, undefined);
    assert.equal(Buffer.from(op.request_put!.key).toString(), 'p');
    const both = RequestOp.create({ request_range: RangeRequest.create(), request_put: PutRequest.create() });
    assert.equal(RequestOp.encode(both).toString('hex'), '0a00');
  });

  it('a oneof scalar member at its default value is still written', () => {
    const cmp = codec('etcdserverpb.Compare');
    assert.equal(cmp.encode(cmp.create({ version: 0 })).toString('hex'), '2000');
    assert.equal(cmp.decode(hex('2000')).version, 0);
    assert.equal(cmp.decode(hex('')).version, undefined);
  });

  it('keeps enum numbers the schema does not declare', () => {
    assert.equal(RangeRequest.decode(hex('28 07')).sort_order, 7);
    const neg = RangeRequest.encode(RangeRequest.create({ sort_order: -2 as RangeRequest_SortOrder }));
    assert.equal(neg.length, 11);
    assert.equal(RangeRequest.decode(neg).sort_order, -2);
  });

  it('bool is any non-zero varint', () => {
    assert.equal(PutRequest.decode(hex('20 80 01')).prev_kv, true);
    assert.equal(PutRequest.decode(hex('20 80 80 80 80 10')).prev_kv, true); // only bit 32 set
    assert.equal(PutRequest.decode(hex('20 80 00')).prev_kv, false);
  });

  it('accepts invalid UTF-8 in strings the way Node decodes it', () => {
    assert.equal(AuthenticateRequest.decode(hex('0a 02 61 ff')).name, 'a\ufffd');
  });

  it('decoded bytes are zero-copy views of the input', () => {
    const input = PutRequest.encode(PutRequest.create({ key: Buffer.from('key'), value: Buffer.from('value') }));
    const m = PutRequest.decode(input);
    assert.equal(m.key.buffer, input.buffer);
    input[2] = 0x4b; // 'k' -> 'K'
    assert.equal(Buffer.from(m.key).toString(), 'Key');
    // and from a plain Uint8Array at an offset
    const u = new Uint8Array(input.length + 3);
    u.set(input, 3);
    assert.equal(Buffer.from(PutRequest.decode(u.subarray(3)).value).toString(), 'value');
  });

  it('encode leaves headroom; encodeInto writes at an offset and checks room', () => {
    const m = PutRequest.create({ key: Buffer.from('a'), value: Buffer.from('b') });
    const plain = PutRequest.encode(m);
    const framed = PutRequest.encode(m, 5);
    assert.equal(framed.length, plain.length + 5);
    assert.deepEqual(framed.subarray(5), plain);
    const buf = Buffer.alloc(20);
    assert.equal(PutRequest.encodeInto(m, buf, 10), 10 + plain.length);
    assert.deepEqual(buf.subarray(10, 10 + plain.length), plain);
    assert.throws(() => PutRequest.encodeInto(m, Buffer.alloc(4), 0), RangeError);
  });

  it('strings: multi-byte, astral and lone surrogates size and encode like Buffer', () => {
    const req = codec('etcdserverpb.AuthenticateRequest');
    for (const s of ['', 'a', 'é', '€uro', '😀', 'x😀y', '\ud800', 'a\udc00b', '\ud83d', 'ascii-only-but-longer-than-sixty-four-characters-to-take-the-native-path', 'é'.repeat(40)]) {
      const b = req.encode(req.create({ name: s }));
      const body = Buffer.from(s, 'utf8');
      assert.deepEqual(b.subarray(b.length - body.length), body, JSON.stringify(s));
      assert.equal(req.decode(b).name, body.toString('utf8'));
    }
  });

  it('TxnRequest nested inside itself round-trips', () => {
    const inner = TxnRequest.create({ success: [RequestOp.create({ request_put: PutRequest.create({ key: Buffer.from('x') }) })] });
    const outer = TxnRequest.create({ failure: [RequestOp.create({ request_txn: inner })] });
    const back = TxnRequest.decode(TxnRequest.encode(outer));
    assert.equal(Buffer.from(back.failure[0]!.request_txn!.success[0]!.request_put!.key).toString(), 'x');
  });
});
