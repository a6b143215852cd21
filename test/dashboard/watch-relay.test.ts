// The dashboard's watch relay keeps a busy watch cheap and honest: a burst of events
// reaches the browser as one write holding the newest MAX_EVENTS_PER_FLUSH events and a
// {"skipped": n} line counting the ones left out (so shown + skipped = all), the
// "created" response is never dropped, nothing is written while the browser is behind,
// and the queue stays bounded however long it is behind.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_EVENTS_PER_FLUSH, scanWatchResponse, WatchRelay } from '../../src/dashboard/watch-relay.js';
import { ResponseHeader, WatchResponse } from '../../src/proto/etcdserverpb.js';
import { Event_EventType } from '../../src/proto/mvccpb.js';

function eventsResponse(revs: number[]): Uint8Array {
  return WatchResponse.encode(
    WatchResponse.create({
      events: revs.map((rev) => ({ type: Event_EventType.PUT, kv: { key: Buffer.from(`k${rev}`), value: Buffer.from('v'), mod_revision: rev, create_revision: rev, version: 1, lease: 0n } })),
    }),
  );
}

interface Line {
  result?: { created?: boolean; events?: Array<{ kv: { mod_revision: string } }> };
  skipped?: number;
}

function relayInto(): { relay: WatchRelay; writes: string[]; sink: { backedUp: boolean } } {
  const writes: string[] = [];
  const sink = {
    backedUp: false,
    write: (text: string) => (writes.push(text), true),
  };
  return { relay: new WatchRelay(sink), writes, sink };
}

const lines = (text: string): Line[] => text.trimEnd().split('\n').map((l) => JSON.parse(l) as Line);

test('scanWatchResponse counts events and spots control responses without decoding', () => {
  assert.deepEqual(scanWatchResponse(eventsResponse([5, 6, 7])), { events: 3, control: false });
  assert.deepEqual(scanWatchResponse(WatchResponse.encode(WatchResponse.create({ created: true }))), { events: 0, control: true });
  assert.deepEqual(scanWatchResponse(WatchResponse.encode(WatchResponse.create({ compact_revision: 9, canceled: true }))), { events: 0, control: true });
  assert.deepEqual(scanWatchResponse(WatchResponse.encode(WatchResponse.create({ header: ResponseHeader.create({ revision: 4 }) }))), { events: 0, control: false });
});

test('a burst is thinned to the newest events, with the rest counted, in one write', () => {
  const { relay, writes } = relayInto();
  try {
    relay.push(WatchResponse.encode(WatchResponse.create({ created: true })));
    const total = 1000;
    for (let rev = 1; rev <= total; rev++) relay.push(eventsResponse([rev]));
    relay.flush();
    assert.equal(writes.length, 1, 'one write per flush');
    const got = lines(writes[0]!);
    assert.equal(got[0]!.result?.created, true, 'the created response survives the thinning');
    const skipped = got.filter((l) => l.skipped).reduce((n, l) => n + l.skipped!, 0);
    const shown = got.flatMap((l) => l.result?.events ?? []).map((e) => Number(e.kv.mod_revision));
    assert.equal(shown.length, MAX_EVENTS_PER_FLUSH);
    assert.equal(skipped + shown.length, total, 'every event is either shown or counted');
    assert.deepEqual(shown, Array.from({ length: MAX_EVENTS_PER_FLUSH }, (_, i) => total - MAX_EVENTS_PER_FLUSH + 1 + i), 'the newest, in order');
    relay.flush();
    assert.equal(writes.length, 1, 'nothing new, nothing written');
  } finally {
    relay.close();
  }
});

test('while the browser is behind nothing is written and the queue stays bounded', () => {
  const { relay, writes, sink } = relayInto();
  try {
    sink.backedUp = true;
    for (let rev = 1; rev <= 5000; rev++) relay.push(eventsResponse([rev]));
    relay.flush();
    assert.equal(writes.length, 0);
    assert.ok((relay as unknown as { queue: unknown[] }).queue.length <= MAX_EVENTS_PER_FLUSH, 'queue bounded');
    sink.backedUp = false;
    relay.flush();
    const got = lines(writes[0]!);
    assert.equal(got[0]!.skipped, 5000 - MAX_EVENTS_PER_FLUSH);
    relay.push(eventsResponse([5001]));
    relay.flush();
    assert.deepEqual(lines(writes[1]!).map((l) => l.result?.events?.length), [1], 'a quiet watch passes every event through');
  } finally {
    relay.close();
  }
});
