// Times the certificate steps of the four pki tutorials (test/pki/tutorials.ts) with cfssl
// and with tsetcdutl pki, interleaved; prints wall and CPU (user + system) medians.
// Usage: npm run build && node tools/pki-bench.mjs [repo dir, default .] [rounds, default 5]
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
const repo = path.resolve(process.argv[2] ?? '.');
const rounds = Number(process.argv[3] ?? 5);
const { TUTORIALS, scriptFor } = await import(path.join(repo, 'dist/test/pki/tutorials.js'));
const FIX = path.join(repo, 'test/pki/fixtures');
const res = { cfssl: [], tsetcdutl: [] };
for (let r = 0; r < rounds; r++) for (const tool of ['cfssl', 'tsetcdutl']) {
  let wall = 0, cpu = 0;
  for (const t of TUTORIALS) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tb-'));
    for (const f of readdirSync(path.join(FIX, t.name))) copyFileSync(path.join(FIX, t.name, f), path.join(dir, f));
    const p = spawnSync('/usr/bin/time', ['-f', '%e %U %S', '/bin/sh', '-c', `set -e\nD=${dir}\n${scriptFor(t, tool)}`], { cwd: dir, encoding: 'utf8' });
    if (p.status !== 0) throw new Error(p.stderr);
    const [e, u, s] = p.stderr.trim().split('\n').pop().split(' ').map(Number);
    wall += e; cpu += u + s;
    rmSync(dir, { recursive: true });
  }
  res[tool].push([wall, cpu]);
}
const med = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const [tool, xs] of Object.entries(res)) console.log(`${tool}: wall median ${med(xs.map((x) => x[0])).toFixed(2)} s (min ${Math.min(...xs.map((x) => x[0])).toFixed(2)}), CPU median ${med(xs.map((x) => x[1])).toFixed(2)} s`);
