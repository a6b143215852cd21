// The watchable store: watchers on keys and ranges of the MVCC store, fed the changes of
// every write transaction as it is applied (synced watchers) or caught up from the
// backend's history (unsynced watchers), with etcd's guarantees: events in revision
// order, a revision's events together, no gaps, no duplicates.
//
// Watchers are in one of three sets, as in etcd's watchableStore:
//   synced    seen everything up to the store's revision; get events as writes apply.
//   unsynced  behind (a start revision in the past, or back from being a victim);
//             caught up from the backend by sync passes, then moved to synced.
//   victim    its stream's buffer is full. Nothing is queued for it and nothing is held
//             for it: it remembers the first revision it has not been given, and when
//             its stream has room again it goes back to unsynced and reads the rest from
//             the backend. So a client that stops reading costs a bounded buffer, not
//             memory that grows with the write rate.
//
// Each stream (one gRPC Watch call) has one ordered queue of responses: control answers
// (created, canceled, progress) and events share it, so a progress notification can
// never overtake the events it vouches for. Event responses are bounded per watcher
// (etcd's channel length) and per stream in bytes.
import type { Backend } from '../backend/backend.js';
import { Event_EventType } from '../proto/mvccpb.js';
import { WatcherGroup, type WatchedRange } from '../watch/watcher-group.js';
import { EventBatch, entryToEvent, scanHistory, WatchEvent } from './history.js';
import type { Change, MvccStore } from './store.js';
import { keyString } from './tree-index.js';

export { WatchEvent } from './history.js';

/** etcd's mvcc errors, as watch create responses carry them in cancel_reason */
export const WatchErrors = {
  emptyRange: 'mvcc: watcher range is empty',
  duplicateId: 'mvcc: duplicate watch ID provided on the WatchStream',
  /** ours: etcd has no limit */
  tooManyWatchers: 'mvcc: too many watchers on the stream',
} as const;

/** watch_id a client sends to have the server choose one (clientv3.AutoWatchID) */
export const AUTO_WATCH_ID = 0;
/** watch_id of a refused create and of a stream-wide progress response (clientv3.InvalidWatchID) */
export const INVALID_WATCH_ID = -1;

export interface WatchableStoreOptions {
  /** how often unsynced watchers are caught up when nothing hurries it (etcd: 100 ms) */
  syncIntervalMs: number;
  /** most distinct revisions in one catch-up response (etcd's watchBatchMaxRevs) */
  maxRevsPerBatch: number;
  /** most unsynced watchers served by one sync pass (etcd's maxWatchersPerSync) */
  maxWatchersPerSync: number;
  /** backend versions read by one history scan (rounded up to a whole revision) */
  scanEntriesPerPass: number;
  /** history scans in one sync pass (watchers far apart in revisions need separate scans) */
  maxScansPerPass: number;
  /** tests: no timers; sync passes run only when syncPass() is called */
  manualSync: boolean;
}

export const DEFAULT_WATCHABLE_STORE_OPTIONS: WatchableStoreOptions = {
  syncIntervalMs: 100,
  maxRevsPerBatch: 1000,
  maxWatchersPerSync: 512,
  scanEntriesPerPass: 10_000,
  maxScansPerPass: 4,
  manualSync: false,
};

export interface WatchStreamLimits {
  /** event responses queued for one watcher before it becomes a victim (etcd's chanBufLen) */
  maxResponsesPerWatcher: number;
  /** bytes of event responses queued on one stream before its watchers become victims */
  maxPendingBytes: number;
  /** watchers one stream may hold */
  maxWatchers: number;
  /** control responses (created, canceled, progress) queued unread before the stream is ended */
  maxControlBacklog: number;
}

export const DEFAULT_WATCH_STREAM_LIMITS: WatchStreamLimits = {
  maxResponsesPerWatcher: 128,
  maxPendingBytes: 4 * 1024 * 1024,
  maxWatchers: 100_000,
  maxControlBacklog: 100_000,
};

/** shortest wait between sync passes that made progress */
const MIN_SYNC_GAP_MS = 5;
/** bytes charged per queued response and per event beyond their encoded size (object overhead) */
const RESPONSE_OVERHEAD_BYTES = 64;
const EVENT_OVERHEAD_BYTES = 16;

/** One response for the client, before the API layer adds the header and encodes it. */
export interface WatchStreamResponse {
  readonly watchId: number;
  /** the header revision */
  readonly revision: number;
  readonly events: readonly WatchEvent[];
  readonly created: boolean;
  readonly canceled: boolean;
  readonly compactRevision: number;
  readonly cancelReason: string;
  /** send the events with their prev_kv */
  readonly prevKv: boolean;
  /** the watcher allows a large response to be split (WatchCreateRequest.fragment) */
  readonly fragment: boolean;
  /** what it counts against the stream's buffer while queued */
  readonly bytes: number;
  /** @internal the watcher whose buffer it occupies (undefined for control responses) */
  readonly owner: Watcher | undefined;
}

/** Where a stream's responses go: the API layer encodes and writes them. */
export interface WatchSink {
  /** Takes one response; returns false when the client is backed up (call resume() once it drains). */
  send(r: WatchStreamResponse): boolean;
  /** The client keeps sending requests without reading their answers: end its stream. */
  overflow(): void;
}

export interface WatchCreateOptions {
  /** AUTO_WATCH_ID (0) to have one assigned */
  id: number;
  range: WatchedRange;
  /** 0: from the next revision */
  startRev: number;
  noPut?: boolean;
  noDelete?: boolean;
  prevKv?: boolean;
  progressNotify?: boolean;
  fragment?: boolean;
}

export type WatcherState = 'new' | 'synced' | 'unsynced' | 'victim' | 'compacted' | 'canceled';

export class Watcher {
  state: WatcherState = 'new';
  /** the first revision this watcher has not been given yet */
  minRev = 0;
  /** event responses of this watcher in its stream's queue */
  queued = 0;
  /** events were queued since the last progress tick */
  eventsSinceTick = false;
  readonly noPut: boolean;
  readonly noDelete: boolean;
  readonly prevKv: boolean;
  readonly progressNotify: boolean;
  readonly fragment: boolean;

  constructor(
    readonly id: number,
    readonly range: WatchedRange,
    readonly stream: WatchStream,
    o: WatchCreateOptions,
  ) {
    this.noPut = o.noPut ?? false;
    this.noDelete = o.noDelete ?? false;
    this.prevKv = o.prevKv ?? false;
    this.progressNotify = o.progressNotify ?? false;
    this.fragment = o.fragment ?? false;
  }

  /** The events this watcher's filters let through. */
  filter(events: readonly WatchEvent[]): readonly WatchEvent[] {
    if (!this.noPut && !this.noDelete) return events;
    return events.filter((e) => (e.type === Event_EventType.PUT ? !this.noPut : !this.noDelete));
  }
}

export interface WatchableStoreStats {
  streams: number;
  synced: number;
  unsynced: number;
  victims: number;
  pendingResponses: number;
  pendingBytes: number;
  /** history entries read by sync passes since the start */
  historyEntriesRead: number;
  syncPasses: number;
}

export class WatchableStore {
  private readonly opts: WatchableStoreOptions;
  private readonly synced = new WatcherGroup<Watcher>();
  /** insertion-ordered: sync passes take from the front and put unfinished ones at the back */
  private readonly unsynced = new Set<Watcher>();
  private victimCount = 0;
  private readonly streams = new Set<WatchStream>();
  private syncTimer: NodeJS.Timeout | undefined;
  private syncDueAtMs = Infinity;
  private closed = false;
  private historyEntriesRead = 0;
  private syncPasses = 0;

  constructor(
    readonly kv: MvccStore,
    private readonly backend: Backend,
    opts: Partial<WatchableStoreOptions> = {},
  ) {
    this.opts = { ...DEFAULT_WATCHABLE_STORE_OPTIONS, ...opts };
  }

  get rev(): number {
    return this.kv.rev;
  }

  /** A new stream of watchers whose responses go, in order, to sink. */
  newStream(sink: WatchSink, limits: Partial<WatchStreamLimits> = {}): WatchStream {
    if (this.closed) throw new Error('watchable store is closed');
    const s = new WatchStream(this, sink, { ...DEFAULT_WATCH_STREAM_LIMITS, ...limits });
    this.streams.add(s);
    return s;
  }

  close(): void {
    this.closed = true;
    if (this.syncTimer) clearTimeout(this.syncTimer);
    this.syncTimer = undefined;
    for (const s of [...this.streams]) s.close();
  }

  stats(): WatchableStoreStats {
    let pendingResponses = 0;
    let pendingBytes = 0;
    for (const s of this.streams) {
      const st = s.stats();
      pendingResponses += st.pendingResponses;
      pendingBytes += st.pendingBytes;
    }
    return {
      streams: this.streams.size,
      synced: this.synced.size,
      unsynced: this.unsynced.size,
      victims: this.victimCount,
      pendingResponses,
      pendingBytes,
      historyEntriesRead: this.historyEntriesRead,
      syncPasses: this.syncPasses,
    };
  }

  // ------------------------------------------------------------------ live events

  /**
   * The changes of one write transaction, applied at rev: every synced watcher of their
   * keys gets them in one response. Runs inside the apply's backend write group.
   */
  notify(changes: readonly Change[], rev: number): void {
    if (this.synced.size === 0) return;
    const batches = new Map<Watcher, WatchEvent[]>();
    for (const change of changes) {
      const key = keyString(change.kv.key);
      let ev: WatchEvent | undefined;
      this.synced.forEachWatching(key, (w) => {
        if (rev < w.minRev) return; // it starts at a later revision
        ev ??= new WatchEvent(change.kind === 'put' ? Event_EventType.PUT : Event_EventType.DELETE, change.kv, key);
        const list = batches.get(w);
        if (list) list.push(ev);
        else batches.set(w, [ev]);
      });
    }
    for (const [w, events] of batches) {
      if (w.stream.offerEvents(w, events, rev)) continue;
      // its buffer is full: from now on it reads history, starting with this revision
      w.minRev = rev;
      this.setState(w, 'victim');
    }
  }

  // ------------------------------------------------------------------ watchers

  /** @internal called by WatchStream */
  addWatcher(w: Watcher, startRev: number): void {
    const cur = this.kv.rev;
    if (startRev === 0 || startRev > cur) {
      w.minRev = Math.max(cur + 1, startRev);
      this.setState(w, 'synced');
      return;
    }
    w.minRev = startRev;
    this.setState(w, 'unsynced');
    this.scheduleSync(0);
  }

  /**
   * The store was replaced by a snapshot from the leader: watchers that were in sync up
   * to `previousRev` catch up from the new history instead (or learn it was compacted).
   */
  restored(previousRev: number): void {
    for (const w of [...this.synced.members]) {
      w.minRev = Math.max(w.minRev, previousRev + 1);
      this.setState(w, 'unsynced');
    }
    this.scheduleSync(0);
  }

  /** @internal called by WatchStream */
  removeWatcher(w: Watcher): void {
    if (w.state === 'canceled' || w.state === 'compacted') return;
    this.setState(w, 'canceled');
  }

  /** @internal called by WatchStream when it goes away */
  dropStream(s: WatchStream): void {
    this.streams.delete(s);
  }

  /** @internal the previous version of an event's key, looked up once per event */
  lookupPrev(ev: WatchEvent): void {
    if (ev.prevKv !== undefined) return;
    if (ev.isCreate || ev.rev <= 1) {
      ev.prevKv = null;
      return;
    }
    try {
      ev.prevKv = this.kv.range({ start: ev.key, end: undefined }, { rev: ev.rev - 1 }).kvs[0] ?? null;
    } catch {
      ev.prevKv = null; // compacted away: etcd sends the event without it
    }
  }

  /** @internal A stream drained: its victims with room again go back to catching up. */
  reviveVictims(s: WatchStream): void {
    if (s.stats().pendingBytes >= s.limits.maxPendingBytes / 2) return;
    let revived = false;
    for (const w of [...s.victims]) {
      if (!s.hasRoom(w, 0.5)) continue;
      this.setState(w, 'unsynced');
      revived = true;
    }
    if (revived) this.scheduleSync(0);
  }

  private setState(w: Watcher, next: WatcherState): void {
    const prev = w.state;
    if (prev === next) return;
    if (prev === 'canceled' || prev === 'compacted') throw new Error(`watch: watcher ${w.id} is ${prev} and cannot become ${next}`);
    if (prev === 'synced') this.synced.delete(w);
    else if (prev === 'unsynced') this.unsynced.delete(w);
    else if (prev === 'victim') {
      w.stream.victims.delete(w);
      this.victimCount--;
    }
    if (next === 'synced') this.synced.add(w);
    else if (next === 'unsynced') this.unsynced.add(w);
    else if (next === 'victim') {
      w.stream.victims.add(w);
      this.victimCount++;
    }
    w.state = next;
    const wasBehind = prev === 'unsynced' || prev === 'victim';
    const isBehind = next === 'unsynced' || next === 'victim';
    if (wasBehind === isBehind) return;
    w.stream.behind += isBehind ? 1 : -1;
    if (!isBehind) w.stream.caughtUp();
  }

  // ------------------------------------------------------------------ catching up

  private scheduleSync(delayMs: number): void {
    if (this.closed || this.opts.manualSync) return;
    const due = Date.now() + delayMs;
    if (this.syncTimer && this.syncDueAtMs <= due) return;
    if (this.syncTimer) clearTimeout(this.syncTimer);
    this.syncDueAtMs = due;
    this.syncTimer = setTimeout(() => this.runSync(), delayMs);
    this.syncTimer.unref();
  }

  private runSync(): void {
    this.syncTimer = undefined;
    this.syncDueAtMs = Infinity;
    if (this.closed || this.unsynced.size === 0) return;
    const startMs = performance.now();
    const progressed = this.syncPass();
    if (this.unsynced.size === 0) return;
    // more to do: yield as long as the pass took (etcd does the same; at least a few ms, as
    // each pass makes the backend commit its pending writes), else wait the interval
    this.scheduleSync(progressed ? Math.max(MIN_SYNC_GAP_MS, Math.ceil(performance.now() - startMs)) : this.opts.syncIntervalMs);
  }

  /**
   * Serves up to maxWatchersPerSync unsynced watchers from the backend's history.
   * Returns whether any of them moved on.
   */
  syncPass(): boolean {
    this.syncPasses++;
    const curRev = this.kv.rev;
    const compactRev = this.kv.compactRev;
    const chosen: Watcher[] = [];
    for (const w of this.unsynced) {
      if (chosen.length >= this.opts.maxWatchersPerSync) break;
      chosen.push(w);
    }
    let progressed = false;
    const work: Watcher[] = [];
    for (const w of chosen) {
      if (w.minRev > curRev + 1) throw new Error(`watch: unsynced watcher ${w.id} starts at ${w.minRev}, after revision ${curRev}`);
      if (w.minRev < compactRev) {
        // the history it needs is gone: cancel it, telling the client where history starts
        if (w.stream.offerCompacted(w, compactRev)) {
          this.setState(w, 'compacted');
          progressed = true;
        } else this.setState(w, 'victim');
        continue;
      }
      if (!w.stream.hasRoom(w)) {
        this.setState(w, 'victim');
        continue;
      }
      work.push(w);
    }
    work.sort((a, b) => a.minRev - b.minRev);
    let i = 0;
    for (let scans = 0; i < work.length && scans < this.opts.maxScansPerPass; scans++) {
      const band = work.slice(i);
      const served = this.catchUp(band, curRev);
      if (served.progressed) progressed = true;
      i += served.count;
    }
    return progressed;
  }

  /**
   * One history scan starting at the first watcher's revision (watchers sorted by
   * minRev). Serves, in order, every watcher the scan reached; returns how many.
   */
  private catchUp(band: Watcher[], curRev: number): { count: number; progressed: boolean } {
    const group = new WatcherGroup<Watcher>();
    for (const w of band) group.add(w);
    const batches = new Map<Watcher, EventBatch>();
    let full = 0;
    const readEnd = scanHistory(this.backend, band[0]!.minRev, curRev, this.opts.scanEntriesPerPass, (entry) => {
      this.historyEntriesRead++;
      let ev: WatchEvent | undefined;
      group.forEachWatching(entry.key, (w) => {
        if (entry.main < w.minRev) return;
        ev ??= entryToEvent(entry);
        let batch = batches.get(w);
        if (!batch) {
          batch = new EventBatch(this.opts.maxRevsPerBatch);
          batches.set(w, batch);
        }
        if (batch.moreRev !== 0) return;
        batch.add(ev);
        if (batch.moreRev !== 0) full++;
      });
      // every watcher has a full batch: reading on would only be read again next time
      return full < band.length;
    });
    let count = 0;
    let progressed = false;
    for (const w of band) {
      if (w.minRev > readEnd + 1) break; // the scan stopped before its start: next scan
      count++;
      const batch = batches.get(w);
      const next = batch && batch.moreRev !== 0 ? batch.moreRev : readEnd + 1;
      if (batch && batch.events.length > 0 && !w.stream.offerEvents(w, batch.events, curRev)) {
        this.setState(w, 'victim');
        continue;
      }
      if (next > w.minRev) progressed = true;
      w.minRev = next;
      if (next > curRev) this.setState(w, 'synced');
      else {
        // more history to read: to the back of the line
        this.unsynced.delete(w);
        this.unsynced.add(w);
      }
    }
    return { count, progressed };
  }
}

export interface WatchStreamStats {
  watchers: number;
  pendingResponses: number;
  pendingBytes: number;
  victims: number;
  flowing: boolean;
}

/** The watchers of one client stream and the ordered queue of their responses. */
export class WatchStream {
  readonly watchers = new Map<number, Watcher>();
  /** @internal watchers of this stream in the victim set */
  readonly victims = new Set<Watcher>();
  /** @internal watchers of this stream that are unsynced or victims */
  behind = 0;
  private nextId = 0;
  private queue: Array<WatchStreamResponse | undefined> = [];
  private head = 0;
  private pendingBytes = 0;
  private controlPending = 0;
  private flowing = true;
  private pumpScheduled = false;
  private progressDeferred = false;
  private closed = false;

  constructor(
    private readonly store: WatchableStore,
    private readonly sink: WatchSink,
    readonly limits: WatchStreamLimits,
  ) {}

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Creates a watcher (etcd's rules for IDs and ranges) and queues the create response.
   * Returns its ID, or INVALID_WATCH_ID when refused (the response says why).
   */
  watch(o: WatchCreateOptions): number {
    if (this.closed) return INVALID_WATCH_ID;
    const rev = this.store.rev;
    const { start, end } = o.range;
    let reason: string | undefined;
    let id = o.id;
    if (end !== undefined && end !== '' && start >= end) reason = WatchErrors.emptyRange;
    else if (this.watchers.size >= this.limits.maxWatchers) reason = WatchErrors.tooManyWatchers;
    else if (id === AUTO_WATCH_ID) {
      while (this.watchers.has(this.nextId)) this.nextId++;
      id = this.nextId++;
    } else if (this.watchers.has(id)) reason = WatchErrors.duplicateId;
    if (reason !== undefined) {
      this.queueControl(INVALID_WATCH_ID, rev, { created: true, canceled: true, cancelReason: reason });
      return INVALID_WATCH_ID;
    }
    const w = new Watcher(id, { start, end }, this, o);
    this.watchers.set(id, w);
    this.queueControl(id, rev, { created: true });
    this.store.addWatcher(w, o.startRev === 0 ? rev + 1 : o.startRev);
    return id;
  }

  /** Cancels a watcher of this stream; false (and no response) when there is none. */
  cancel(id: number): boolean {
    const w = this.watchers.get(id);
    if (!w || this.closed) return false;
    this.watchers.delete(id);
    // the answer goes first: a progress response waiting for this watcher to catch up
    // must come after it, or the client would see progress past events it never got
    this.queueControl(id, this.store.rev, { canceled: true });
    this.store.removeWatcher(w);
    return true;
  }

  /**
   * A progress request: answered (watch_id -1, the store's revision) as soon as every
   * watcher of the stream is synced, so the revision it names never runs ahead of
   * events still to be delivered.
   */
  requestProgress(): void {
    if (this.closed) return;
    if (this.behind === 0) this.queueControl(INVALID_WATCH_ID, this.store.rev, {});
    else this.progressDeferred = true;
  }

  /** @internal the last watcher that was behind caught up (or left) */
  caughtUp(): void {
    if (this.behind !== 0 || !this.progressDeferred || this.closed) return;
    this.progressDeferred = false;
    this.queueControl(INVALID_WATCH_ID, this.store.rev, {});
  }

  /**
   * Periodic progress notification: every synced progress_notify watcher that got no
   * events since the last tick is told the store's revision (etcd's progress ticker).
   */
  progressTick(): void {
    if (this.closed) return;
    const rev = this.store.rev;
    for (const w of this.watchers.values()) {
      if (!w.progressNotify) continue;
      if (!w.eventsSinceTick && w.state === 'synced' && this.hasRoom(w)) this.enqueue(this.response(w, rev, [], 0));
      w.eventsSinceTick = false;
    }
  }

  /** The client drained what was written: go on sending. */
  resume(): void {
    if (this.closed) return;
    this.flowing = true;
    this.schedulePump();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.watchers.values()) this.store.removeWatcher(w);
    this.watchers.clear();
    this.queue = [];
    this.head = 0;
    this.pendingBytes = 0;
    this.controlPending = 0;
    this.store.dropStream(this);
  }

  stats(): WatchStreamStats {
    return {
      watchers: this.watchers.size,
      pendingResponses: this.queue.length - this.head,
      pendingBytes: this.pendingBytes,
      victims: this.victims.size,
      flowing: this.flowing,
    };
  }

  /**
   * @internal Whether w may queue another event response (fraction < 1: a low-water
   * mark). The stream's bytes are always bounded. The count per watcher (etcd's channel
   * length) binds once the client is backed up: while it reads, responses queued during
   * one synchronous apply are on their way out at the next microtask, and a burst of
   * many small revisions must not turn a fast reader into a victim.
   */
  hasRoom(w: Watcher, fraction = 1): boolean {
    if (this.pendingBytes >= this.limits.maxPendingBytes * fraction) return false;
    return this.flowing || w.queued < this.limits.maxResponsesPerWatcher * fraction;
  }

  /**
   * @internal Queues events for w in one response; false when its buffer is full.
   * Events its filters drop are not sent (true: nothing to deliver).
   */
  offerEvents(w: Watcher, events: readonly WatchEvent[], revision: number): boolean {
    if (this.closed) return true;
    const evs = w.filter(events);
    if (evs.length === 0) return true;
    if (!this.hasRoom(w)) return false;
    let bytes = RESPONSE_OVERHEAD_BYTES;
    for (const ev of evs) {
      if (w.prevKv) this.store.lookupPrev(ev);
      bytes += ev.encoded(w.prevKv).length + EVENT_OVERHEAD_BYTES;
    }
    w.eventsSinceTick = true;
    this.enqueue(this.response(w, revision, evs, bytes));
    return true;
  }

  /** @internal Queues the cancellation of a watcher whose history was compacted. */
  offerCompacted(w: Watcher, compactRev: number): boolean {
    if (this.closed) return true;
    if (!this.hasRoom(w)) return false;
    this.enqueue({ ...this.response(w, 0, [], 0), canceled: true, compactRevision: compactRev });
    return true;
  }

  private response(w: Watcher, revision: number, events: readonly WatchEvent[], bytes: number): WatchStreamResponse {
    return {
      watchId: w.id,
      revision,
      events,
      created: false,
      canceled: false,
      compactRevision: 0,
      cancelReason: '',
      prevKv: w.prevKv,
      fragment: w.fragment,
      bytes: bytes || RESPONSE_OVERHEAD_BYTES,
      owner: w,
    };
  }

  private queueControl(watchId: number, revision: number, o: { created?: boolean; canceled?: boolean; cancelReason?: string }): void {
    this.enqueue({
      watchId,
      revision,
      events: [],
      created: o.created ?? false,
      canceled: o.canceled ?? false,
      compactRevision: 0,
      cancelReason: o.cancelReason ?? '',
      prevKv: false,
      fragment: false,
      bytes: RESPONSE_OVERHEAD_BYTES,
      owner: undefined,
    });
    if (this.controlPending > this.limits.maxControlBacklog) queueMicrotask(() => this.closed || this.sink.overflow());
  }

  private enqueue(r: WatchStreamResponse): void {
    this.queue.push(r);
    this.pendingBytes += r.bytes;
    if (r.owner) r.owner.queued++;
    else this.controlPending++;
    this.schedulePump();
  }

  private schedulePump(): void {
    if (this.pumpScheduled || !this.flowing) return;
    this.pumpScheduled = true;
    queueMicrotask(() => this.pump());
  }

  /** Hands queued responses to the sink, in order, until it is backed up. */
  private pump(): void {
    this.pumpScheduled = false;
    while (this.flowing && !this.closed && this.head < this.queue.length) {
      const r = this.queue[this.head]!;
      this.queue[this.head++] = undefined;
      this.pendingBytes -= r.bytes;
      if (r.owner) r.owner.queued--;
      else this.controlPending--;
      if (!this.sink.send(r)) this.flowing = false;
    }
    if (this.closed) return;
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    if (this.victims.size > 0) this.store.reviveVictims(this);
  }
}
