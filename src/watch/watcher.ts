// One watcher: a key or range of one stream, its filters, and where it stands (synced,
// unsynced, victim...). The watchable store moves it between its sets; its stream queues
// its responses.
import { Event_EventType } from '../proto/mvccpb.js';
import type { WatchEvent } from '../mvcc/history.js';
import type { WatchedRange } from './watcher-group.js';
import type { WatchStream } from './stream.js';

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
