// Concurrent writers against a real tsetcd member (puts, multi-op txns, range deletes
// from 8 clients at once) while watchers of several shapes follow, one of them canceled
// and resumed at last+1 halfway. Every watcher's events are then held against the
// history read back through KV Range at each revision (an oracle that does not use the
// watch code): ordered, unique, no gaps, each revision whole in one response.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { UnaryClient } from '../../src/client/unary-client.js';
import {
  DeleteRangeRequest,
  PutRequest,
  RangeRequest,
  RangeResponse,
  RequestOp,
  TxnRequest,
  TxnResponse,
  type WatchResponse,
} from '../../src/proto/etcdserverpb.js';
import { Event_EventType } from '../../src/proto/mvccpb.js';
import { freePorts, startMember, TSETCD_BIN } from '../e2e/harness.js';
import { tempDir } from '../helpers/tmp.js';
import { WatchClient } from './watch-client.js';

const KEYS = ['c/a', 'c/b', 'c/c', 'c/d', 'c/e', 'c/f', 'd/x'];
const WRITERS = 8;
const OPS_PER_WRITER = 60;

type Ev = { rev: number; type: number; key: string; value: string };

function op(o: Partial<RequestOp>): RequestOp {
  return { request_range: undefined, request_put: undefined, request_delete_range: undefined, request_txn: undefined, ...o };
}

async function txn(c: UnaryClient, ops: RequestOp[]): Promise<number> {
  const req = TxnRequest.create({ success: ops });
  return TxnResponse.decode(await c.call('/etcdserverpb.KV/Txn', TxnRequest.encode(req), { timeoutMs: 10_000 })).header!.revision;
}

/** The events of revisions (from, to], read back through Range at each revision. */
async function oracle(c: UnaryClient, from: number, to: number): Promise<Ev[]> {
  const at = async (rev: number) => {
    const req = RangeRequest.create({ key: Buffer.from('\0'), range_end: Buffer.from([0]), revision: rev });
    const kvs = RangeResponse.decode(await c.call('/etcdserverpb.KV/Range', RangeRequest.encode(req), { timeoutMs: 10_000 })).kvs;
    return new Map(kvs.map((kv) => [Buffer.from(kv.key).toString(), kv]));
  };
  const out: Ev[] = [];
  let before = await at(from);
  for (let rev = from + 1; rev <= to; rev++) {
    const now = await at(rev);
    const evs: Ev[] = [];
    for (const [k, kv] of now) if (kv.mod_revision === rev) evs.push({ rev, type: Event_EventType.PUT, key: k, value: Buffer.from(kv.value).toString() });
    for (const k of before.keys()) if (!now.has(k)) evs.push({ rev, type: Event_EventType.DELETE, key: k, value: '' });
    assert.ok(evs.length > 0, `revision ${rev} changed nothing`);
    out.push(...evs.sort((a, b) => (a.key < b.key ? -1 : 1)));
    before = now;
  }
  return out;
}

/** A watcher's events, with each revision's events sorted by key (the oracle cannot see sub-revision order). */
function received(rs: WatchResponse[], id: number): Ev[] {
  const out: Ev[] = [];
  for (const r of rs.filter((x) => x.watch_id === id && x.events.length > 0)) {
    const byRev = new Map<number, Ev[]>();
    for (const e of r.events) {
      const ev = { rev: e.kv!.mod_revision, type: e.type, key: Buffer.from(e.kv!.key).toString(), value: Buffer.from(e.kv!.value).toString() };
      byRev.set(ev.rev, [...(byRev.get(ev.rev) ?? []), ev]);
    }
    for (const evs of byRev.values()) out.push(...evs.sort((a, b) => (a.key < b.key ? -1 : 1)));
  }
  return out;
}

test('watchers follow concurrent writers exactly (checked against Range at every revision)', { timeout: 120_000 }, async () => {
  const { dir, cleanup } = tempDir();
  const ports = await freePorts();
  const member = await startMember({ bin: TSETCD_BIN, dataDir: path.join(dir, 'm'), ports });
  const unary = new UnaryClient(member.clientUrl);
  try {
    const startRev = await txn(unary, [op({ request_put: PutRequest.create({ key: Buffer.from('c/a'), value: Buffer.from('init') }) })]);
    const wc = new WatchClient(member.clientUrl);
    const specs: Array<{ id: number; key: string; end?: string; start: number; filter?: (e: Ev) => boolean }> = [
      { id: 1, key: 'c/', end: 'c0', start: startRev + 1, filter: (e) => e.key.startsWith('c/') },
      { id: 2, key: 'c/c', start: startRev + 1, filter: (e) => e.key === 'c/c' },
      { id: 3, key: '\0', end: '\0', start: startRev + 1, filter: () => true },
      { id: 4, key: 'c/b', end: 'c/e', start: startRev + 1, filter: (e) => e.key >= 'c/b' && e.key < 'c/e' },
    ];
    for (const s of specs) wc.create({ key: s.key, range_end: s.end === '\0' ? Buffer.from([0]) : s.end, start_revision: s.start, watch_id: s.id });
    const clients = Array.from({ length: WRITERS }, () => new UnaryClient(member.clientUrl));
    let resumedAt = 0;
    let seq = 0;
    const writer = async (c: UnaryClient, w: number) => {
      for (let i = 0; i < OPS_PER_WRITER; i++) {
        const pick = (n: number) => KEYS[(w * 7 + i * 3 + n) % KEYS.length]!;
        const kind = (w + i) % 5;
        if (kind === 3) {
          const req = DeleteRangeRequest.create({ key: Buffer.from('c/b'), range_end: Buffer.from('c/e') });
          await c.call('/etcdserverpb.KV/DeleteRange', DeleteRangeRequest.encode(req), { timeoutMs: 10_000 });
        } else if (kind === 4) {
          const keys = [...new Set([pick(0), pick(1), pick(2)])];
          await txn(
            c,
            keys.map((k, j) =>
              j === 1
                ? op({ request_delete_range: DeleteRangeRequest.create({ key: Buffer.from(k) }) })
                : op({ request_put: PutRequest.create({ key: Buffer.from(k), value: Buffer.from(`t${w}.${i}.${seq++}`) }) }),
            ),
          );
        } else {
          const req = PutRequest.create({ key: Buffer.from(pick(0)), value: Buffer.from(`p${w}.${i}.${seq++}`) });
          await c.call('/etcdserverpb.KV/Put', PutRequest.encode(req), { timeoutMs: 10_000 });
        }
        if (w === 0 && i === OPS_PER_WRITER / 2) {
          // watcher 2 is canceled and resumed after the last revision it saw
          const seen = received(wc.responses, 2);
          resumedAt = (seen[seen.length - 1]?.rev ?? startRev) + 1;
          wc.cancel(2);
          wc.create({ key: 'c/c', start_revision: resumedAt, watch_id: 12 });
        }
      }
    };
    await Promise.all(clients.map((c, w) => writer(c, w)));
    const endRev = await txn(unary, [op({ request_put: PutRequest.create({ key: Buffer.from('c/zz'), value: Buffer.from('end') }) })]);
    await wc.waitFor((rs) => received(rs, 3).some((e) => e.rev === endRev), 30_000, 'the last write');
    await new Promise((r) => setTimeout(r, 200));
    const history = await oracle(unary, startRev, endRev);
    for (const s of specs) {
      if (s.id === 2) continue;
      assert.deepEqual(received(wc.responses, s.id), history.filter(s.filter!), `watcher ${s.id}`);
    }
    const cut = (id: number, upTo: number) => received(wc.responses, id).filter((e) => e.rev <= upTo);
    assert.deepEqual([...cut(2, resumedAt - 1), ...received(wc.responses, 12)], history.filter(specs[1]!.filter!), 'resumed watcher');
    // atomic: a revision's events for a watcher are in one response
    for (const id of [1, 3, 4, 12]) {
      const revs = wc.responses.filter((r) => r.watch_id === id && r.events.length > 0).flatMap((r) => [...new Set(r.events.map((e) => e.kv!.mod_revision))]);
      assert.equal(new Set(revs).size, revs.length, `watcher ${id} got a revision split over responses`);
    }
    for (const c of clients) c.close();
    wc.close();
  } finally {
    unary.close();
    await member.stop();
    cleanup();
  }
});
