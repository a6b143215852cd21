// Range permissions against a brute-force model: over a small key alphabet, a request is
// allowed exactly when every key it names is inside some permission of the right kind.
//
// Why the model is exact although key space is infinite: an uncovered part of a request
// range starts either at the request's own start or at the end of some permission. All
// of those are strings of length <= 4 over {\0, a, b, c, d} (keys and ends of length <= 3
// over a..c, plus "\0" for single keys and +1 for prefix ends), so checking every such
// string finds a gap whenever there is one.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { AuthField as F } from '../../src/auth/fields.js';
import { permissionInterval, RangeSet, requestInterval, type KeyInterval } from '../../src/auth/range-perms.js';
import { Permission_Type } from '../../src/proto/authpb.js';
import { bytes, fixture, run, withRoot } from './helpers.js';

const ALPHABET = ['\0', 'a', 'b', 'c', 'd'];
const UNIVERSE: string[] = (() => {
  const out = [''];
  let layer = [''];
  for (let len = 1; len <= 4; len++) {
    layer = layer.flatMap((p) => ALPHABET.map((c) => p + c));
    out.push(...layer);
  }
  return out;
})();

function prefixEnd(key: string): string {
  for (let i = key.length - 1; i >= 0; i--) {
    const c = key.charCodeAt(i);
    if (c < 0xff) return key.slice(0, i) + String.fromCharCode(c + 1);
  }
  return '\0';
}

const keyArb = fc.string({ unit: fc.constantFrom('a', 'b', 'c'), minLength: 1, maxLength: 3 });

/** a key and a range end in each of etcd's forms: single key, prefix, from-key, explicit */
const rangeArb = fc.tuple(keyArb, fc.constantFrom('single', 'prefix', 'from', 'explicit'), keyArb).map(([key, form, other]) => {
  const end = form === 'single' ? '' : form === 'prefix' ? prefixEnd(key) : form === 'from' ? '\0' : other;
  return { key, end };
});

const permArb = fc.tuple(rangeArb, fc.constantFrom(Permission_Type.READ, Permission_Type.WRITE, Permission_Type.READWRITE));

interface ModelPerm {
  role?: string;
  key: string;
  end: string;
  type: Permission_Type;
}

function modelContains(p: { key: string; end: string }, x: string): boolean {
  if (p.end === '') return x === p.key;
  if (p.end === '\0') return x >= p.key;
  return x >= p.key && x < p.end;
}

/** the keys a request names, as the model sees them */
function modelRequestKeys(key: string, end: string): string[] {
  if (end === '' || (end !== '\0' && end <= key)) return [key];
  return UNIVERSE.filter((x) => modelContains({ key, end }, x));
}

function modelAllowed(perms: ModelPerm[], kind: 'read' | 'write', key: string, end: string): boolean {
  const usable = perms.filter((p) => {
    if (p.end !== '' && p.end !== '\0' && p.end <= p.key) return false;
    return kind === 'read' ? p.type !== Permission_Type.WRITE : p.type !== Permission_Type.READ;
  });
  return modelRequestKeys(key, end).every((x) => usable.some((p) => modelContains(p, x)));
}

function setOf(perms: ModelPerm[], kind: 'read' | 'write'): RangeSet {
  const ivs: KeyInterval[] = [];
  for (const p of perms) {
    if (kind === 'read' ? p.type === Permission_Type.WRITE : p.type === Permission_Type.READ) continue;
    const iv = permissionInterval(bytes(p.key), bytes(p.end));
    if (iv) ivs.push(iv);
  }
  return RangeSet.of(ivs);
}

test('RangeSet covers a request exactly when the model does', () => {
  fc.assert(
    fc.property(fc.array(permArb, { maxLength: 6 }), rangeArb, fc.constantFrom('read' as const, 'write' as const), (raw, req, kind) => {
      const perms = raw.map(([r, type]) => ({ key: r.key, end: r.end, type }));
      const got = setOf(perms, kind).covers(requestInterval(bytes(req.key), bytes(req.end)));
      assert.equal(got, modelAllowed(perms, kind, req.key, req.end), JSON.stringify({ perms, req, kind }));
    }),
    { numRuns: 3000 },
  );
});

test('merged intervals are sorted, disjoint and not touching', () => {
  fc.assert(
    fc.property(fc.array(rangeArb, { maxLength: 8 }), (ranges) => {
      const set = RangeSet.of(ranges.map((r) => permissionInterval(bytes(r.key), bytes(r.end))).filter((x) => x !== undefined));
      const ivs = set.intervals();
      for (let i = 1; i < ivs.length; i++) {
        const prev = ivs[i - 1]!;
        assert.ok(prev.end !== null && prev.end < ivs[i]!.start, JSON.stringify(ivs));
      }
      for (const iv of ivs) assert.ok(iv.end === null || iv.start < iv.end);
    }),
  );
});

test('the store answers permission checks as the model does', async () => {
  const f = await fixture();
  try {
    const s = f.store;
    const root = await withRoot(s);
    await run(s, F.authUserAdd, { name: 'u', password: '', hashedPassword: '', options: { no_password: true } }, root);
    let round = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(permArb, { maxLength: 5 }), fc.array(rangeArb, { minLength: 1, maxLength: 5 }), async (raw, reqs) => {
        // a fresh role per round, split over two roles so unions across roles count too
        const names = [`a${round}`, `b${round}`];
        round++;
        for (const name of names) {
          await run(s, F.authRoleAdd, { name }, root);
          await run(s, F.authUserGrantRole, { user: 'u', role: name }, root);
        }
        try {
          const perms: ModelPerm[] = [];
          for (const [i, [r, type]] of raw.entries()) {
            try {
              s.apply(F.authRoleGrantPermission, { name: names[i % 2]!, perm: { permType: type, key: bytes(r.key), range_end: bytes(r.end) } }, root);
            } catch (err) {
              // etcd refuses a permission whose end is before its key; the model ignores those
              assert.equal((err as Error).message, 'etcdserver: invalid auth management');
              assert.ok(r.end <= r.key);
            }
            // granting a role the same range again replaces its type
            const role = names[i % 2]!;
            const same = perms.findIndex((p) => p.role === role && p.key === r.key && p.end === r.end);
            if (same >= 0) perms[same]!.type = type;
            else perms.push({ role, key: r.key, end: r.end, type });
          }
          const ai = { username: 'u', revision: s.revision };
          for (const req of reqs) {
            for (const kind of ['read', 'write'] as const) {
              const want = modelAllowed(perms, kind, req.key, req.end);
              let got = true;
              try {
                if (kind === 'read') s.checkRange(ai, bytes(req.key), bytes(req.end));
                else s.checkDeleteRange(ai, bytes(req.key), bytes(req.end), false);
              } catch (err) {
                assert.equal((err as Error).message, 'etcdserver: permission denied');
                got = false;
              }
              assert.equal(got, want, JSON.stringify({ perms, req, kind }));
            }
          }
        } finally {
          // a failed round must leave nothing behind, or shrinking chases ghosts
          for (const name of names) await run(s, F.authRoleDelete, { role: name }, root);
        }
      }),
      { numRuns: 150 },
    );
  } finally {
    await f.close();
  }
});
