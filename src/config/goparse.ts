// Text-to-value conversions that behave like the Go library calls etcd's flag
// parsing relies on (strconv.ParseBool/ParseUint/ParseInt, time.ParseDuration,
// strconv.Quote), so that what we accept and how we complain match etcd.

import { parseGoDurationNs } from '../pkg/go-text.js';

export type NumResult =
  | { readonly ok: true; readonly value: number }
  | { readonly ok: false; readonly reason: 'syntax' | 'range' };

export type DurationResult =
  | { readonly ok: true; readonly ns: number }
  | { readonly ok: false; readonly message: string };

export { goQuote } from '../pkg/go-text.js';

const TRUE_WORDS = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE_WORDS = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/** strconv.ParseBool; undefined when the text is not one of Go's spellings. */
export function parseGoBool(s: string): boolean | undefined {
  if (TRUE_WORDS.has(s)) return true;
  if (FALSE_WORDS.has(s)) return false;
  return undefined;
}

/** Go accepts `_` between digits (and right after a base prefix) when the base is inferred. */
function underscoresWellPlaced(s: string): boolean {
  let body = s;
  if (body.startsWith('+') || body.startsWith('-')) body = body.slice(1);
  let i = 0;
  let last: 'start' | 'digit' | 'underscore' | 'other' = 'start';
  const prefix = body.length >= 2 && body[0] === '0' ? body[1]!.toLowerCase() : '';
  const hex = prefix === 'x';
  if (prefix === 'b' || prefix === 'o' || prefix === 'x') {
    i = 2;
    last = 'digit'; // the prefix counts as a digit for separator placement
  }
  for (; i < body.length; i++) {
    const c = body[i]!;
    const isDigit = (c >= '0' && c <= '9') || (hex && /[a-fA-F]/.test(c));
    if (isDigit) {
      last = 'digit';
    } else if (c === '_') {
      if (last !== 'digit') return false;
      last = 'underscore';
    } else {
      if (last === 'underscore') return false;
      last = 'other';
    }
  }
  return last !== 'underscore';
}

function digitValue(c: string): number {
  const code = c.toLowerCase().charCodeAt(0);
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 97 && code <= 122) return code - 97 + 10;
  return 99;
}

/** strconv.ParseUint(s, 0, bits) as a bigint: base prefixes, `_` separators, range. */
function parseUintBig(s: string, bits: number): { ok: true; value: bigint } | { ok: false; reason: 'syntax' | 'range' } {
  if (s === '') return { ok: false, reason: 'syntax' };
  let base = 10;
  let digits = s;
  if (s[0] === '0') {
    const p = s.length >= 3 ? s[1]!.toLowerCase() : '';
    if (p === 'b') base = 2;
    else if (p === 'o') base = 8;
    else if (p === 'x') base = 16;
    else base = 8;
    digits = p === 'b' || p === 'o' || p === 'x' ? s.slice(2) : s.slice(1);
  }
  const max = (1n << BigInt(bits)) - 1n;
  let value = 0n;
  let sawUnderscore = false;
  for (const c of digits) {
    if (c === '_') {
      sawUnderscore = true;
      continue;
    }
    const d = digitValue(c);
    if (d >= base) return { ok: false, reason: 'syntax' };
    value = value * BigInt(base) + BigInt(d);
    if (value > max) return { ok: false, reason: 'range' };
  }
  if (sawUnderscore && !underscoresWellPlaced(s)) return { ok: false, reason: 'syntax' };
  return { ok: true, value };
}

function toSafeNumber(v: bigint): NumResult {
  if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
    // Go would accept it, but no setting is meaningful at this size.
    return { ok: false, reason: 'range' };
  }
  return { ok: true, value: Number(v) };
}

/** strconv.ParseUint(s, 0, bits). */
export function parseGoUint(s: string, bits: 32 | 64): NumResult {
  const r = parseUintBig(s, bits);
  return r.ok ? toSafeNumber(r.value) : r;
}

/** strconv.ParseInt(s, 0, bits): an optional sign, then ParseUint's rules. */
export function parseGoInt(s: string, bits: 64): NumResult {
  if (s === '') return { ok: false, reason: 'syntax' };
  const neg = s[0] === '-';
  const body = s[0] === '+' || s[0] === '-' ? s.slice(1) : s;
  const r = parseUintBig(body, bits);
  if (!r.ok) return r;
  const cutoff = 1n << BigInt(bits - 1);
  if (!neg && r.value >= cutoff) return { ok: false, reason: 'range' };
  if (neg && r.value > cutoff) return { ok: false, reason: 'range' };
  return toSafeNumber(neg ? -r.value : r.value);
}

/** time.ParseDuration, in (whole) nanoseconds as a number. */
export function parseGoDuration(orig: string): DurationResult {
  const d = parseGoDurationNs(orig);
  return d.ok ? { ok: true, ns: Number(d.ns) } : d;
}

/** Renders nanoseconds the way Go's Duration.String does for whole units (1h0m0s, 5s, 100ms). */
export function formatGoDuration(ns: number): string {
  if (ns === 0) return '0s';
  const neg = ns < 0;
  let rest = Math.abs(ns);
  let out: string;
  if (rest < 1e9) {
    if (rest < 1e3) out = `${rest}ns`;
    else if (rest < 1e6) out = `${trim(rest / 1e3)}µs`;
    else out = `${trim(rest / 1e6)}ms`;
  } else {
    const h = Math.floor(rest / 3.6e12);
    rest -= h * 3.6e12;
    const m = Math.floor(rest / 6e10);
    rest -= m * 6e10;
    const sec = `${trim(rest / 1e9)}s`;
    out = h > 0 ? `${h}h${m}m${sec}` : m > 0 ? `${m}m${sec}` : sec;
  }
  return (neg ? '-' : '') + out;
}

function trim(x: number): string {
  return String(Number(x.toFixed(9)));
}
