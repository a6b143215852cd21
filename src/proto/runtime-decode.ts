// Runtime support for decoding the generated codecs (hand-written): varints, fixed-width
// and length-delimited values read at a position with bounds checks, 64-bit integers as
// exact numbers (ProtoRangeError beyond 2^53) or bigints, unknown fields skipped.
// Helpers that return a value and a new position put the position in `R.p`.
// Re-exported by runtime.ts, which the generated code imports.
import { inexactIntText, ProtoDecodeError, ProtoRangeError, R } from './runtime.js';

const f64 = new Float64Array(1);
const f64b = new Uint8Array(f64.buffer);
const f32 = new Float32Array(1);
const f32b = new Uint8Array(f32.buffer);
const scratch = new DataView(new ArrayBuffer(8));
const TWO32 = 4294967296;
/** the high 32 bits of the last 64-bit varint read (its low bits are the return value) */
let hi64 = 0;

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
  return rd64B(buf, pos, end, true);
}

/** uint64 varint as a bigint. */
export function rdU64B(buf: Uint8Array, pos: number, end: number): bigint {
  return rd64B(buf, pos, end, false);
}

function rd64B(buf: Uint8Array, pos: number, end: number, signed: boolean): bigint {
  if (pos >= end) eof();
  const b = buf[pos++]!;
  if (b < 0x80) {
    R.p = pos;
    return BigInt(b);
  }
  const lo = rdV(buf, pos, end, b) >>> 0;
  return toBig(lo, hi64, signed);
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
