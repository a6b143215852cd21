// The same Watch conversation, over raw gRPC, with real etcd 3.4 and with tsetcd, each
// started on the same ports (so cluster and member IDs match): every response must be
// the same, header included. Covers auto and client-chosen IDs, duplicate IDs, empty
// ranges, prev_kv, filters, progress, cancel (known and unknown IDs), catch-up from
// history, and a start revision below and at the compaction revision.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { CompactionRequest, WatchCreateRequest_FilterType, type WatchResponse } from '../../src/proto/etcdserverpb.js';
import { UnaryClient } from '../../src/client/unary-client.js';
import { KvClient } from '../e2e/client.js';
import { freePorts, haveBinary, startMember, TSETCD_BIN } from '../e2e/harness.js';
import { tempDir } from '../helpers/tmp.js';
import { WatchClient } from './watch-client.js';

interface Ctx {
  wc: WatchClient;
  kv: KvClient;
  unary: UnaryClient;
}

/** One step: what to do, and how many responses it brings. */
interface Step {
  name: string;
  run: (c: Ctx) => Promise<void> | void;
  responses: number;
}

const step = (name: string, responses: number, run: Step['run']): Step => ({ name, run, responses });

const STEPS: Step[] = [
  step('create a (auto id)', 1, (c) => c.wc.create({ key: 'a' })),
  step('put a', 1, async (c) => void (await c.kv.put('a', '1'))),
  step('create a with id 7 and prev_kv', 1, (c) => c.wc.create({ key: 'a', watch_id: 7, prev_kv: true })),
  step('create with the same id again', 1, (c) => c.wc.create({ key: 'b', watch_id: 7 })),
  step('create an empty range', 1, (c) => c.wc.create({ key: 'b', range_end: 'a' })),
  step('put a to two watchers', 2, async (c) => void (await c.kv.put('a', '2'))),
  step('progress request', 1, (c) => c.wc.progress()),
  step('create prefix p with NOPUT', 1, (c) => c.wc.create({ key: 'p', range_end: 'q', filters: [WatchCreateRequest_FilterType.NOPUT] })),
  step('put p1 (filtered)', 0, async (c) => void (await c.kv.put('p1', 'x'))),
  step('put p2 (filtered)', 0, async (c) => void (await c.kv.put('p2', 'x'))),
  step('auto id after 7 skips nothing below', 1, (c) => c.wc.create({ key: 'z' })),
  step('cancel 7', 1, (c) => c.wc.cancel(7)),
  step('cancel an unknown id', 0, (c) => c.wc.cancel(99)),
  step('put a after cancel', 1, async (c) => void (await c.kv.put('a', '3'))),
  step('create a from revision 1 (history)', 2, (c) => c.wc.create({ key: 'a', start_revision: 1, watch_id: 20, prev_kv: true })),
  step('create from-key "" at revision 2', 2, (c) => c.wc.create({ key: '', range_end: Buffer.from([0]), start_revision: 2, watch_id: 21 })),
  step('future start revision', 1, (c) => c.wc.create({ key: 'a', start_revision: 100, watch_id: 22 })),
  step('compact at 4', 0, async (c) => {
    const req = CompactionRequest.create({ revision: 4, physical: true });
    await c.unary.call('/etcdserverpb.KV/Compact', CompactionRequest.encode(req), { timeoutMs: 5000 });
  }),
  step('create below the compaction', 2, (c) => c.wc.create({ key: 'a', start_revision: 3, watch_id: 30 })),
  step('create at the compaction', 2, (c) => c.wc.create({ key: 'a', start_revision: 4, watch_id: 31 })),
  step('progress request when synced', 1, (c) => c.wc.progress()),
];

function normalize(r: WatchResponse): unknown {
  return {
    ...r,
    header: r.header ? { ...r.header, cluster_id: String(r.header.cluster_id), member_id: String(r.header.member_id) } : undefined,
    events: r.events.map((e) => ({
      type: e.type,
      kv: e.kv && { ...e.kv, key: Buffer.from(e.kv.key).toString('latin1'), value: Buffer.from(e.kv.value).toString('latin1'), lease: String(e.kv.lease) },
      prev_kv: e.prev_kv && { ...e.prev_kv, key: Buffer.from(e.prev_kv.key).toString('latin1'), value: Buffer.from(e.prev_kv.value).toString('latin1'), lease: String(e.prev_kv.lease) },
    })),
  };
}

async function converse(bin: string, dataDir: string, ports: { client: number; peer: number }): Promise<unknown[][]> {
  const member = await startMember({ bin, dataDir, ports });
  const c: Ctx = { wc: new WatchClient(member.clientUrl), kv: new KvClient(member.clientUrl), unary: new UnaryClient(member.clientUrl) };
  try {
    const out: unknown[][] = [];
    for (const s of STEPS) {
      const before = c.wc.responses.length;
      await s.run(c);
      await c.wc.waitFor((rs) => rs.length >= before + s.responses, 5000, `${s.name} on ${bin}`);
      // nothing more should come: give a stray response time to show up
      await new Promise((r) => setTimeout(r, s.responses === 0 ? 300 : 50));
      // responses to different watchers of one write come in no set order in etcd
      const got = c.wc.responses.slice(before).map(normalize);
      got.sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y)));
      out.push(got);
    }
    return out;
  } finally {
    c.wc.close();
    c.kv.close();
    c.unary.close();
    await member.stop();
  }
}

test('the Watch stream answers like etcd 3.4, response for response', { skip: !haveBinary('etcd') && 'etcd is not installed' }, async () => {
  const { dir, cleanup } = tempDir();
  try {
    const ports = await freePorts();
    const want = await converse('etcd', path.join(dir, 'etcd'), ports);
    const got = await converse(TSETCD_BIN, path.join(dir, 'tsetcd'), ports);
    for (let i = 0; i < STEPS.length; i++) assert.deepEqual(got[i], want[i], STEPS[i]!.name);
  } finally {
    cleanup();
  }
});
