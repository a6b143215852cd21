// kill -9 at a random moment while a child process appends: every index the child reported
// as saved must be there afterwards, with its data intact, and the WAL must take more appends.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { Wal } from '../../src/wal/index.js';
import { entry, sizeFor } from './data.js';
import { assertSameData, tempDir } from './helpers.js';

const child = new URL('./child-appender.js', import.meta.url).pathname;

/** runs the appender until SIGKILL after `delayMs` from its first ack; returns the highest acked index */
async function runAndKill(dir: string, delayMs: number): Promise<number> {
  const p = spawn(process.execPath, [child], {
    env: { ...process.env, WAL_CHILD_DIR: dir, WAL_CHILD_MODE: 'append', WAL_CHILD_SEGMENT_BYTES: '65536' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let acked = 0;
  let pending = '';
  let stderr = '';
  let timer: NodeJS.Timeout | undefined;
  p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  p.stdout.on('data', (d: Buffer) => {
    pending += d.toString();
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const l of lines) acked = Math.max(acked, Number(l));
    if (timer === undefined && acked > 0) timer = setTimeout(() => p.kill('SIGKILL'), delayMs);
  });
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((res) => p.once('exit', (c, s) => res([c, s])));
  clearTimeout(timer);
  assert.equal(signal, 'SIGKILL', `child ended with code ${code}: ${stderr}`);
  return acked;
}

test('every acknowledged save survives SIGKILL at a random moment', async (t) => {
  const dir = join(tempDir(), 'member', 'wal');
  const seed = Date.now();
  let rnd = seed;
  const next = (): number => ((rnd = (rnd * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (let round = 0; round < 6; round++) {
    const acked = await runAndKill(dir, 20 + Math.floor(next() * 400));
    const r = await Wal.open(dir);
    const last = r.entries.length;
    assert.ok(last >= acked, `seed ${seed} round ${round}: acked ${acked} but only ${last} entries survived`);
    r.entries.forEach((e, i) => assert.ok(assertSameData(e, entry(i + 1, 1, sizeFor(i + 1))), `seed ${seed} round ${round}: entry ${i + 1} differs`));
    assert.ok(r.hardState.commit <= last);
    t.diagnostic(`round ${round}: acked ${acked}, recovered ${last}, repaired ${r.repairedBytes} bytes, ${r.wal.segments().length} segments`);
    await r.wal.close();
  }
  // a reopened WAL keeps working
  const r = await Wal.open(dir);
  const n = r.wal.lastIndex + 1;
  await r.wal.save({ term: 2, vote: 0n, commit: n }, [entry(n, 2)]);
  await r.wal.close();
  const again = await Wal.open(dir);
  assert.equal(again.entries.at(-1)!.index, n);
  assert.ok(again.wal.segments().length >= 1);
  await again.wal.close();
});
