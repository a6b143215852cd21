// MVCC against a model: after any sequence of puts, deletes, multi-op transactions,
// compactions and restarts, every read at every readable revision returns what a
// plain map history says, and unreadable revisions fail with the right error.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { Backend } from '../../src/backend/backend.js';
import { MvccStore } from '../../src/mvcc/store.js';
import { MvccError } from '../../src/mvcc/errors.js';
import { makeRange } from '../../src/mvcc/tree-index.js';
import { tempDir } from '../helpers/tmp.js';

interface ModelKv {
  value: string;
  create: number;
  mod: number;
  version: number;
}
type State = Map<string, ModelKv>;

type Op =
  | { t: 'put'; key: string; value: string }
  | { t: 'del'; key: string; end?: string }
  | { t: 'txn'; ops: Array<{ t: 'put'; key: string; value: string } | { t: 'del'; key: string }> }
  | { t: 'compact'; back: number }
  | { t: 'restart' };

const keyArb = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'ab', 'b\u00ff', '\u0000');
const valueArb = fc.string({ maxLength: 6, unit: 'grapheme-ascii' });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ t: fc.constant('put' as const), key: keyArb, value: valueArb }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('del' as const), key: keyArb, end: fc.option(keyArb, { nil: undefined }) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('txn' as const),
      ops: fc.uniqueArray(
        fc.oneof(
          fc.record({ t: fc.constant('put' as const), key: keyArb, value: valueArb }),
          fc.record({ t: fc.constant('del' as const), key: keyArb }),
        ),
        { minLength: 1, maxLength: 4, selector: (o) => o.key },
      ),
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('compact' as const), back: fc.nat(5) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('restart' as const) }) },
);

function inRange(k: string, start: string, end: string | undefined): boolean {
  if (end === undefined) return k === start;
  return k >= start && (end === '' || k < end);
}

function modelPut(s: State, rev: number, key: string, value: string): void {
  const prev = s.get(key);
  s.set(key, { value, create: prev ? prev.create : rev, mod: rev, version: prev ? prev.version + 1 : 1 });
}

function modelDel(s: State, start: string, end: string | undefined): number {
  let n = 0;
  for (const k of [...s.keys()]) if (inRange(k, start, end)) (s.delete(k), n++);
  return n;
}

const bytes = (s: string) => Buffer.from(s, 'latin1');

test('mvcc matches a model history under puts, deletes, txns, compactions and restarts', async () => {
  const { dir, cleanup } = tempDir();
  let runNo = 0;
  try {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40 }), async (ops) => {
        const dbPath = path.join(dir, `run-${runNo++}`, 'db');
        let backend = Backend.open(dbPath);
        let store = new MvccStore(backend);
        store.restore();
        // history[r] = state after revision r; revision 1 is the empty store
        const history: State[] = [new Map(), new Map()];
        let compactRev = -1;
        const cur = () => history[history.length - 1]!;
        try {
          for (const op of ops) {
            if (op.t === 'restart') {
              await backend.close();
              backend = Backend.open(dbPath);
              store = new MvccStore(backend);
              store.restore();
              continue;
            }
            if (op.t === 'compact') {
              const target = Math.max(1, history.length - 1 - op.back);
              if (target <= compactRev) {
                assert.throws(() => backend.write(() => store.compact(target)), MvccError);
                continue;
              }
              await backend.write(() => store.compact(target));
              compactRev = target;
              continue;
            }
            const next = new Map(cur());
            const rev = history.length;
            let changed = false;
            backend.write(() => {
              const txn = store.write();
              const steps = op.t === 'txn' ? op.ops : [op];
              for (const s of steps) {
                if (s.t === 'put') {
                  txn.put(bytes(s.key), bytes(s.value), 0n);
                  modelPut(next, rev, s.key, s.value);
                  changed = true;
                } else {
                  const end = 'end' in s ? (s.end as string | undefined) : undefined;
                  const range = makeRange(bytes(s.key), end === undefined ? undefined : bytes(end));
                  const n = txn.deleteRange(range);
                  const m = modelDel(next, range.start, range.end);
                  assert.equal(n, m, 'deleted count');
                  if (n > 0) changed = true;
                }
              }
              txn.end();
            });
            if (changed) history.push(next);
            assert.equal(store.rev, history.length - 1, 'current revision');
          }
          checkAllReads(store, history, compactRev);
        } finally {
          await backend.close();
        }
      }),
      { numRuns: 150 },
    );
  } finally {
    cleanup();
  }
});

function checkAllReads(store: MvccStore, history: State[], compactRev: number): void {
  const current = history.length - 1;
  const ranges: Array<[string, string | undefined]> = [
    ['a', undefined],
    ['b', undefined],
    ['a', 'c'],
    ['\u0000', ''],
    ['b', ''],
    ['c', 'a'],
  ];
  for (let rev = 1; rev <= current + 1; rev++) {
    for (const [start, end] of ranges) {
      const range = { start, end };
      if (rev > current) {
        assert.throws(() => store.range(range, { rev }), (e: unknown) => e instanceof MvccError && e.kind === 'future-rev');
        continue;
      }
      if (rev < compactRev) {
        assert.throws(() => store.range(range, { rev }), (e: unknown) => e instanceof MvccError && e.kind === 'compacted');
        continue;
      }
      const want = [...history[rev]!.entries()].filter(([k]) => inRange(k, start, end)).sort(([a], [b]) => (a < b ? -1 : 1));
      const got = store.range(range, { rev });
      assert.equal(got.count, want.length, `count at ${rev} [${start},${end})`);
      assert.equal(got.rev, current);
      assert.deepEqual(
        got.kvs.map((kv) => [Buffer.from(kv.key).toString('latin1'), Buffer.from(kv.value).toString('latin1'), kv.create_revision, kv.mod_revision, kv.version]),
        want.map(([k, v]) => [k, v.value, v.create, v.mod, v.version]),
        `kvs at ${rev} [${start},${end})`,
      );
      const limited = store.range(range, { rev, limit: 1 });
      assert.equal(limited.kvs.length, Math.min(1, want.length));
      assert.equal(limited.count, want.length);
    }
  }
}
