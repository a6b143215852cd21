// A little DER: just enough to write distinguished names byte-for-byte the way Go's
// crypto/x509 writes them, and to read the few structures @peculiar/x509 does not hand us
// (the bit string inside a SubjectPublicKeyInfo, basic constraints as Go reads them).

export const TAG = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  oid: 0x06,
  utf8String: 0x0c,
  printableString: 0x13,
  ia5String: 0x16,
  sequence: 0x30,
  set: 0x31,
} as const;

function lengthBytes(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function tlv(tag: number, body: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([tag]), lengthBytes(body.length), body]);
}

export function sequence(items: readonly Uint8Array[]): Buffer {
  return tlv(TAG.sequence, Buffer.concat(items));
}

/** A SET OF, its members sorted by their encodings as DER (X.690 11.6) and Go require. */
export function setOf(items: readonly Uint8Array[]): Buffer {
  const sorted = items.map((i) => Buffer.from(i)).sort(Buffer.compare);
  return tlv(TAG.set, Buffer.concat(sorted));
}

export function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map((a) => {
    if (!/^\d+$/.test(a)) throw new Error(`invalid OID ${JSON.stringify(dotted)}`);
    return BigInt(a);
  });
  if (arcs.length < 2) throw new Error(`invalid OID ${JSON.stringify(dotted)}`);
  const first = arcs[0]! * 40n + arcs[1]!;
  const out: number[] = [];
  for (const arc of [first, ...arcs.slice(2)]) {
    const chunk: number[] = [];
    let v = arc;
    do {
      chunk.unshift(Number(v & 0x7fn));
      v >>= 7n;
    } while (v > 0n);
    for (let i = 0; i < chunk.length - 1; i++) chunk[i]! |= 0x80;
    out.push(...chunk);
  }
  return tlv(TAG.oid, Buffer.from(out));
}

/** The characters ASN.1 PrintableString allows (Go refuses '*' and '&' when writing). */
export function isPrintable(s: string): boolean {
  return /^[A-Za-z0-9 '()+,\-./:=?]*$/.test(s);
}

/** A string as Go's encoding/asn1 writes an untagged Go string: PrintableString when it can, else UTF8String. */
export function goString(s: string): Buffer {
  return tlv(isPrintable(s) ? TAG.printableString : TAG.utf8String, Buffer.from(s, 'utf8'));
}

// ---- reading ----

export interface Node {
  tag: number;
  /** the contents octets */
  body: Buffer;
  /** the whole element, header included */
  raw: Buffer;
}

/** Reads one element at `offset`; throws on truncated or indefinite-length input. */
export function readNode(buf: Buffer, offset = 0): Node {
  if (offset + 2 > buf.length) throw new Error('DER: truncated element');
  const tag = buf[offset]!;
  let len = buf[offset + 1]!;
  let pos = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || pos + n > buf.length) throw new Error('DER: unsupported length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[pos + i]!;
    pos += n;
  }
  if (pos + len > buf.length) throw new Error('DER: truncated element');
  return { tag, body: buf.subarray(pos, pos + len), raw: buf.subarray(offset, pos + len) };
}

/** The elements inside a constructed element's body. */
export function children(body: Buffer): Node[] {
  const out: Node[] = [];
  for (let off = 0; off < body.length; ) {
    const n = readNode(body, off);
    out.push(n);
    off += n.raw.length;
  }
  return out;
}

/** The public key bits of a SubjectPublicKeyInfo: what RFC 5280 key identifiers hash. */
export function spkiKeyBits(spki: Buffer): Buffer {
  const [, bitString] = children(readNode(spki).body);
  if (!bitString || bitString.tag !== TAG.bitString) throw new Error('DER: not a SubjectPublicKeyInfo');
  return bitString.body.subarray(1); // skip the unused-bits octet
}

/** The dotted text of an OBJECT IDENTIFIER's contents octets. */
export function oidText(body: Buffer): string {
  const arcs: bigint[] = [];
  let v = 0n;
  for (const b of body) {
    v = (v << 7n) | BigInt(b & 0x7f);
    if ((b & 0x80) === 0) {
      arcs.push(v);
      v = 0n;
    }
  }
  if (arcs.length === 0) return '';
  const first = arcs[0]!;
  const head = first < 40n ? [0n, first] : first < 80n ? [1n, first - 40n] : [2n, first - 80n];
  return [...head, ...arcs.slice(1)].join('.');
}

/** An INTEGER's contents octets as a bigint (two's complement). */
export function integerValue(body: Buffer): bigint {
  if (body.length === 0) return 0n;
  let v = BigInt(`0x${body.toString('hex')}`);
  if (body[0]! & 0x80) v -= 1n << BigInt(body.length * 8);
  return v;
}
