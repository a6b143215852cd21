// In-process watch tests: the real MvccStore on a temp Backend, a WatchableStore fed
// the way the server feeds it (notify inside the write group), recording sinks, and a
// plain model of the history to hold the results against.
import path from 'node:path';
import { Backend } from '../../src/backend/backend.js';
import { MvccStore, type Change } from '../../src/mvcc/store.js';
import { keyString } from '../../src/mvcc/tree-index.js';
import {
  WatchableStore,
  type WatchableStoreOptions,
  type WatchSink,
  type WatchStreamResponse,
} from '../../src/watch/watchable-store.js';
import { Event_EventType } from '../../src/proto/mvccpb.js';
import { tempDir } from '../helpers/tmp.js';

export type WriteOp = { t: 'put'; key: string; value: string } | { t: 'del'; key: string } | { t: 'delrange'; start: string; end: string };

export class StoreHarness {
  readonly store: MvccStore;
  readonly watchable: WatchableStore;
  private readonly compactions: Promise<void>[] = [];

  private constructor(
    readonly backend: Backend,
    private readonly cleanup: () => void,
    opts: Partial<WatchableStoreOptions>,
  ) {
    this.store = new MvccStore(backend);
    this.watchable = new WatchableStore(this.store, backend, opts);
  }

  static open(opts: Partial<WatchableStoreOptions> = {}): StoreHarness {
    const { dir, cleanup } = tempDir('tsetcd-watch-');
    return new StoreHarness(Backend.open(path.join(dir, 'db')), cleanup, opts);
  }

  /** One write transaction, applied as the server applies it: notify inside the write group. */
  write(ops: WriteOp[]): Change[] {
    return this.backend.write(() => {
      const txn = this.store.write();
      for (const op of ops) {
        if (op.t === 'put') txn.put(Buffer.from(op.key, 'latin1'), Buffer.from(op.value, 'latin1'), 0n);
        else if (op.t === 'del') txn.deleteRange({ start: op.key, end: undefined });
        else txn.deleteRange({ start: op.start, end: op.end });
      }
      const changes = txn.end();
      if (changes.length > 0) this.watchable.notify(changes, this.store.rev);
      return changes;
    });
  }

  put(key: string, value: string): Change[] {
    return this.write([{ t: 'put', key, value }]);
  }

  /** Schedules a compaction at rev (physical deletion goes on in the background). */
  compact(rev: number): void {
    const p = this.backend.write(() => this.store.compact(rev));
    p.catch(() => {});
    this.compactions.push(p);
  }

  async close(): Promise<void> {
    this.watchable.close();
    await Promise.allSettled(this.compactions);
    await this.backend.close();
    this.cleanup();
  }
}

/** A sink that records everything and can pretend to be backed up. */
export class RecordingSink implements WatchSink {
  readonly responses: WatchStreamResponse[] = [];
  blocked = false;
  overflowed = false;

  send(r: WatchStreamResponse): boolean {
    this.responses.push(r);
    return !this.blocked;
  }

  overflow(): void {
    this.overflowed = true;
  }
}

/** Lets queued microtasks (stream pumps) and immediates (background compaction) run. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

// ------------------------------------------------------------------ the model

export interface ModelKv {
  value: string;
  create: number;
  mod: number;
  version: number;
}

export interface ModelEvent {
  rev: number;
  type: 'put' | 'delete';
  key: string;
  /** for a put: the new version */
  kv?: ModelKv;
  /** the version before the change, if the key was live */
  prev?: ModelKv;
}

/** The store's history as a plain list: what every watcher should see, filtered. */
export class HistoryModel {
  readonly state = new Map<string, ModelKv>();
  readonly events: ModelEvent[] = [];
  rev = 1;

  apply(ops: WriteOp[]): void {
    const rev = this.rev + 1;
    const evs: ModelEvent[] = [];
    for (const op of ops) {
      if (op.t === 'put') {
        const prev = this.state.get(op.key);
        const kv = { value: op.value, create: prev ? prev.create : rev, mod: rev, version: prev ? prev.version + 1 : 1 };
        this.state.set(op.key, kv);
        evs.push({ rev, type: 'put', key: op.key, kv, prev });
      } else {
        const keys = op.t === 'del' ? [op.key] : [...this.state.keys()].filter((k) => k >= op.start && (op.end === '' || k < op.end)).sort();
        for (const k of keys) {
          const prev = this.state.get(k);
          if (!prev) continue;
          this.state.delete(k);
          evs.push({ rev, type: 'delete', key: k, prev });
        }
      }
    }
    if (evs.length === 0) return;
    this.rev = rev;
    this.events.push(...evs);
  }
}

export interface WatchSpec {
  start: string;
  end: string | undefined;
  noPut?: boolean;
  noDelete?: boolean;
}

export function inRange(key: string, start: string, end: string | undefined): boolean {
  if (end === undefined) return key === start;
  return key >= start && (end === '' || key < end);
}

/** The events a watcher of spec starting at fromRev should get, in order. */
export function expectedEvents(model: HistoryModel, spec: WatchSpec, fromRev: number, toRev = Infinity): ModelEvent[] {
  return model.events.filter(
    (e) =>
      e.rev >= fromRev &&
      e.rev <= toRev &&
      inRange(e.key, spec.start, spec.end) &&
      !(spec.noPut && e.type === 'put') &&
      !(spec.noDelete && e.type === 'delete'),
  );
}

/** A received event in the model's terms, to compare. */
export function describeReceived(r: WatchStreamResponse): Array<{ rev: number; type: 'put' | 'delete'; key: string; value: string; create: number; version: number; prev?: string }> {
  return r.events.map((e) => ({
    rev: e.rev,
    type: e.type === Event_EventType.PUT ? 'put' : 'delete',
    key: keyString(e.kv.key),
    value: Buffer.from(e.kv.value).toString('latin1'),
    create: e.kv.create_revision,
    version: e.kv.version,
    prev: r.prevKv && e.prevKv ? `${Buffer.from(e.prevKv.value).toString('latin1')}@${e.prevKv.mod_revision}` : undefined,
  }));
}

export function describeExpected(e: ModelEvent): { rev: number; type: 'put' | 'delete'; key: string; value: string; create: number; version: number } {
  return {
    rev: e.rev,
    type: e.type,
    key: e.key,
    value: e.kv ? e.kv.value : '',
    create: e.kv ? e.kv.create : 0,
    version: e.kv ? e.kv.version : 0,
  };
}
