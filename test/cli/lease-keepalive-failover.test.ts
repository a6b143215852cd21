// `tsetcdctl lease keep-alive` outlives the member it talks to, as etcdctl's does: with
// three members in --endpoints it renews through the first, that member is killed (kill -9),
// and the command moves to another endpoint and goes on renewing, so the lease is still
// alive two TTLs later (a lease nobody renews would have expired). Real etcdctl runs the same
// way beside it on a lease of its own, as the reference. Both commands then print "expired or
// revoked." when the lease is revoked, and exit 0.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { test } from 'node:test';
import { Cluster, eventually, sleep } from '../e2e/cluster.js';
import { BIN, cleanEnv, haveBinary, run } from './helpers.js';

// long enough that a loaded machine still renews in time (renewals go every TTL/3)
const TTL_S = 10;

/** A running `keep-alive` with its stdout so far. */
interface KeepAlive {
  proc: ChildProcess;
  out: () => string;
  exited: Promise<number | null>;
}

function keepAlive(bin: string, endpoints: string, lease: string): KeepAlive {
  const proc = spawn(bin, [`--endpoints=${endpoints}`, 'lease', 'keep-alive', lease], { env: { ...cleanEnv(), ETCDCTL_API: '3' }, stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => proc.once('close', (code) => r(code)));
  return { proc, out: () => out, exited };
}

const renewals = (k: KeepAlive, lease: string): number => k.out().split(`lease ${lease} keepalived with TTL(${TTL_S})\n`).length - 1;

test('lease keep-alive moves to another endpoint when its member is killed', async () => {
  // slow elections: on a starved machine 500 ms ones flap, and renewals need a leader
  const cluster = await Cluster.start({ size: 3, heartbeatMs: 200, electionMs: 2000 });
  const running: KeepAlive[] = [];
  try {
    const [m1, m2, m3] = cluster.members as [(typeof cluster.members)[0], (typeof cluster.members)[0], (typeof cluster.members)[0]];
    const endpoints = [m1, m2, m3].map((m) => m.clientUrl).join(',');
    const ctl = (...args: string[]) => run(BIN.tsetcdctl, [`--endpoints=${m2.clientUrl}`, ...args]);
    const grant = async (): Promise<string> => {
      const r = await ctl('lease', 'grant', String(TTL_S));
      const id = /^lease ([0-9a-f]+) granted/.exec(r.stdout.toString())?.[1];
      assert.ok(id, r.stdout.toString() + r.stderr);
      return id;
    };
    const clients: Array<[string, string]> = [[BIN.tsetcdctl, await grant()]];
    if (haveBinary('etcdctl')) clients.push(['etcdctl', await grant()]);
    for (const [bin, lease] of clients) running.push(keepAlive(bin, endpoints, lease));
    const renewing = async (): Promise<true | undefined> => (running.every((k, i) => renewals(k, clients[i]![1]) >= 1) ? true : undefined);
    await eventually('first renewals', 60_000, renewing).catch((err: Error) => {
      throw new Error(`${err.message}: ${running.map((k) => JSON.stringify(k.out())).join(' / ')}`);
    });

    await cluster.kill(m1);
    const before = running.map((k, i) => renewals(k, clients[i]![1]));
    await sleep(2 * TTL_S * 1000);
    for (const [i, k] of running.entries()) {
      const [bin, lease] = clients[i]!;
      assert.ok(renewals(k, lease) >= before[i]! + 2, `${bin} went on renewing after its member died:\n${k.out()}`);
      assert.equal(k.proc.exitCode, null, `${bin} is still running`);
      const ttl = await ctl('lease', 'timetolive', lease);
      assert.match(ttl.stdout.toString(), new RegExp(`^lease ${lease} granted with TTL\\(${TTL_S}s\\), remaining\\([1-9]\\d*s\\)\n$`), `${bin}'s lease is alive`);
    }

    // revoked: the renewal answer is TTL 0 and the command ends
    for (const [i, k] of running.entries()) {
      const [bin, lease] = clients[i]!;
      assert.equal((await ctl('lease', 'revoke', lease)).code, 0);
      assert.equal(await k.exited, 0, `${bin} exits 0`);
      assert.ok(k.out().endsWith(`lease ${lease} expired or revoked.\n`), k.out());
    }
  } finally {
    for (const k of running) k.proc.kill('SIGKILL');
    await cluster.destroy();
  }
});
