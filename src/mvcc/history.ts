// The store's history as watchers see it: events (one per change, encoded once and
// shared by every watcher that gets them), batches of events bounded by revision count,
// and bounded scans of the backend's key bucket, which holds every version of every key
// in revision order.
import type { Backend } from '../backend/backend.js';
import { Event, Event_EventType, KeyValue } from '../proto/mvccpb.js';
import { bytesToRev, isTombstoneBytes, revToBytes } from './revision.js';
import { keyString } from './tree-index.js';

/** One change as watchers see it. The same object goes to every watcher of its key. */
export class WatchEvent {
  /** the previous version of the key: undefined until looked up, null when there is none */
  prevKv: KeyValue | null | undefined = undefined;
  private plain: Buffer | undefined;
  private withPrev: Buffer | undefined;

  constructor(
    readonly type: Event_EventType,
    /** for a delete: the key and mod_revision only, as etcd sends it */
    readonly kv: KeyValue,
    /** kv.key as latin1 */
    readonly key: string,
  ) {}

  get rev(): number {
    return this.kv.mod_revision;
  }

  /** A put that created the key: it has no previous version to look up. */
  get isCreate(): boolean {
    return this.type === Event_EventType.PUT && this.kv.create_revision === this.kv.mod_revision;
  }

  /** The encoded mvccpb.Event, with prev_kv when asked (look prevKv up first). */
  encoded(withPrevKv: boolean): Buffer {
    if (withPrevKv && this.prevKv) {
      this.withPrev ??= Event.encode({ type: this.type, kv: this.kv, prev_kv: this.prevKv });
      return this.withPrev;
    }
    this.plain ??= Event.encode({ type: this.type, kv: this.kv, prev_kv: undefined });
    return this.plain;
  }
}

/**
 * Events for one watcher, in revision order, holding at most `maxRevs` distinct
 * revisions (etcd's watchBatchMaxRevs). A revision is never split: once full, the first
 * revision left out is remembered in `moreRev` and the watcher resumes there.
 */
export class EventBatch {
  readonly events: WatchEvent[] = [];
  private revs = 0;
  /** first revision not in the batch because it was full; 0 when nothing was left out */
  moreRev = 0;

  constructor(private readonly maxRevs: number) {}

  add(ev: WatchEvent): void {
    if (this.moreRev !== 0) return;
    const last = this.events[this.events.length - 1];
    if (last === undefined) this.revs = 1;
    else if (ev.rev > last.rev) {
      if (this.revs >= this.maxRevs) {
        this.moreRev = ev.rev;
        return;
      }
      this.revs++;
    } else if (ev.rev < last.rev) {
      throw new Error(`watch: event at revision ${ev.rev} added after revision ${last.rev}`);
    }
    this.events.push(ev);
  }
}

/** One backend version: a put's KeyValue or a delete's tombstone. */
export interface HistoryEntry {
  readonly main: number;
  readonly sub: number;
  readonly tombstone: boolean;
  /** the key, read from the encoded value without decoding the rest */
  readonly key: string;
  /** the encoded KeyValue; only valid during the visit */
  readonly value: Buffer;
}

/**
 * Visits the versions of revisions [fromRev, toRev] in revision order, reading at most
 * about `maxEntries` of them: the scan stops at the first revision boundary after that
 * many, so a revision is always read whole. `visit` may also stop the scan by returning
 * false (that entry's revision then counts as unread). Returns the last revision read
 * completely (toRev when the scan got there; fromRev - 1 when it read nothing).
 */
export function scanHistory(backend: Backend, fromRev: number, toRev: number, maxEntries: number, visit: (e: HistoryEntry) => boolean): number {
  if (fromRev < 1) fromRev = 1;
  if (fromRev > toRev) return toRev;
  let read = 0;
  let lastMain = fromRev - 1;
  for (const { key, value } of backend.range('key', revToBytes(fromRev, 0), revToBytes(toRev + 1, 0))) {
    const rev = bytesToRev(key);
    if (read >= maxEntries && rev.main !== lastMain) return lastMain;
    read++;
    lastMain = rev.main;
    if (!visit({ main: rev.main, sub: rev.sub, tombstone: isTombstoneBytes(key), key: peekKey(value), value })) return rev.main - 1;
  }
  return toRev;
}

/** The event a history entry stands for (its bytes copied: the backend may reuse them). */
export function entryToEvent(e: HistoryEntry): WatchEvent {
  const kv = KeyValue.decode(Buffer.from(e.value));
  if (!e.tombstone) return new WatchEvent(Event_EventType.PUT, kv, e.key);
  // a tombstone holds only the key: the delete's revision comes from the backend key
  kv.mod_revision = e.main;
  return new WatchEvent(Event_EventType.DELETE, kv, e.key);
}

/** The key field (1) of an encoded KeyValue, which the encoder writes first. */
export function peekKey(value: Buffer): string {
  if (value.length > 0 && value[0] === 0x0a) {
    let pos = 1;
    let len = 0;
    let shift = 0;
    for (;;) {
      const b = value[pos++];
      if (b === undefined || shift > 28) break;
      len |= (b & 0x7f) << shift;
      if (b < 0x80) {
        if (len >= 0 && pos + len <= value.length) return value.toString('latin1', pos, pos + len);
        break;
      }
      shift += 7;
    }
  }
  return keyString(KeyValue.decode(value).key);
}
