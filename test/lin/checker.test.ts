// The linearizability checker on hand-written histories (each a classic anomaly, or a
// legal overlap), on unknown outcomes, and on random histories produced by a sequential
// model under random concurrency: those must pass, and one corrupted value must fail them.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkKv, kvModel, type KvInput, type KvOperation, type KvOutput, type KvState } from './checker.js';

let nextClient = 0;
function op(input: KvInput, output: KvOutput | undefined, call: number, ret: number, clientId = nextClient++): KvOperation {
  return { clientId, input, output, call, return: output === undefined ? Infinity : ret };
}
const put = (key: string, value: string, call: number, ret: number, revision?: number): KvOperation =>
  op({ type: 'put', key, value }, { type: 'put', revision }, call, ret);
const putUnknown = (key: string, value: string, call: number): KvOperation => op({ type: 'put', key, value }, undefined, call, Infinity);
const get = (key: string, value: string | null, call: number, ret: number, modRevision?: number): KvOperation =>
  op({ type: 'get', key }, { type: 'get', value, modRevision }, call, ret);
const del = (key: string, deleted: number | undefined, call: number, ret: number, revision?: number): KvOperation =>
  op({ type: 'delete', key }, { type: 'delete', deleted, revision }, call, ret);

function assertOk(h: KvOperation[], tightenUnknown = true): void {
  const r = checkKv(h, { tightenUnknown });
  assert.ok(r.ok, r.failures.map((f) => f.explanation).join('\n'));
}
function assertNotOk(h: KvOperation[], tightenUnknown = true): string {
  const r = checkKv(h, { tightenUnknown });
  assert.equal(r.ok, false, 'expected a non-linearizable history');
  assert.ok(r.failures.every((f) => !f.timedOut));
  return r.failures.map((f) => f.explanation).join('\n');
}

describe('hand-written histories', () => {
  test('sequential writes and reads', () => {
    assertOk([get('x', null, 0, 1), put('x', 'a', 2, 3, 2), get('x', 'a', 4, 5, 2), put('x', 'b', 6, 7, 3), get('x', 'b', 8, 9, 3)]);
  });

  test('stale read after a completed write fails', () => {
    const why = assertNotOk([put('x', 'a', 0, 1, 2), put('x', 'b', 2, 3, 3), get('x', 'a', 4, 5, 2)]);
    assert.match(why, /get\("x"\) -> "a"/);
    assert.match(why, /smallest failing prefix/);
  });

  test('lost write fails', () => {
    assertNotOk([put('x', 'a', 0, 1, 2), get('x', null, 2, 3)]);
  });

  test('read of a value never written fails', () => {
    assertNotOk([put('x', 'a', 0, 1), get('x', 'zzz', 2, 3)]);
  });

  test('read of a value written only after the read returned fails', () => {
    assertNotOk([get('x', 'a', 0, 1), put('x', 'a', 2, 3)]);
  });

  test('a write concurrent with a read: the read may see either state', () => {
    assertOk([put('x', 'a', 0, 10, 2), get('x', null, 1, 2)]);
    assertOk([put('x', 'a', 0, 10, 2), get('x', 'a', 1, 2, 2)]);
  });

  test('two concurrent writes: later reads may see either order, but not both', () => {
    const w = (): KvOperation[] => [put('x', 'a', 0, 10), put('x', 'b', 1, 9)];
    assertOk([...w(), get('x', 'a', 11, 12)]);
    assertOk([...w(), get('x', 'b', 11, 12)]);
    // the reads during the writes settle an order: a then b
    assertOk([...w(), get('x', 'a', 2, 3), get('x', 'b', 4, 5), get('x', 'b', 11, 12)]);
    // ... after which a is no longer readable
    assertNotOk([...w(), get('x', 'a', 2, 3), get('x', 'b', 4, 5), get('x', 'a', 11, 12)]);
  });

  test('a read may not go back once a newer value was read (no flip-flop)', () => {
    assertNotOk([put('x', 'a', 0, 1), put('x', 'b', 2, 20), get('x', 'b', 3, 4), get('x', 'a', 5, 6)]);
  });

  test('revisions: a later write may not get a smaller revision, and reads see the write revision', () => {
    assertNotOk([put('x', 'a', 0, 1, 5), put('x', 'b', 2, 3, 4)]);
    assertNotOk([put('x', 'a', 0, 1, 5), get('x', 'a', 2, 3, 6)]);
    assertOk([put('x', 'a', 0, 1, 5), put('y', 'b', 2, 3, 4)]); // different keys: independent
  });

  test('deletes', () => {
    assertOk([put('x', 'a', 0, 1, 2), del('x', 1, 2, 3, 3), get('x', null, 4, 5), del('x', 0, 6, 7), put('x', 'b', 8, 9, 4), get('x', 'b', 10, 11, 4)]);
    assertNotOk([put('x', 'a', 0, 1, 2), del('x', 1, 2, 3, 3), get('x', 'a', 4, 5)]);
    assertNotOk([del('x', 1, 0, 1)]);
    assertNotOk([put('x', 'a', 0, 1, 2), del('x', 1, 2, 3, 3), put('x', 'b', 4, 5, 3)]);
  });

  test('the explanation names the failing operation and the window', () => {
    const why = assertNotOk([put('x', 'a', 0, 1, 2), put('x', 'b', 2, 3, 3), get('x', 'a', 10, 11, 2), get('x', 'b', 20, 21, 3)]);
    assert.match(why, /failing operation\(s\):\n\s+#2 /);
    assert.match(why, /model state after it: "b" at mod rev 3/);
    // the prefix stops at the first failing return; the later read is not part of it
    assert.match(why, /\(3 of 4 operations\)/);
  });
});

describe('unknown outcomes', () => {
  for (const tightenUnknown of [true, false]) {
    const mode = tightenUnknown ? 'tightened' : 'plain search';
    test(`${mode}: an unknown write may have happened or not`, () => {
      assertOk([put('x', 'a', 0, 1), putUnknown('x', 'b', 2), get('x', 'a', 3, 4)], tightenUnknown);
      assertOk([put('x', 'a', 0, 1), putUnknown('x', 'b', 2), get('x', 'b', 3, 4)], tightenUnknown);
      assertOk([put('x', 'a', 0, 1), putUnknown('x', 'b', 2), get('x', 'a', 3, 4), get('x', 'b', 5, 6)], tightenUnknown);
    });

    test(`${mode}: once an unknown write was observed it cannot be undone`, () => {
      assertNotOk([put('x', 'a', 0, 1), putUnknown('x', 'b', 2), get('x', 'b', 3, 4), get('x', 'a', 5, 6)], tightenUnknown);
    });

    test(`${mode}: an unknown write cannot be observed before it was invoked`, () => {
      assertNotOk([get('x', 'b', 0, 1), putUnknown('x', 'b', 2)], tightenUnknown);
    });

    test(`${mode}: an unknown write does not excuse a lost acknowledged write`, () => {
      assertNotOk([put('x', 'a', 0, 1, 2), putUnknown('x', 'b', 2), get('x', null, 3, 4)], tightenUnknown);
    });

    test(`${mode}: a read of an unknown write pins its revision`, () => {
      assertOk([put('x', 'a', 0, 1, 2), putUnknown('x', 'b', 2), get('x', 'b', 3, 4, 7), put('x', 'c', 5, 6, 8)], tightenUnknown);
      assertNotOk([put('x', 'a', 0, 1, 2), putUnknown('x', 'b', 2), get('x', 'b', 3, 4, 7), put('x', 'c', 5, 6, 6)], tightenUnknown);
      assertNotOk([put('x', 'a', 0, 1, 5), putUnknown('x', 'b', 2), get('x', 'b', 3, 4, 4)], tightenUnknown);
    });

    test(`${mode}: many unknown writes stay tractable`, () => {
      const h: KvOperation[] = [];
      for (let i = 0; i < 40; i++) h.push(putUnknown('x', `u${i}`, i));
      h.push(put('x', 'k', 100, 101), get('x', 'k', 102, 103), get('x', 'u7', 104, 105));
      assertOk(h, tightenUnknown);
    });
  }

  test('an unknown delete may have happened or not', () => {
    assertOk([put('x', 'a', 0, 1), op({ type: 'delete', key: 'x' }, undefined, 2, Infinity), get('x', 'a', 3, 4), get('x', null, 5, 6)]);
    assertNotOk([put('x', 'a', 0, 1), op({ type: 'delete', key: 'x' }, undefined, 2, Infinity), get('x', null, 3, 4), get('x', 'a', 5, 6)]);
  });

  test('unknown reads are ignored', () => {
    assertOk([put('x', 'a', 0, 1), op({ type: 'get', key: 'x' }, undefined, 2, Infinity)]);
  });
});

// ------------------------------------------------------------------ random histories

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

interface GenOptions {
  clients: number;
  opsPerClient: number;
  keys: number;
  /** longest operation duration */
  maxWindow: number;
  /** chance a write's outcome is unknown */
  unknownRate: number;
  deletes: boolean;
}

interface Generated {
  history: KvOperation[];
  /** the operations that took effect, in linearization order */
  effective: KvOperation[];
}

/**
 * Clients run one operation at a time, each taking a random time; every operation takes
 * effect at a random point inside its window (unknown-outcome writes sometimes not at
 * all), and a sequential model applied in that order gives the outputs.
 */
function generate(seed: number, o: GenOptions): Generated {
  const rand = rng(seed);
  const planned: Array<{ op: KvOperation; at: number; happens: boolean }> = [];
  let valueSeq = 0;
  for (let c = 0; c < o.clients; c++) {
    let t = rand() * o.maxWindow;
    for (let i = 0; i < o.opsPerClient; i++) {
      const call = t + rand() * 2;
      const ret = call + 0.001 + rand() * rand() * o.maxWindow;
      const key = `k${Math.floor(rand() * o.keys)}`;
      const r = rand();
      let input: KvInput;
      if (r < 0.45) input = { type: 'put', key, value: `v${valueSeq++}` };
      else if (o.deletes && r < 0.5) input = { type: 'delete', key };
      else input = { type: 'get', key };
      const unknown = input.type !== 'get' && rand() < o.unknownRate;
      planned.push({
        op: { clientId: c, input, output: undefined, call, return: unknown ? Infinity : ret },
        at: call + rand() * (ret - call),
        happens: !unknown || rand() < 0.5,
      });
      t = ret;
    }
  }
  planned.sort((a, b) => a.at - b.at);
  const state = new Map<string, { value: string; modRev: number }>();
  let rev = 1;
  const effective: KvOperation[] = [];
  for (const p of planned) {
    const { input } = p.op;
    if (!p.happens) continue;
    let output: KvOutput;
    if (input.type === 'put') {
      state.set(input.key, { value: input.value, modRev: ++rev });
      output = { type: 'put', revision: rev };
    } else if (input.type === 'delete') {
      const had = state.delete(input.key);
      output = had ? { type: 'delete', deleted: 1, revision: ++rev } : { type: 'delete', deleted: 0 };
    } else {
      const cur = state.get(input.key);
      output = { type: 'get', value: cur?.value ?? null, modRevision: cur?.modRev };
    }
    if (p.op.return !== Infinity) p.op.output = output;
    effective.push(p.op);
  }
  return { history: planned.map((p) => p.op).sort((a, b) => a.call - b.call), effective };
}

type Corruption = 'never-written' | 'stale' | 'future' | 'revision';

/** Changes one output so the history is certainly not linearizable; undefined if no spot fits. */
function corrupt(history: KvOperation[], kind: Corruption, rand: () => number): { history: KvOperation[]; what: string } | undefined {
  const h = history.map((o) => ({ ...o }));
  const known = h.filter((o) => o.output !== undefined);
  const reads = known.filter((o) => o.input.type === 'get');
  const writes = known.filter((o) => o.input.type === 'put' || (o.output?.type === 'delete' && o.output.deleted === 1));
  const shuffled = <T>(a: T[]): T[] => a.map((x) => ({ x, r: rand() })).sort((p, q) => p.r - q.r).map((p) => p.x);
  switch (kind) {
    case 'never-written': {
      const r = shuffled(reads)[0];
      if (!r) return undefined;
      r.output = { type: 'get', value: 'never-written' };
      return { history: h, what: `read at ${r.call} returns a value never written` };
    }
    case 'stale':
      // w1 finished before w2 began, w2 finished before the read began: the read saw w1
      for (const r of shuffled(reads)) {
        const key = r.input.key;
        const w2s = writes.filter((w) => w.input.key === key && w.return < r.call);
        for (const w2 of shuffled(w2s)) {
          const w1 = writes.find((w) => w.input.key === key && w.input.type === 'put' && w.return < w2.call);
          if (!w1 || w1.input.type !== 'put' || w1.output?.type !== 'put') continue;
          r.output = { type: 'get', value: w1.input.value, modRevision: w1.output.revision };
          return { history: h, what: `read at ${r.call} returns ${w1.input.value}, overwritten before it began` };
        }
      }
      return undefined;
    case 'future':
      for (const r of shuffled(reads)) {
        const w = h.find((o) => o.input.type === 'put' && o.input.key === r.input.key && o.call > r.return);
        if (!w || w.input.type !== 'put') continue;
        r.output = { type: 'get', value: w.input.value };
        return { history: h, what: `read at ${r.call} returns ${w.input.value}, written after it returned` };
      }
      return undefined;
    case 'revision':
      for (const w2 of shuffled(writes.filter((w) => w.input.type === 'put'))) {
        const w1 = writes.find((w) => w.input.key === w2.input.key && w.input.type === 'put' && w.return < w2.call);
        if (!w1 || w1.output?.type !== 'put') continue;
        w2.output = { type: 'put', revision: w1.output.revision };
        return { history: h, what: `put at ${w2.call} reuses revision ${w1.output.revision}` };
      }
      return undefined;
  }
}

describe('random histories', () => {
  const configs: Array<[string, GenOptions]> = [
    ['low concurrency', { clients: 3, opsPerClient: 60, keys: 2, maxWindow: 3, unknownRate: 0, deletes: false }],
    ['high concurrency', { clients: 20, opsPerClient: 30, keys: 3, maxWindow: 40, unknownRate: 0, deletes: true }],
    ['unknown outcomes', { clients: 10, opsPerClient: 40, keys: 3, maxWindow: 15, unknownRate: 0.15, deletes: false }],
    ['unknown outcomes with deletes', { clients: 8, opsPerClient: 30, keys: 2, maxWindow: 10, unknownRate: 0.1, deletes: true }],
  ];
  for (const [name, o] of configs) {
    test(`${name}: generated histories pass; one corrupted value fails`, () => {
      const kinds: Corruption[] = ['never-written', 'stale', 'future', 'revision'];
      let corrupted = 0;
      for (let seed = 1; seed <= 25; seed++) {
        const { history } = generate(seed * 7919, o);
        const r = checkKv(history);
        assert.ok(r.ok, `seed ${seed}: ${r.failures.map((f) => f.explanation).join('\n')}`);
        const plain = checkKv(history, { tightenUnknown: false });
        assert.ok(plain.ok, `seed ${seed} (plain search): ${plain.failures.map((f) => f.explanation).join('\n')}`);
        const rand = rng(seed);
        const kind = kinds[seed % kinds.length]!;
        const bad = corrupt(history, kind, rand);
        if (!bad) continue;
        corrupted++;
        const rb = checkKv(bad.history);
        assert.equal(rb.ok, false, `seed ${seed}: corruption not detected: ${bad.what}`);
        assert.ok(rb.failures.every((f) => !f.timedOut));
      }
      assert.ok(corrupted >= 15, `only ${corrupted} histories could be corrupted`);
    });
  }

  test('1000 operations on one key with 20 concurrent clients', () => {
    for (const seed of [11, 12, 13]) {
      const { history } = generate(seed, { clients: 20, opsPerClient: 50, keys: 1, maxWindow: 40, unknownRate: 0.03, deletes: false });
      assert.equal(history.length, 1000);
      const r = checkKv(history);
      assert.ok(r.ok, r.failures.map((f) => f.explanation).join('\n'));
      const bad = corrupt(history, 'stale', rng(seed));
      assert.ok(bad);
      const rb = checkKv(bad.history);
      assert.equal(rb.ok, false, bad.what);
      assert.ok(rb.failures.every((f) => !f.timedOut));
      console.log(`seed ${seed}: ${history.length} ops checked in ${r.ms.toFixed(0)} ms (${r.steps} steps); corrupted copy rejected in ${rb.ms.toFixed(0)} ms`);
    }
  });
});

// ------------------------------------------------------------------ against brute force

/** Every order of every allowed subset, checked against the model: the definition itself. */
function bruteForce(ops: KvOperation[]): boolean {
  const relevant = ops.filter((o) => !(o.input.type === 'get' && o.output === undefined));
  const n = relevant.length;
  const used = new Array<boolean>(n).fill(false);
  const mustDo = relevant.map((o) => o.output !== undefined);
  const search = (state: KvState, done: number): boolean => {
    // finished when every known-outcome operation is in
    if (relevant.every((o, i) => used[i] || !mustDo[i])) return true;
    for (let i = 0; i < n; i++) {
      if (used[i]) continue;
      const o = relevant[i]!;
      // all operations that returned before o was invoked must already be in (or be unknown and left out forever)
      let ok = true;
      for (let j = 0; j < n; j++) {
        if (!used[j] && j !== i && mustDo[j] && relevant[j]!.return < o.call) ok = false;
      }
      if (!ok) continue;
      const next = kvModel.step(state, o.input, o.output);
      if (next === undefined) continue;
      used[i] = true;
      if (search(next, done + 1)) return true;
      used[i] = false;
    }
    return false;
  };
  return search(kvModel.init(), 0);
}

describe('agrees with brute force on small random histories', () => {
  test('1500 histories of up to 7 operations, random outputs', () => {
    const rand = rng(4242);
    let linearizable = 0;
    for (let h = 0; h < 1500; h++) {
      const n = 1 + Math.floor(rand() * 7);
      const ops: KvOperation[] = [];
      const values: string[] = [];
      for (let i = 0; i < n; i++) {
        const call = Math.floor(rand() * 10);
        const ret = call + Math.floor(rand() * 6);
        const unknown = rand() < 0.2;
        const r = rand();
        if (r < 0.45) {
          const value = `v${i}`;
          values.push(value);
          const revision = rand() < 0.8 ? 2 + Math.floor(rand() * 5) : undefined;
          ops.push({ clientId: i, input: { type: 'put', key: 'x', value }, output: unknown ? undefined : { type: 'put', revision }, call, return: unknown ? Infinity : ret });
        } else if (r < 0.55) {
          const deleted = rand() < 0.5 ? 1 : 0;
          ops.push({ clientId: i, input: { type: 'delete', key: 'x' }, output: unknown ? undefined : { type: 'delete', deleted, revision: deleted ? 2 + Math.floor(rand() * 5) : undefined }, call, return: unknown ? Infinity : ret });
        } else {
          ops.push({ clientId: i, input: { type: 'get', key: 'x' }, output: undefined, call, return: ret });
        }
      }
      // reads return something plausible: absent, any value (written or not), any revision
      for (const o of ops) {
        if (o.input.type !== 'get') continue;
        const pick = rand();
        const value = pick < 0.25 ? null : pick < 0.9 && values.length > 0 ? values[Math.floor(rand() * values.length)]! : 'never';
        o.output = { type: 'get', value, modRevision: value === null || rand() < 0.2 ? undefined : 2 + Math.floor(rand() * 5) };
      }
      const expected = bruteForce(ops);
      if (expected) linearizable++;
      for (const tightenUnknown of [true, false]) {
        const got = checkKv(ops, { tightenUnknown }).ok;
        assert.equal(got, expected, `history ${h} (tighten ${tightenUnknown}): checker says ${got}, brute force ${expected}:\n${JSON.stringify(ops)}`);
      }
    }
    // both outcomes are well represented
    assert.ok(linearizable > 150 && linearizable < 1350, `${linearizable} of 1500 linearizable`);
  });
});
