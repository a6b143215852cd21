// A seeded fault loop over a three-member cluster, checked for linearizability. Each round
// runs a client load on keys of its own (so each round's history is checked on its own),
// injects one fault drawn from the seeded generator, repairs it, reads every key back
// through every member and checks the round's history (test/lin/checker.ts). Used by the
// short membership test in `npm test` and by `npm run faults:long` (docs/RELIABILITY.md).
//
// Faults: kill -9 / SIGTERM of a member, a partition of the leader or a follower, a torn
// WAL tail, a failed WAL sync (EIO failpoint), a system clock jump (clock failpoint), a
// full disk (the member's data dir on a small tmpfs; only when mounting works), and
// membership changes (remove/add/promote) combined with kills and partitions.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { checkKv, HistoryRecorder } from '../lin/checker.js';
import { Cluster, eventually, sleep, type ClusterMember } from '../e2e/cluster.js';
import { etcdctl } from '../e2e/harness.js';
import { assertSameData, Kv } from './kv.js';

export const FAULT_KINDS = ['kill', 'sigterm', 'partition-leader', 'partition-follower', 'torn-tail', 'wal-eio', 'clock-jump', 'full-disk', 'membership'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface ChaosOptions {
  durationMs: number;
  seed: number;
  kinds?: readonly FaultKind[];
  /** one line per event (default: console.log) */
  log?: (line: string) => void;
}

export interface ChaosResult {
  rounds: number;
  ops: number;
  okOps: number;
  unknownWrites: number;
  failedReads: number;
  faults: Record<string, number>;
  violations: string[];
}

const CLIENTS = 8;
const KEYS = 4;
const OP_TIMEOUT_MS = 2000;

/** mulberry32: a small seeded generator, so a run's fault schedule can be replayed */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Round {
  recorder: HistoryRecorder;
  stats: { ok: number; unknown: number; failedReads: number };
  stop(): Promise<void>;
}

/** Clients that put unique values and read keys `prefix/k*` through whichever members run. */
function startLoad(cluster: Cluster, prefix: string): Round {
  const recorder = new HistoryRecorder();
  const stats = { ok: 0, unknown: 0, failedReads: 0 };
  let running = true;
  const clients = Array.from({ length: CLIENTS }, async (_, c) => {
    const conns = new Map<string, Kv>();
    let seq = 0;
    try {
      while (running) {
        const up = cluster.running;
        if (up.length === 0) {
          await sleep(50);
          continue;
        }
        const m = up[Math.floor(Math.random() * up.length)]!;
        let kv = conns.get(m.clientUrl);
        if (!kv) conns.set(m.clientUrl, (kv = new Kv(m.clientUrl)));
        const key = `${prefix}/k${Math.floor(Math.random() * KEYS)}`;
        if (Math.random() < 0.5) {
          const value = `c${c}-${seq++}`;
          const op = recorder.invoke(c, { type: 'put', key, value });
          try {
            const r = await kv.put(key, value, OP_TIMEOUT_MS);
            op.ok({ type: 'put', revision: r.header!.revision });
            stats.ok++;
          } catch {
            op.unknown(); // it may or may not have been applied
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
            op.failed();
            stats.failedReads++;
            await sleep(50 + Math.random() * 100);
          }
        }
      }
    } finally {
      for (const k of conns.values()) k.close();
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

/** A linearizable read of every round key through every running member, recorded. */
async function finalReads(cluster: Cluster, recorder: HistoryRecorder, prefix: string): Promise<void> {
  for (const m of cluster.running) {
    const kv = new Kv(m.clientUrl);
    try {
      for (let k = 0; k < KEYS; k++) {
        const key = `${prefix}/k${k}`;
        await eventually(`final read of ${key} through ${m.name}`, 30_000, async () => {
          const op = recorder.invoke(1000, { type: 'get', key });
          try {
            const r = await kv.get(key, { timeoutMs: OP_TIMEOUT_MS });
            const kvp = r.kvs[0];
            op.ok({ type: 'get', value: kvp ? Buffer.from(kvp.value).toString() : null, modRevision: kvp?.mod_revision });
            return true;
          } catch {
            op.failed();
            return undefined;
          }
        }, 250);
      }
    } finally {
      kv.close();
    }
  }
}

class Faults {
  private nextName = 4;
  private readonly mounts = new Set<string>();

  constructor(
    private readonly cluster: Cluster,
    private readonly rand: () => number,
    private readonly note: (s: string) => void,
  ) {}

  private pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.rand() * xs.length)]!;
  }

  private async follower(): Promise<ClusterMember> {
    const leader = await this.cluster.waitLeader();
    return this.pick(this.cluster.members.filter((m) => m !== leader));
  }

  async inject(kind: FaultKind): Promise<void> {
    const c = this.cluster;
    switch (kind) {
      case 'kill': {
        const m = this.rand() < 0.5 ? await c.waitLeader() : await this.follower();
        this.note(`kill -9 ${m.name}`);
        await c.kill(m);
        await sleep(1500);
        await c.restart(m, false);
        return;
      }
      case 'sigterm': {
        const m = this.pick(c.members);
        this.note(`SIGTERM ${m.name}`);
        await c.stop(m);
        await sleep(1000);
        await c.restart(m, false);
        return;
      }
      case 'partition-leader':
      case 'partition-follower': {
        const m = kind === 'partition-leader' ? await c.waitLeader() : await this.follower();
        this.note(`partition ${m.name}`);
        await c.partition([m]);
        await sleep(2500);
        await c.heal();
        return;
      }
      case 'torn-tail':
        return this.tornTail(this.pick(c.members));
      case 'wal-eio':
        return this.walEio(this.pick(c.members));
      case 'clock-jump': {
        const m = this.pick(c.members);
        const offsetMs = (this.rand() < 0.5 ? -1 : 1) * 3_600_000;
        this.note(`clock of ${m.name} ${offsetMs > 0 ? '+' : '-'}1h`);
        fs.writeFileSync(m.clockOffsetFile, String(offsetMs));
        await sleep(2500);
        fs.rmSync(m.clockOffsetFile, { force: true });
        return;
      }
      case 'full-disk':
        return this.fullDisk(await this.follower());
      case 'membership':
        return this.membership();
    }
  }

  private async tornTail(m: ClusterMember): Promise<void> {
    this.note(`torn WAL write on ${m.name}`);
    fs.writeFileSync(m.walTornFile, '');
    const died = await Promise.race([m.exited.then(() => true), sleep(10_000).then(() => false)]);
    fs.rmSync(m.walTornFile, { force: true });
    if (!died) return this.note(`${m.name} wrote nothing in 10 s; disarmed`);
    await this.cluster.restart(m, false);
  }

  private async walEio(m: ClusterMember): Promise<void> {
    this.note(`WAL EIO on ${m.name}`);
    fs.writeFileSync(m.walEioFile, '');
    // an idle follower writes on the next append: within a heartbeat or two of a write
    const exited = await Promise.race([m.exited.then(() => true), sleep(10_000).then(() => false)]);
    fs.rmSync(m.walEioFile, { force: true });
    if (!exited) this.note(`${m.name} wrote nothing in 10 s; disarmed`);
    else await this.cluster.restart(m, false);
  }

  private mountable(): boolean {
    const probe = path.join(this.cluster.dir, 'mount-probe');
    fs.mkdirSync(probe, { recursive: true });
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe], { stdio: 'ignore' });
      execFileSync('umount', [probe], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  }

  private async fullDisk(m: ClusterMember): Promise<void> {
    if (!this.mounts.has(m.dataDir)) {
      if (!this.mountable()) return this.note('full disk skipped: cannot mount a tmpfs');
      await this.cluster.stop(m);
      const moved = `${m.dataDir}.moved`;
      fs.renameSync(m.dataDir, moved);
      fs.mkdirSync(m.dataDir);
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=512m', 'tmpfs', m.dataDir]);
      this.mounts.add(m.dataDir);
      fs.cpSync(moved, m.dataDir, { recursive: true });
      fs.rmSync(moved, { recursive: true });
      await this.cluster.restart(m, false);
      await this.cluster.waitHealthy(m);
    }
    const usedMiB = Math.ceil(Number(execFileSync('du', ['-sb', m.dataDir], { encoding: 'utf8' }).split(/\s/)[0]) / 1048576);
    this.note(`full disk on ${m.name} (${usedMiB + 2} MiB)`);
    execFileSync('mount', ['-o', `remount,size=${usedMiB + 2}m`, m.dataDir]);
    // large values outside the checked keys fill it
    const kv = new Kv((await this.cluster.waitLeader()).clientUrl);
    const big = 'f'.repeat(16384);
    try {
      for (let i = 0; i < 400 && m.running; i++) await kv.put(`fill/${Date.now()}-${i}`, big, OP_TIMEOUT_MS).catch(() => sleep(100));
    } finally {
      kv.close();
    }
    this.note(m.running ? `${m.name} still runs after the fill` : `${m.name} stopped on the full disk`);
    execFileSync('mount', ['-o', 'remount,size=512m', m.dataDir]);
    if (!m.running) await this.cluster.restart(m, false);
  }

  /** Membership changes combined with a kill or a partition, one of three shapes. */
  private async membership(): Promise<void> {
    const c = this.cluster;
    const leader = await c.waitLeader();
    const victim = await this.follower();
    const fresh = await c.newMember(`m${this.nextName++}`);
    const shape = Math.floor(this.rand() * 3);
    if (shape === 0) {
      this.note(`add learner ${fresh.name}, kill -9 ${victim.name}, remove it while down, start and promote ${fresh.name}`);
      const printed = await c.memberAdd(leader, fresh, true);
      await c.kill(victim);
      await this.remove(victim);
      await c.startAdded(fresh, printed);
      await this.promote(fresh);
    } else if (shape === 1) {
      this.note(`partition ${victim.name}, remove it while cut off, heal, add ${fresh.name}`);
      await c.partition([victim]);
      await this.remove(victim);
      await c.heal();
      const gone = await Promise.race([victim.exited.then(() => true), sleep(15_000).then(() => false)]);
      if (!gone) this.note(`${victim.name} did not exit by itself within 15 s of its removal`);
      await c.kill(victim);
      await c.startAdded(fresh, await c.memberAdd(await c.waitLeader(), fresh));
    } else {
      this.note(`add learner ${fresh.name}, partition it while it catches up, heal, promote, remove ${victim.name}`);
      await c.startAdded(fresh, await c.memberAdd(leader, fresh, true));
      await c.waitHealthy(fresh).catch(() => undefined);
      await c.refreshIds();
      await c.partition([fresh]);
      await sleep(2000);
      await c.heal();
      await this.promote(fresh);
      await this.remove(victim);
      await c.kill(victim);
    }
    c.members.splice(c.members.indexOf(victim), 1);
    await c.waitHealthy(fresh);
    await eventually(`${fresh.name} has published its name`, 30_000, async () => {
      await c.refreshIds();
      return fresh.id !== '' ? true : undefined;
    });
  }

  private async remove(m: ClusterMember): Promise<void> {
    await eventually(`member remove ${m.name}`, 30_000, async () => {
      const r = await etcdctl((await this.cluster.waitLeader(30_000, this.cluster.running)).clientUrl, ['member', 'remove', m.id]);
      return r.code === 0 || /member not found/.test(r.stderr) ? true : undefined;
    }, 500);
  }

  private async promote(m: ClusterMember): Promise<void> {
    await this.cluster.waitHealthy(m);
    await this.cluster.refreshIds();
    await eventually(`member promote ${m.name}`, 60_000, async () => {
      const r = await etcdctl((await this.cluster.waitLeader()).clientUrl, ['member', 'promote', m.id]);
      return r.code === 0 ? true : undefined;
    }, 500);
  }

  unmountAll(): void {
    for (const d of this.mounts) {
      try {
        execFileSync('umount', ['-l', d], { stdio: 'ignore' });
      } catch {
        /* already gone */
      }
    }
  }
}

/** Runs rounds until durationMs has passed; never throws on a violation, reports it. */
export async function runChaos(opts: ChaosOptions): Promise<ChaosResult> {
  const log = opts.log ?? ((s: string) => console.log(s));
  const rand = seeded(opts.seed);
  const kinds = opts.kinds ?? FAULT_KINDS;
  const result: ChaosResult = { rounds: 0, ops: 0, okOps: 0, unknownWrites: 0, failedReads: 0, faults: {}, violations: [] };
  const cluster = await Cluster.start({ heartbeatMs: 50, electionMs: 500 });
  const t0 = performance.now();
  const note = (s: string): void => log(`${((performance.now() - t0) / 1000).toFixed(1)}s ${s}`);
  const faults = new Faults(cluster, rand, note);
  try {
    while (performance.now() - t0 < opts.durationMs) {
      const round = result.rounds++;
      const prefix = `lin/r${round}`;
      await cluster.waitLeader(60_000, cluster.running);
      const load = startLoad(cluster, prefix);
      await sleep(1000);
      const kind = kinds[Math.floor(rand() * kinds.length)]!;
      try {
        await faults.inject(kind);
        result.faults[kind] = (result.faults[kind] ?? 0) + 1;
      } finally {
        for (const m of cluster.members) if (!m.running) await cluster.restart(m, false);
        await sleep(1500);
        await load.stop();
      }
      await cluster.waitLeader(60_000);
      await finalReads(cluster, load.recorder, prefix);
      const check = checkKv(load.recorder.ops);
      result.ops += load.recorder.ops.length;
      result.okOps += load.stats.ok;
      result.unknownWrites += load.stats.unknown;
      result.failedReads += load.stats.failedReads;
      note(`round ${round} (${kind}): ${load.recorder.ops.length} ops, ${load.stats.ok} ok, ${check.ok ? 'linearizable' : 'NOT LINEARIZABLE'}`);
      if (!check.ok) result.violations.push(`round ${round} (${kind}): ${check.failures.map((f) => f.explanation).join('\n')}`);
    }
    await assertSameData(cluster, cluster.members, 60_000);
  } catch (err) {
    log(cluster.logs());
    throw err;
  } finally {
    for (const m of cluster.members) await cluster.kill(m);
    faults.unmountAll(); // before the directories are removed
    await cluster.destroy();
  }
  return result;
}
