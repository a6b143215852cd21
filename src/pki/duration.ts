// Go's time.Duration text ("87600h", "1h30m", "300ms"), which cfssl uses for every expiry
// and backdate. Parsed exactly (in nanoseconds) and handed out as milliseconds.

const UNIT_NS: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  'µs': 1_000n, // U+00B5 micro sign
  'μs': 1_000n, // U+03BC Greek mu
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

const MAX_NS = (1n << 63n) - 1n;

/** Go's ParseDuration; returns nanoseconds, or an error text worded like Go's. */
export function parseGoDurationNs(text: string): bigint | string {
  const quoted = JSON.stringify(text);
  let s = text;
  let negative = false;
  if (s.startsWith('-') || s.startsWith('+')) {
    negative = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0n;
  if (s === '') return `time: invalid duration ${quoted}`;
  let total = 0n;
  while (s !== '') {
    const m = /^(\d*)(?:\.(\d*))?/.exec(s)!;
    const [whole = '', frac] = [m[1], m[2]];
    if (whole === '' && (frac === undefined || frac === '')) return `time: invalid duration ${quoted}`;
    s = s.slice(m[0].length);
    const u = /^[^\d.]*/.exec(s)![0];
    if (u === '') return `time: missing unit in duration ${quoted}`;
    const unit = UNIT_NS[u];
    if (unit === undefined) return `time: unknown unit ${JSON.stringify(u)} in duration ${quoted}`;
    s = s.slice(u.length);
    let part = BigInt(whole === '' ? '0' : whole) * unit;
    if (frac) part += (BigInt(frac) * unit) / 10n ** BigInt(frac.length);
    total += part;
    if (total > MAX_NS) return `time: invalid duration ${quoted}`;
  }
  return negative ? -total : total;
}

/** Milliseconds for a Go duration, or an error text. */
export function parseGoDurationMs(text: string): number | string {
  const ns = parseGoDurationNs(text);
  return typeof ns === 'string' ? ns : Number(ns / 1_000_000n);
}

/** A span in the largest whole unit a person would say: "100 years", "about 14 years", "3 days". */
export function humanSpan(ms: number): string {
  const abs = Math.abs(ms);
  const day = 86_400_000;
  const plural = (n: number, w: string): string => `${n} ${w}${n === 1 ? '' : 's'}`;
  if (abs >= 365 * day) {
    const years = Math.floor(abs / (365 * day));
    return abs % (365 * day) < day ? plural(years, 'year') : `about ${plural(years, 'year')}`;
  }
  if (abs >= day) return plural(Math.floor(abs / day), 'day');
  if (abs >= 3_600_000) return plural(Math.floor(abs / 3_600_000), 'hour');
  if (abs >= 60_000) return plural(Math.floor(abs / 60_000), 'minute');
  return plural(Math.floor(abs / 1000), 'second');
}
