// Text formats that etcdctl's output inherits from Go's standard library and two small
// Go packages: %q quoting, encoding/json strings, time.Duration, go-humanize's byte
// sizes and strconv's number parsing (with their error texts). Operators diff and grep
// this output, so each helper reproduces the Go format byte for byte.

export { decodeRune, goQuote, isGoPrint } from '../../pkg/go-text.js';
import { goQuote, hex2, parseGoDurationNs } from '../../pkg/go-text.js';

/** A string as encoding/json writes it (HTML-safe escaping, as json.Marshal does). */
export function goJsonString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (cp === 0x22) out += '\\"';
    else if (cp === 0x5c) out += '\\\\';
    else if (cp === 0x0a) out += '\\n';
    else if (cp === 0x0d) out += '\\r';
    else if (cp === 0x09) out += '\\t';
    else if (cp < 0x20 || cp === 0x3c || cp === 0x3e || cp === 0x26) out += '\\u00' + hex2(cp);
    else if (cp === 0x2028 || cp === 0x2029) out += '\\u' + cp.toString(16);
    else if (cp >= 0xd800 && cp <= 0xdfff) out += '\\ufffd'; // a lone surrogate is invalid UTF-8 in Go
    else out += ch;
  }
  return out + '"';
}

/**
 * json.Marshal of a decoded protobuf message the way Go's generated structs marshal: keys
 * in declaration order, `omitempty` on every field (zero numbers, false, "", empty lists
 * and bytes and absent sub-messages are left out), 64-bit integers as bare numbers, bytes
 * as standard base64. A present sub-message is written even when all its fields are zero.
 */
export function goJson(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return Number.isInteger(v) ? v.toFixed(0) : String(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'string') return goJsonString(v);
  if (v instanceof Uint8Array) return '"' + Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') + '"';
  if (Array.isArray(v)) return '[' + v.map(goJson).join(',') + ']';
  const parts: string[] = [];
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (isOmitted(x)) continue;
    parts.push(goJsonString(k) + ':' + goJson(x));
  }
  return '{' + parts.join(',') + '}';
}

function isOmitted(x: unknown): boolean {
  if (x === undefined || x === null || x === false || x === '' || x === 0 || x === 0n) return true;
  if (x instanceof Uint8Array || Array.isArray(x)) return x.length === 0;
  return false;
}

/** json.Marshal of a plain Go struct whose fields are all written (no omitempty). */
export function goJsonStruct(fields: Array<[string, unknown]>): string {
  return '{' + fields.map(([k, x]) => goJsonString(k) + ':' + goJson(x)).join(',') + '}';
}

/** %.Nf with Go's rounding: an exact tie rounds to the even neighbour. */
function fixedHalfEven(x: number, digits: number): string {
  const scale = 10 ** digits;
  const scaled = x * scale;
  const floor = Math.floor(scaled);
  if (scaled - floor === 0.5 && Number.isFinite(scaled)) {
    const even = floor % 2 === 0 ? floor : floor + 1;
    return (even / scale).toFixed(digits);
  }
  return x.toFixed(digits);
}

/** go-humanize's Bytes: SI units (1000-based) with one decimal below 10. */
export function humanizeBytes(n: number): string {
  if (n < 10) return `${n} B`;
  const sizes = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB'];
  const e = Math.floor(Math.log(n) / Math.log(1000));
  const val = Math.floor((n / 1000 ** e) * 10 + 0.5) / 10;
  return `${fixedHalfEven(val, val < 10 ? 1 : 0)} ${sizes[e]}`;
}

/** The fraction of v / 10^prec without trailing zeros (".5" or ""), and the integer part. */
function splitFraction(v: bigint, prec: number): { frac: string; int: bigint } {
  let digits = '';
  let printed = false;
  for (let i = 0; i < prec; i++) {
    const d = v % 10n;
    printed = printed || d !== 0n;
    if (printed) digits = d.toString() + digits;
    v /= 10n;
  }
  return { frac: printed ? '.' + digits : '', int: v };
}

/** time.Duration.String(): "0s", "850ns", "1.5µs", "1.234567ms", "2.5s", "1h2m3.5s". */
export function goDuration(nanos: bigint): string {
  const neg = nanos < 0n;
  let u = neg ? -nanos : nanos;
  let out: string;
  if (u === 0n) return '0s';
  if (u < 1_000_000_000n) {
    const [prec, unit] = u < 1000n ? [0, 'ns'] : u < 1_000_000n ? [3, 'µs'] : [6, 'ms'];
    const { frac, int } = splitFraction(u, prec);
    out = `${int}${frac}${unit}`;
  } else {
    const { frac, int } = splitFraction(u, 9);
    u = int;
    out = `${u % 60n}${frac}s`;
    u /= 60n;
    if (u > 0n) {
      out = `${u % 60n}m` + out;
      u /= 60n;
      if (u > 0n) out = `${u}h` + out;
    }
  }
  return neg ? '-' + out : out;
}

const MAX_INT64 = (1n << 63n) - 1n;

/** time.ParseDuration, in nanoseconds; throws with Go's message. */
export function parseGoDuration(text: string): bigint {
  const d = parseGoDurationNs(text);
  if (!d.ok) throw new Error(d.message);
  return d.ns;
}

/** strconv.ParseBool. */
export function parseGoBool(s: string): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false;
  throw new Error(`strconv.ParseBool: parsing ${goQuote(s)}: invalid syntax`);
}

function digitValue(c: string): number {
  const x = c.toLowerCase().charCodeAt(0);
  if (x >= 48 && x <= 57) return x - 48;
  if (x >= 97 && x <= 122) return x - 87;
  return 99;
}

/**
 * strconv.ParseInt(s, base, 64) for base 0 (prefixes 0x, 0o, 0b and a leading 0 for
 * octal, with underscores between digits), 10 or 16. Throws with Go's message.
 */
export function parseGoInt64(s: string, base: 0 | 10 | 16): bigint {
  const syntax = (): Error => new Error(`strconv.ParseInt: parsing ${goQuote(s)}: invalid syntax`);
  const range = (): Error => new Error(`strconv.ParseInt: parsing ${goQuote(s)}: value out of range`);
  if (s === '') throw syntax();
  let body = s;
  let neg = false;
  if (body[0] === '+' || body[0] === '-') {
    neg = body[0] === '-';
    body = body.slice(1);
  }
  let b: number = base;
  let prefixed = false;
  if (base === 0) {
    b = 10;
    if (body[0] === '0') {
      const p = body[1]?.toLowerCase();
      if (body.length >= 3 && (p === 'x' || p === 'o' || p === 'b')) {
        b = p === 'x' ? 16 : p === 'o' ? 8 : 2;
        body = body.slice(2);
      } else {
        b = 8;
        body = body.slice(1);
      }
      prefixed = true;
    }
  }
  if (body === '' && !(prefixed && b === 8)) throw syntax();
  let n = 0n;
  let sawUnderscore = false;
  for (const c of body) {
    if (c === '_' && base === 0) {
      sawUnderscore = true;
      continue;
    }
    const d = digitValue(c);
    if (d >= b) throw syntax();
    n = n * BigInt(b) + BigInt(d);
  }
  if (sawUnderscore && !underscoresOk(s)) throw syntax();
  const limit = neg ? MAX_INT64 + 1n : MAX_INT64;
  if (n > limit) throw range();
  return neg ? -n : n;
}

/** Go's rule for base-0 literals: underscores only between digits or after a base prefix. */
function underscoresOk(s: string): boolean {
  let saw = '^';
  let i = 0;
  if (s[0] === '+' || s[0] === '-') s = s.slice(1);
  let hex = false;
  if (s.length >= 2 && s[0] === '0' && 'bBoOxX'.includes(s[1]!)) {
    i = 2;
    saw = '0';
    hex = s[1]!.toLowerCase() === 'x';
  }
  for (; i < s.length; i++) {
    const c = s[i]!;
    if ((c >= '0' && c <= '9') || (hex && /[a-fA-F]/.test(c))) {
      saw = '0';
      continue;
    }
    if (c === '_') {
      if (saw !== '0') return false;
      saw = '_';
      continue;
    }
    if (saw === '_') return false;
    saw = '!';
  }
  return saw !== '_';
}

/** "2006-01-02 15:04:05.000000" in local time: capnslog's timestamp, as etcdctl 3.4 logs. */
export function capnslogTime(d = new Date()): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return (
    `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ` +
    `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}000`
  );
}

/** RFC 3339 in local time with a numeric zone or "Z", as zap's RFC3339TimeEncoder writes. */
export function rfc3339Local(d = new Date()): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  const off = -d.getTimezoneOffset();
  const zone = off === 0 ? 'Z' : `${off > 0 ? '+' : '-'}${p(Math.floor(Math.abs(off) / 60))}:${p(Math.abs(off) % 60)}`;
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}${zone}`;
}
