// Go's time.Duration text ("87600h", "1h30m", "300ms"), which cfssl uses for every expiry
// and backdate. Parsed exactly (in nanoseconds) and handed out as milliseconds.
import { parseGoDurationNs as parseGoDuration } from '../pkg/go-text.js';

/** Go's ParseDuration; returns nanoseconds, or an error text worded like Go's. */
export function parseGoDurationNs(text: string): bigint | string {
  const d = parseGoDuration(text);
  return d.ok ? d.ns : d.message;
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
