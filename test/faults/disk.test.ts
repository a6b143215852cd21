// Disk faults on one member of three, under a write load: a torn WAL tail (the member dies
// halfway through a write, TSETCD_FAILPOINT_WAL_TORN_FILE) is repaired at restart; a
// failed WAL sync (EIO, TSETCD_FAILPOINT_WAL_EIO_FILE) stops the member as etcd stops; a
// full disk (a small tmpfs as its data dir) stops it too, and it comes back once space
// returns. In each case the cluster goes on, no acknowledged write is lost, and the member
// catches up.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Cluster, eventually, sleep, type ClusterMember } from '../e2e/cluster.js';
import { assertAllAcked, assertSameData, Kv, startWriters, type Acked } from './kv.js';

type Writers = ReturnType<typeof startWriters>;

function lastWalSegment(m: ClusterMember): string {
  const dir = path.join(m.dataDir, 'member', 'wal');
  const names = fs.readdirSync(dir).filter((n) => n.endsWith('.wal')).sort();
  return path.join(dir, names.at(-1)!);
}

/** Waits until the writers have `more` acknowledgements beyond what they have now. */
async function moreAcks(w: Writers, more: number, timeoutMs = 30_000): Promise<void> {
  const target = w.acked.length + more;
  await eventually(`${more} more acknowledged writes`, timeoutMs, async () => (w.acked.length >= target ? true : undefined));
}

/** Stops the writers; every acknowledged write is on every member, and all agree. */
async function finish(cluster: Cluster, w: Writers): Promise<Acked[]> {
  await w.stop();
  const revisions = w.acked.map((a) => a.revision);
  assert.equal(new Set(revisions).size, revisions.length, 'two acknowledged writes share a revision');
  await cluster.waitLeader();
  await assertSameData(cluster, cluster.members, 60_000);
  for (const m of cluster.members) await assertAllAcked(m, w.acked);
  return w.acked;
}

async function withCluster(fn: (cluster: Cluster) => Promise<void>): Promise<void> {
  const cluster = await Cluster.start({ heartbeatMs: 50, electionMs: 500 });
  try {
    await fn(cluster);
  } catch (err) {
    console.log(cluster.logs());
    throw err;
  } finally {
    await cluster.destroy();
  }
}

async function someFollower(cluster: Cluster): Promise<ClusterMember> {
  const leader = await cluster.waitLeader();
  return cluster.members.find((m) => m !== leader)!;
}

test('a torn WAL tail on a member is repaired at restart and it catches up', { timeout: 120_000 }, async () => {
  await withCluster(async (cluster) => {
    const victim = await someFollower(cluster);
    const w = startWriters(() => cluster.running, 8, 'torn');
    await moreAcks(w, 100);
    // the member dies halfway through a WAL write, as in a power cut: a record that was
    // never synced, so never acknowledged, is torn
    const before = fs.statSync(lastWalSegment(victim)).size;
    fs.writeFileSync(victim.walTornFile, '');
    await victim.exited;
    fs.rmSync(victim.walTornFile);
    assert.ok(fs.statSync(lastWalSegment(victim)).size > before, 'the torn write reached the file');
    await moreAcks(w, 100);
    await cluster.restart(victim);
    await moreAcks(w, 50);
    await finish(cluster, w);
    assert.match(victim.log(), /repaired the torn tail of the WAL/);
  });
});

test('a failed WAL sync (EIO) stops the leader as in etcd; the cluster goes on; it rejoins', { timeout: 120_000 }, async () => {
  await withCluster(async (cluster) => {
    const victim = await cluster.waitLeader();
    const w = startWriters(() => cluster.running, 8, 'eio');
    await moreAcks(w, 100);
    fs.writeFileSync(victim.walEioFile, '');
    const code = await victim.exited;
    assert.equal(code, 1, 'the member exits with status 1');
    assert.match(victim.log(), /member cannot continue safely.*EIO/);
    console.log(`${victim.name} exited: ${victim.log().split('\n').find((l) => l.includes('EIO'))}`);
    const next = await cluster.waitLeader(30_000, cluster.running);
    assert.notEqual(next, victim);
    await moreAcks(w, 100);
    fs.rmSync(victim.walEioFile);
    await cluster.restart(victim);
    await moreAcks(w, 50);
    await finish(cluster, w);
  });
});

/** Whether this process may mount a tmpfs (root in a sandbox that allows it). */
function canMountTmpfs(dir: string): boolean {
  fs.mkdirSync(dir, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir], { stdio: 'ignore' });
    execFileSync('umount', [dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function duBytes(dir: string): number {
  return Number(execFileSync('du', ['-sb', dir], { encoding: 'utf8' }).split(/\s/)[0]);
}

test('a full disk stops a member; once space returns it restarts and catches up', { timeout: 180_000 }, async (t) => {
  await withCluster(async (cluster) => {
    if (!canMountTmpfs(path.join(cluster.dir, 'probe'))) {
      t.skip('cannot mount a tmpfs here (needs root)');
      return;
    }
    const victim = await someFollower(cluster);
    // move the member onto a filesystem with a few MiB to spare
    await cluster.stop(victim);
    const moved = `${victim.dataDir}.moved`;
    fs.renameSync(victim.dataDir, moved);
    fs.mkdirSync(victim.dataDir);
    const sizeMiB = Math.ceil(duBytes(moved) / 1048576) + 4;
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m`, 'tmpfs', victim.dataDir]);
    try {
      fs.cpSync(moved, victim.dataDir, { recursive: true });
      fs.rmSync(moved, { recursive: true });
      await cluster.restart(victim);

      // 8 KiB values fill the member's disk within a few hundred writes
      const big = 'x'.repeat(8192);
      const w = startWriters(() => cluster.running, 6, 'full');
      const filler = startBigWriters(cluster, big);
      const code = await Promise.race([victim.exited, sleep(90_000).then(() => 'still running')]);
      assert.notEqual(code, 'still running', 'the member with the full disk kept running');
      assert.notEqual(code, 0);
      const line = victim.log().split('\n').find((l) => /ENOSPC|no space left|Input\/output error/i.test(l));
      assert.ok(line, 'the member says the disk is full');
      console.log(`${victim.name} exited with ${code}: ${line.slice(0, 300)}`);
      await filler.stop();
      await moreAcks(w, 50);

      // space returns: the member restarts and catches up
      execFileSync('mount', ['-o', 'remount,size=512m', victim.dataDir]);
      await cluster.restart(victim);
      await moreAcks(w, 50);
      await finish(cluster, w);
      for (const m of cluster.members) await assertAllAcked(m, filler.acked);
    } finally {
      await cluster.kill(victim);
      execFileSync('umount', ['-l', victim.dataDir]);
    }
  });
});

/** Two writers of unique large keys against the running members, to fill a disk fast. */
function startBigWriters(cluster: Cluster, value: string): { acked: Acked[]; stop: () => Promise<void> } {
  const acked: Acked[] = [];
  let running = true;
  const loops = [0, 1].map(async (w) => {
    for (let n = 0; running; n++) {
      const target = cluster.running[w % Math.max(1, cluster.running.length)];
      if (!target) break;
      const key = `big/w${w}/${n}`;
      const kv = new Kv(target.clientUrl);
      try {
        const r = await kv.put(key, value, 2000);
        acked.push({ key, value, revision: r.header!.revision });
      } catch {
        await sleep(50);
      } finally {
        kv.close();
      }
    }
  });
  return {
    acked,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}
