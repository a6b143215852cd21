// Membership changes while members are killed and partitioned (seeded, test/faults/chaos.ts):
// a learner added while a follower is killed and removed while down, a follower removed
// while cut off, a learner partitioned while it catches up and then promoted. Every
// round's history of puts and linearizable reads must be linearizable, and in the end
// every member holds the same data.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runChaos } from './chaos.js';

test('membership changes under kills and partitions stay linearizable', { timeout: 240_000 }, async () => {
  const r = await runChaos({ durationMs: 40_000, seed: 13, kinds: ['membership'] });
  console.log(JSON.stringify(r));
  assert.deepEqual(r.violations, []);
  assert.ok((r.faults['membership'] ?? 0) >= 1, 'no membership change ran');
  assert.ok(r.okOps > 100, `only ${r.okOps} operations succeeded`);
});
