// Shared by the proto tests: protobufjs as the reference implementation, random
// messages (fast-check arbitraries derived from the .proto reflection), and a
// canonical form to compare our messages with protobufjs's.

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import protobuf from 'protobufjs';
import type { MessageCodec } from '../../src/proto/runtime.js';
import * as authpb from '../../src/proto/authpb.js';
import * as etcdserverpb from '../../src/proto/etcdserverpb.js';
import * as mvccpb from '../../src/proto/mvccpb.js';
import * as v3electionpb from '../../src/proto/v3electionpb.js';
import * as v3lockpb from '../../src/proto/v3lockpb.js';
import * as testpb from './gen/testpb.js';

/** Repository root, from test/proto/ or from the compiled dist/test/proto/. */
export const REPO = (() => {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const up = path.resolve(here, '../..');
  return path.basename(up) === 'dist' ? path.dirname(up) : up;
})();

function loadRoot(dir: string, files: string[]): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin: string, target: string) => path.join(dir, target);
  root.loadSync(files, { keepCase: true });
  root.resolveAll();
  return root;
}

export const pbRoot = loadRoot(path.join(REPO, 'proto'), [
  'mvccpb/kv.proto',
  'authpb/auth.proto',
  'etcdserverpb/rpc.proto',
  'etcdserverpb/raft_internal.proto',
  'v3lockpb/v3lock.proto',
  'v3electionpb/v3election.proto',
]);
export const pbTestRoot = loadRoot(path.join(REPO, 'test/proto/fixtures'), ['testpb.proto']);

/** Every generated message codec, by proto type name. */
export const codecs = new Map<string, MessageCodec<any>>();
for (const mod of [authpb, etcdserverpb, mvccpb, v3electionpb, v3lockpb, testpb]) {
  for (const v of Object.values(mod)) {
    if (typeof v === 'object' && v !== null && 'typeName' in v && '$decode' in v) {
      const c = v as MessageCodec<any>;
      codecs.set(c.typeName, c);
    }
  }
}

export function pbType(typeName: string): protobuf.Type {
  const root = typeName.startsWith('testpb.') ? pbTestRoot : pbRoot;
  return root.lookupType(typeName);
}

export function codec(typeName: string): MessageCodec<any> {
  const c = codecs.get(typeName);
  if (c === undefined) throw new Error(`no codec for ${typeName}`);
  return c;
}

const nameOf = (t: protobuf.Type) => t.fullName.replace(/^\./, '');
const isMsg = (f: protobuf.Field) => f.resolvedType instanceof protobuf.Type;
const isEnum = (f: protobuf.Field) => f.resolvedType instanceof protobuf.Enum;
const INT64 = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);
const UNSIGNED64 = new Set(['uint64', 'fixed64']);
// protobufjs types util.Long loosely; it is the `long` package's class.
const Long = protobuf.util.Long as unknown as { fromString(s: string, unsigned: boolean, radix: number): protobuf.Long };

/** Whether our codec types this 64-bit field as bigint (found by decoding a probe). */
const bigCache = new Map<string, boolean>();
export function isBig(T: protobuf.Type, f: protobuf.Field): boolean {
  if (!INT64.has(f.type)) return false;
  const key = `${T.fullName}.${f.name}`;
  let big = bigCache.get(key);
  if (big === undefined) {
    const probe = T.encode(T.create({ [f.name]: f.repeated ? [1] : 1 })).finish();
    const v = codec(nameOf(T)).decode(probe)[f.name];
    big = typeof (f.repeated ? v[0] : v) === 'bigint';
    bigCache.set(key, big);
  }
  return big;
}

// ------------------------------------------------------------------ arbitraries

function arbScalar(T: protobuf.Type, f: protobuf.Field): fc.Arbitrary<unknown> {
  const big = isBig(T, f);
  switch (f.type) {
    case 'double':
      return fc.double();
    case 'float':
      return fc.float();
    case 'int32':
    case 'sint32':
    case 'sfixed32':
      return fc.integer();
    case 'uint32':
    case 'fixed32':
      return fc.integer({ min: 0, max: 0xffffffff });
    case 'int64':
    case 'sint64':
    case 'sfixed64':
      return big ? fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }) : fc.oneof(fc.maxSafeInteger(), fc.integer({ min: -1000, max: 1000 }));
    case 'uint64':
    case 'fixed64':
      return big ? fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) : fc.oneof(fc.maxSafeNat(), fc.nat({ max: 1000 }));
    case 'bool':
      return fc.boolean();
    case 'string':
      return fc.oneof(fc.string({ maxLength: 8 }), fc.string({ unit: 'binary', maxLength: 40 }));
    case 'bytes':
      return fc.oneof(fc.uint8Array({ maxLength: 12 }), fc.uint8Array({ minLength: 100, maxLength: 300 }));
    default:
      throw new Error(`scalar ${f.type}`);
  }
}

function arbValue(T: protobuf.Type, f: protobuf.Field, depth: number): fc.Arbitrary<unknown> {
  if (isMsg(f)) return arbMessage(f.resolvedType as protobuf.Type, depth - 1);
  if (isEnum(f)) {
    const values = Object.values((f.resolvedType as protobuf.Enum).values);
    // declared values, plus numbers the schema does not know (they must survive decoding)
    return fc.oneof(fc.constantFrom(...values), fc.integer({ min: -3, max: 300 }), fc.integer());
  }
  return arbScalar(T, f);
}

const arbCache = new Map<string, fc.Arbitrary<any>>();

/** Random messages of type T in our representation (nesting up to `depth` levels). */
export function arbMessage(T: protobuf.Type, depth = 3): fc.Arbitrary<any> {
  const key = `${T.fullName}@${depth}`;
  const cached = arbCache.get(key);
  if (cached) return cached;
  const c = codec(nameOf(T));
  const parts: Record<string, fc.Arbitrary<unknown>> = {};
  for (const f of T.fieldsArray) {
    if (f.partOf) continue;
    if (isMsg(f)) {
      if (depth <= 0) continue;
      const sub = arbValue(T, f, depth);
      parts[f.name] = f.repeated
        ? fc.array(sub, { maxLength: 3 })
        : fc.oneof({ arbitrary: fc.constant(undefined), weight: 2 }, { arbitrary: sub, weight: 1 });
    } else {
      const v = arbValue(T, f, depth);
      parts[f.name] = f.repeated ? fc.array(v, { maxLength: 5 }) : fc.oneof(v, v, v, fc.constant(undefined));
    }
  }
  for (const o of T.oneofsArray) {
    const members = o.fieldsArray.filter((f) => depth > 0 || !isMsg(f));
    parts[`$oneof_${o.name}`] = fc.oneof(
      fc.constant(null),
      ...members.map((f) => arbValue(T, f, depth).map((v) => [f.name, v] as [string, unknown])),
    );
  }
  const arb = fc.record(parts).map((r) => {
    const m = c.create();
    for (const [k, v] of Object.entries(r)) {
      if (k.startsWith('$oneof_')) {
        if (v !== null) {
          const [name, val] = v as [string, unknown];
          m[name] = val;
        }
      } else if (v !== undefined) {
        m[k] = v;
      }
    }
    return m;
  });
  arbCache.set(key, arb);
  return arb;
}

// ------------------------------------------------------------------ canonical form

function canonValue(f: protobuf.Field, v: any, side: 'ours' | 'pb'): unknown {
  if (isMsg(f)) return canon(f.resolvedType as protobuf.Type, v, side);
  if (isEnum(f)) return Number(v);
  if (f.type === 'bytes') return Buffer.from(v).toString('hex');
  if (INT64.has(f.type)) return typeof v === 'object' ? (v as protobuf.Long).toString() : String(v);
  if (f.type === 'double' || f.type === 'float') return Object.is(v, -0) ? '-0' : String(v);
  return v;
}

/** A plain, comparable rendering of a message from either side (defaults included). */
export function canon(T: protobuf.Type, m: any, side: 'ours' | 'pb'): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of T.fieldsArray) {
    const v = m[f.name];
    if (f.partOf) {
      const present = side === 'ours' ? v !== undefined : Object.prototype.hasOwnProperty.call(m, f.name) && v != null;
      out[f.name] = present ? canonValue(f, v, side) : null;
    } else if (f.repeated) {
      out[f.name] = (v ?? []).map((x: unknown) => canonValue(f, x, side));
    } else if (isMsg(f)) {
      out[f.name] = v == null ? null : canon(f.resolvedType as protobuf.Type, v, side);
    } else {
      out[f.name] = canonValue(f, v, side);
    }
  }
  return out;
}

function pbValue(f: protobuf.Field, v: any): unknown {
  if (isMsg(f)) return toPb(f.resolvedType as protobuf.Type, v);
  if (INT64.has(f.type)) return Long.fromString(String(v), UNSIGNED64.has(f.type), 10);
  return v;
}

function isDefault(v: unknown): boolean {
  if (typeof v === 'number') return Object.is(v, 0);
  if (typeof v === 'bigint') return v === 0n;
  if (typeof v === 'boolean') return !v;
  if (typeof v === 'string') return v.length === 0;
  if (v instanceof Uint8Array) return v.length === 0;
  return v === undefined;
}

/** The same message as a protobufjs message, with proto3 defaults left out (so its bytes are canonical). */
export function toPb(T: protobuf.Type, m: any): protobuf.Message {
  const props: Record<string, unknown> = {};
  for (const f of T.fieldsArray) {
    const v = m[f.name];
    if (f.partOf) {
      if (v !== undefined) props[f.name] = pbValue(f, v);
    } else if (f.repeated) {
      if (v.length) props[f.name] = v.map((x: unknown) => pbValue(f, x));
    } else if (isMsg(f)) {
      if (v !== undefined) props[f.name] = toPb(f.resolvedType as protobuf.Type, v);
    } else if (!isDefault(v)) {
      props[f.name] = pbValue(f, v);
    }
  }
  return T.create(props);
}

/** Every message type name we generate, with its protobufjs type. */
export function allTypes(): [string, protobuf.Type][] {
  return [...codecs.keys()].sort().map((n) => [n, pbType(n)]);
}
