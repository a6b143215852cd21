// Unit tests of the watch machinery: the interval tree, etcd's rules for watch IDs and
// ranges, filters, prev_kv, compaction, progress, fragmentation and the stream limits.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { IntervalTree } from '../../src/watch/interval-tree.js';
import { WatcherGroup } from '../../src/watch/watcher-group.js';
import { createOptions, encodeWatchResponse } from '../../src/api/watch-service.js';
import { ResponseHeader, WatchCreateRequest, WatchCreateRequest_FilterType, WatchResponse } from '../../src/proto/etcdserverpb.js';
import { Event, Event_EventType } from '../../src/proto/mvccpb.js';
import { INVALID_WATCH_ID, WatchErrors, type WatchStreamResponse } from '../../src/watch/watchable-store.js';
import { RecordingSink, settle, StoreHarness } from './harness.js';

const HEADER = { cluster_id: 1n, member_id: 2n, revision: 0, raft_term: 3 };

function inRange(k: string, s: string, e: string): boolean {
  return k >= s && (e === '' || k < e);
}

test('interval tree answers stabs like a list scan, through inserts and deletes', () => {
  const keyArb = fc.constantFrom('', 'a', 'ab', 'b', 'ba', 'c', 'z', '\u00ff', '\u0000');
  const opArb = fc.oneof(
    fc.record({ t: fc.constant('set' as const), s: keyArb, e: keyArb }),
    fc.record({ t: fc.constant('del' as const), s: keyArb, e: keyArb }),
    fc.record({ t: fc.constant('stab' as const), k: keyArb }),
  );
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 200 }), (ops) => {
      const tree = new IntervalTree<string>();
      const naive = new Map<string, { s: string; e: string }>();
      for (const op of ops) {
        if (op.t === 'stab') {
          const got: string[] = [];
          tree.stab(op.k, (v) => got.push(v));
          const want = [...naive.entries()].filter(([, iv]) => inRange(op.k, iv.s, iv.e)).map(([id]) => id);
          assert.deepEqual(got.sort(), want.sort());
          continue;
        }
        if (op.e !== '' && op.e <= op.s) continue;
        const id = JSON.stringify([op.s, op.e]);
        if (op.t === 'set') {
          tree.set({ start: op.s, end: op.e }, id);
          naive.set(id, { s: op.s, e: op.e });
        } else assert.equal(tree.delete({ start: op.s, end: op.e }), naive.delete(id));
        tree.assertValid();
        assert.equal(tree.size, naive.size);
      }
    }),
    { numRuns: 300 },
  );
});

test('watcher group finds single-key, range and from-key watchers, each once', () => {
  const g = new WatcherGroup<{ range: { start: string; end: string | undefined }; n: number }>();
  const ws = [
    { range: { start: 'a', end: undefined }, n: 0 },
    { range: { start: 'a', end: 'b' }, n: 1 },
    { range: { start: 'a', end: 'b' }, n: 2 },
    { range: { start: 'a', end: '' }, n: 3 },
    { range: { start: 'b', end: 'c' }, n: 4 },
  ];
  for (const w of ws) g.add(w);
  const at = (k: string): number[] => {
    const out: number[] = [];
    g.forEachWatching(k, (w) => out.push(w.n));
    return out.sort();
  };
  assert.deepEqual(at('a'), [0, 1, 2, 3]);
  assert.deepEqual(at('ab'), [1, 2, 3]);
  assert.deepEqual(at('b'), [3, 4]);
  assert.deepEqual(at('0'), []);
  g.delete(ws[1]!);
  g.delete(ws[3]!);
  assert.deepEqual(at('ab'), [2]);
  assert.equal(g.contains('bz'), true);
  assert.equal(g.contains('c'), false);
  assert.throws(() => g.add(ws[0]!));
});

async function withStore(fn: (h: StoreHarness) => Promise<void>, opts = {}): Promise<void> {
  const h = StoreHarness.open(opts);
  try {
    await fn(h);
  } finally {
    await h.close();
  }
}

const summary = (rs: WatchStreamResponse[]) =>
  rs.map((r) => ({
    id: r.watchId,
    rev: r.revision,
    ...(r.created ? { created: true } : {}),
    ...(r.canceled ? { canceled: true } : {}),
    ...(r.compactRevision ? { compact: r.compactRevision } : {}),
    ...(r.cancelReason ? { reason: r.cancelReason } : {}),
    ...(r.events.length ? { events: r.events.map((e) => `${e.type === Event_EventType.PUT ? 'PUT' : 'DEL'} ${Buffer.from(e.kv.key).toString()}@${e.rev}`) } : {}),
  }));

test("watch IDs follow etcd's rules: auto IDs skip used ones, duplicates and empty ranges are refused", () =>
  withStore(async (h) => {
    const sink = new RecordingSink();
    const s = h.watchable.newStream(sink, { maxWatchers: 4 });
    const range = { start: 'k', end: undefined };
    assert.equal(s.watch({ id: 1, range, startRev: 0 }), 1);
    assert.equal(s.watch({ id: 0, range, startRev: 0 }), 0);
    assert.equal(s.watch({ id: 0, range, startRev: 0 }), 2); // 1 is taken
    assert.equal(s.watch({ id: 2, range, startRev: 0 }), INVALID_WATCH_ID);
    assert.equal(s.watch({ id: 9, range: { start: 'b', end: 'a' }, startRev: 0 }), INVALID_WATCH_ID);
    assert.equal(s.watch({ id: 9, range: { start: 'a', end: 'a' }, startRev: 0 }), INVALID_WATCH_ID);
    assert.equal(s.watch({ id: 0, range, startRev: 0 }), 3);
    assert.equal(s.watch({ id: 0, range, startRev: 0 }), INVALID_WATCH_ID); // limit of 4
    assert.equal(s.cancel(7), false);
    assert.equal(s.cancel(1), true);
    assert.equal(s.cancel(1), false);
    assert.equal(s.watch({ id: 0, range, startRev: 0 }), 4);
    await settle();
    assert.deepEqual(summary(sink.responses), [
      { id: 1, rev: 1, created: true },
      { id: 0, rev: 1, created: true },
      { id: 2, rev: 1, created: true },
      { id: -1, rev: 1, created: true, canceled: true, reason: WatchErrors.duplicateId },
      { id: -1, rev: 1, created: true, canceled: true, reason: WatchErrors.emptyRange },
      { id: -1, rev: 1, created: true, canceled: true, reason: WatchErrors.emptyRange },
      { id: 3, rev: 1, created: true },
      { id: -1, rev: 1, created: true, canceled: true, reason: WatchErrors.tooManyWatchers },
      { id: 1, rev: 1, canceled: true },
      { id: 4, rev: 1, created: true },
    ]);
    assert.equal(WatchErrors.duplicateId, 'mvcc: duplicate watch ID provided on the WatchStream');
    assert.equal(WatchErrors.emptyRange, 'mvcc: watcher range is empty');
  }));

test('a create request reads like etcd: empty key is \\x00, range_end \\x00 means from-key, filters', () => {
  const o = createOptions(WatchCreateRequest.create({ key: new Uint8Array(0), range_end: new Uint8Array([0]), filters: [WatchCreateRequest_FilterType.NODELETE] }));
  assert.deepEqual(o.range, { start: '\u0000', end: '' });
  assert.equal(o.noDelete, true);
  assert.equal(o.noPut, false);
  const single = createOptions(WatchCreateRequest.create({ key: Buffer.from('k') }));
  assert.deepEqual(single.range, { start: 'k', end: undefined });
  const prefix = createOptions(WatchCreateRequest.create({ key: Buffer.from('k'), range_end: Buffer.from('l'), filters: [WatchCreateRequest_FilterType.NOPUT] }));
  assert.deepEqual(prefix.range, { start: 'k', end: 'l' });
  assert.equal(prefix.noPut, true);
});

test('filters, prev_kv, and live vs history events agree', () =>
  withStore(
    async (h) => {
      h.put('k', 'v1'); // rev 2
      h.put('k', 'v2'); // rev 3
      const sink = new RecordingSink();
      const s = h.watchable.newStream(sink);
      const range = { start: 'k', end: undefined };
      s.watch({ id: 1, range, startRev: 2, prevKv: true }); // from history
      s.watch({ id: 2, range, startRev: 0, prevKv: true, noPut: true }); // live, deletes only
      s.watch({ id: 3, range, startRev: 0, noDelete: true }); // live, puts only
      h.watchable.syncPass();
      h.write([{ t: 'del', key: 'k' }]); // rev 4
      h.put('k', 'v3'); // rev 5
      await settle();
      const byId = (id: number) => sink.responses.filter((r) => r.watchId === id && r.events.length > 0);
      const fmt = (r: WatchStreamResponse) =>
        r.events.map((e) => [e.type, e.rev, Buffer.from(e.kv.value).toString(), r.prevKv && e.prevKv ? Buffer.from(e.prevKv.value).toString() : null]);
      assert.deepEqual(byId(1).map(fmt), [
        [
          [Event_EventType.PUT, 2, 'v1', null],
          [Event_EventType.PUT, 3, 'v2', 'v1'],
        ],
        [[Event_EventType.DELETE, 4, '', 'v2']],
        [[Event_EventType.PUT, 5, 'v3', null]],
      ]);
      assert.deepEqual(byId(2).map(fmt), [[[Event_EventType.DELETE, 4, '', 'v2']]]);
      assert.deepEqual(byId(3).map(fmt), [[[Event_EventType.PUT, 5, 'v3', null]]]);
      // history and live events are encoded the same way
      const hist = byId(1)[0]!.events[1]!.encoded(false);
      assert.equal(byId(1)[0]!.revision, 3);
      assert.ok(hist.length > 0);
    },
    { manualSync: true },
  ));

test('a watcher whose start revision is compacted is created, then canceled with compact_revision', () =>
  withStore(
    async (h) => {
      for (let i = 0; i < 5; i++) h.put('k', `v${i}`); // revs 2..6
      h.compact(4);
      await settle();
      const sink = new RecordingSink();
      const s = h.watchable.newStream(sink);
      s.watch({ id: 1, range: { start: 'k', end: undefined }, startRev: 3 });
      s.watch({ id: 2, range: { start: 'k', end: undefined }, startRev: 4 });
      h.watchable.syncPass();
      await settle();
      assert.deepEqual(summary(sink.responses), [
        { id: 1, rev: 6, created: true },
        { id: 2, rev: 6, created: true },
        { id: 1, rev: 0, canceled: true, compact: 4 },
        { id: 2, rev: 6, events: ['PUT k@4', 'PUT k@5', 'PUT k@6'] },
      ]);
      // the canceled watcher keeps its ID until the client cancels it, as in etcd
      assert.equal(s.watch({ id: 1, range: { start: 'k', end: undefined }, startRev: 0 }), INVALID_WATCH_ID);
      assert.equal(s.cancel(1), true);
    },
    { manualSync: true },
  ));

test('progress requests wait until every watcher of the stream is synced', () =>
  withStore(
    async (h) => {
      for (let i = 0; i < 3; i++) h.put('k', `v${i}`); // revs 2..4
      const sink = new RecordingSink();
      const s = h.watchable.newStream(sink);
      s.requestProgress(); // no watchers: answered at once
      s.watch({ id: 1, range: { start: 'k', end: undefined }, startRev: 0 });
      s.watch({ id: 2, range: { start: 'k', end: undefined }, startRev: 2 });
      s.requestProgress(); // watcher 2 is behind: deferred
      s.requestProgress(); // coalesced with the deferred one
      h.put('k', 'v3'); // rev 5
      await settle();
      assert.deepEqual(summary(sink.responses).slice(-2), [{ id: 2, rev: 4, created: true }, { id: 1, rev: 5, events: ['PUT k@5'] }]);
      h.watchable.syncPass();
      await settle();
      assert.deepEqual(summary(sink.responses), [
        { id: -1, rev: 4 },
        { id: 1, rev: 4, created: true },
        { id: 2, rev: 4, created: true },
        { id: 1, rev: 5, events: ['PUT k@5'] },
        { id: 2, rev: 5, events: ['PUT k@2', 'PUT k@3', 'PUT k@4', 'PUT k@5'] },
        { id: -1, rev: 5 },
      ]);
    },
    { manualSync: true },
  ));

test('progress ticks go to synced progress_notify watchers that had no events since the last tick', () =>
  withStore(async (h) => {
    const sink = new RecordingSink();
    const s = h.watchable.newStream(sink);
    s.watch({ id: 1, range: { start: 'a', end: undefined }, startRev: 0, progressNotify: true });
    s.watch({ id: 2, range: { start: 'b', end: undefined }, startRev: 0, progressNotify: true });
    s.watch({ id: 3, range: { start: 'a', end: undefined }, startRev: 0 });
    h.put('a', '1'); // rev 2
    s.progressTick();
    h.put('a', '2'); // rev 3
    s.progressTick();
    await settle();
    assert.deepEqual(summary(sink.responses).slice(3), [
      { id: 1, rev: 2, events: ['PUT a@2'] },
      { id: 3, rev: 2, events: ['PUT a@2'] },
      { id: 2, rev: 2 },
      { id: 1, rev: 3, events: ['PUT a@3'] },
      { id: 3, rev: 3, events: ['PUT a@3'] },
      { id: 2, rev: 3 },
    ]);
  }));

test('a stream whose client sends requests but never reads is ended, not left to grow', () =>
  withStore(async (h) => {
    const sink = new RecordingSink();
    sink.blocked = true;
    const s = h.watchable.newStream(sink, { maxControlBacklog: 10 });
    for (let i = 0; i < 20; i++) s.requestProgress();
    await settle();
    assert.equal(sink.overflowed, true);
  }));

test('a single write with many events to a blocked stream makes the watcher a victim; it resumes from history', () =>
  withStore(
    async (h) => {
      const sink = new RecordingSink();
      const s = h.watchable.newStream(sink, { maxResponsesPerWatcher: 2, maxPendingBytes: 1 << 20 });
      s.watch({ id: 1, range: { start: 'a', end: '' }, startRev: 0 });
      sink.blocked = true;
      await settle(); // the created response goes out; the sink says it is full
      for (let i = 0; i < 10; i++) h.write([{ t: 'put', key: `a${i}`, value: 'x' }, { t: 'put', key: `b${i}`, value: 'y' }]);
      assert.equal(s.stats().pendingResponses, 2);
      assert.equal(s.stats().victims, 1);
      sink.blocked = false;
      s.resume();
      for (let i = 0; i < 20 && h.watchable.stats().synced === 0; i++) {
        await settle();
        h.watchable.syncPass();
      }
      await settle();
      const revs = sink.responses.flatMap((r) => r.events.map((e) => e.rev));
      assert.deepEqual(revs, Array.from({ length: 20 }, (_, i) => 2 + Math.floor(i / 2)));
      // every response holds whole revisions
      for (const r of sink.responses) if (r.events.length) assert.equal(r.events.length % 2, 0);
    },
    { manualSync: true },
  ));

test('fragments: split only when asked, at the limit, never inside an event, last one unflagged', () => {
  const ev = (n: number, size: number) => {
    const kv = { key: Buffer.from(`k${n}`), value: Buffer.alloc(size, 0x61), create_revision: 2, mod_revision: 2, version: 1, lease: 0n };
    return { type: Event_EventType.PUT, kv, key: `k${n}`, prevKv: undefined, rev: 2, isCreate: true, encoded: () => Buffer.from(encodeEvent(kv)) };
  };
  const events = Array.from({ length: 10 }, (_, i) => ev(i, 300));
  const base = { watchId: 5, revision: 2, created: false, canceled: false, compactRevision: 0, cancelReason: '', prevKv: false, bytes: 0, owner: undefined };
  const r = { ...base, events, fragment: true } as unknown as WatchStreamResponse;
  const whole = encodeWatchResponse({ ...r, fragment: false } as WatchStreamResponse, HEADER, 1000);
  assert.equal(whole.length, 1);
  const parts = encodeWatchResponse(r, HEADER, 1000);
  assert.ok(parts.length > 1);
  const decoded = parts.map((p) => WatchResponse.decode(p));
  assert.deepEqual(
    decoded.map((d) => d.fragment),
    decoded.map((_, i) => i < decoded.length - 1),
  );
  for (const p of parts) assert.ok(p.length < 1000);
  const keys = decoded.flatMap((d) => d.events.map((e) => Buffer.from(e.kv!.key).toString()));
  assert.deepEqual(keys, events.map((e) => e.key));
  for (const d of decoded) {
    assert.equal(d.watch_id, 5);
    assert.equal(d.header!.raft_term, 3);
  }
  const one = encodeWatchResponse({ ...r, events: [ev(0, 5000)] } as unknown as WatchStreamResponse, HEADER, 1000);
  assert.equal(one.length, 1);
  assert.deepEqual(WatchResponse.decode(whole[0]!).events.length, 10);
});

function encodeEvent(kv: Event['kv']): Uint8Array {
  return Event.encode({ type: Event_EventType.PUT, kv, prev_kv: undefined });
}

test('the fast path for plain responses encodes exactly what the codec does', () => {
  fc.assert(
    fc.property(fc.nat(2 ** 40), fc.nat(3), fc.integer({ min: 0, max: 2 ** 40 }), fc.nat(2 ** 20), (watchId, n, revision, term) => {
      const header = { cluster_id: 0xfedcba9876543210n, member_id: 7n, revision, raft_term: term };
      const kv = { key: Buffer.from('k'), value: Buffer.alloc(200, 1), create_revision: 2, mod_revision: 3, version: 2, lease: 0n };
      const events = Array.from({ length: n }, () => ({ encoded: () => Buffer.from(encodeEvent(kv)) }));
      const r = { watchId, revision, events, created: false, canceled: false, compactRevision: 0, cancelReason: '', prevKv: false, fragment: false, bytes: 0, owner: undefined } as unknown as WatchStreamResponse;
      const slow = encodeWatchResponse(r, header, 1 << 30);
      const fast = encodeWatchResponse(r, header, 1 << 30, Buffer.from(ResponseHeader.encode(header)));
      assert.deepEqual(fast, slow);
    }),
  );
});
