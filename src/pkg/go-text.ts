// Go's own text rules that several parts of tsetcd reproduce byte for byte: strconv.Quote
// (%q, in etcd's and etcdctl's messages) and time.ParseDuration (flags, cfssl expiries,
// etcdctl options), with Go's error texts.

const HEX = '0123456789abcdef';

export function hex2(b: number): string {
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

/**
 * The bytes a JS string stands for: its UTF-8 encoding, except that a lone surrogate
 * U+DC80..U+DCFF stands for the raw byte 0x80..0xFF (how tsetcdctl keeps command-line
 * arguments that are not valid UTF-8; see cli/ctl/argv.ts).
 */
export function stringBytes(s: string): Buffer {
  if (!/[\udc80-\udcff]/.test(s)) return Buffer.from(s, 'utf8');
  const parts: Buffer[] = [];
  let run = '';
  for (let i = 0; i < s.length; i++) {
    const code = s.charCodeAt(i);
    const paired = i > 0 && s.charCodeAt(i - 1) >= 0xd800 && s.charCodeAt(i - 1) <= 0xdbff;
    if (code < 0xdc80 || code > 0xdcff || paired) {
      run += s[i];
      continue;
    }
    parts.push(Buffer.from(run, 'utf8'), Buffer.from([code - 0xdc00]));
    run = '';
  }
  parts.push(Buffer.from(run, 'utf8'));
  return Buffer.concat(parts);
}

/** fmt's %q of a Go string holding these bytes (strconv.Quote). */
export function goQuote(input: Uint8Array | string): string {
  const b = typeof input === 'string' ? stringBytes(input) : input;
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

const NS_PER_UNIT: ReadonlyMap<string, bigint> = new Map([
  ['ns', 1n],
  ['us', 1_000n],
  ['\u00b5s', 1_000n], // micro sign
  ['\u03bcs', 1_000n], // Greek mu
  ['ms', 1_000_000n],
  ['s', 1_000_000_000n],
  ['m', 60_000_000_000n],
  ['h', 3_600_000_000_000n],
]);

const MAX_DURATION_NS = (1n << 63n) - 1n;

export type GoDuration = { readonly ok: true; readonly ns: bigint } | { readonly ok: false; readonly message: string };

/** time.ParseDuration: `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+`, or a bare "0"; exact nanoseconds. */
export function parseGoDurationNs(orig: string): GoDuration {
  const invalid: GoDuration = { ok: false, message: `time: invalid duration ${goQuote(orig)}` };
  let s = orig;
  let neg = false;
  if (s !== '' && (s[0] === '-' || s[0] === '+')) {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return { ok: true, ns: 0n };
  if (s === '') return invalid;
  let total = 0n;
  while (s !== '') {
    const m = /^([0-9]*)(?:\.([0-9]*))?/.exec(s)!;
    const intPart = m[1]!;
    const fracPart = m[2];
    const hasInt = intPart.length > 0;
    const hasFrac = fracPart !== undefined && fracPart.length > 0;
    if (!hasInt && !hasFrac) return invalid;
    s = s.slice(m[0].length);
    const unitText = /^[^0-9.]*/.exec(s)![0];
    if (unitText === '') return { ok: false, message: `time: missing unit in duration ${goQuote(orig)}` };
    s = s.slice(unitText.length);
    const unit = NS_PER_UNIT.get(unitText);
    if (unit === undefined) return { ok: false, message: `time: unknown unit ${goQuote(unitText)} in duration ${goQuote(orig)}` };
    const whole = hasInt ? BigInt(intPart) : 0n;
    if (whole > (1n << 63n) / unit) return invalid;
    let part = whole * unit;
    if (hasFrac) part += (BigInt(fracPart!) * unit) / 10n ** BigInt(fracPart!.length);
    total += part;
    if (total > MAX_DURATION_NS + 1n) return invalid;
  }
  if (!neg && total > MAX_DURATION_NS) return invalid;
  return { ok: true, ns: neg ? -total : total };
}
