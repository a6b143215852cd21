// Snapshot benchmark: real etcd and tsetcd, one after the other on the same machine,
// each loaded with the same SIZE_MIB of random values, then
//   save      `etcdctl snapshot save` from the member (the Snapshot RPC end to end:
//             generation, gRPC transfer, the client's write and fsync), MB/s;
//   rss       the member's resident memory before the save and its peak during it
//             (sampled every RSS_SAMPLE_MS), to show a save streams instead of buffering;
//   restore   the snapshot into a new data dir: `etcdctl snapshot restore` for etcd,
//             `tsetcdutl snapshot restore` for tsetcd, MB/s.
//
//   npm run build; node dist/bench/snapshot.js [SIZE_MIB=1024]
//
// Printed, never asserted; not run by the tests. Results go to docs/PERFORMANCE.md.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePorts, REPO_ROOT, startMember, TSETCD_BIN } from '../test/e2e/harness.js';
import { putRandomValues } from '../test/helpers/load.js';

const SIZE_MIB = Number(process.argv[2] ?? 1024);
const VALUE_BYTES = 256 * 1024;
const WRITERS = 8;
const RSS_SAMPLE_MS = 50;
const TSETCDUTL = path.join(REPO_ROOT, 'bin/tsetcdutl');

/** VmRSS, or one of its parts (RssAnon: heap and buffers; RssFile: mapped files such as the database) */
function rssBytes(pid: number, field: 'VmRSS' | 'RssAnon' | 'RssFile' = 'VmRSS'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

function timed(cmd: string, args: string[]): Promise<number> {
  const startMs = performance.now();
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ETCDCTL_API: '3' } });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('close', (code) => (code === 0 ? resolve(performance.now() - startMs) : reject(new Error(`${cmd} ${args.join(' ')}: exit ${code}\n${err.slice(-2000)}`))));
  });
}

interface Row {
  impl: string;
  fileBytes: number;
  saveMs: number;
  restoreMs: number;
  rssBeforeBytes: number;
  rssPeakBytes: number;
  anonBeforeBytes: number;
  anonPeakBytes: number;
}

async function measure(impl: 'etcd' | 'tsetcd', dir: string): Promise<Row> {
  const ports = await freePorts();
  const dataDir = path.join(dir, `${impl}-data`);
  const member = await startMember({ bin: impl === 'etcd' ? 'etcd' : TSETCD_BIN, dataDir, ports, extraArgs: ['--quota-backend-bytes=8589934592'] });
  try {
    await putRandomValues(member.clientUrl, { count: Math.ceil((SIZE_MIB * 1024 * 1024) / VALUE_BYTES), valueBytes: VALUE_BYTES, writers: WRITERS, keyPrefix: '/bench/' });
    const pid = member.proc.pid!;
    await new Promise((r) => setTimeout(r, 1000));
    const rssBeforeBytes = rssBytes(pid);
    const anonBeforeBytes = rssBytes(pid, 'RssAnon');
    let rssPeakBytes = rssBeforeBytes;
    let anonPeakBytes = anonBeforeBytes;
    const sampler = setInterval(() => {
      rssPeakBytes = Math.max(rssPeakBytes, rssBytes(pid));
      anonPeakBytes = Math.max(anonPeakBytes, rssBytes(pid, 'RssAnon'));
    }, RSS_SAMPLE_MS);
    const file = path.join(dir, `${impl}.snap`);
    const saveMs = await timed('etcdctl', [`--endpoints=${member.clientUrl}`, 'snapshot', 'save', file]);
    clearInterval(sampler);
    await member.stop();
    const out = path.join(dir, `${impl}-restored`);
    const restoreMs = impl === 'etcd' ? await timed('etcdctl', ['snapshot', 'restore', file, `--data-dir=${out}`]) : await timed(TSETCDUTL, ['snapshot', 'restore', file, `--data-dir=${out}`]);
    return { impl, fileBytes: fs.statSync(file).size, saveMs, restoreMs, rssBeforeBytes, rssPeakBytes, anonBeforeBytes, anonPeakBytes };
  } finally {
    await member.kill();
  }
}

const mb = (b: number): string => (b / 1e6).toFixed(0);
const rate = (bytes: number, ms: number): number => bytes / 1e6 / (ms / 1000);

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsetcd-bench-snapshot-'));
  try {
    console.log(`snapshot bench: ${SIZE_MIB} MiB of ${VALUE_BYTES / 1024} KiB random values, ${new Date().toISOString()}`);
    const rows = [await measure('etcd', dir), await measure('tsetcd', dir)];
    for (const r of rows) {
      console.log(
        `${r.impl.padEnd(7)} file ${mb(r.fileBytes)} MB  save ${(r.saveMs / 1000).toFixed(1)} s (${rate(r.fileBytes, r.saveMs).toFixed(0)} MB/s)  ` +
          `restore ${(r.restoreMs / 1000).toFixed(1)} s (${rate(r.fileBytes, r.restoreMs).toFixed(0)} MB/s)  rss before ${mb(r.rssBeforeBytes)} MB, peak during save ${mb(r.rssPeakBytes)} MB (+${mb(r.rssPeakBytes - r.rssBeforeBytes)}); anonymous ${mb(r.anonBeforeBytes)} MB, peak ${mb(r.anonPeakBytes)} MB (+${mb(r.anonPeakBytes - r.anonBeforeBytes)})`,
      );
    }
    const [e, t] = rows as [Row, Row];
    console.log(`ratio tsetcd/etcd (throughput): save ${(rate(t.fileBytes, t.saveMs) / rate(e.fileBytes, e.saveMs)).toFixed(2)}x, restore ${(rate(t.fileBytes, t.restoreMs) / rate(e.fileBytes, e.restoreMs)).toFixed(2)}x`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
