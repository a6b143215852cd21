// The six watch guarantees, checked on random runs against the real MvccStore on a temp
// Backend: writers (puts, multi-op txns, range deletes), compactions, watchers created at
// past/current/future revisions with filters and prev_kv, cancels, resumes (cancel and
// recreate at last+1), progress requests and ticks, and sinks that stall (victims).
//
//   ordered       a watcher's events come in revision order
//   unique        no event twice
//   reliable      no gaps: what a watcher got is always a prefix of its history, and all
//                 of it once things settle (unless canceled for compaction)
//   atomic        a revision's events for a watcher come in one response
//   resumable     cancel + recreate at last+1 continues exactly
//   bookmarkable  a progress notification at R comes after every event <= R
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { WatchStream, WatchStreamResponse } from '../../src/watch/watchable-store.js';
import {
  describeExpected,
  describeReceived,
  expectedEvents,
  HistoryModel,
  RecordingSink,
  settle,
  StoreHarness,
  type WatchSpec,
  type WriteOp,
} from './harness.js';

const KEYS = ['a', 'ab', 'b', 'ba', 'c', 'd\u00ff', '\u0000'];
const keyArb = fc.constantFrom(...KEYS);
const valueArb = fc.string({ maxLength: 4, unit: fc.constantFrom('x', 'y', 'z', '\u00e9') });

type RangeSpec = { kind: 'key'; key: string } | { kind: 'prefix'; key: string } | { kind: 'from'; key: string } | { kind: 'range'; a: string; b: string } | { kind: 'all' };

type Cmd =
  | { c: 'write'; ops: WriteOp[] }
  | { c: 'compact'; back: number }
  | {
      c: 'watch';
      stream: number;
      range: RangeSpec;
      start: 'zero' | 'past' | 'future';
      back: number;
      noPut: boolean;
      noDelete: boolean;
      prevKv: boolean;
      progressNotify: boolean;
    }
  | { c: 'cancel'; pick: number }
  | { c: 'resume'; pick: number }
  | { c: 'progress'; stream: number }
  | { c: 'tick'; stream: number }
  | { c: 'block'; stream: number }
  | { c: 'unblock'; stream: number }
  | { c: 'sync' }
  | { c: 'settle' };

const STREAMS = 3;
const streamArb = fc.nat(STREAMS - 1);

const putArb = fc.record({ t: fc.constant('put' as const), key: keyArb, value: valueArb });
const writeArb: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 5, arbitrary: putArb.map((op) => ({ c: 'write' as const, ops: [op] })) },
  {
    weight: 3,
    arbitrary: fc
      .uniqueArray(fc.oneof(putArb, fc.record({ t: fc.constant('del' as const), key: keyArb })), { minLength: 1, maxLength: 4, selector: (o) => o.key })
      .map((ops) => ({ c: 'write' as const, ops })),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(keyArb, fc.constantFrom('', 'b', 'c', 'z'))
      .filter(([s, e]) => e === '' || s < e)
      .map(([start, end]) => ({ c: 'write' as const, ops: [{ t: 'delrange' as const, start, end }] })),
  },
);

const rangeArb: fc.Arbitrary<RangeSpec> = fc.oneof(
  fc.record({ kind: fc.constant('key' as const), key: keyArb }),
  fc.record({ kind: fc.constant('prefix' as const), key: fc.constantFrom('a', 'b', 'd') }),
  fc.record({ kind: fc.constant('from' as const), key: keyArb }),
  fc.tuple(keyArb, keyArb).filter(([a, b]) => a < b).map(([a, b]) => ({ kind: 'range' as const, a, b })),
  fc.constant({ kind: 'all' as const }),
);

const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 10, arbitrary: writeArb },
  { weight: 1, arbitrary: fc.record({ c: fc.constant('compact' as const), back: fc.nat(6) }) },
  {
    weight: 4,
    arbitrary: fc.record({
      c: fc.constant('watch' as const),
      stream: streamArb,
      range: rangeArb,
      start: fc.constantFrom('zero' as const, 'past' as const, 'future' as const),
      back: fc.nat(12),
      noPut: fc.nat(4).map((n) => n === 0),
      noDelete: fc.nat(4).map((n) => n === 0),
      prevKv: fc.boolean(),
      progressNotify: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ c: fc.constant('cancel' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ c: fc.constant('resume' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ c: fc.constant('progress' as const), stream: streamArb }) },
  { weight: 1, arbitrary: fc.record({ c: fc.constant('tick' as const), stream: streamArb }) },
  { weight: 2, arbitrary: fc.record({ c: fc.constant('block' as const), stream: streamArb }) },
  { weight: 2, arbitrary: fc.record({ c: fc.constant('unblock' as const), stream: streamArb }) },
  { weight: 3, arbitrary: fc.constant({ c: 'sync' as const }) },
  { weight: 2, arbitrary: fc.constant({ c: 'settle' as const }) },
);

function toSpec(r: RangeSpec): WatchSpec {
  switch (r.kind) {
    case 'key':
      return { start: r.key, end: undefined };
    case 'prefix':
      return { start: r.key, end: String.fromCharCode(r.key.charCodeAt(0) + 1) };
    case 'from':
      return { start: r.key, end: '' };
    case 'range':
      return { start: r.a, end: r.b };
    case 'all':
      return { start: '\u0000', end: '' };
  }
}

/** what the runs exercised, so a change that stops them from reaching a path is noticed */
const seen = { victims: 0, compactedCancels: 0, bookmarks: 0, deferredProgress: 0, resumedWithEvents: 0, events: 0, catchUpEvents: 0 };

interface Logical {
  spec: WatchSpec;
  fromRev: number;
  /** physical watchers in order, each counted up to the revision the client resumed after */
  parts: Array<{ w: Phys; upTo: number }>;
}

interface Phys {
  stream: number;
  id: number;
  spec: WatchSpec;
  fromRev: number;
  prevKv: boolean;
  received: ReturnType<typeof describeReceived>;
  lastRev: number;
  created: boolean;
  /** a cancel was asked for: events may still come until the canceled response */
  cancelAsked: boolean;
  canceled: boolean;
  cancelAnswered?: boolean;
  compactedAt: number;
  logical: Logical;
}

class Run {
  readonly h: StoreHarness;
  readonly model = new HistoryModel();
  readonly sinks: RecordingSink[] = [];
  readonly streams: WatchStream[] = [];
  private readonly seen: number[] = [];
  private readonly byId: Array<Map<number, Phys>> = [];
  readonly phys: Phys[] = [];
  readonly logicals: Logical[] = [];
  private nextId = 1;
  private readonly compactRevs = new Set<number>();

  constructor() {
    this.h = StoreHarness.open({ manualSync: true, maxRevsPerBatch: 2, maxWatchersPerSync: 2, scanEntriesPerPass: 3, maxScansPerPass: 2 });
    for (let i = 0; i < STREAMS; i++) {
      const sink = new RecordingSink();
      this.sinks.push(sink);
      this.streams.push(this.h.watchable.newStream(sink, { maxResponsesPerWatcher: 2, maxPendingBytes: 400 }));
      this.seen.push(0);
      this.byId.push(new Map());
    }
  }

  active(): Phys[] {
    return this.phys.filter((p) => !p.cancelAsked && !p.canceled && p.compactedAt === 0);
  }

  create(stream: number, spec: WatchSpec, startRev: number, o: { noPut: boolean; noDelete: boolean; prevKv: boolean; progressNotify: boolean }, logical?: Logical): void {
    const id = this.nextId++;
    const fromRev = startRev === 0 ? this.h.store.rev + 1 : startRev;
    const lg = logical ?? { spec, fromRev, parts: [] };
    if (!logical) this.logicals.push(lg);
    const p: Phys = { stream, id, spec, fromRev, prevKv: o.prevKv, received: [], lastRev: 0, created: false, cancelAsked: false, canceled: false, compactedAt: 0, logical: lg };
    lg.parts.push({ w: p, upTo: Infinity });
    this.phys.push(p);
    this.byId[stream]!.set(id, p);
    const got = this.streams[stream]!.watch({
      id,
      range: { start: spec.start, end: spec.end },
      startRev,
      noPut: o.noPut,
      noDelete: o.noDelete,
      prevKv: o.prevKv,
      progressNotify: o.progressNotify,
    });
    assert.equal(got, id);
  }

  async step(cmd: Cmd): Promise<void> {
    const store = this.h.store;
    switch (cmd.c) {
      case 'write':
        this.h.write(cmd.ops);
        this.model.apply(cmd.ops);
        assert.equal(store.rev, this.model.rev);
        break;
      case 'compact': {
        const rev = store.rev - cmd.back;
        if (rev >= 1 && rev > store.compactRev) {
          this.h.compact(rev);
          this.compactRevs.add(rev);
        }
        break;
      }
      case 'watch': {
        const spec = { ...toSpec(cmd.range), noPut: cmd.noPut, noDelete: cmd.noDelete };
        const startRev = cmd.start === 'zero' ? 0 : cmd.start === 'future' ? store.rev + 1 + (cmd.back % 3) : Math.max(1, store.rev - cmd.back);
        this.create(cmd.stream, spec, startRev, cmd);
        break;
      }
      case 'cancel': {
        const act = this.active();
        if (act.length === 0) break;
        const p = act[cmd.pick % act.length]!;
        p.cancelAsked = true;
        assert.equal(this.streams[p.stream]!.cancel(p.id), true);
        break;
      }
      case 'resume': {
        const act = this.active();
        if (act.length === 0) break;
        const p = act[cmd.pick % act.length]!;
        // as a client does: cancel, then watch again from the revision after the last event seen
        p.cancelAsked = true;
        const part = p.logical.parts[p.logical.parts.length - 1]!;
        part.upTo = p.lastRev;
        this.streams[p.stream]!.cancel(p.id);
        const from = p.lastRev > 0 ? p.lastRev + 1 : p.fromRev;
        this.create(p.stream, p.spec, from, { noPut: !!p.spec.noPut, noDelete: !!p.spec.noDelete, prevKv: p.prevKv, progressNotify: false }, p.logical);
        break;
      }
      case 'progress':
        if (this.streams[cmd.stream]!.behind > 0) seen.deferredProgress++;
        this.streams[cmd.stream]!.requestProgress();
        break;
      case 'tick':
        this.streams[cmd.stream]!.progressTick();
        break;
      case 'block':
        this.sinks[cmd.stream]!.blocked = true;
        break;
      case 'unblock':
        this.sinks[cmd.stream]!.blocked = false;
        this.streams[cmd.stream]!.resume();
        break;
      case 'sync':
        this.h.watchable.syncPass();
        break;
      case 'settle':
        await settle();
        break;
    }
    await Promise.resolve();
    if (this.h.watchable.stats().victims > 0) seen.victims++;
    this.check();
  }

  /** Goes through the responses each stream got since the last check, in order. */
  check(): void {
    for (let s = 0; s < STREAMS; s++) {
      const rs = this.sinks[s]!.responses;
      for (; this.seen[s]! < rs.length; this.seen[s]!++) this.checkResponse(s, rs[this.seen[s]!]!);
    }
  }

  private checkResponse(s: number, r: WatchStreamResponse): void {
    if (r.watchId === -1) {
      assert.ok(!r.created && !r.canceled, 'no refused creates are made here');
      // bookmarkable: every watcher of the stream has had every event <= R
      seen.bookmarks++;
      for (const p of this.byId[s]!.values()) if (p.created && !p.canceled && p.compactedAt === 0) this.assertUpTo(p, r.revision);
      return;
    }
    const p = this.byId[s]!.get(r.watchId);
    assert.ok(p, `response for unknown watch ${r.watchId}`);
    if (p.canceled) {
      // etcd keeps a watcher canceled for compaction until the client cancels it, and answers that cancel
      assert.ok(r.canceled && r.compactRevision === 0 && p.compactedAt !== 0 && p.cancelAsked && !p.cancelAnswered, `response for watch ${r.watchId} after its cancel response`);
      p.cancelAnswered = true;
      return;
    }
    if (r.created) {
      assert.ok(!p.created, 'created twice');
      assert.equal(r.events.length, 0);
      p.created = true;
      return;
    }
    assert.ok(p.created, 'response before the created response');
    if (r.canceled) {
      p.canceled = true;
      if (r.compactRevision !== 0) {
        assert.ok(r.compactRevision > p.lastRev, 'canceled for compaction below what it already got');
        assert.ok(r.compactRevision <= this.h.store.compactRev);
        p.compactedAt = r.compactRevision;
        seen.compactedCancels++;
      } else assert.ok(p.cancelAsked, 'canceled without being asked');
      return;
    }
    if (r.events.length === 0) {
      // a progress notification for this watcher
      this.assertUpTo(p, r.revision);
      return;
    }
    const got = describeReceived(r);
    const want = this.want(p.spec, p.fromRev);
    // atomic: every revision in the response is there whole
    for (const rev of new Set(got.map((e) => e.rev))) {
      assert.deepEqual(
        this.comparable(got.filter((e) => e.rev === rev)),
        want.filter((e) => e.rev === rev),
        `revision ${rev} split or wrong for watch ${p.id}`,
      );
    }
    seen.events += got.length;
    if (r.revision !== got[got.length - 1]!.rev) seen.catchUpEvents += got.length;
    for (const e of got) {
      // ordered
      assert.ok(e.rev >= p.lastRev, `watch ${p.id}: revision ${e.rev} after ${p.lastRev}`);
      p.lastRev = e.rev;
      p.received.push(e);
    }
    // reliable and unique: always a prefix of the watcher's history
    const received = this.comparable(p.received);
    assert.deepEqual(received, want.slice(0, received.length), `watch ${p.id} (${JSON.stringify(p.spec)} from ${p.fromRev}) strayed from its history`);
    if (p.prevKv) {
      for (const g of got) {
        const e = this.model.events.find((m) => m.rev === g.rev && m.key === g.key)!;
        if (g.prev !== undefined) assert.equal(g.prev, `${e.prev!.value}@${e.prev!.mod}`);
        else assert.ok(!e.prev || e.rev - 1 < this.h.store.compactRev, `watch ${p.id}: prev_kv missing at ${e.rev}`);
      }
    }
  }

  /**
   * What a watcher of spec from fromRev must get. As in etcd, a compaction at C drops a
   * tombstone written at C, so a watcher that reads revision C from history after that
   * compaction (start == C is allowed: only starts below C are canceled) cannot get a
   * delete at C; such deletes are left out of both sides of every comparison.
   */
  private want(spec: WatchSpec, fromRev: number, toRev = Infinity): ReturnType<typeof describeExpected>[] {
    return expectedEvents(this.model, spec, fromRev, toRev)
      .filter((e) => !(e.type === 'delete' && this.compactRevs.has(e.rev)))
      .map(describeExpected);
  }

  private comparable(got: ReturnType<typeof describeReceived>): Array<Omit<ReturnType<typeof describeReceived>[number], 'prev'>> {
    return got.filter((e) => !(e.type === 'delete' && this.compactRevs.has(e.rev))).map(({ prev: _prev, ...e }) => e);
  }

  private assertUpTo(p: Phys, rev: number): void {
    assert.deepEqual(this.comparable(p.received), this.want(p.spec, p.fromRev, rev), `progress at ${rev} while watch ${p.id} misses events`);
  }

  /** Lets everything drain and catch up, then checks every watcher got its whole history. */
  async finish(): Promise<void> {
    for (let s = 0; s < STREAMS; s++) {
      this.sinks[s]!.blocked = false;
      this.streams[s]!.resume();
    }
    for (let i = 0; i < 10_000; i++) {
      await settle();
      const st = this.h.watchable.stats();
      if (st.unsynced === 0 && st.victims === 0 && st.pendingResponses === 0) break;
      this.h.watchable.syncPass();
    }
    await settle();
    this.check();
    const st = this.h.watchable.stats();
    assert.equal(st.unsynced + st.victims + st.pendingResponses, 0, `did not settle: ${JSON.stringify(st)}`);
    for (const p of this.phys) {
      if (p.cancelAsked || p.compactedAt !== 0) continue;
      assert.ok(p.created);
      assert.deepEqual(this.comparable(p.received), this.want(p.spec, p.fromRev), `watch ${p.id} incomplete`);
    }
    // resumable: the pieces of a resumed watch make up its history exactly
    for (const lg of this.logicals) {
      const last = lg.parts[lg.parts.length - 1]!.w;
      if (last.compactedAt !== 0 || (last.cancelAsked && lg.parts[lg.parts.length - 1]!.upTo === Infinity)) continue;
      if (lg.parts.length > 1 && lg.parts[0]!.w.received.length > 0) seen.resumedWithEvents++;
      const joined = this.comparable(lg.parts.flatMap((part) => part.w.received.filter((e) => e.rev <= part.upTo)));
      assert.deepEqual(joined, this.want(lg.spec, lg.fromRev), 'resumed watch differs from its history');
    }
  }
}

test('watch guarantees hold on random histories (ordered, unique, reliable, atomic, resumable, bookmarkable)', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(cmdArb, { minLength: 20, maxLength: 150, size: 'large' }), async (cmds) => {
      const run = new Run();
      try {
        for (const cmd of cmds) await run.step(cmd);
        await run.finish();
      } finally {
        await run.h.close();
      }
    }),
    { numRuns: Number(process.env['WATCH_PROPERTY_RUNS'] ?? 150), includeErrorInReport: true },
  );
  console.log('# exercised:', JSON.stringify(seen));
  for (const [what, n] of Object.entries(seen)) assert.ok(n > 0, `the runs never exercised ${what}`);
});
