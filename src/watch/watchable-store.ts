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
// Each stream's queue of responses is in ./stream.ts, a watcher in ./watcher.ts; the
// store's history reads are mvcc's (../mvcc/history.ts). Timers come from the injected
// clock.
import type { Backend } from '../backend/backend.js';
import { Event_EventType } from '../proto/mvccpb.js';
import { EventBatch, entryToEvent, scanHistory, WatchEvent } from '../mvcc/history.js';
import type { Change, MvccStore } from '../mvcc/store.js';
import { keyString } from '../mvcc/tree-index.js';
import { systemClock, type Clock, type Timer } from '../pkg/clock.js';
import { WatcherGroup } from './watcher-group.js';
import { WatchStream, DEFAULT_WATCH_STREAM_LIMITS, type WatchSink, type WatchStreamLimits } from './stream.js';
import type { Watcher, WatcherState } from './watcher.js';

export { WatchEvent } from '../mvcc/history.js';
export * from './stream.js';
export * from './watcher.js';

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

/** shortest wait between sync passes that made progress */
const MIN_SYNC_GAP_MS = 5;

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
  private syncTimer: Timer | undefined;
  private readonly clock: Clock;
  private syncDueAtMs = Infinity;
  private closed = false;
  private historyEntriesRead = 0;
  private syncPasses = 0;

  constructor(
    readonly kv: MvccStore,
    private readonly backend: Backend,
    opts: Partial<WatchableStoreOptions> = {},
    /** the member's clock: sync passes are scheduled on it */
    clock: Clock = systemClock,
  ) {
    this.opts = { ...DEFAULT_WATCHABLE_STORE_OPTIONS, ...opts };
    this.clock = clock;
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
    this.syncTimer?.cancel();
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
    const due = this.clock.nowMs() + delayMs;
    if (this.syncTimer && this.syncDueAtMs <= due) return;
    this.syncTimer?.cancel();
    this.syncDueAtMs = due;
    this.syncTimer = this.clock.after(delayMs, () => this.runSync());
  }

  private runSync(): void {
    this.syncTimer = undefined;
    this.syncDueAtMs = Infinity;
    if (this.closed || this.unsynced.size === 0) return;
    const startMs = this.clock.nowMs();
    const progressed = this.syncPass();
    if (this.unsynced.size === 0) return;
    // more to do: yield as long as the pass took (etcd does the same; at least a few ms, as
    // each pass makes the backend commit its pending writes), else wait the interval
    this.scheduleSync(progressed ? Math.max(MIN_SYNC_GAP_MS, Math.ceil(this.clock.nowMs() - startMs)) : this.opts.syncIntervalMs);
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
