// 10,000 idle leases: grants them on a fresh member, then watches the member's CPU and
// RSS while nothing happens. Leases expire by one timer at the earliest expiry, so an
// idle member should use (almost) no CPU however many leases it holds.
//
//   node dist/bench/idle-leases.js [leases=10000] [idleSeconds=10] [bin=etcd|tsetcd]
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UnaryClient } from '../src/client/unary-client.js';
import { LeaseGrantRequest, LeaseLeasesRequest, LeaseLeasesResponse } from '../src/proto/etcdserverpb.js';
import { freePorts, memberArgs, REPO_ROOT, waitHealthy } from '../test/e2e/harness.js';

function procStats(pid: number): { cpuSec: number; rssBytes: number } {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const ticks = Number(stat[11]) + Number(stat[12]);
  const rssPages = Number(stat[21]);
  return { cpuSec: ticks / 100, rssBytes: rssPages * 4096 };
}

async function main(): Promise<void> {
  const count = Number(process.argv[2] ?? 10_000);
  const idleSec = Number(process.argv[3] ?? 10);
  const which = process.argv[4] ?? 'tsetcd';
  const bin = which === 'etcd' ? 'etcd' : path.join(REPO_ROOT, 'bin/tsetcd');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'idle-leases-'));
  const ports = await freePorts();
  const proc = spawn(bin, memberArgs({ bin, dataDir: path.join(dir, 'd'), ports }), { stdio: 'ignore' });
  const url = `http://127.0.0.1:${ports.client}`;
  try {
    await waitHealthy(url);
    const c = new UnaryClient(url);
    const t0 = performance.now();
    for (let i = 0; i < count; i += 200) {
      const batch = [];
      for (let j = i; j < Math.min(count, i + 200); j++) {
        batch.push(c.call('/etcdserverpb.Lease/LeaseGrant', LeaseGrantRequest.encode(LeaseGrantRequest.create({ TTL: 3600 }))));
      }
      await Promise.all(batch);
    }
    const grantMs = performance.now() - t0;
    const listed = LeaseLeasesResponse.decode(await c.call('/etcdserverpb.Lease/LeaseLeases', LeaseLeasesRequest.encode(LeaseLeasesRequest.create()))).leases.length;
    c.close();
    await new Promise((r) => setTimeout(r, 1000)); // let the grant burst settle
    const before = procStats(proc.pid!);
    await new Promise((r) => setTimeout(r, idleSec * 1000));
    const after = procStats(proc.pid!);
    const cpuPct = ((after.cpuSec - before.cpuSec) / idleSec) * 100;
    process.stdout.write(
      `${which}: ${listed} leases granted in ${(grantMs / 1000).toFixed(1)} s; idle ${idleSec} s: CPU ${cpuPct.toFixed(2)}% of a core, RSS ${(after.rssBytes / 2 ** 20).toFixed(0)} MiB\n`,
    );
  } finally {
    proc.kill('SIGTERM');
    await new Promise((r) => proc.once('exit', r));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

void main();
