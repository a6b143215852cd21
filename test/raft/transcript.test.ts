// Transcript tests: every test/raft/testdata/*.txt is a scenario of commands with the
// output each must print. Regenerate expectations (then review the diff!) with
//   node dist/test/raft/transcript.test.js --rewrite     (or REWRITE=1)
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runFile } from './interaction/datadriven.js';
import { InteractionEnv } from './interaction/env.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const dir = join(root, 'test', 'raft', 'testdata');
const rewrite = process.argv.includes('--rewrite') || process.env['REWRITE'] === '1';
const only = process.env['TRANSCRIPT'];

for (const f of readdirSync(dir).filter((n) => n.endsWith('.txt')).sort()) {
  if (only && !f.includes(only)) continue;
  test(`transcript ${f}`, () => {
    const env = new InteractionEnv();
    const { failures } = runFile(join(dir, f), (tc) => env.handle(tc), rewrite);
    if (failures.length > 0) assert.fail(`${failures.length} mismatches; first:\n${failures[0]}`);
  });
}
