// Runtime support for the code tools/protogen.mjs generates (hand-written).
//
// Encoding is two passes over the message: `$size` computes the exact byte count
// (recording every nested message, string and packed-array length in `S.sz` in
// pre-order), then `$write` fills one Buffer of that size, reading those lengths
// back in the same order. Neither pass allocates per field.
//
// Decoding walks the input with a local cursor in the generated code; helpers
// that must return both a value and a new position put the position in `R.p`.

export class ProtoDecodeError extends Error {
  override name = 'ProtoDecodeError';
}

/**
 * A 64-bit integer decoded into a field typed `number` whose value is beyond ±(2^53−1),
 * where a double stops being exact. Raised instead of handing on a different number; the
 * gRPC layer answers it with InvalidArgument (grpc-go would have decoded it).
 */
export class ProtoRangeError extends ProtoDecodeError {
  override name = 'ProtoRangeError';
}

/** The text shared by the protobuf and JSON range errors. */
export function inexactIntText(v: bigint): string {
  return `integer ${v} is beyond ±(2^53−1), the range this server holds exactly`;
}

export class ProtoJsonError extends Error {
  override name = 'ProtoJsonError';
}

export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

/** The codec object generated for every message type (same name as its interface). */
export interface MessageCodec<T> {
  /** Fully qualified proto name, e.g. "etcdserverpb.PutRequest". */
  readonly typeName: string;
  /** A message with every field at its default; fields in `init` are copied over (shallow). */
  create(init?: Partial<T>): T;
  /** Exact encoded size in bytes. */
  sizeOf(m: T): number;
  /** Encodes into a fresh Buffer; `headroom` bytes are left free in front (e.g. for a gRPC frame header). */
  encode(m: T, headroom?: number): Buffer;
  /** Encodes at `pos` of `buf` (which must have room) and returns the position after the message. */
  encodeInto(m: T, buf: Buffer, pos: number): number;
  /** Decodes; bytes fields are zero-copy Uint8Array views into `bytes` (copy them to keep them past the input's life). */
  decode(bytes: Uint8Array): T;
  /** etcd's gateway JSON (grpc-gateway with original field names, defaults omitted). */
  toJSON(m: T): JsonObject;
  /** Parses gateway JSON (original or lowerCamelCase names); throws ProtoJsonError. */
  fromJSON(o: unknown): T;
  /** @internal size pass; records nested lengths in S.sz. */
  $size(m: T): number;
  /** @internal write pass; must follow $size of the same message. */
  $write(m: T, buf: Buffer, pos: number): number;
  /** @internal decodes buf[pos, end) into `into` (merging) or a new message. */
  $decode(buf: Buffer, pos: number, end: number, into: T | undefined): T;
  /** @internal same as toJSON (for generated code in other packages) */
  $toJSON(m: T): JsonObject;
  /** @internal fromJSON with the path used in error messages */
  $fromJSON(o: unknown, path: string): T;
}

export interface MethodDescriptor {
  readonly name: string;
  /** HTTP/2 :path the method is served at, e.g. "/etcdserverpb.KV/Range". */
  readonly path: string;
  readonly requestStream: boolean;
  readonly responseStream: boolean;
  readonly request: MessageCodec<any>;
  readonly response: MessageCodec<any>;
}

export interface ServiceDescriptor {
  /** Fully qualified service name, e.g. "etcdserverpb.KV". */
  readonly name: string;
  readonly methods: { readonly [method: string]: MethodDescriptor };
}

// ------------------------------------------------------------------ shared state

/** Size cache: `n` is the next slot to fill during $size, `i` the next to read during $write. */
export const S = { sz: [] as number[], n: 0, i: 0 };
/**
 * Decode state: `p` is the position after the value a helper just read; `buf`, `ab`
 * and `off` cache the input's ArrayBuffer and offset for rdBytes (reading those
 * getters costs more than building the view itself). The cache keeps the most
 * recently decoded input reachable until the next decode; the views handed out
 * keep it alive anyway.
 */
export const R = { p: 0, buf: null as Uint8Array | null, ab: new ArrayBuffer(0) as ArrayBufferLike, off: 0 };

/** The default for bytes fields. Zero length, so sharing it is harmless. */
export const EMPTY: Uint8Array = new Uint8Array(0);

const f64 = new Float64Array(1);
const f64b = new Uint8Array(f64.buffer);
const f32 = new Float32Array(1);
const f32b = new Uint8Array(f32.buffer);
const scratch = new DataView(new ArrayBuffer(8));
let lo64 = 0;
let hi64 = 0;

const TWO32 = 4294967296;

/** Views any Uint8Array as a Buffer without copying. */
export function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** Called after a write pass: the bytes written must be exactly what the size pass promised. */
export function checkEnd(pos: number, expected: number): void {
  if (pos !== expected) {
    throw new Error(`proto: encoder wrote ${pos} bytes where ${expected} were sized (message changed while encoding?)`);
  }
}

export function checkRoom(buf: Uint8Array, pos: number, n: number): void {
  if (!(pos >= 0 && buf.length - pos >= n)) {
    throw new RangeError(`proto: encodeInto needs ${n} bytes at offset ${pos}, buffer has ${buf.length}`);
  }
}

/** Turns stack exhaustion from absurdly deep nesting into a decode error. */
export function rethrowDecode(e: unknown): never {
  if (e instanceof RangeError) throw new ProtoDecodeError('proto: message nested too deeply or malformed');
  throw e;
}

// ------------------------------------------------------------------ sizes

/** Varint size of an unsigned 32-bit value. */
export function vsz(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
}

/** Varint size of an int32 (negative values take 10 bytes, sign-extended). */
export function vszI32(v: number): number {
  return v < 0 ? 10 : vsz(v);
}

/** Varint size of a 64-bit value held in a number (negative: two's complement, 10 bytes). */
export function vszN64(v: number): number {
  if (v < 0) return 10;
  if (v < 0x10000000) return vsz(v);
  return v < 2 ** 35 ? 5 : v < 2 ** 42 ? 6 : v < 2 ** 49 ? 7 : v < 2 ** 56 ? 8 : v < 2 ** 63 ? 9 : 10;
}

function split64(v: bigint): void {
  scratch.setBigUint64(0, BigInt.asUintN(64, v), true);
  lo64 = scratch.getUint32(0, true);
  hi64 = scratch.getUint32(4, true);
}

function vszHiLo(lo: number, hi: number): number {
  if (hi === 0) return vsz(lo);
  return hi < 0x8 ? 5 : hi < 0x400 ? 6 : hi < 0x20000 ? 7 : hi < 0x1000000 ? 8 : hi < 0x80000000 ? 9 : 10;
}

/** Varint size of a 64-bit value held in a bigint. */
export function vszB64(v: bigint): number {
  split64(v);
  return vszHiLo(lo64, hi64);
}

/** Splits a number into two's-complement 32-bit halves, zigzag-encoded, into lo64/hi64. */
function zigzagN(v: number): void {
  const lo = v >>> 0;
  const hi = Math.floor(v / TWO32) >>> 0;
  const sign = hi >> 31; // 0 or -1
  lo64 = ((lo << 1) ^ sign) >>> 0;
  hi64 = (((hi << 1) | (lo >>> 31)) ^ sign) >>> 0;
}

/** Varint size of a zigzag-encoded sint64 held in a number. */
export function vszZ64(v: number): number {
  zigzagN(v);
  return vszHiLo(lo64, hi64);
}

/** Varint size of a zigzag-encoded sint64 held in a bigint. */
export function vszZB64(v: bigint): number {
  return vszB64(zigzagB(v));
}

function zigzagB(v: bigint): bigint {
  return BigInt.asUintN(64, (v << 1n) ^ (v >> 63n));
}

/** UTF-8 byte length (matching what wStr/Buffer#write produce), computed in JS for short strings. */
export function strLen(s: string): number {
  const n = s.length;
  if (n > 12) return Buffer.byteLength(s, 'utf8'); // native wins beyond a dozen chars
  let len = n;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) {
      len += 1;
    } else if (c >= 0xd800 && c < 0xdc00 && i + 1 < n && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      len += 2; // surrogate pair: 2 code units, 4 bytes
      i++;
    } else {
      len += 2; // 3 bytes (lone surrogates become U+FFFD, also 3 bytes)
    }
  }
  return len;
}

// ------------------------------------------------------------------ writes

/** Writes an unsigned 32-bit varint. */
export function wV32(buf: Buffer, pos: number, v: number): number {
  while (v > 0x7f) {
    buf[pos++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[pos++] = v;
  return pos;
}

function wHiLo(buf: Buffer, pos: number, lo: number, hi: number): number {
  while (hi !== 0) {
    buf[pos++] = (lo & 0x7f) | 0x80;
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi >>>= 7;
  }
  return wV32(buf, pos, lo);
}

/** Writes an int32 varint (negative values sign-extended to 10 bytes). */
export function wI32(buf: Buffer, pos: number, v: number): number {
  return v < 0 ? wHiLo(buf, pos, v >>> 0, 0xffffffff) : wV32(buf, pos, v);
}

/** Writes a 64-bit varint from a number (int64 or uint64; negatives in two's complement). */
export function wN64(buf: Buffer, pos: number, v: number): number {
  if (v >= 0 && v < TWO32) return wV32(buf, pos, v);
  return wHiLo(buf, pos, v >>> 0, Math.floor(v / TWO32) >>> 0);
}

/** Writes a 64-bit varint from a bigint (int64 or uint64). */
export function wB64(buf: Buffer, pos: number, v: bigint): number {
  split64(v);
  return wHiLo(buf, pos, lo64, hi64);
}

export function wZ32(buf: Buffer, pos: number, v: number): number {
  return wV32(buf, pos, ((v << 1) ^ (v >> 31)) >>> 0);
}

export function wZ64(buf: Buffer, pos: number, v: number): number {
  zigzagN(v);
  return wHiLo(buf, pos, lo64, hi64);
}

export function wZB64(buf: Buffer, pos: number, v: bigint): number {
  return wB64(buf, pos, zigzagB(v));
}

export function wFixed32(buf: Buffer, pos: number, v: number): number {
  buf[pos] = v & 0xff;
  buf[pos + 1] = (v >>> 8) & 0xff;
  buf[pos + 2] = (v >>> 16) & 0xff;
  buf[pos + 3] = (v >>> 24) & 0xff;
  return pos + 4;
}

export function wFixedN64(buf: Buffer, pos: number, v: number): number {
  wFixed32(buf, pos, v >>> 0);
  return wFixed32(buf, pos + 4, Math.floor(v / TWO32) >>> 0);
}

export function wFixedB64(buf: Buffer, pos: number, v: bigint): number {
  split64(v);
  wFixed32(buf, pos, lo64);
  return wFixed32(buf, pos + 4, hi64);
}

export function wDouble(buf: Buffer, pos: number, v: number): number {
  f64[0] = v;
  for (let i = 0; i < 8; i++) buf[pos + i] = f64b[i]!;
  return pos + 8;
}

export function wFloat(buf: Buffer, pos: number, v: number): number {
  f32[0] = v;
  for (let i = 0; i < 4; i++) buf[pos + i] = f32b[i]!;
  return pos + 4;
}

/** Writes a length-prefixed byte string. */
export function wBytes(buf: Buffer, pos: number, v: Uint8Array): number {
  const n = v.length;
  pos = n < 0x80 ? ((buf[pos] = n), pos + 1) : wV32(buf, pos, n);
  if (n < 8) {
    for (let i = 0; i < n; i++) buf[pos + i] = v[i]!;
  } else {
    buf.set(v, pos); // constant ~25ns: cheaper than a JS loop from 8 bytes up
  }
  return pos + n;
}

/** Writes a string whose UTF-8 length `n` was computed by strLen (length prefix not included). */
export function wStr(buf: Buffer, pos: number, s: string, n: number): number {
  if (n > 32) return pos + buf.write(s, pos, n, 'utf8'); // JS loop wins for short strings
  const len = s.length;
  for (let i = 0; i < len; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      buf[pos++] = c;
    } else if (c < 0x800) {
      buf[pos++] = 0xc0 | (c >> 6);
      buf[pos++] = 0x80 | (c & 0x3f);
    } else {
      if (c >= 0xd800 && c < 0xe000) {
        const d = i + 1 < len ? s.charCodeAt(i + 1) : 0;
        if (c < 0xdc00 && (d & 0xfc00) === 0xdc00) {
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          i++;
          buf[pos++] = 0xf0 | (c >> 18);
          buf[pos++] = 0x80 | ((c >> 12) & 0x3f);
          buf[pos++] = 0x80 | ((c >> 6) & 0x3f);
          buf[pos++] = 0x80 | (c & 0x3f);
          continue;
        }
        c = 0xfffd; // lone surrogate, as Buffer.write does
      }
      buf[pos++] = 0xe0 | (c >> 12);
      buf[pos++] = 0x80 | ((c >> 6) & 0x3f);
      buf[pos++] = 0x80 | (c & 0x3f);
    }
  }
  return pos;
}

// ------------------------------------------------------------------ reads

export function eof(): never {
  throw new ProtoDecodeError('unexpected EOF');
}

function overflow(): never {
  throw new ProtoDecodeError('proto: integer overflow');
}

/**
 * Reads the rest of a varint whose first byte `b0` (>= 0x80) was already consumed at pos-1.
 * Returns the low 32 bits as a signed int; R.p = position after it. Sets hi64.
 */
function rdV(buf: Uint8Array, pos: number, end: number, b0: number): number {
  let lo = b0 & 0x7f;
  let b = 0;
  for (let shift = 7; shift < 28; shift += 7) {
    if (pos >= end) eof();
    b = buf[pos++]!;
    lo |= (b & 0x7f) << shift;
    if (b < 0x80) {
      hi64 = 0;
      R.p = pos;
      return lo;
    }
  }
  if (pos >= end) eof();
  b = buf[pos++]!;
  lo |= (b & 0x7f) << 28;
  let hi = (b & 0x7f) >> 4;
  if (b < 0x80) {
    hi64 = hi;
    R.p = pos;
    return lo;
  }
  for (let shift = 3; shift < 32; shift += 7) {
    if (pos >= end) eof();
    b = buf[pos++]!;
    hi |= (b & 0x7f) << shift;
    if (b < 0x80) {
      hi64 = hi >>> 0;
      R.p = pos;
      return lo;
    }
  }
  return overflow();
}

/** Continues a tag varint (first byte b0 >= 0x80 already consumed). Tags are at most 32 bits. */
export function rdTag(buf: Uint8Array, pos: number, end: number, b0: number): number {
  const v = rdV(buf, pos, end, b0);
  if (hi64 !== 0) throw new ProtoDecodeError('proto: illegal tag (field number out of range)');
  return v >>> 0;
}

/** Reads a length prefix and checks it against the bytes left. R.p = start of the payload. */
export function rdLen(buf: Uint8Array, pos: number, end: number): number {
  if (pos >= end) eof();
  let n = buf[pos++]!;
  if (n > 0x7f) {
    n = rdV(buf, pos, end, n) >>> 0;
    // As in Go, a length is a signed 64-bit int: bit 63 set means negative, anything
    // else too large is simply longer than what is left.
    if (hi64 >= 0x80000000) throw new ProtoDecodeError('proto: negative length found during unmarshaling');
    if (hi64 !== 0) eof();
    pos = R.p;
  }
  if (n > end - pos) eof();
  R.p = pos;
  return n;
}

/** Reads a varint and returns its low 32 bits as a signed int (int32, enum). */
export function rdI32(buf: Uint8Array, pos: number, end: number): number {
  if (pos >= end) eof();
  const b = buf[pos++]!;
  if (b < 0x80) {
    R.p = pos;
    return b;
  }
  return rdV(buf, pos, end, b);
}

/** Reads a varint as uint32 (low 32 bits). */
export function rdU32(buf: Uint8Array, pos: number, end: number): number {
  return rdI32(buf, pos, end) >>> 0;
}

export function rdBool(buf: Uint8Array, pos: number, end: number): boolean {
  if (pos >= end) eof();
  const b = buf[pos++]!;
  if (b < 0x80) {
    R.p = pos;
    return b !== 0;
  }
  return (rdV(buf, pos, end, b) | hi64) !== 0;
}

export function rdZ32(buf: Uint8Array, pos: number, end: number): number {
  const v = rdI32(buf, pos, end);
  return (v >>> 1) ^ -(v & 1);
}

/**
 * Checks a 64-bit value computed as hi * 2^32 + lo in doubles. Rounding is monotonic and
 * 2^53 is a double, so an exact value beyond ±(2^53−1) never computes as one within it.
 */
function exactOrThrow(v: number, lo: number, hi: number, signed: boolean): number {
  if (v <= Number.MAX_SAFE_INTEGER && v >= -Number.MAX_SAFE_INTEGER) return v;
  throw new ProtoRangeError(`proto: ${inexactIntText(toBig(lo >>> 0, hi >>> 0, signed))}`);
}

/** int64 varint as a number; beyond ±(2^53−1) raises ProtoRangeError. */
export function rdI64(buf: Uint8Array, pos: number, end: number): number {
  if (pos >= end) eof();
  const b = buf[pos++]!;
  if (b < 0x80) {
    R.p = pos;
    return b;
  }
  const lo = rdV(buf, pos, end, b);
  return exactOrThrow((hi64 | 0) * TWO32 + (lo >>> 0), lo, hi64, true);
}

/** uint64 varint as a number; beyond 2^53−1 raises ProtoRangeError. */
export function rdU64(buf: Uint8Array, pos: number, end: number): number {
  if (pos >= end) eof();
  const b = buf[pos++]!;
  if (b < 0x80) {
    R.p = pos;
    return b;
  }
  const lo = rdV(buf, pos, end, b);
  return exactOrThrow(hi64 * TWO32 + (lo >>> 0), lo, hi64, false);
}

function toBig(lo: number, hi: number, signed: boolean): bigint {
  if (hi < 0x200000) return BigInt(hi * TWO32 + lo);
  scratch.setUint32(0, lo, true);
  scratch.setUint32(4, hi, true);
  return signed ? scratch.getBigInt64(0, true) : scratch.getBigUint64(0, true);
}

/** int64 varint as a bigint. */
export function rdI64B(buf: Uint8Array, pos: number, end: number): bigint {
  if (pos >= end) eof();
  const b = buf[pos++]!;
  if (b < 0x80) {
    R.p = pos;
    return BigInt(b);
  }
  const lo = rdV(buf, pos, end, b) >>> 0;
  return toBig(lo, hi64, true);
}

/** uint64 varint as a bigint. */
export function rdU64B(buf: Uint8Array, pos: number, end: number): bigint {
  if (pos >= end) eof();
  const b = buf[pos++]!;
  if (b < 0x80) {
    R.p = pos;
    return BigInt(b);
  }
  const lo = rdV(buf, pos, end, b) >>> 0;
  return toBig(lo, hi64, false);
}

export function rdZ64(buf: Uint8Array, pos: number, end: number): number {
  if (pos >= end) eof();
  const b = buf[pos++]!;
  if (b < 0x80) {
    R.p = pos;
    return (b >>> 1) ^ -(b & 1);
  }
  const lo = rdV(buf, pos, end, b);
  const mask = -(lo & 1);
  const l = (((lo >>> 1) | (hi64 << 31)) ^ mask) >>> 0;
  const h = ((hi64 >>> 1) ^ mask) | 0;
  return exactOrThrow(h * TWO32 + l, l, h, true);
}

export function rdZ64B(buf: Uint8Array, pos: number, end: number): bigint {
  const u = rdU64B(buf, pos, end);
  return (u >> 1n) ^ -(u & 1n);
}

export function rdFixed32(buf: Uint8Array, pos: number, end: number): number {
  if (end - pos < 4) eof();
  R.p = pos + 4;
  return (buf[pos]! | (buf[pos + 1]! << 8) | (buf[pos + 2]! << 16) | (buf[pos + 3]! << 24)) >>> 0;
}

export function rdSFixed32(buf: Uint8Array, pos: number, end: number): number {
  return rdFixed32(buf, pos, end) | 0;
}

export function rdFixedN64(buf: Uint8Array, pos: number, end: number, signed: boolean): number {
  const lo = rdFixed32(buf, pos, end);
  const hi = rdFixed32(buf, pos + 4, end);
  return exactOrThrow((signed ? hi | 0 : hi) * TWO32 + lo, lo, hi, signed);
}

export function rdFixedB64(buf: Uint8Array, pos: number, end: number, signed: boolean): bigint {
  const lo = rdFixed32(buf, pos, end);
  const hi = rdFixed32(buf, pos + 4, end);
  return toBig(lo, hi, signed);
}

export function rdDouble(buf: Uint8Array, pos: number, end: number): number {
  if (end - pos < 8) eof();
  for (let i = 0; i < 8; i++) f64b[i] = buf[pos + i]!;
  R.p = pos + 8;
  return f64[0]!;
}

export function rdFloat(buf: Uint8Array, pos: number, end: number): number {
  if (end - pos < 4) eof();
  for (let i = 0; i < 4; i++) f32b[i] = buf[pos + i]!;
  R.p = pos + 4;
  return f32[0]!;
}

/** Decodes UTF-8 in buf[start, end) (invalid sequences become U+FFFD, as Node does). */
export function rdStr(buf: Buffer, start: number, end: number): string {
  return start === end ? '' : buf.toString('utf8', start, end);
}

/**
 * A zero-copy view of buf[start, end). A plain Uint8Array rather than a Buffer:
 * constructing one is about twice as fast as Buffer#subarray, and bytes fields are
 * typed Uint8Array anyway.
 */
export function rdBytes(buf: Buffer, start: number, end: number): Uint8Array {
  if (buf !== R.buf) {
    R.buf = buf;
    R.ab = buf.buffer;
    R.off = buf.byteOffset;
  }
  return new Uint8Array(R.ab, R.off + start, end - start);
}

/** Skips one field of an unknown number; returns the position after it. */
export function skipField(buf: Uint8Array, pos: number, end: number, tag: number, msg: string): number {
  const wt = tag & 7;
  const field = tag >>> 3;
  if (field === 0) throw new ProtoDecodeError(`proto: ${msg}: illegal tag 0 (wire type ${wt})`);
  switch (wt) {
    case 0:
      for (let i = 0; ; i++) {
        if (i === 10) overflow();
        if (pos >= end) eof();
        if (buf[pos++]! < 0x80) return pos;
      }
    case 1:
      if (end - pos < 8) eof();
      return pos + 8;
    case 2: {
      const n = rdLen(buf, pos, end);
      return R.p + n;
    }
    case 3:
      return skipGroup(buf, pos, end, field, msg);
    case 4:
      throw new ProtoDecodeError(`proto: ${msg}: wiretype end group for non-group`);
    case 5:
      if (end - pos < 4) eof();
      return pos + 4;
    default:
      throw new ProtoDecodeError(`proto: illegal wireType ${wt}`);
  }
}

function skipGroup(buf: Uint8Array, pos: number, end: number, field: number, msg: string): number {
  for (;;) {
    if (pos >= end) eof();
    let tag = buf[pos++]!;
    if (tag > 0x7f) {
      tag = rdTag(buf, pos, end, tag);
      pos = R.p;
    }
    if ((tag & 7) === 4) {
      if (tag >>> 3 !== field) throw new ProtoDecodeError(`proto: ${msg}: mismatched end group`);
      return pos;
    }
    pos = skipField(buf, pos, end, tag, msg);
  }
}

/** The error for a known field arriving with a wire type that does not fit its type. */
export function wireTypeError(goField: string, tag: number): ProtoDecodeError {
  return new ProtoDecodeError(`proto: wrong wireType = ${tag & 7} for field ${goField}`);
}

// ------------------------------------------------------------------ JSON out

export function b64(v: Uint8Array): string {
  return asBuffer(v).toString('base64');
}

/** int64/uint64 for JSON: always a decimal string. */
export function jInt64(v: number | bigint): string {
  return typeof v === 'bigint' ? v.toString() : Number.isSafeInteger(v) ? String(v) : BigInt(v).toString();
}

export function jFloat(v: number): number | string {
  return Number.isFinite(v) ? v : Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
}

/** Enum value for JSON: its name, or the bare number when the value is not declared. */
export function jEnumName(e: object, v: number): string | number {
  const s = (e as Record<number, unknown>)[v];
  return typeof s === 'string' ? s : v;
}

// ------------------------------------------------------------------ JSON in

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  if (typeof v === 'number' || typeof v === 'boolean') return `${typeof v} ${String(v)}`;
  return typeof v;
}

function bad(path: string, want: string, v: unknown): never {
  throw new ProtoJsonError(`invalid value for ${path}: expected ${want}, got ${describe(v)}`);
}

export function jObj(v: unknown, path: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad(path, 'a JSON object', v);
  return v as Record<string, unknown>;
}

export function jArr(v: unknown, path: string): unknown[] {
  if (!Array.isArray(v)) bad(path, 'a JSON array', v);
  return v;
}

export function jStr(v: unknown, path: string): string {
  if (typeof v !== 'string') bad(path, 'a string', v);
  return v;
}

export function jBool(v: unknown, path: string): boolean {
  if (typeof v !== 'boolean') bad(path, 'true or false', v);
  return v;
}

const B64_RE = /^[A-Za-z0-9+/_-]*={0,2}$/;

/** Standard or URL-safe base64, padded or not. */
export function jBytes(v: unknown, path: string): Buffer {
  if (typeof v !== 'string') bad(path, 'a base64 string', v);
  if (!B64_RE.test(v) || v.replace(/=+$/, '').length % 4 === 1) bad(path, 'a base64 string', v);
  return Buffer.from(v, v.includes('-') || v.includes('_') ? 'base64url' : 'base64');
}

const INT_RE = /^-?[0-9]+$/;

function intText(v: unknown, path: string, want: string): string {
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) bad(path, want, v);
    return BigInt(v).toString();
  }
  if (typeof v === 'string' && INT_RE.test(v.trim())) return v.trim();
  return bad(path, want, v);
}

function intRange(v: unknown, path: string, min: bigint, max: bigint, want: string): bigint {
  const b = BigInt(intText(v, path, want));
  if (b < min || b > max) bad(path, `${want} (out of range)`, v);
  return b;
}

export function jI32(v: unknown, path: string): number {
  return Number(intRange(v, path, -(2n ** 31n), 2n ** 31n - 1n, 'an int32'));
}

export function jU32(v: unknown, path: string): number {
  return Number(intRange(v, path, 0n, 2n ** 32n - 1n, 'a uint32'));
}

/**
 * A 64-bit integer for a field typed `number`. A JSON number beyond 2^53 has already been
 * rounded by JSON.parse, so it is refused like a string beyond it: never a different number.
 */
function exactNumber(b: bigint, path: string): number {
  if (b > BigInt(Number.MAX_SAFE_INTEGER) || b < -BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new ProtoJsonError(`invalid value for ${path}: ${inexactIntText(b)}`);
  }
  return Number(b);
}

export function jI64(v: unknown, path: string): number {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
  return exactNumber(intRange(v, path, -(2n ** 63n), 2n ** 63n - 1n, 'an int64 (string or number)'), path);
}

export function jU64(v: unknown, path: string): number {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
  return exactNumber(intRange(v, path, 0n, 2n ** 64n - 1n, 'a uint64 (string or number)'), path);
}

export function jI64B(v: unknown, path: string): bigint {
  return intRange(v, path, -(2n ** 63n), 2n ** 63n - 1n, 'an int64 (string or number)');
}

export function jU64B(v: unknown, path: string): bigint {
  return intRange(v, path, 0n, 2n ** 64n - 1n, 'a uint64 (string or number)');
}

export function jDouble(v: unknown, path: string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    if (v === 'NaN') return NaN;
    if (v === 'Infinity') return Infinity;
    if (v === '-Infinity') return -Infinity;
    const n = Number(v);
    if (v.trim() !== '' && !Number.isNaN(n)) return n;
  }
  return bad(path, 'a number', v);
}

export function jFloat32(v: unknown, path: string): number {
  return Math.fround(jDouble(v, path));
}

/** Enum from JSON: a declared name, or any int32 number. */
export function jEnum(e: object, enumName: string, v: unknown, path: string): number {
  if (typeof v === 'string') {
    if (Object.hasOwn(e, v)) {
      const n = (e as Record<string, unknown>)[v];
      if (typeof n === 'number') return n;
    }
    throw new ProtoJsonError(`invalid value for ${path}: unknown value ${JSON.stringify(v)} for enum ${enumName}`);
  }
  if (typeof v === 'number' && Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31) return v;
  return bad(path, `an enum ${enumName} name or number`, v);
}
