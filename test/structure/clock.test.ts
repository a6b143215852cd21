// Proves issue 12's one-clock rule: the member's server, lease, watch, mvcc and peer code
// takes time, timers and randomness only from the injected Clock (src/pkg/clock.ts), so a
// simulator can run them on virtual time. It is the acceptance grep
//   grep -rn "Date.now\|setTimeout\|setInterval\|Math.random" src/server src/lease src/watch src/mvcc src/peer
// run over the sources; any hit outside the clock implementation fails with its line.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sourceFiles } from './source.js';

const CLOCKED = ['src/server/', 'src/lease/', 'src/watch/', 'src/mvcc/', 'src/peer/'];
const CLOCK_IMPLEMENTATION = 'src/pkg/clock.ts';
const AMBIENT_TIME = /Date\.now|setTimeout|setInterval|Math\.random/;

test('server, lease, watch, mvcc and peer use only the injected clock', () => {
  const files = sourceFiles().filter((f) => CLOCKED.some((dir) => f.rel.startsWith(dir)) && f.rel !== CLOCK_IMPLEMENTATION);
  assert.ok(files.length > 40, `expected the member's sources, found ${files.length} files`);
  const hits = files.flatMap((f) => f.text.split('\n').flatMap((line, i) => (AMBIENT_TIME.test(line) ? [`${f.rel}:${i + 1}: ${line.trim()}`] : [])));
  assert.deepEqual(hits, []);
});

test('the clock implementation is where ambient time lives (the scan would see it)', () => {
  const [clock] = sourceFiles('src/pkg').filter((f) => f.rel === CLOCK_IMPLEMENTATION);
  assert.ok(clock, 'src/pkg/clock.ts exists');
  assert.ok(AMBIENT_TIME.test(clock.text), 'the system clock wraps Date.now/setTimeout/setInterval/Math.random');
});
