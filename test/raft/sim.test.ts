// The deterministic cluster simulator (test/raft/sim/). Runs as many seeds as fit the
// time budget; a failure prints its seed and the tail of its event trace.
//   SIM_SEED=n node dist/test/raft/sim.test.js        rerun one seed (with a trace)
//   SIM_BUDGET_MS=60000 / SIM_SEEDS=5000 / SIM_FIRST_SEED=k   widen or shift the search
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { configForSeed, SimFailure, Simulation } from './sim/cluster.js';

const env = process.env;

function runSeed(seed: number, traceLimit: number): { ok: true } | { ok: false; failure: SimFailure; trace: string[] } {
  const sim = new Simulation(configForSeed(seed), traceLimit);
  try {
    sim.run();
    return { ok: true };
  } catch (err) {
    if (!(err instanceof SimFailure)) throw err;
    return { ok: false, failure: err, trace: sim.trace() };
  }
}

function report(seed: number): string {
  const again = runSeed(seed, 300);
  const cfg = JSON.stringify(configForSeed(seed));
  const tail = again.ok ? '(did not fail again: nondeterminism!)' : again.trace.join('\n');
  return `${tail}\nconfig: ${cfg}\nreproduce: SIM_SEED=${seed} node dist/test/raft/sim.test.js`;
}

if (env['SIM_SEED']) {
  const seed = Number(env['SIM_SEED']);
  test(`simulation seed ${seed}`, () => {
    const r = runSeed(seed, 2000);
    if (!r.ok) assert.fail(`${r.failure.message}\n${r.trace.join('\n')}\nconfig: ${JSON.stringify(configForSeed(seed))}`);
  });
} else {
  test('a seed replays identically', () => {
    const a = new Simulation(configForSeed(7)).run();
    const b = new Simulation(configForSeed(7)).run();
    assert.deepEqual(a, b);
  });

  test('simulated clusters stay safe and live under faults', () => {
    const budgetMs = Number(env['SIM_BUDGET_MS'] ?? 25000);
    const maxSeeds = Number(env['SIM_SEEDS'] ?? 100000);
    const first = Number(env['SIM_FIRST_SEED'] ?? 1);
    const start = Date.now();
    let n = 0;
    const totals = { leaders: 0, applied: 0, snapshotsSent: 0, readsServed: 0, confChanges: 0, crashes: 0 };
    for (let seed = first; n < maxSeeds && Date.now() - start < budgetMs; seed++, n++) {
      const sim = new Simulation(configForSeed(seed));
      let stats;
      try {
        stats = sim.run();
      } catch (err) {
        if (err instanceof SimFailure) assert.fail(`${err.message}\n${report(seed)}`);
        throw err;
      }
      for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += stats[k];
    }
    const secs = ((Date.now() - start) / 1000).toFixed(1);
    console.log(`raft sim: ${n} seeds (${first}..${first + n - 1}) in ${secs}s; totals ${JSON.stringify(totals)}`);
    assert.ok(n >= 100, `only ${n} seeds ran in the budget`);
  });
}
