// The proxy's cache of Range answers, as etcd's grpcproxy cache: serializable reads are
// answered from it; every answer (linearizable ones too) is stored under the request it
// answers; a write through the proxy drops every entry whose range it touches; a
// compaction drops entries pinned to revisions it removed. Entries are also keyed by the
// caller's auth token, so one user never reads what another was allowed to see.
// Writes that do not pass through this proxy are not seen: serializable reads through a
// proxy may be stale, as they may be on a member.

/** etcd's cache.DefaultMaxEntries: beyond it the least recently used entry goes */
export const DEFAULT_MAX_ENTRIES = 2048;

interface Entry {
  key: Buffer;
  /** exclusive end; empty: the single key; [0]: to the end of the keyspace */
  end: Buffer;
  /** the request's revision (0: the latest) */
  revision: number;
  response: Uint8Array;
}

/** whether [aKey, aEnd) and [bKey, bEnd) share a key (etcd's range_end conventions) */
export function intersects(aKey: Buffer, aEnd: Buffer, bKey: Buffer, bEnd: Buffer): boolean {
  const endOf = (k: Buffer, e: Buffer): Buffer | null => (e.length === 0 ? Buffer.concat([k, Buffer.from([0])]) : e.length === 1 && e[0] === 0 ? null : e);
  const ae = endOf(aKey, aEnd);
  const be = endOf(bKey, bEnd);
  // a starts before b ends and b starts before a ends (null: no end)
  return (be === null || Buffer.compare(aKey, be) < 0) && (ae === null || Buffer.compare(bKey, ae) < 0);
}

export class RangeCache {
  // a Map keeps insertion order: re-inserting on a hit makes it an LRU
  private readonly entries = new Map<string, Entry>();
  private compactedRevision = -1;

  constructor(private readonly maxEntries = DEFAULT_MAX_ENTRIES) {}

  get size(): number {
    return this.entries.size;
  }

  get(cacheKey: string): Uint8Array | undefined {
    const e = this.entries.get(cacheKey);
    if (!e) return undefined;
    this.entries.delete(cacheKey);
    this.entries.set(cacheKey, e);
    return e.response;
  }

  add(cacheKey: string, key: Uint8Array, end: Uint8Array, revision: number, response: Uint8Array): void {
    if (revision !== 0 && revision <= this.compactedRevision) return;
    this.entries.delete(cacheKey);
    this.entries.set(cacheKey, { key: Buffer.from(key), end: Buffer.from(end), revision, response });
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
  }

  /** A write touched [key, end): answers that may include those keys are dropped. */
  invalidate(key: Uint8Array, end: Uint8Array): void {
    const k = Buffer.from(key);
    const e = Buffer.from(end);
    for (const [id, entry] of this.entries) {
      if (intersects(entry.key, entry.end, k, e)) this.entries.delete(id);
    }
  }

  /** A compaction at `revision`: answers pinned at or below it can no longer be given. */
  compact(revision: number): void {
    this.compactedRevision = Math.max(this.compactedRevision, revision);
    for (const [id, entry] of this.entries) {
      if (entry.revision !== 0 && entry.revision <= revision) this.entries.delete(id);
    }
  }
}
