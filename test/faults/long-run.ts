// The long fault run (not part of npm test): `npm run faults:long -- --minutes 10 --seed 1`
// loops every fault kind of test/faults/chaos.ts against one cluster, checks each round's
// history for linearizability, prints the counts as JSON and exits 1 on any violation.
import { parseArgs } from 'node:util';
import { runChaos } from './chaos.js';

const { values } = parseArgs({ options: { minutes: { type: 'string', default: '10' }, seed: { type: 'string', default: '1' } } });
const minutes = Number(values.minutes);
const seed = Number(values.seed);
if (!(minutes > 0) || !Number.isInteger(seed)) {
  console.error('usage: long-run [--minutes N] [--seed INT]');
  process.exit(2);
}
const started = new Date().toISOString();
const r = await runChaos({ durationMs: minutes * 60_000, seed });
console.log(JSON.stringify({ started, minutes, seed, ...r }, null, 2));
process.exit(r.violations.length === 0 ? 0 : 1);
