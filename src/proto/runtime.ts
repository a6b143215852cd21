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
  // a service's methods each have their own message types; the descriptor holds them side by side
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly request: MessageCodec<any>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
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

// The reading half lives in runtime-decode.ts, the JSON half in runtime-json.ts; generated
// code imports all of it from here.
export * from './runtime-decode.js';
export * from './runtime-json.js';
