// Text formats that etcdctl's output inherits from Go's standard library and two small
// Go packages: %q quoting, encoding/json strings, time.Duration, go-humanize's byte
// sizes and strconv's number parsing (with their error texts). Operators diff and grep
// this output, so each helper reproduces the Go format byte for byte.

const HEX = '0123456789abcdef';

function hex2(b: number): string {
  return HEX[(b >> 4) & 0xf]! + HEX[b & 0xf]!;
}

/**
 * Decodes one UTF-8 sequence at `i`. Returns the code point and its length, or cp -1 and
 * length 1 for a byte that does not start a valid sequence (Go's RuneError, width 1):
 * overlong forms, surrogates and values above U+10FFFF are invalid.
 */
export function decodeRune(b: Uint8Array, i: number): { cp: number; size: number } {
  const b0 = b[i]!;
  if (b0 < 0x80) return { cp: b0, size: 1 };
  const cont = (k: number): number => {
    const x = b[i + k];
    return x !== undefined && (x & 0xc0) === 0x80 ? x & 0x3f : -1;
  };
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    const c1 = cont(1);
    if (c1 >= 0) return { cp: ((b0 & 0x1f) << 6) | c1, size: 2 };
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    const c1 = cont(1);
    const c2 = cont(2);
    if (c1 >= 0 && c2 >= 0) {
      const cp = ((b0 & 0x0f) << 12) | (c1 << 6) | c2;
      if (cp >= 0x800 && (cp < 0xd800 || cp > 0xdfff)) return { cp, size: 3 };
    }
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    const c1 = cont(1);
    const c2 = cont(2);
    const c3 = cont(3);
    if (c1 >= 0 && c2 >= 0 && c3 >= 0) {
      const cp = ((b0 & 0x07) << 18) | (c1 << 12) | (c2 << 6) | c3;
      if (cp >= 0x10000 && cp <= 0x10ffff) return { cp, size: 4 };
    }
  }
  return { cp: -1, size: 1 };
}

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u;

/** Go's strconv.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space. */
export function isGoPrint(cp: number): boolean {
  if (cp < 0x80) return cp >= 0x20 && cp < 0x7f;
  return PRINTABLE.test(String.fromCodePoint(cp));
}

const SHORT_ESCAPES: Record<number, string> = { 7: '\\a', 8: '\\b', 12: '\\f', 10: '\\n', 13: '\\r', 9: '\\t', 11: '\\v' };

/** fmt's %q of a Go string holding these bytes (strconv.Quote). */
export function goQuote(input: Uint8Array | string): string {
  const b = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  let out = '"';
  for (let i = 0; i < b.length; ) {
    const { cp, size } = decodeRune(b, i);
    if (cp < 0) {
      out += '\\x' + hex2(b[i]!);
      i += 1;
      continue;
    }
    i += size;
    if (cp === 0x22 || cp === 0x5c) out += '\\' + String.fromCharCode(cp);
    else if (isGoPrint(cp)) out += String.fromCodePoint(cp);
    else if (SHORT_ESCAPES[cp] !== undefined) out += SHORT_ESCAPES[cp];
    else if (cp < 0x20 || cp === 0x7f) out += '\\x' + hex2(cp);
    else if (cp < 0x10000) out += '\\u' + cp.toString(16).padStart(4, '0');
    else out += '\\U' + cp.toString(16).padStart(8, '0');
  }
  return out + '"';
}

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

const UNIT_NANOS: Record<string, bigint> = {
  ns: 1n,
  us: 1000n,
  'µs': 1000n, // U+00B5 micro sign
  'μs': 1000n, // U+03BC Greek mu
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};
const MAX_INT64 = (1n << 63n) - 1n;

/** time.ParseDuration, in nanoseconds; throws with Go's message. */
export function parseGoDuration(text: string): bigint {
  const invalid = (): Error => new Error(`time: invalid duration ${goQuote(text)}`);
  let s = text;
  let neg = false;
  if (s !== '' && (s[0] === '-' || s[0] === '+')) {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0n;
  if (s === '') throw invalid();
  let total = 0n;
  while (s !== '') {
    if (!(s[0] === '.' || (s[0]! >= '0' && s[0]! <= '9'))) throw invalid();
    const m = /^(\d*)(?:\.(\d*))?/.exec(s)!;
    const intText = m[1] ?? '';
    const fracText = m[2] ?? '';
    if (intText === '' && fracText === '') throw invalid();
    s = s.slice(m[0].length);
    const unitMatch = /^[^\d.]*/.exec(s)!;
    const unit = unitMatch[0];
    if (unit === '') throw new Error(`time: missing unit in duration ${goQuote(text)}`);
    const scale = UNIT_NANOS[unit];
    if (scale === undefined) throw new Error(`time: unknown unit ${goQuote(unit)} in duration ${goQuote(text)}`);
    s = s.slice(unit.length);
    let v = BigInt(intText === '' ? '0' : intText) * scale;
    if (fracText !== '') v += (BigInt(fracText) * scale) / 10n ** BigInt(fracText.length);
    total += v;
    if (total > MAX_INT64 + (neg ? 1n : 0n)) throw invalid();
  }
  return neg ? -total : total;
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
