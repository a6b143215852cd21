// Proves the progress line of snapshot save/restore: on a terminal it shows bytes done of
// the total, percent, rate and time left, redrawn in place and not more often than its
// interval; when stderr is not a terminal it writes nothing at all (scripts and -w json
// users get only the tool's output).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Progress, progressLine } from '../../src/cli/progress.js';

function sink(isTTY: boolean): { isTTY: boolean; out: string[]; write(t: string): void } {
  const out: string[] = [];
  return { isTTY, out, write: (t) => out.push(t) };
}

test('a terminal gets bytes, percent, rate and ETA, redrawn in place at most every 200 ms', () => {
  let nowMs = 0;
  const s = sink(true);
  const p = new Progress('restoring', s, () => nowMs);
  nowMs = 1000;
  p.update(50_000_000, 200_000_000);
  nowMs = 1100;
  p.update(60_000_000, 200_000_000); // too soon: not drawn
  nowMs = 2000;
  p.update(100_000_000, 200_000_000);
  p.update(200_000_000, 200_000_000); // the end is always drawn
  p.done();
  assert.equal(s.out.length, 4);
  assert.equal(s.out[0], '\r\x1b[Krestoring: 50 MB / 200 MB (25%), 50 MB/s, ETA 3s');
  assert.equal(s.out[1], '\r\x1b[Krestoring: 100 MB / 200 MB (50%), 50 MB/s, ETA 2s');
  assert.equal(s.out[3], '\n', 'the line is ended when done');
});

test('not a terminal: nothing is written', () => {
  const s = sink(false);
  const p = new Progress('saving', s, () => 5000);
  p.update(1, 2);
  p.update(2, 2);
  p.done();
  assert.deepEqual(s.out, []);
});

test('the line before any progress has no rate and an unknown ETA', () => {
  assert.equal(progressLine('saving', 0, 1000, 0), 'saving: 0 B / 1.0 kB (0%), 0 B/s, ETA ?');
});
