// Latency of a well-behaved gRPC client (Put then Range, one call at a time) against one
// member, without and with each HTTP/2 attack of test/h2/attacks.test.ts running beside
// it; the member's peak RSS during each run, and its RSS after.
//
//   npm run build; node dist/bench/h2-attacks.js [seconds-per-case]
//
// The attacker runs in its own process, so that its CPU does not count against the
// client's latency. Printed, never asserted; not run by the tests.

import { fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UnaryClient } from '../src/client/unary-client.js';
import { PutRequest } from '../src/proto/etcdserverpb.js';
import { freePorts, startMember, TSETCD_BIN } from '../test/e2e/harness.js';
import { neverReader, percentile, rapidReset, rssBytes, settingsFlood, slowPreface, wellBehaved, type Attack } from '../test/h2/attackers.js';

const ATTACKS: Record<string, (port: number) => Attack> = {
  'SETTINGS flood, 3,000 streams': (port) => settingsFlood(port, 3000),
  'rapid reset, 4 connections': (port) => rapidReset(port, 'rr/', 4),
  'never-reading client (window 0)': (port) => neverReader(port, 'big'),
  'slow preface, 100 connections': (port) => slowPreface(port, 100, 500),
};

/** Child process: runs one attack until told to stop, then reports. */
async function attacker(name: string, port: number): Promise<void> {
  const attack = ATTACKS[name]!(port);
  process.once('message', async () => {
    process.send!(await attack.stop());
    process.exit(0);
  });
}

async function main(): Promise<void> {
  const seconds = Number(process.argv[2] ?? 5);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'h2-attacks-'));
  const member = await startMember({ bin: TSETCD_BIN, dataDir: path.join(dir, 'd'), ports: await freePorts() });
  const port = Number(new URL(member.clientUrl).port);
  const pid = member.proc.pid!;
  const c = new UnaryClient(member.clientUrl);
  await c.call('/etcdserverpb.KV/Put', PutRequest.encode(PutRequest.create({ key: Buffer.from('big'), value: Buffer.alloc(256 * 1024, 7) })));
  c.close();
  console.log(`well-behaved client latency (ms) over ${seconds} s per case; member RSS in MB`);
  console.log('case                                  calls  fail    p50    p99    max  rss-peak');
  const run = async (label: string, attack?: string): Promise<void> => {
    let peak = rssBytes(pid);
    const sampler = setInterval(() => (peak = Math.max(peak, rssBytes(pid))), 100);
    const child = attack ? fork(fileURLToPath(import.meta.url), ['attack', attack, String(port)]) : undefined;
    const client = wellBehaved(member.clientUrl);
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const rec = await client.stop();
    if (child) {
      child.send('stop');
      await new Promise((r) => child.once('exit', r));
    }
    clearInterval(sampler);
    const l = rec.latenciesMs;
    const f = (x: number): string => x.toFixed(1).padStart(6);
    console.log(`${label.padEnd(36)} ${String(l.length).padStart(6)} ${String(rec.failures.length).padStart(5)} ${f(percentile(l, 50))} ${f(percentile(l, 99))} ${f(Math.max(...l))} ${String(Math.round(peak / 2 ** 20)).padStart(9)}`);
  };
  for (const name of Object.keys(ATTACKS)) {
    await run('  without attack');
    await run(name, name);
  }
  await new Promise((r) => setTimeout(r, 30_000));
  console.log(`member RSS 30 s after the last attack: ${Math.round(rssBytes(pid) / 2 ** 20)} MB`);
  await member.kill();
  fs.rmSync(dir, { recursive: true, force: true });
}

if (process.argv[2] === 'attack') void attacker(process.argv[3]!, Number(process.argv[4]));
else void main();
