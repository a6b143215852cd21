// 10,000 watchers on one gRPC stream against a real tsetcd member: all are created, each
// gets its own key's event, and one write to a key all of them watch reaches every one.
// Prints the member's RSS and CPU time at each stage (for docs/PERFORMANCE.md).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { KvClient } from '../e2e/client.js';
import { freePorts, startMember, TSETCD_BIN } from '../e2e/harness.js';
import { tempDir } from '../helpers/tmp.js';
import { WatchClient } from './watch-client.js';

const WATCHERS = 10_000;

interface Sample {
  rssMiB: number;
  cpuMs: number;
}

function sample(pid: number): Sample {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(status)![1]);
  // fields after the command name: state is field 3, utime 14, stime 15 (clock ticks, 100 Hz)
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return { rssMiB: Math.round(rssKiB / 102.4) / 10, cpuMs: ticks * 10 };
}

const key = (i: number) => `w/${String(i).padStart(5, '0')}`;

test(`${WATCHERS} watchers on one stream get their events`, { timeout: 180_000 }, async () => {
  const { dir, cleanup } = tempDir();
  const ports = await freePorts();
  const member = await startMember({ bin: TSETCD_BIN, dataDir: path.join(dir, 'm'), ports });
  const pid = member.proc.pid!;
  const report: string[] = [];
  const note = (stage: string, s: Sample, extra = ''): void => {
    report.push(`${stage}: RSS ${s.rssMiB} MiB, CPU ${s.cpuMs} ms${extra}`);
  };
  try {
    await new Promise((r) => setTimeout(r, 500));
    const base = sample(pid);
    note('idle member', base);

    const wc = new WatchClient(member.clientUrl);
    let t0 = Date.now();
    for (let i = 0; i < WATCHERS; i++) wc.create({ key: key(i) });
    await wc.waitFor((rs) => rs.length >= WATCHERS, 60_000, 'created responses');
    const createMs = Date.now() - t0;
    const ids = new Set(wc.responses.map((r) => r.watch_id));
    assert.equal(ids.size, WATCHERS);
    assert.ok(wc.responses.every((r) => r.created && !r.canceled));
    const created = sample(pid);
    note(`${WATCHERS} watchers created in ${createMs} ms`, created, ` (+${Math.round((created.rssMiB - base.rssMiB) * 10) / 10} MiB)`);

    // one write per watched key, from 16 clients at once
    const clients = Array.from({ length: 16 }, () => new KvClient(member.clientUrl));
    t0 = Date.now();
    let next = 0;
    await Promise.all(
      clients.map(async (c) => {
        while (next < WATCHERS) await c.put(key(next++), 'v');
      }),
    );
    const writesMs = Date.now() - t0;
    await wc.waitFor((rs) => rs.length >= 2 * WATCHERS, 60_000, 'one event per watcher');
    const deliverMs = Date.now() - t0;
    const events = wc.responses.slice(WATCHERS);
    const perWatcher = new Map<number, string>();
    for (const r of events) {
      assert.equal(r.events.length, 1);
      assert.ok(!perWatcher.has(r.watch_id), `watcher ${r.watch_id} got two events`);
      perWatcher.set(r.watch_id, Buffer.from(r.events[0]!.kv!.key).toString());
    }
    assert.equal(perWatcher.size, WATCHERS);
    // auto IDs are given in creation order: watcher i watches key(i)
    for (const [id, k] of perWatcher) assert.equal(k, key(id));
    const afterWrites = sample(pid);
    note(`${WATCHERS} writes (16 clients) in ${writesMs} ms, all events in ${deliverMs} ms`, afterWrites);

    // fan-out: a second stream whose 10,000 watchers all watch one prefix; one write
    const fan = new WatchClient(member.clientUrl);
    for (let i = 0; i < WATCHERS; i++) fan.create({ key: 'f/', range_end: 'f0' });
    await fan.waitFor((rs) => rs.length >= WATCHERS, 60_000, 'fan-out watchers created');
    const beforeFan = sample(pid);
    t0 = Date.now();
    await clients[0]!.put('f/x', 'hello');
    await fan.waitFor((rs) => rs.length >= 2 * WATCHERS, 60_000, 'fan-out events');
    const fanMs = Date.now() - t0;
    assert.equal(new Set(fan.responses.slice(WATCHERS).map((r) => r.watch_id)).size, WATCHERS);
    const afterFan = sample(pid);
    note(`second stream, ${WATCHERS} watchers of one prefix`, beforeFan);
    note(`one write to all ${WATCHERS} in ${fanMs} ms`, afterFan, ` (CPU +${afterFan.cpuMs - beforeFan.cpuMs} ms)`);

    for (const c of clients) c.close();
    wc.close();
    fan.close();
    await new Promise((r) => setTimeout(r, 300));
    console.log(report.map((l) => `# ${l}`).join('\n'));
  } finally {
    await member.stop();
    cleanup();
  }
});
