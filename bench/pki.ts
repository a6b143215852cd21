// `tsetcdutl pki` against the real cfssl on the tutorials' certificate steps
// (test/pki/tutorials.ts: the scripts as the tutorials write them, cfssl | cfssljson
// pipelines, with only the tool swapped). Rounds alternate between the two tools so both
// see the same machine load; prints wall and CPU (user + system of every process in the
// pipelines) per tool and per tutorial, and the ratio.
//
//   node dist/bench/pki.js [ROUNDS]      (default 3; needs cfssl and cfssljson on PATH)
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FIXTURES } from '../test/pki/helpers.js';
import { scriptFor, TUTORIALS, type Tutorial } from '../test/pki/tutorials.js';

type Tool = 'cfssl' | 'tsetcdutl';

interface Sample {
  wallS: number;
  cpuS: number;
}

/** Runs one tutorial's steps in a fresh directory; bash's `times` gives the children's CPU. */
function runOnce(t: Tutorial, tool: Tool): Sample {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pki-bench-'));
  try {
    for (const f of readdirSync(path.join(FIXTURES, t.name))) copyFileSync(path.join(FIXTURES, t.name, f), path.join(dir, f));
    const script = `set -e\nD=${dir}\nexec 3>&2 2>/dev/null\nstart=$(date +%s.%N)\n${scriptFor(t, tool)}\nend=$(date +%s.%N)\necho "wall $start $end" >&3\ntimes >&3`;
    const r = spawnSync('bash', ['-c', script], { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${t.name} with ${tool} failed: ${r.stderr}`);
    const wall = /wall (\S+) (\S+)/.exec(r.stderr)!;
    // `times`: the shell's own user/sys, then its children's, each as XmY.YYYs
    const times = [...r.stderr.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
    return { wallS: Number(wall[2]) - Number(wall[1]), cpuS: times.reduce((a, b) => a + b, 0) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function main(): void {
  const rounds = Number(process.argv[2] ?? 3);
  const totals = new Map<string, Sample>();
  const add = (key: string, s: Sample): void => {
    const t = totals.get(key) ?? { wallS: 0, cpuS: 0 };
    totals.set(key, { wallS: t.wallS + s.wallS, cpuS: t.cpuS + s.cpuS });
  };
  for (let round = 0; round < rounds; round++) {
    const order: Tool[] = round % 2 === 0 ? ['cfssl', 'tsetcdutl'] : ['tsetcdutl', 'cfssl'];
    for (const t of TUTORIALS) {
      for (const tool of order) {
        const s = runOnce(t, tool);
        add(`${tool} ${t.name}`, s);
        add(`${tool} all`, s);
      }
    }
  }
  const row = (name: string): string => {
    const c = totals.get(`cfssl ${name}`)!;
    const o = totals.get(`tsetcdutl ${name}`)!;
    const f = (x: number): string => (x / rounds).toFixed(2).padStart(6);
    return `${name.padEnd(14)} ${f(c.wallS)} ${f(c.cpuS)}   ${f(o.wallS)} ${f(o.cpuS)}   ${(o.cpuS / c.cpuS).toFixed(2).padStart(5)}×`;
  };
  console.log(`load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}, ${rounds} rounds, seconds per round`);
  console.log(`${'tutorial'.padEnd(14)} ${'cfssl wall'.padStart(6)} ${'cpu'.padStart(6)}   ${'tsetcdutl wall'.padStart(6)} ${'cpu'.padStart(6)}   cpu ratio`);
  for (const t of TUTORIALS) console.log(row(t.name));
  console.log(row('all'));
}

main();
