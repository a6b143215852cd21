// HPACK: RFC 7541 Appendix C fixtures for the decoder, encoder round trips, Huffman.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DecodeStatus, HpackDecoder } from '../../src/api/h2/hpack-decoder.js';
import { HpackEncoder, writeInteger } from '../../src/api/h2/hpack-encoder.js';
import { HUFFMAN_CODES, HUFFMAN_LENGTHS, huffmanDecode } from '../../src/api/h2/huffman.js';
import { ErrorCode, H2Error } from '../../src/api/h2/frames.js';

function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ''), 'hex');
}

function decode(d: HpackDecoder, block: Buffer, limit?: number): Array<[string, string]> {
  const out: string[] = [];
  const status = d.decode(block, 0, block.length, out, limit);
  assert.equal(status, DecodeStatus.OK);
  const pairs: Array<[string, string]> = [];
  for (let i = 0; i < out.length; i += 2) pairs.push([out[i]!, out[i + 1]!]);
  return pairs;
}

function assertCompressionError(fn: () => unknown): void {
  assert.throws(fn, (err: unknown) => err instanceof H2Error && err.code === ErrorCode.COMPRESSION_ERROR);
}

/** Test-only Huffman encoder, straight from the code table. */
function huffmanEncode(bytes: Uint8Array): Buffer {
  const out: number[] = [];
  let acc = 0n;
  let bits = 0;
  for (const b of bytes) {
    acc = (acc << BigInt(HUFFMAN_LENGTHS[b]!)) | BigInt(HUFFMAN_CODES[b]!);
    bits += HUFFMAN_LENGTHS[b]!;
    while (bits >= 8) {
      bits -= 8;
      out.push(Number((acc >> BigInt(bits)) & 0xffn));
    }
    acc &= (1n << BigInt(bits)) - 1n;
  }
  if (bits > 0) out.push(Number(((acc << BigInt(8 - bits)) | ((1n << BigInt(8 - bits)) - 1n)) & 0xffn));
  return Buffer.from(out);
}

function huff(bytes: Uint8Array): Buffer {
  const enc = huffmanEncode(bytes);
  const out = Buffer.alloc(Math.ceil((enc.length * 8) / 5) + 1);
  return out.subarray(0, huffmanDecode(enc, 0, enc.length, out));
}

// Request sequences of C.3 (plain) and C.4 (Huffman) decode to the same fields.
const REQUESTS: Array<{ fields: Array<[string, string]>; table: Array<[string, string]>; size: number }> = [
  {
    fields: [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com']],
    table: [[':authority', 'www.example.com']],
    size: 57,
  },
  {
    fields: [
      [':method', 'GET'],
      [':scheme', 'http'],
      [':path', '/'],
      [':authority', 'www.example.com'],
      ['cache-control', 'no-cache'],
    ],
    table: [['cache-control', 'no-cache'], [':authority', 'www.example.com']],
    size: 110,
  },
  {
    fields: [
      [':method', 'GET'],
      [':scheme', 'https'],
      [':path', '/index.html'],
      [':authority', 'www.example.com'],
      ['custom-key', 'custom-value'],
    ],
    table: [['custom-key', 'custom-value'], ['cache-control', 'no-cache'], [':authority', 'www.example.com']],
    size: 164,
  },
];

const DATE1 = 'Mon, 21 Oct 2013 20:13:21 GMT';
const DATE2 = 'Mon, 21 Oct 2013 20:13:22 GMT';
const LOC = 'https://www.example.com';
const COOKIE = 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1';
// Response sequences of C.5 (plain) and C.6 (Huffman), table size 256: evictions.
const RESPONSES: Array<{ fields: Array<[string, string]>; table: Array<[string, string]>; size: number }> = [
  {
    fields: [[':status', '302'], ['cache-control', 'private'], ['date', DATE1], ['location', LOC]],
    table: [['location', LOC], ['date', DATE1], ['cache-control', 'private'], [':status', '302']],
    size: 222,
  },
  {
    fields: [[':status', '307'], ['cache-control', 'private'], ['date', DATE1], ['location', LOC]],
    table: [[':status', '307'], ['location', LOC], ['date', DATE1], ['cache-control', 'private']],
    size: 222,
  },
  {
    fields: [
      [':status', '200'],
      ['cache-control', 'private'],
      ['date', DATE2],
      ['location', LOC],
      ['content-encoding', 'gzip'],
      ['set-cookie', COOKIE],
    ],
    table: [['set-cookie', COOKIE], ['content-encoding', 'gzip'], ['date', DATE2]],
    size: 215,
  },
];

function runSequence(
  d: HpackDecoder,
  blocks: string[],
  expected: Array<{ fields: Array<[string, string]>; table: Array<[string, string]>; size: number }>,
): void {
  blocks.forEach((block, i) => {
    assert.deepEqual(decode(d, hex(block)), expected[i]!.fields, `block ${i + 1}`);
    assert.deepEqual(d.dynamicTableEntries(), expected[i]!.table, `table after block ${i + 1}`);
    assert.equal(d.dynamicTableSize, expected[i]!.size, `table size after block ${i + 1}`);
  });
}

describe('HPACK decoder: RFC 7541 Appendix C', () => {
  it('C.2 literal representations', () => {
    const d = new HpackDecoder();
    assert.deepEqual(decode(d, hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572')), [
      ['custom-key', 'custom-header'],
    ]);
    assert.equal(d.dynamicTableSize, 55);
    const d2 = new HpackDecoder();
    assert.deepEqual(decode(d2, hex('040c 2f73 616d 706c 652f 7061 7468')), [[':path', '/sample/path']]);
    assert.deepEqual(decode(d2, hex('1008 7061 7373 776f 7264 0673 6563 7265 74')), [['password', 'secret']]);
    assert.deepEqual(decode(d2, hex('82')), [[':method', 'GET']]);
    assert.equal(d2.dynamicTableSize, 0);
  });

  it('C.3 requests without Huffman coding', () => {
    runSequence(
      new HpackDecoder(),
      [
        '8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
        '8286 84be 5808 6e6f 2d63 6163 6865',
        '8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65',
      ],
      REQUESTS,
    );
  });

  it('C.4 requests with Huffman coding', () => {
    runSequence(
      new HpackDecoder(),
      [
        '8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff',
        '8286 84be 5886 a8eb 1064 9cbf',
        '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf',
      ],
      REQUESTS,
    );
  });

  it('C.5 responses without Huffman coding, evicting from a 256-octet table', () => {
    runSequence(
      new HpackDecoder(256),
      [
        `4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133
         2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70
         6c65 2e63 6f6d`,
        '4803 3330 37c1 c0bf',
        `88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d
         54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049
         5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e
         3d31`,
      ],
      RESPONSES,
    );
  });

  it('C.6 responses with Huffman coding, evicting from a 256-octet table', () => {
    runSequence(
      new HpackDecoder(256),
      [
        `4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6
         2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3`,
        '4883 640e ffc1 c0bf',
        `88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab
         77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
         9587 3160 65c0 03ed 4ee5 b106 3d50 07`,
      ],
      RESPONSES,
    );
  });
});

describe('HPACK decoder: errors and limits', () => {
  it('rejects index 0 and indexes beyond the tables', () => {
    assertCompressionError(() => new HpackDecoder().decode(hex('80'), 0, 1, []));
    assertCompressionError(() => new HpackDecoder().decode(hex('be'), 0, 1, [])); // 62, table empty
    assertCompressionError(() => new HpackDecoder().decode(hex('7f00 0161'), 0, 4, [])); // name index 63
  });

  it('rejects truncated integers and strings', () => {
    assertCompressionError(() => new HpackDecoder().decode(hex('ff'), 0, 1, []));
    assertCompressionError(() => new HpackDecoder().decode(hex('0003 6162'), 0, 4, []));
    assertCompressionError(() => new HpackDecoder().decode(hex('ffff ffff ffff ff01'), 0, 8, []));
  });

  it('handles dynamic table size updates', () => {
    const d = new HpackDecoder();
    decode(d, hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572'));
    assert.equal(d.dynamicTableEntries().length, 1);
    // size update to 0 then back to 4096: empties the table
    assert.deepEqual(decode(d, hex('20 3fe1 1f 82')), [[':method', 'GET']]);
    assert.equal(d.dynamicTableEntries().length, 0);
    // above the limit we advertised
    assertCompressionError(() => new HpackDecoder().decode(hex('3fe2 1f'), 0, 3, []));
    // after a field
    assertCompressionError(() => new HpackDecoder().decode(hex('82 20'), 0, 2, []));
  });

  it('rejects bad Huffman: EOS, long padding, padding that is not ones', () => {
    const d = (b: Buffer) => new HpackDecoder().decode(Buffer.concat([hex('04'), Buffer.from([0x80 | b.length]), b]), 0, b.length + 2, []);
    assertCompressionError(() => d(hex('ffff fffc'))); // 30 ones = EOS
    assertCompressionError(() => d(Buffer.concat([huffmanEncode(Buffer.from('a')), hex('ff')]))); // > 7 bits of padding
    assertCompressionError(() => d(hex('00'))); // '0' (00000) then 000 padding
    assert.deepEqual(huff(Buffer.from('a')), Buffer.from('a'));
  });

  it('reports a list over the size limit, still decoding the whole block', () => {
    const d = new HpackDecoder();
    const out: string[] = [];
    const block = hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572 82');
    assert.equal(d.decode(block, 0, block.length, out, 40), DecodeStatus.TOO_LARGE);
    assert.equal(d.dynamicTableEntries().length, 1);
  });

  it('marks upper-case names and CR/LF/NUL in values as malformed', () => {
    const bad = [hex('0003 4142 6301 78'), hex('0003 6162 6302 0d0a'), hex('0000 0178')];
    for (const block of bad) {
      assert.equal(new HpackDecoder().decode(block, 0, block.length, []), DecodeStatus.MALFORMED);
    }
  });
});

describe('HPACK encoder', () => {
  it('writes integers as in C.1', () => {
    const out = Buffer.alloc(8);
    assert.deepEqual(out.subarray(0, writeInteger(out, 0, 10, 5, 0)), hex('0a'));
    assert.deepEqual(out.subarray(0, writeInteger(out, 0, 1337, 5, 0)), hex('1f9a0a'));
    assert.deepEqual(out.subarray(0, writeInteger(out, 0, 42, 8, 0)), hex('2a'));
  });

  it('uses static indexes for exact matches and never indexes credentials', () => {
    const e = new HpackEncoder();
    assert.deepEqual(e.encode({ ':status': 200 }), hex('88'));
    assert.deepEqual(Buffer.from(e.encode({ 'content-type': 'application/grpc' })), Buffer.concat([hex('0f10 10'), Buffer.from('application/grpc')]));
    assert.deepEqual(Buffer.from(e.encode({ 'grpc-status': '0' })), Buffer.concat([hex('000b'), Buffer.from('grpc-status'), hex('0130')]));
    assert.equal(e.encode({ authorization: 'x' })[0]! & 0xf0, 0x10);
  });

  it('puts pseudo-headers first and caches frozen blocks', () => {
    const e = new HpackEncoder();
    const d = new HpackDecoder();
    const h = Object.freeze({ 'content-type': 'application/grpc', ':status': 200 });
    const a = e.encode(h);
    assert.equal(e.encode(h), a);
    assert.deepEqual(decode(d, a), [[':status', '200'], ['content-type', 'application/grpc']]);
  });

  it('announces a zero table size after the peer shrinks its table', () => {
    const e = new HpackEncoder();
    e.setPeerTableSize(0);
    const block = e.encode({ ':status': 200 });
    assert.deepEqual(block, hex('2088'));
    const d = new HpackDecoder();
    assert.deepEqual(decode(d, block), [[':status', '200']]);
    assert.deepEqual(e.encode({ ':status': 200 }), hex('88'));
  });

  it('round-trips random header sets through the decoder', () => {
    let seed = 12345;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789-_';
    const valueChars = ' !"#$%&()*+,-./0123456789:;<=>?@ABCXYZ[]^_`abcxyz{|}~\t\x7f\xa0\xff';
    const e = new HpackEncoder();
    const d = new HpackDecoder();
    for (let round = 0; round < 300; round++) {
      const headers: Record<string, string | number> = {};
      const expected: Array<[string, string]> = [];
      if (rnd(2) === 0) {
        const status = [200, 204, 404, 500, 503, 302][rnd(6)]!;
        headers[':status'] = status;
        expected.push([':status', String(status)]);
      }
      const n = rnd(12);
      for (let i = 0; i < n; i++) {
        let name = ['content-type', 'grpc-status', 'grpc-message', 'set-cookie', 'date', 'x'][rnd(6)]!;
        if (rnd(2) === 0) name = Array.from({ length: 1 + rnd(20) }, () => alphabet[rnd(alphabet.length)]).join('');
        if (name in headers) continue;
        const value = Array.from({ length: rnd(300) }, () => valueChars[rnd(valueChars.length)]).join('');
        headers[name] = value;
        expected.push([name, value]);
      }
      // Objects list integer-like keys (a name such as "0") first; the encoder follows the object.
      const order = Object.keys(headers);
      const rank = (name: string) => (name.startsWith(':') ? -1 : order.indexOf(name));
      expected.sort((x, y) => rank(x[0]) - rank(y[0]));
      assert.deepEqual(decode(d, Buffer.from(e.encode(headers))), expected);
    }
  });
});

describe('Huffman decoding', () => {
  it('decodes random strings of all octets', () => {
    let seed = 99;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let i = 0; i < 2000; i++) {
      const len = rnd(i < 1000 ? 40 : 600);
      const ascii = rnd(2) === 0;
      const bytes = Buffer.from(Array.from({ length: len }, () => (ascii ? 32 + rnd(95) : rnd(256))));
      assert.deepEqual(huff(bytes), bytes);
    }
  });

  it('decodes every single symbol', () => {
    for (let b = 0; b < 256; b++) assert.deepEqual(huff(Buffer.from([b, b, b])), Buffer.from([b, b, b]));
  });
});
