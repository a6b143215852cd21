// Watch against a real tsetcd member: resuming after the member restarts (kill -9, WAL
// replay) gets exactly the missing events, and large catch-up responses are split into
// fragments when the watcher asks.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { KvClient } from '../e2e/client.js';
import { freePorts, startMember, TSETCD_BIN } from '../e2e/harness.js';
import { tempDir } from '../helpers/tmp.js';
import { eventsOf, WatchClient } from './watch-client.js';

test('after a member restart, watching from the last seen revision + 1 gets exactly the missing events', async () => {
  const { dir, cleanup } = tempDir();
  const ports = await freePorts();
  const dataDir = path.join(dir, 'm');
  let member = await startMember({ bin: TSETCD_BIN, dataDir, ports });
  try {
    let kv = new KvClient(member.clientUrl);
    const wc = new WatchClient(member.clientUrl);
    wc.create({ key: 'r/', range_end: 'r0' });
    await wc.waitFor((rs) => rs.some((r) => r.created));
    const written: Array<{ key: string; value: string; rev: number }> = [];
    const put = async (key: string, value: string) => written.push({ key, value, rev: (await kv.put(key, value)).header!.revision });
    for (let i = 0; i < 10; i++) await put(`r/${i % 3}`, `a${i}`);
    await wc.waitFor((rs) => eventsOf(rs).length === 10);
    const seen = eventsOf(wc.responses);
    const lastSeen = seen[seen.length - 1]!.rev;
    wc.close();
    // the client is gone; the member goes on, then dies without a clean stop
    for (let i = 0; i < 10; i++) await put(`r/${i % 4}`, `b${i}`);
    kv.close();
    await member.kill();
    member = await startMember({ bin: TSETCD_BIN, dataDir, ports });
    kv = new KvClient(member.clientUrl);
    for (let i = 0; i < 5; i++) await put(`r/${i}`, `c${i}`);
    const resumed = new WatchClient(member.clientUrl);
    resumed.create({ key: 'r/', range_end: 'r0', start_revision: lastSeen + 1 });
    await put('r/live', 'd');
    const want = written.filter((w) => w.rev > lastSeen);
    await resumed.waitFor((rs) => eventsOf(rs).length >= want.length, 10_000, 'the missing events');
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(
      eventsOf(resumed.responses).map((e) => ({ key: e.key, value: e.value, rev: e.rev })),
      want,
    );
    resumed.close();
    kv.close();
  } finally {
    await member.stop();
    cleanup();
  }
});

test('a catch-up response larger than the request limit comes in fragments when asked for', async () => {
  const { dir, cleanup } = tempDir();
  const ports = await freePorts();
  const member = await startMember({ bin: TSETCD_BIN, dataDir: path.join(dir, 'm'), ports });
  try {
    const kv = new KvClient(member.clientUrl);
    const big = 'x'.repeat(400 * 1024);
    let first = 0;
    for (let i = 0; i < 8; i++) {
      const rev = (await kv.put(`big/${i}`, big + i)).header!.revision;
      first ||= rev;
    }
    kv.close();
    const whole = new WatchClient(member.clientUrl);
    whole.create({ key: 'big/', range_end: 'big0', start_revision: first });
    await whole.waitFor((rs) => eventsOf(rs).length === 8);
    assert.equal(whole.responses.filter((r) => r.events.length > 0).length, 1, 'one response without fragment');
    whole.close();
    const split = new WatchClient(member.clientUrl);
    split.create({ key: 'big/', range_end: 'big0', start_revision: first, fragment: true });
    await split.waitFor((rs) => eventsOf(rs).length === 8);
    const parts = split.responses.filter((r) => r.events.length > 0);
    assert.ok(parts.length >= 2, `${parts.length} fragments`);
    assert.deepEqual(
      parts.map((r) => r.fragment),
      parts.map((_, i) => i < parts.length - 1),
    );
    assert.deepEqual(
      eventsOf(parts).map((e) => e.key),
      Array.from({ length: 8 }, (_, i) => `big/${i}`),
    );
    // etcd splits at --max-request-bytes (1.5 MiB) plus 512 KiB of gRPC overhead
    for (const p of parts.slice(0, -1)) assert.ok(p.events.reduce((n, e) => n + e.kv!.value.length, 0) < 2 * 1024 * 1024);
    split.close();
  } finally {
    await member.stop();
    cleanup();
  }
});
