// Reads the results bench/compare.sh collected for etcd and tsetcd and prints a
// markdown table: throughput, latency, server CPU per request, and tsetcd/etcd ratios.
import fs from 'node:fs';
import path from 'node:path';

interface Result {
  requestsPerSec: number;
  avgMs: number;
  p99Ms: number;
  total: number;
  serverCpuSec: number;
  rss: string;
}

function parse(file: string): Result | undefined {
  if (!fs.existsSync(file)) return undefined;
  const text = fs.readFileSync(file, 'utf8');
  const num = (re: RegExp): number => {
    const m = re.exec(text);
    return m ? Number(m[1]) : NaN;
  };
  return {
    requestsPerSec: num(/Requests\/sec:\s*([0-9.]+)/),
    avgMs: num(/Average:\s*([0-9.e-]+) secs/) * 1000,
    p99Ms: num(/99% in ([0-9.e-]+) secs/) * 1000,
    total: num(/--total=([0-9]+)/) || num(/--put-total=([0-9]+)/),
    serverCpuSec: num(/server-cpu: ([0-9.]+) s/),
    rss: /rss-after: (.*)$/m.exec(text)?.[1]?.trim() ?? '',
  };
}

const fmt = (n: number, digits = 0): string => (Number.isFinite(n) ? n.toFixed(digits) : '—');
const ratio = (a: number, b: number): string => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? (a / b).toFixed(2) + '×' : '—');

function main(): void {
  const out = process.argv[2];
  if (!out) {
    process.stderr.write('usage: summarize OUT_DIR\n');
    process.exit(2);
  }
  const etcdDir = path.join(out, 'etcd', 'results');
  const tsDir = path.join(out, 'tsetcd', 'results');
  const tests = [...new Set([...(fs.existsSync(etcdDir) ? fs.readdirSync(etcdDir) : []), ...(fs.existsSync(tsDir) ? fs.readdirSync(tsDir) : [])])]
    .filter((f) => f.endsWith('.txt'))
    .map((f) => f.replace(/\.txt$/, ''))
    .sort();
  const lines: string[] = [];
  const run = path.join(out, 'run.txt');
  if (fs.existsSync(run)) lines.push(...fs.readFileSync(run, 'utf8').trim().split('\n').map((l) => `- ${l}`), '');
  lines.push(
    '| test | etcd req/s | tsetcd req/s | ratio | etcd p99 ms | tsetcd p99 ms | etcd CPU µs/req | tsetcd CPU µs/req |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  );
  for (const t of tests) {
    const e = parse(path.join(etcdDir, `${t}.txt`));
    const s = parse(path.join(tsDir, `${t}.txt`));
    const cpu = (r?: Result) => (r ? (r.serverCpuSec / r.total) * 1e6 : NaN);
    lines.push(
      `| ${t} | ${fmt(e?.requestsPerSec ?? NaN)} | ${fmt(s?.requestsPerSec ?? NaN)} | ${ratio(s?.requestsPerSec ?? NaN, e?.requestsPerSec ?? NaN)} | ${fmt(e?.p99Ms ?? NaN, 2)} | ${fmt(s?.p99Ms ?? NaN, 2)} | ${fmt(cpu(e))} | ${fmt(cpu(s))} |`,
    );
  }
  process.stdout.write(lines.join('\n') + '\n');
}

main();
