// Runtime support for the JSON form of the generated codecs (hand-written): protobuf's
// JSON mapping as grpc-gateway (etcd's gateway) writes and reads it. 64-bit integers are
// strings, bytes are base64, enums are names; reading accepts what Go's jsonpb accepts and
// names the path of a bad value. Re-exported by runtime.ts, which the generated code imports.
import { asBuffer, inexactIntText, ProtoJsonError } from './runtime.js';
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
