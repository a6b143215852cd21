// HPACK encoder for responses and trailers: deliberately simple, because the same few
// fields go out on every gRPC response.
//
// - a field equal to a static table entry (":status: 200") is sent as that index;
// - anything else is a literal without indexing (never indexed for credentials),
//   with the name as a static index when the static table has it; no Huffman;
// - we never insert into the dynamic table, so nothing has to be kept in step with
//   the peer, and the encoding of a field never changes: each field's bytes are
//   cached, and so is a whole block for header objects that are frozen (reuse one
//   frozen module constant for {'grpc-status': '0'} and encoding it costs one WeakMap
//   lookup). Caches are shared by all connections.

import { DEFAULT_HEADER_TABLE_SIZE } from './frames.js';
import { STATIC_TABLE } from './static-table.js';

export type HeaderInput = Readonly<Record<string, string | number>>;

/** Fields the peer's encoder must never put into a table on a proxy's way. */
const SENSITIVE = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie']);

const STATIC_NAME = new Map<string, number>();
const STATIC_FIELD = new Map<string, number>();
STATIC_TABLE.forEach(([name, value], i) => {
  if (!STATIC_NAME.has(name)) STATIC_NAME.set(name, i + 1);
  if (value !== '') STATIC_FIELD.set(`${name}\0${value}`, i + 1);
});

/** Most distinct (name, value) pairs remembered; values longer than this are not cached either. */
const FIELD_CACHE_LIMIT = 2048;
const CACHEABLE_VALUE_LENGTH = 128;
const UPPER = /[A-Z]/;

/** "Dynamic table size update" to 0 (RFC 7541 6.3). */
const SIZE_UPDATE_ZERO = 0x20;

// Encodings do not depend on connection state, so the caches are shared by all encoders.
const blockCache = new WeakMap<object, Buffer>();
const fieldCache = new Map<string, Map<string, Buffer>>();
let cachedFields = 0;

export class HpackEncoder {
  private buf = Buffer.allocUnsafe(1024);
  private len = 0;
  /** the table size the peer's decoder currently assumes we use */
  private announcedTableSize = DEFAULT_HEADER_TABLE_SIZE;
  private sizeUpdatePending = false;

  /**
   * The peer changed its SETTINGS_HEADER_TABLE_SIZE. Our table is always empty, but a
   * decoder whose limit shrank may insist on a size update below it, so the next block
   * starts with "size 0" once the limit goes below what the peer last heard from us.
   */
  setPeerTableSize(size: number): void {
    if (size < this.announcedTableSize) this.sizeUpdatePending = true;
  }

  /**
   * Encodes a header block. Pseudo-headers (names starting with ':') go first whatever
   * the object's key order. Returns a buffer valid until the next call; copy it out.
   */
  encode(headers: HeaderInput): Buffer {
    const frozen = Object.isFrozen(headers);
    if (frozen && !this.sizeUpdatePending) {
      const hit = blockCache.get(headers);
      if (hit !== undefined) return hit;
    }
    this.len = 0;
    if (this.sizeUpdatePending) {
      this.ensure(1);
      this.buf[this.len++] = SIZE_UPDATE_ZERO;
      this.sizeUpdatePending = false;
      this.announcedTableSize = 0;
    }
    let regular = false;
    for (const name in headers) {
      if (name.charCodeAt(0) === 0x3a) this.field(name, headers[name]);
      else regular = true;
    }
    if (regular) {
      for (const name in headers) {
        if (name.charCodeAt(0) !== 0x3a) this.field(name, headers[name]);
      }
    }
    const block = this.buf.subarray(0, this.len);
    if (frozen && block[0] !== SIZE_UPDATE_ZERO) {
      const copy = Buffer.from(block);
      blockCache.set(headers, copy);
      return copy;
    }
    return block;
  }

  private field(name: string, raw: string | number | undefined): void {
    if (raw === undefined || raw === null) return;
    const value = typeof raw === 'string' ? raw : String(raw);
    let byValue = fieldCache.get(name);
    let bytes = byValue?.get(value);
    if (bytes === undefined) {
      bytes = encodeField(name, value);
      if (cachedFields < FIELD_CACHE_LIMIT && value.length <= CACHEABLE_VALUE_LENGTH) {
        if (byValue === undefined) {
          byValue = new Map();
          fieldCache.set(name, byValue);
        }
        byValue.set(value, bytes);
        cachedFields++;
      }
    }
    this.ensure(bytes.length);
    if (bytes.length === 1) this.buf[this.len] = bytes[0]!;
    else bytes.copy(this.buf, this.len);
    this.len += bytes.length;
  }

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(bigger, 0, 0, this.len);
    this.buf = bigger;
  }
}

/** The wire form of one field, as a standalone buffer. */
export function encodeField(rawName: string, value: string): Buffer {
  const name = UPPER.test(rawName) ? rawName.toLowerCase() : rawName;
  const full = STATIC_FIELD.get(`${name}\0${value}`);
  if (full !== undefined) return Buffer.from([0x80 | full]);
  const nameIndex = STATIC_NAME.get(name) ?? 0;
  const out = Buffer.allocUnsafe(
    integerLength(nameIndex, 4) + (nameIndex === 0 ? integerLength(name.length, 7) + name.length : 0) +
      integerLength(value.length, 7) + value.length,
  );
  // 0001xxxx: never indexed; 0000xxxx: without indexing.
  let off = writeInteger(out, 0, nameIndex, 4, SENSITIVE.has(name) ? 0x10 : 0x00);
  if (nameIndex === 0) {
    off = writeInteger(out, off, name.length, 7, 0);
    off += out.write(name, off, 'latin1');
  }
  off = writeInteger(out, off, value.length, 7, 0);
  out.write(value, off, 'latin1');
  return out;
}

function integerLength(value: number, prefixBits: number): number {
  const max = (1 << prefixBits) - 1;
  if (value < max) return 1;
  let n = 2;
  for (let rest = value - max; rest >= 128; rest = Math.floor(rest / 128)) n++;
  return n;
}

/** Writes an integer with an N-bit prefix (RFC 7541 5.1); `high` holds the octet's other bits. */
export function writeInteger(out: Uint8Array, off: number, value: number, prefixBits: number, high: number): number {
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    out[off++] = high | value;
    return off;
  }
  out[off++] = high | max;
  let rest = value - max;
  while (rest >= 128) {
    out[off++] = (rest % 128) | 0x80;
    rest = Math.floor(rest / 128);
  }
  out[off++] = rest;
  return off;
}
