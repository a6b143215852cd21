// Key-range permissions as sets of half-open intervals, and the question every request
// asks: does the union of what a user may read (or write) cover the range it names?
//
// Keys are latin1 strings (one char per byte), so `<` on them is byte order. An interval
// is [start, end) with end null meaning "to the end of the key space". etcd's encodings:
//   - range_end empty       -> the single key: [key, key+"\0")
//   - range_end "\0"        -> from key on:    [key, +inf)
//   - otherwise             -> [key, range_end)
// etcd keeps the intervals in an interval tree and asks whether they "contain" the request;
// we keep them merged into sorted, disjoint, non-adjacent intervals, so one binary search
// answers it and the answer is exactly "is every key of the request in some permission".

export interface KeyInterval {
  readonly start: string;
  /** exclusive; null = open ended */
  readonly end: string | null;
}

export function keyString(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
}

function isOpenEnd(rangeEnd: Uint8Array): boolean {
  return rangeEnd.length === 1 && rangeEnd[0] === 0;
}

/**
 * The keys a granted permission covers, or undefined when it covers none: an empty key
 * (etcd's affine comparison treats an empty begin as +inf, so such a permission never
 * matches) or an end at or before the key.
 */
export function permissionInterval(key: Uint8Array, rangeEnd: Uint8Array): KeyInterval | undefined {
  if (key.length === 0) return undefined;
  const start = keyString(key);
  if (rangeEnd.length === 0) return { start, end: start + '\0' };
  if (isOpenEnd(rangeEnd)) return { start, end: null };
  const end = keyString(rangeEnd);
  return end > start ? { start, end } : undefined;
}

/**
 * The keys a request names. A range whose end is at or before its key names no key at
 * all; etcd's interval tree then answers as for the key alone, and so do we (it can only
 * be allowed to someone who may read that key).
 */
export function requestInterval(key: Uint8Array, rangeEnd: Uint8Array): KeyInterval {
  const start = keyString(key);
  if (rangeEnd.length === 0) return { start, end: start + '\0' };
  if (isOpenEnd(rangeEnd)) return { start, end: null };
  const end = keyString(rangeEnd);
  return end > start ? { start, end } : { start, end: start + '\0' };
}

/** A union of intervals, merged: sorted by start, disjoint and not touching. */
export class RangeSet {
  private constructor(
    private readonly starts: string[],
    private readonly ends: (string | null)[],
  ) {}

  static readonly EMPTY = new RangeSet([], []);

  static of(intervals: Iterable<KeyInterval>): RangeSet {
    const sorted = [...intervals].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    const starts: string[] = [];
    const ends: (string | null)[] = [];
    for (const iv of sorted) {
      const last = ends.length - 1;
      if (last >= 0 && (ends[last] === null || iv.start <= ends[last]!)) {
        // overlaps or touches the previous one: extend it
        if (ends[last] !== null && (iv.end === null || iv.end > ends[last]!)) ends[last] = iv.end;
        continue;
      }
      starts.push(iv.start);
      ends.push(iv.end);
    }
    return new RangeSet(starts, ends);
  }

  get size(): number {
    return this.starts.length;
  }

  /** every key k with start <= k < end (end null: every k >= start) is in the set */
  covers(iv: KeyInterval): boolean {
    const i = this.lastStartAtOrBefore(iv.start);
    if (i < 0) return false;
    const end = this.ends[i]!;
    if (end === null) return true;
    if (end <= iv.start) return false;
    return iv.end !== null && end >= iv.end;
  }

  /** index of the last interval starting at or before key, or -1 */
  private lastStartAtOrBefore(key: string): number {
    let lo = 0;
    let hi = this.starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.starts[mid]! <= key) lo = mid + 1;
      else hi = mid;
    }
    return lo - 1;
  }

  intervals(): KeyInterval[] {
    return this.starts.map((start, i) => ({ start, end: this.ends[i]! }));
  }
}
