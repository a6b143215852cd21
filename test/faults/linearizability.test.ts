// Linearizability under faults: concurrent clients put unique values and read
// (linearizable reads) a handful of keys through all three members, while a schedule
// kills and restarts the leader, SIGTERMs a member, and cuts the leader and a follower
// off. The recorded history — failed and timed-out writes as operations of unknown
// outcome — must be linearizable (test/lin/checker.ts).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { checkKv, HistoryRecorder, type KvOperation } from '../lin/checker.js';
import { Cluster, sleep, type ClusterMember } from '../e2e/cluster.js';
import { Kv } from './kv.js';

const CLIENTS = 15;
const KEYS = 5;
const OP_TIMEOUT_MS = 2000;

interface Load {
  recorder: HistoryRecorder;
  stats: { ok: number; unknown: number; failedReads: number };
  stop(): Promise<void>;
}

function startLoad(cluster: Cluster, members: ClusterMember[]): Load {
  const recorder = new HistoryRecorder();
  const stats = { ok: 0, unknown: 0, failedReads: 0 };
  let running = true;
  const clients = Array.from({ length: CLIENTS }, async (_, c) => {
    const conns = members.map((m) => new Kv(m.clientUrl));
    let seq = 0;
    try {
      while (running) {
        const kv = conns[Math.floor(Math.random() * conns.length)]!;
        const key = `lin/k${Math.floor(Math.random() * KEYS)}`;
        if (Math.random() < 0.5) {
          const value = `c${c}-${seq++}`;
          const op = recorder.invoke(c, { type: 'put', key, value });
          try {
            const r = await kv.put(key, value, OP_TIMEOUT_MS);
            op.ok({ type: 'put', revision: r.header!.revision });
            stats.ok++;
          } catch {
            // it may or may not have been applied (even a "no leader" answer: see refused-write.test.ts)
            op.unknown();
            stats.unknown++;
            await sleep(50 + Math.random() * 100);
          }
        } else {
          const op = recorder.invoke(c, { type: 'get', key });
          try {
            const r = await kv.get(key, { timeoutMs: OP_TIMEOUT_MS });
            const kvp = r.kvs[0];
            op.ok({ type: 'get', value: kvp ? Buffer.from(kvp.value).toString() : null, modRevision: kvp?.mod_revision });
            stats.ok++;
          } catch {
            op.failed(); // a read that did not answer changed nothing
            stats.failedReads++;
            await sleep(50 + Math.random() * 100);
          }
        }
      }
    } finally {
      for (const k of conns) k.close();
    }
  });
  return {
    recorder,
    stats,
    stop: async () => {
      running = false;
      await Promise.all(clients);
    },
  };
}

test('linearizable history under leader kills, restarts and partitions', { timeout: 150_000 }, async () => {
  const cluster = await Cluster.start({ heartbeatMs: 50, electionMs: 500 });
  const events: string[] = [];
  const t0 = Date.now();
  const note = (s: string): void => {
    events.push(`${((Date.now() - t0) / 1000).toFixed(1)}s ${s}`);
  };
  let load: Load | undefined;
  try {
    await cluster.waitLeader();
    load = startLoad(cluster, cluster.members);
    await sleep(2000);

    // 1. kill -9 the leader, restart it
    let leader = await cluster.waitLeader();
    note(`kill -9 leader ${leader.name}`);
    await cluster.kill(leader);
    await sleep(2000);
    note(`restart ${leader.name}`);
    await cluster.restart(leader, false);
    await sleep(1500);

    // 2. cut the leader off, heal
    leader = await cluster.waitLeader();
    note(`partition leader ${leader.name}`);
    await cluster.partition([leader]);
    await sleep(3000);
    note('heal');
    await cluster.heal();
    await sleep(1500);

    // 3. cut a follower off, heal
    leader = await cluster.waitLeader();
    const follower = cluster.members.find((m) => m !== leader)!;
    note(`partition follower ${follower.name}`);
    await cluster.partition([follower]);
    await sleep(3000);
    note('heal');
    await cluster.heal();
    await sleep(1500);

    // 4. SIGTERM a follower, restart it
    leader = await cluster.waitLeader();
    const other = cluster.members.find((m) => m !== leader && m !== follower)!;
    note(`SIGTERM ${other.name}`);
    await cluster.stop(other);
    await sleep(1500);
    note(`restart ${other.name}`);
    await cluster.restart(other, false);
    await sleep(1500);

    // 5. kill -9 the leader again, restart it quickly
    leader = await cluster.waitLeader();
    note(`kill -9 leader ${leader.name}`);
    await cluster.kill(leader);
    await sleep(1000);
    note(`restart ${leader.name}`);
    await cluster.restart(leader, false);
    await sleep(2500);

    await cluster.waitLeader();
    note('stop load');
    await load.stop();
    // a last linearizable read of every key through every member
    const final = startFinalReads(cluster, load.recorder);
    await final;
    note('done');

    const history = load.recorder.ops;
    const started = performance.now();
    const result = checkKv(history);
    const checkMs = performance.now() - started;
    console.log(events.join('\n'));
    console.log(
      `history: ${history.length} operations (${load.stats.ok} ok, ${load.stats.unknown} writes of unknown outcome, ` +
        `${load.stats.failedReads} failed reads left out) on ${result.keys} keys; checked in ${checkMs.toFixed(0)} ms (${result.steps} search steps)`,
    );
    if (!result.ok) {
      const file = path.join(os.tmpdir(), `tsetcd-lin-history-${Date.now()}.json`);
      fs.writeFileSync(file, JSON.stringify(history, (_k, v) => (v === Infinity ? 'Infinity' : v)));
      assert.fail(`not linearizable (history saved to ${file}):\n${result.failures.map((f) => f.explanation).join('\n\n')}`);
    }
    assert.ok(load.stats.ok > 300, `only ${load.stats.ok} operations succeeded`);

    // the check is not vacuous: one read made stale must be caught
    const stale = makeOneReadStale(history);
    assert.ok(stale, 'found no read to make stale');
    const bad = checkKv(stale);
    assert.equal(bad.ok, false, 'the checker accepted the history with a stale read');
  } catch (err) {
    await load?.stop();
    console.log(events.join('\n'));
    if (!(err instanceof assert.AssertionError)) console.log(cluster.logs());
    throw err;
  } finally {
    await cluster.destroy();
  }
});

async function startFinalReads(cluster: Cluster, recorder: HistoryRecorder): Promise<void> {
  for (const m of cluster.members) {
    const kv = new Kv(m.clientUrl);
    try {
      for (let k = 0; k < KEYS; k++) {
        const key = `lin/k${k}`;
        for (let attempt = 0; ; attempt++) {
          const op = recorder.invoke(1000, { type: 'get', key });
          try {
            const r = await kv.get(key, { timeoutMs: OP_TIMEOUT_MS });
            const kvp = r.kvs[0];
            op.ok({ type: 'get', value: kvp ? Buffer.from(kvp.value).toString() : null, modRevision: kvp?.mod_revision });
            break;
          } catch (err) {
            op.failed();
            if (attempt >= 20) throw new Error(`final read of ${key} through ${m.name} keeps failing: ${(err as Error).message}`);
            await sleep(250);
          }
        }
      }
    } finally {
      kv.close();
    }
  }
}

/**
 * A copy of the history in which one read returns a value overwritten before it began:
 * put P1 returned before put P2 was invoked, P2 returned before the read was invoked.
 */
function makeOneReadStale(history: KvOperation[]): KvOperation[] | undefined {
  const done = history.filter((o) => o.output !== undefined);
  for (const r of done) {
    if (r.input.type !== 'get' || r.output?.type !== 'get') continue;
    const key = r.input.key;
    const read = r.output.value;
    for (const p2 of done) {
      if (p2.input.type !== 'put' || p2.input.key !== key || p2.return >= r.call || p2.input.value === read) continue;
      const p1 = done.find((o) => o.input.type === 'put' && o.input.key === key && o.return < p2.call && o.input.value !== read);
      if (!p1 || p1.input.type !== 'put' || p1.output?.type !== 'put') continue;
      const bad: KvOperation = { ...r, output: { type: 'get', value: p1.input.value, modRevision: p1.output.revision } };
      return history.map((o) => (o === r ? bad : o));
    }
  }
  return undefined;
}
