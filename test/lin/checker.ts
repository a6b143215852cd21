// A linearizability checker in the style of Porcupine and Knossos: Wing & Gong's search
// with Lowe's just-in-time linearization, memoizing every (set of linearized operations,
// model state) pair already explored so no configuration is searched twice.
//
// Histories of a key-value store are P-compositional: a history is linearizable iff the
// sub-history of every key is, so each key is checked on its own (checkKv).
//
// An operation whose outcome the client never learned (an error or a timeout) may or may
// not have taken effect: it is given a return time of +∞ and no output, so the search
// may linearize it anywhere after its invocation, or never.
import { performance } from 'node:perf_hooks';

// ------------------------------------------------------------------ the generic core

/** A sequential specification. States must be immutable values. */
export interface Model<S, I, O> {
  init(): S;
  /** the state after applying `input` in `state` with observed `output` (undefined = unknown); undefined if impossible */
  step(state: S, input: I, output: O | undefined): S | undefined;
  /** a string that is equal for equal states (used for memoization) */
  key(state: S): string;
  /**
   * True if this operation never changes the state, whatever the state (it only accepts
   * or refuses). Such an operation is linearized as soon as it can be, without trying
   * the alternatives: doing it earlier can only help the operations after it.
   */
  readOnly?(input: I, output: O | undefined): boolean;
  describeOp?(input: I, output: O | undefined): string;
  describeState?(state: S): string;
}

export interface Operation<I, O> {
  /** caller-chosen identity (client, sequence number, ...), shown in explanations */
  clientId: number;
  /** the operation's number in explanations (default: its index in the history checked) */
  id?: number;
  input: I;
  /** undefined when the outcome is unknown */
  output: O | undefined;
  /** invocation time */
  call: number;
  /** response time; Infinity when the outcome is unknown */
  return: number;
}

export interface CheckResult {
  ok: boolean;
  /** when not ok: what could not be linearized, readable */
  explanation?: string;
  /** configurations explored */
  steps: number;
  /** true if the search gave up (step budget); ok is then false but not a proof */
  timedOut?: boolean;
}

export interface CheckOptions {
  /** give up after this many search steps (default 50 million) */
  maxSteps?: number;
}

/** Zobrist-style random words, one pair per operation, for an incremental set hash. */
function zobrist(n: number): { lo: Uint32Array; hi: Uint32Array } {
  const lo = new Uint32Array(n);
  const hi = new Uint32Array(n);
  // a small deterministic xorshift: reproducible runs
  let x = 0x9e3779b9;
  const next = (): number => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
  for (let i = 0; i < n; i++) {
    lo[i] = next();
    hi[i] = next();
  }
  return { lo, hi };
}

function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

interface SearchOutcome<S> {
  ok: boolean;
  steps: number;
  timedOut: boolean;
  /** the longest sequence of operations linearized during the search, and the state after it */
  longest: number[];
  longestState: S;
}

/** A configuration: which operations are linearized, and the model state after them. */
interface Config<S> {
  bits: Uint32Array;
  state: S;
  /** Zobrist hash of the linearized operations of known outcome */
  lo: number;
  hi: number;
  /** the first not-yet-linearized entries of byReturn and byCall (monotone along a path) */
  retPtr: number;
  callPtr: number;
  depth: number;
  /** the linearization so far, as a linked list from the last operation */
  path: PathNode | undefined;
}

interface PathNode {
  op: number;
  prev: PathNode | undefined;
}

/**
 * The core search over one independent sub-history: a depth-first search over
 * configurations in which an operation may be linearized next when it was invoked
 * before every not-yet-linearized operation of known outcome returned (Lowe's
 * just-in-time linearization). Every configuration is remembered; one is pruned when an
 * equal one was met before, or one with the same operations of known outcome and state
 * but a subset of the unknown-outcome ones (those never have to happen, so fewer of them
 * used leaves strictly more futures). Children are generated, remembered and queued
 * before any is explored, operations of known outcome before unknown ones, so the
 * cheaper configuration is the one remembered first; that keeps many concurrent
 * unknown-outcome operations from making the search exponential.
 */
function search<S, I, O>(model: Model<S, I, O>, ops: Operation<I, O>[], maxSteps: number): SearchOutcome<S> {
  const n = ops.length;
  const words = Math.ceil(n / 32) || 1;
  const finiteMask = new Uint32Array(words);
  for (let i = 0; i < n; i++) if (ops[i]!.return !== Infinity) finiteMask[i >>> 5]! |= 1 << (i & 31);
  const byCall = ops.map((_, i) => i).sort((a, b) => ops[a]!.call - ops[b]!.call);
  const byReturn = ops
    .map((_, i) => i)
    .filter((i) => ops[i]!.return !== Infinity)
    .sort((a, b) => ops[a]!.return - ops[b]!.return);
  const z = zobrist(n);
  const isSet = (bits: Uint32Array, i: number): boolean => (bits[i >>> 5]! & (1 << (i & 31))) !== 0;

  // memo: hash of (known-outcome set, state) → configurations met with that hash
  const cache = new Map<number, Array<{ bits: Uint32Array; state: string }>>();
  const dominated = (bits: Uint32Array, stateKey: string, lo: number, hi: number): boolean => {
    const h = (hi & 0x1fffff) * 0x100000000 + ((lo ^ hashString(stateKey)) >>> 0);
    let bucket = cache.get(h);
    if (bucket) {
      next: for (const c of bucket) {
        if (c.state !== stateKey) continue;
        for (let w = 0; w < words; w++) {
          const m = finiteMask[w]!;
          // same known-outcome operations, and the remembered unknown ones ⊆ ours
          if ((c.bits[w]! & m) !== (bits[w]! & m) || (c.bits[w]! & ~m & ~bits[w]!) !== 0) continue next;
        }
        return true;
      }
    } else {
      bucket = [];
      cache.set(h, bucket);
    }
    bucket.push({ bits, state: stateKey });
    return false;
  };

  const root: Config<S> = { bits: new Uint32Array(words), state: model.init(), lo: 0, hi: 0, retPtr: 0, callPtr: 0, depth: 0, path: undefined };
  dominated(root.bits, model.key(root.state), 0, 0);
  const stack: Config<S>[] = [root];
  let deepest = root;
  let steps = 0;
  const unknownKids: Config<S>[] = [];
  const knownKids: Config<S>[] = [];
  while (stack.length > 0) {
    if (++steps > maxSteps) return outcome(false, true);
    const c = stack.pop()!;
    let retPtr = c.retPtr;
    while (retPtr < byReturn.length && isSet(c.bits, byReturn[retPtr]!)) retPtr++;
    if (retPtr === byReturn.length) {
      deepest = c;
      return outcome(true, false);
    }
    const deadline = ops[byReturn[retPtr]!]!.return;
    let callPtr = c.callPtr;
    while (callPtr < n && isSet(c.bits, byCall[callPtr]!)) callPtr++;
    knownKids.length = 0;
    unknownKids.length = 0;
    // ties count as concurrent: an operation invoked exactly when another returned may go first
    for (let k = callPtr; k < n; k++) {
      const i = byCall[k]!;
      const op = ops[i]!;
      if (op.call > deadline) break;
      if (isSet(c.bits, i)) continue;
      const state = model.step(c.state, op.input, op.output);
      if (state === undefined) continue;
      const eager = model.readOnly?.(op.input, op.output) ?? false;
      if (eager) {
        knownKids.length = 0;
        unknownKids.length = 0;
      }
      const bits = c.bits.slice();
      bits[i >>> 5]! |= 1 << (i & 31);
      const known = op.return !== Infinity;
      const lo = known ? c.lo ^ z.lo[i]! : c.lo;
      const hi = known ? c.hi ^ z.hi[i]! : c.hi;
      if (dominated(bits, model.key(state), lo, hi)) {
        if (eager) break;
        continue;
      }
      const kid: Config<S> = { bits, state, lo, hi, retPtr, callPtr, depth: c.depth + 1, path: { op: i, prev: c.path } };
      if (kid.depth > deepest.depth) deepest = kid;
      (known ? knownKids : unknownKids).push(kid);
      if (eager) break;
    }
    // explored in call order, known outcomes first
    for (let k = unknownKids.length - 1; k >= 0; k--) stack.push(unknownKids[k]!);
    for (let k = knownKids.length - 1; k >= 0; k--) stack.push(knownKids[k]!);
  }
  return outcome(false, false);

  function outcome(ok: boolean, timedOut: boolean): SearchOutcome<S> {
    const longest: number[] = [];
    for (let p = deepest.path; p; p = p.prev) longest.push(p.op);
    longest.reverse();
    return { ok, steps, timedOut, longest, longestState: deepest.state };
  }
}

/** The history as it stood at time `t`: operations invoked by then, those still running left open. */
function prefixAt<I, O>(ops: Operation<I, O>[], t: number): Operation<I, O>[] {
  return ops.filter((o) => o.call <= t).map((o) => (o.return <= t ? o : { ...o, return: Infinity }));
}

function fmtTime(t: number, t0: number): string {
  return t === Infinity ? '∞' : `${((t - t0) / 1000).toFixed(4)}s`;
}

function describe<S, I, O>(model: Model<S, I, O>, op: Operation<I, O>, idx: number, t0: number, pendingAtPrefix = false): string {
  const text = model.describeOp ? model.describeOp(op.input, op.output) : `${JSON.stringify(op.input)} -> ${JSON.stringify(op.output)}`;
  const unknown = op.output === undefined ? ' [outcome unknown]' : '';
  const pending = pendingAtPrefix ? ' [still running at that point]' : '';
  return `#${op.id ?? idx} client ${op.clientId}: ${text}${unknown}  (${fmtTime(op.call, t0)} .. ${fmtTime(op.return, t0)})${pending}`;
}

/**
 * Checks one independent history. On failure the explanation names the smallest prefix
 * (cut at an operation's return) that is already not linearizable, the operations around
 * the failure, and the longest linearization the search found for that prefix.
 */
export function checkOperations<S, I, O>(model: Model<S, I, O>, ops: Operation<I, O>[], opts: CheckOptions = {}): CheckResult {
  const maxSteps = opts.maxSteps ?? 50_000_000;
  const whole = search(model, ops, maxSteps);
  if (whole.ok) return { ok: true, steps: whole.steps };
  if (whole.timedOut) {
    return { ok: false, timedOut: true, steps: whole.steps, explanation: `gave up after ${whole.steps} search steps (${ops.length} operations)` };
  }
  // Linearizability is prefix-closed: binary search for the first return after which the
  // history is no longer linearizable.
  const returns = [...new Set(ops.map((o) => o.return).filter((t) => t !== Infinity))].sort((a, b) => a - b);
  let lo = 0;
  let hi = returns.length - 1; // the whole history (all returns) fails
  let steps = whole.steps;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const r = search(model, prefixAt(ops, returns[mid]!), maxSteps);
    steps += r.steps;
    if (r.ok) lo = mid + 1;
    else hi = mid;
  }
  const cut = returns[lo] ?? Infinity;
  const prefix = prefixAt(ops, cut);
  const failing = search(model, prefix, maxSteps);
  steps += failing.steps;
  const t0 = ops.reduce((m, o) => Math.min(m, o.call), Infinity);
  // indexes into `ops` of the prefix's operations (prefixAt keeps order)
  const idxOf = ops.map((o, i) => ({ o, i })).filter(({ o }) => o.call <= cut).map(({ i }) => i);
  const culprits = idxOf.filter((i) => ops[i]!.return === cut);
  // the window: everything running at some point between the culprits' invocation and the cut
  const windowStart = culprits.reduce((m, i) => Math.min(m, ops[i]!.call), Infinity);
  const lastBefore = idxOf.filter((i) => ops[i]!.return < windowStart).sort((a, b) => ops[b]!.return - ops[a]!.return).slice(0, 3);
  const window = idxOf.filter((i) => ops[i]!.return >= windowStart);
  const lines: string[] = [];
  lines.push(`not linearizable: the smallest failing prefix ends when ${culprits.map((i) => `#${ops[i]!.id ?? i}`).join(', ')} returned at ${fmtTime(cut, t0)} (${prefix.length} of ${ops.length} operations)`);
  lines.push('failing operation(s):');
  for (const i of culprits) lines.push('  ' + describe(model, ops[i]!, i, t0));
  lines.push(`operations that completed just before the window (latest first):`);
  for (const i of lastBefore) lines.push('  ' + describe(model, ops[i]!, i, t0));
  const shown = window.slice(-40);
  lines.push(`operations in the window (${window.length}${shown.length < window.length ? `, last ${shown.length} shown` : ''}):`);
  for (const i of shown) lines.push('  ' + describe(model, ops[i]!, i, t0, ops[i]!.return > cut));
  const lin = failing.longest.map((j) => idxOf[j]!);
  lines.push(`longest linearization found: ${lin.length} operations; its last ones:`);
  for (const i of lin.slice(-10)) lines.push('  ' + describe(model, ops[i]!, i, t0));
  const st = model.describeState ? model.describeState(failing.longestState) : model.key(failing.longestState);
  lines.push(`model state after it: ${st}`);
  return { ok: false, steps, explanation: lines.join('\n') };
}

// ------------------------------------------------------------------ the key-value model

export type KvInput = { type: 'put'; key: string; value: string } | { type: 'get'; key: string } | { type: 'delete'; key: string };

export type KvOutput =
  /** revision: the revision the put was assigned (header revision), if known */
  | { type: 'put'; revision?: number }
  /** value null = absent; modRevision of the key read, if known */
  | { type: 'get'; value: string | null; modRevision?: number }
  /** deleted: keys deleted (0 or 1), revision: the delete's revision when it deleted something */
  | { type: 'delete'; deleted?: number; revision?: number };

export type KvOperation = Operation<KvInput, KvOutput>;

/**
 * A register per key, with etcd's revisions: a key's mod revision only grows, a read
 * sees the value and mod revision of the latest write. `modRev` -1 means "written by an
 * operation whose revision is unknown"; `floor` is a lower bound every later write's
 * revision must exceed.
 */
export interface KvState {
  readonly value: string | null;
  readonly modRev: number;
  readonly floor: number;
}

export const kvModel: Model<KvState, KvInput, KvOutput> = {
  init: () => ({ value: null, modRev: 0, floor: 0 }),
  step(s, input, output) {
    switch (input.type) {
      case 'put': {
        const rev = output?.type === 'put' ? output.revision : undefined;
        if (rev === undefined) return { value: input.value, modRev: -1, floor: s.floor };
        if (rev <= s.floor) return undefined;
        return { value: input.value, modRev: rev, floor: rev };
      }
      case 'get': {
        if (output === undefined) return s; // a read of unknown outcome changes nothing
        if (output.type !== 'get' || output.value !== s.value) return undefined;
        if (output.value === null || output.modRevision === undefined) return s;
        if (s.modRev >= 0) return output.modRevision === s.modRev ? s : undefined;
        // the write's revision was unknown: this read tells it
        if (output.modRevision <= s.floor) return undefined;
        return { value: s.value, modRev: output.modRevision, floor: output.modRevision };
      }
      case 'delete': {
        const existed = s.value !== null;
        if (output?.type === 'delete' && output.deleted !== undefined && output.deleted !== (existed ? 1 : 0)) return undefined;
        if (!existed) return s;
        const rev = output?.type === 'delete' && output.deleted === 1 ? output.revision : undefined;
        if (rev !== undefined && rev <= s.floor) return undefined;
        return { value: null, modRev: 0, floor: rev ?? s.floor };
      }
    }
  },
  key: (s) => `${s.value === null ? '\u0001' : s.value}\u0000${s.modRev}\u0000${s.floor}`,
  describeOp(input, output) {
    const o = output;
    switch (input.type) {
      case 'put':
        return `put(${JSON.stringify(input.key)}, ${JSON.stringify(input.value)})` + (o?.type === 'put' && o.revision !== undefined ? ` -> rev ${o.revision}` : o ? ' -> ok' : '');
      case 'get':
        if (o?.type !== 'get') return `get(${JSON.stringify(input.key)})`;
        return `get(${JSON.stringify(input.key)}) -> ${o.value === null ? 'absent' : JSON.stringify(o.value)}${o.modRevision !== undefined ? ` (mod rev ${o.modRevision})` : ''}`;
      case 'delete':
        if (o?.type !== 'delete') return `delete(${JSON.stringify(input.key)})`;
        return `delete(${JSON.stringify(input.key)}) -> ${o.deleted ?? '?'} deleted${o.revision !== undefined ? ` (rev ${o.revision})` : ''}`;
    }
  },
  describeState: (s) => (s.value === null ? 'absent' : `${JSON.stringify(s.value)} at mod rev ${s.modRev < 0 ? `unknown (> ${s.floor})` : s.modRev}`),
};

/** kvModel for histories whose every write has a known revision: reads then never change the state */
const kvModelReadOnlyGets: Model<KvState, KvInput, KvOutput> = { ...kvModel, readOnly: (input) => input.type === 'get' };

export interface KvCheckOptions extends CheckOptions {
  /**
   * Use the uniqueness of written values to tighten unknown-outcome writes (default true):
   * a put of unknown outcome whose value some read returned must have happened before
   * that read returned, so its return time becomes the earliest such read's return; one
   * whose value no read ever returned is dropped (having happened or not cannot be told
   * apart by any other operation), unless the key has deletes that report a count.
   * Only applied to values written by exactly one put.
   */
  tightenUnknown?: boolean;
}

export interface KvCheckResult {
  ok: boolean;
  /** per failing key, its explanation */
  failures: Array<{ key: string; explanation: string; timedOut: boolean }>;
  keys: number;
  operations: number;
  steps: number;
  ms: number;
}

/** Checks a key-value history key by key (P-compositionality). */
export function checkKv(history: KvOperation[], opts: KvCheckOptions = {}): KvCheckResult {
  const started = performance.now();
  const byKey = new Map<string, KvOperation[]>();
  history.forEach((op, i) => {
    let list = byKey.get(op.input.key);
    if (!list) byKey.set(op.input.key, (list = []));
    list.push(op.id === undefined ? { ...op, id: i } : op);
  });
  const failures: KvCheckResult['failures'] = [];
  let steps = 0;
  for (const [key, ops] of [...byKey].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const prepared = opts.tightenUnknown === false ? ops.filter((o) => !(o.input.type === 'get' && o.output === undefined)) : tighten(ops);
    // Reads change the state only to learn the revision of a write whose revision is unknown
    const pinning = prepared.some((o) => o.input.type === 'put' && (o.output?.type !== 'put' || o.output.revision === undefined));
    const model = pinning ? kvModel : kvModelReadOnlyGets;
    const r = checkOperations(model, prepared, opts);
    steps += r.steps;
    if (!r.ok) failures.push({ key, explanation: `key ${JSON.stringify(key)}: ${r.explanation}`, timedOut: r.timedOut ?? false });
  }
  return { ok: failures.length === 0, failures, keys: byKey.size, operations: history.length, steps, ms: performance.now() - started };
}

function tighten(ops: KvOperation[]): KvOperation[] {
  const writers = new Map<string, number>();
  for (const o of ops) if (o.input.type === 'put') writers.set(o.input.value, (writers.get(o.input.value) ?? 0) + 1);
  const firstSeen = new Map<string, number>();
  const seenRevision = new Map<string, number>();
  for (const o of ops) {
    if (o.input.type !== 'get' || o.output?.type !== 'get' || o.output.value === null) continue;
    const v = o.output.value;
    firstSeen.set(v, Math.min(firstSeen.get(v) ?? Infinity, o.return));
    if (o.output.modRevision !== undefined && !seenRevision.has(v)) seenRevision.set(v, o.output.modRevision);
  }
  const countedDeletes = ops.some((o) => o.input.type === 'delete' && o.output?.type === 'delete' && o.output.deleted !== undefined);
  const out: KvOperation[] = [];
  for (const o of ops) {
    if (o.input.type === 'get' && o.output === undefined) continue;
    if (o.input.type === 'put' && o.output === undefined && writers.get(o.input.value) === 1) {
      const seen = firstSeen.get(o.input.value);
      if (seen === undefined) {
        if (!countedDeletes) continue;
      } else if (seen >= o.call) {
        // it happened: by the time of that read, and at the revision reads report for it
        // (the search still checks every read of it against that revision)
        const revision = seenRevision.get(o.input.value);
        out.push({ ...o, return: seen, output: { type: 'put', revision } });
        continue;
      }
      // a read returned the value before the put was invoked: keep the put open and let the search fail
    }
    out.push(o);
  }
  return out;
}

// ------------------------------------------------------------------ recording

/** Records a history as clients run: invoke before the request, then ok/unknown/failed. */
export class HistoryRecorder {
  readonly ops: KvOperation[] = [];

  invoke(clientId: number, input: KvInput): { ok(output: KvOutput): void; unknown(): void; failed(): void } {
    const call = performance.now();
    let done = false;
    return {
      ok: (output) => {
        if (done) return;
        done = true;
        this.ops.push({ clientId, id: this.ops.length, input, output, call, return: performance.now() });
      },
      unknown: () => {
        if (done) return;
        done = true;
        this.ops.push({ clientId, id: this.ops.length, input, output: undefined, call, return: Infinity });
      },
      /** the operation certainly did not take effect (reads that failed count as this too) */
      failed: () => {
        done = true;
      },
    };
  }
}
