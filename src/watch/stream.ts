// The watchers of one client stream (one gRPC Watch call) and its one ordered queue of
// responses: control answers (created, canceled, progress) and events share it, so a
// progress notification can never overtake the events it vouches for. Event responses
// are bounded per watcher (etcd's channel length) and per stream in bytes; a watcher
// whose share is full becomes a victim of the watchable store (./watchable-store.ts).
import type { WatchEvent } from '../mvcc/history.js';
import { Watcher, type WatchCreateOptions } from './watcher.js';
import type { WatchableStore } from './watchable-store.js';

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
