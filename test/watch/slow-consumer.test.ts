// A watcher whose client stops reading while 50,000 writes happen: what the member holds
// for it stays bounded (it becomes a victim; nothing is queued for it), and once the
// client reads again it gets every event, in order, caught up from the backend.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_WATCH_STREAM_LIMITS, type WatchStreamResponse } from '../../src/watch/watchable-store.js';
import { RecordingSink, settle, StoreHarness } from './harness.js';

const WRITES = 50_000;
const VALUE = 'v'.repeat(100);

test(`a stalled watcher stays bounded through ${WRITES} writes, then gets every event in order`, async () => {
  const h = StoreHarness.open();
  try {
    const sink = new RecordingSink();
    const stream = h.watchable.newStream(sink);
    const live = new RecordingSink();
    const liveStream = h.watchable.newStream(live);
    stream.watch({ id: 0, range: { start: 'k/', end: 'k0' }, startRev: 0, prevKv: true });
    liveStream.watch({ id: 0, range: { start: 'k/', end: 'k0' }, startRev: 0 });
    const firstRev = h.store.rev + 1;
    sink.blocked = true;
    await settle(); // the created response goes out and the client stops reading

    let maxPendingBytes = 0;
    let maxPendingResponses = 0;
    for (let i = 0; i < WRITES; i++) {
      h.put(`k/${i % 1000}`, VALUE);
      if (i % 250 === 0) {
        await settle(); // let timers (sync passes) and pumps run as they would between writes
        const st = stream.stats();
        maxPendingBytes = Math.max(maxPendingBytes, st.pendingBytes);
        maxPendingResponses = Math.max(maxPendingResponses, st.pendingResponses);
      }
    }
    const stalled = stream.stats();
    assert.equal(stalled.victims, 1, 'the stalled watcher is a victim');
    assert.ok(maxPendingResponses <= DEFAULT_WATCH_STREAM_LIMITS.maxResponsesPerWatcher, `queued ${maxPendingResponses} responses`);
    assert.ok(maxPendingBytes <= DEFAULT_WATCH_STREAM_LIMITS.maxPendingBytes, `queued ${maxPendingBytes} bytes`);
    // the live watcher on another stream was not held up
    await settle();
    assert.equal(live.responses.reduce((n, r) => n + r.events.length, 0), WRITES);

    // the client reads again: everything arrives, in order, bounded all the way
    let maxDrainPending = 0;
    const drained: WatchStreamResponse[] = [];
    sink.blocked = false;
    sink.send = (r) => {
      drained.push(r);
      maxDrainPending = Math.max(maxDrainPending, stream.stats().pendingBytes);
      return true;
    };
    const startMs = Date.now();
    stream.resume();
    while (drained.reduce((n, r) => n + r.events.length, 0) + sink.responses.reduce((n, r) => n + r.events.length, 0) < WRITES) {
      if (Date.now() - startMs > 60_000) assert.fail(`caught up ${JSON.stringify(h.watchable.stats())}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    const catchUpMs = Date.now() - startMs;
    const all = [...sink.responses, ...drained].filter((r) => r.events.length > 0);
    const revs = all.flatMap((r) => r.events.map((e) => e.rev));
    assert.equal(revs.length, WRITES);
    for (let i = 0; i < revs.length; i++) assert.equal(revs[i], firstRev + i, `event ${i}`);
    for (const r of all) {
      assert.ok(r.events.length <= 1000, 'a catch-up response holds at most 1000 revisions');
      for (const e of r.events) if (e.rev > firstRev + 999) assert.equal(r.prevKv && e.prevKv?.mod_revision, e.rev - 1000);
    }
    assert.ok(maxDrainPending <= DEFAULT_WATCH_STREAM_LIMITS.maxPendingBytes);
    const st = h.watchable.stats();
    assert.equal(st.unsynced + st.victims, 0);
    console.log(
      `# stalled: max ${maxPendingResponses} responses / ${maxPendingBytes} bytes queued; caught up ${WRITES} events in ${catchUpMs} ms, ` +
        `${all.length} responses, ${st.syncPasses} sync passes, ${st.historyEntriesRead} history entries read`,
    );
  } finally {
    await h.close();
  }
});
