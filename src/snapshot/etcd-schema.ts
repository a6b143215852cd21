// The mapping between tsetcd's backend records and the records etcd keeps in the same
// bucket of its bbolt file, both ways. Contract:
//   toEtcdBucket(bucket, tsetcdRecords, ctx)  -> the records etcd has in that bucket,
//       sorted by key bytewise (bbolt's order); tsetcd records etcd lacks are dropped.
//   fromEtcdBucket(bucket, etcdRecords, ctx)  -> tsetcd records, sorted by key; etcd
//       records tsetcd has no place for are dropped and reported to ctx.onDropped.
// The `key` bucket is identical in both (revision bytes -> mvccpb.KeyValue bytes), so it
// is streamed through untouched; the other buckets are small and are collected and sorted.
//
// Bucket by bucket (etcd 3.4 source; 3.5's meta keys "term" and "confState"):
//   key              same keys, same values.
//   meta             consistent_index (8-byte big-endian), scheduledCompactRev and
//                    finishedCompactRev (revision bytes): same. etcd 3.5 adds "term"
//                    (8-byte big-endian) and "confState" (Go JSON of raftpb.ConfState);
//                    tsetcd keeps those in its WAL, so they come from ctx.
//   lease            same key (8-byte big-endian ID); tsetcd's value is the TTL as 8-byte
//                    big-endian, followed by the checkpointed remaining TTL (8 more bytes)
//                    when one was persisted; etcd's a leasepb.Lease {ID=1, TTL=2,
//                    RemainingTTL=3}.
//   members          tsetcd: 16-hex-digit key, JSON {id,name,peerURLs,clientURLs,isLearner};
//                    etcd: unpadded hex key, Go JSON of membership.Member
//                    {"id":<decimal>,"peerURLs":[..],"isLearner":true?,"name"?,"clientURLs"?}.
//   members_removed  tsetcd: 16-hex-digit key, value 0x01; etcd: unpadded hex, "removed".
//   cluster          tsetcd keeps "clusterID" here (etcd keeps it in its WAL only, so it
//                    is dropped and must come back through ctx); etcd keeps
//                    "clusterVersion" (e.g. "3.5.0"), which tsetcd does not store.
//   alarm            tsetcd: key = member ID (8-byte big-endian) + alarm type byte;
//                    etcd: key = etcdserverpb.AlarmMember protobuf. Values empty in both.
//   auth, authUsers, authRoles   same keys, same values (authpb.User / authpb.Role).
// Not carried to etcd: tsetcd's cluster ID. Not carried from etcd: "term", "confState",
// "clusterVersion", 3.5's cluster "downgrade", 3.6's meta "storageVersion".
import type { Backend, BucketName } from '../backend/backend.js';
import { AlarmMember } from '../proto/etcdserverpb.js';

export type Record = readonly [key: Buffer, value: Buffer];

export interface ConfState {
  voters: readonly bigint[];
  learners?: readonly bigint[];
}

export interface EtcdExportContext {
  /** etcd's cluster/clusterVersion, e.g. "3.5.0"; left out when undefined */
  clusterVersion?: string;
  /** etcd 3.5's meta/term: the raft term of the entry at the consistent index */
  term?: bigint;
  /** etcd 3.5's meta/confState: the raft configuration at the consistent index */
  confState?: ConfState;
}

export interface EtcdImportContext {
  /** tsetcd's cluster/clusterID (etcd's backend does not hold it); left out when undefined */
  clusterId?: bigint;
  /** told of every etcd record that has no place in tsetcd's backend */
  onDropped?: (bucket: string, key: Buffer) => void;
}

/** etcd's buckets, in bbolt's order (names sorted bytewise): how etcd hashes and writes them. */
export const ETCD_BUCKET_ORDER: readonly BucketName[] = (
  ['key', 'meta', 'lease', 'members', 'members_removed', 'cluster', 'alarm', 'auth', 'authUsers', 'authRoles'] as const
)
  .slice()
  .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));

const META_KEPT = new Set(['consistent_index', 'scheduledCompactRev', 'finishedCompactRev']);
const META_TERM = 'term';
const META_CONF_STATE = 'confState';
const CLUSTER_ID = 'clusterID';
const CLUSTER_VERSION = 'clusterVersion';
const REMOVED = Buffer.from('removed');

export function toEtcdBucket(bucket: BucketName, records: Iterable<Record>, ctx: EtcdExportContext = {}): Iterable<Record> {
  switch (bucket) {
    case 'key':
    case 'auth':
    case 'authUsers':
    case 'authRoles':
      return records;
    case 'meta':
      return sorted(metaToEtcd(records, ctx));
    case 'lease':
      return sorted(map(records, ([k, v]) => [k, encodeLease(leaseIdOf(k), ...leaseRecord(v))]));
    case 'members':
      return sorted(map(records, ([, v]) => memberToEtcd(v)));
    case 'members_removed':
      return sorted(map(records, ([k]) => [Buffer.from(idFromHexKey(k, 'members_removed').toString(16)), REMOVED]));
    case 'cluster':
      return ctx.clusterVersion === undefined ? [] : [[Buffer.from(CLUSTER_VERSION), Buffer.from(ctx.clusterVersion)]];
    case 'alarm':
      return sorted(map(records, ([k]) => [alarmKeyToEtcd(k), Buffer.alloc(0)]));
  }
}

export function fromEtcdBucket(bucket: string, records: Iterable<Record>, ctx: EtcdImportContext = {}): Iterable<Record> {
  const drop = (k: Buffer): void => ctx.onDropped?.(bucket, k);
  switch (bucket) {
    case 'key':
    case 'auth':
    case 'authUsers':
    case 'authRoles':
      return records;
    case 'meta':
      return sorted(filter(records, ([k]) => META_KEPT.has(k.toString('latin1')) || (drop(k), false)));
    case 'lease':
      return sorted(map(records, ([k, v]) => [k, leaseValue(decodeLease(v))]));
    case 'members':
      return sorted(map(records, ([k, v]) => memberFromEtcd(k, v)));
    case 'members_removed':
      return sorted(map(records, ([k]) => [paddedHexKey(idFromHexKey(k, 'members_removed')), Buffer.from([1])]));
    case 'cluster':
      for (const [k] of records) drop(k);
      return ctx.clusterId === undefined ? [] : [[Buffer.from(CLUSTER_ID), uint64Bytes(ctx.clusterId)]];
    case 'alarm':
      return sorted(map(records, ([k]) => [alarmKeyFromEtcd(k), Buffer.alloc(0)]));
    default:
      for (const [k] of records) drop(k);
      return [];
  }
}

/** tsetcd's records of one bucket, in key order. */
export type BucketReader = (bucket: BucketName) => Iterable<Record>;

/** Every etcd bucket, in bbolt's order, with its records as etcd keeps them (lazily). */
export function* etcdView(read: BucketReader, ctx: EtcdExportContext): Generator<readonly [BucketName, Iterable<Record>]> {
  for (const bucket of ETCD_BUCKET_ORDER) yield [bucket, toEtcdBucket(bucket, read(bucket), ctx)];
}

/** A bucket of tsetcd's backend as records, in key order (streamed). */
export function* bucketRecords(backend: Backend, bucket: BucketName): Generator<Record> {
  for (const { key, value } of backend.range(bucket)) yield [key, value];
}

// ------------------------------------------------------------------ meta

function* metaToEtcd(records: Iterable<Record>, ctx: EtcdExportContext): Generator<Record> {
  for (const r of records) if (META_KEPT.has(r[0].toString('latin1'))) yield r;
  if (ctx.term !== undefined) yield [Buffer.from(META_TERM), uint64Bytes(ctx.term)];
  if (ctx.confState !== undefined) yield [Buffer.from(META_CONF_STATE), Buffer.from(confStateJson(ctx.confState))];
}

/** Go's json.Marshal of raftpb.ConfState: empty lists left out, auto_leave always written. */
export function confStateJson(cs: ConfState): string {
  const ids = (l: readonly bigint[]): string => `[${[...l].sort(cmpBigint).join(',')}]`;
  let s = '{';
  if (cs.voters.length > 0) s += `"voters":${ids(cs.voters)},`;
  if (cs.learners && cs.learners.length > 0) s += `"learners":${ids(cs.learners)},`;
  return s + '"auto_leave":false}';
}

// ------------------------------------------------------------------ lease

function leaseIdOf(key: Buffer): bigint {
  if (key.length !== 8) throw new Error(`etcd-schema: lease key of ${key.length} bytes, want 8`);
  return key.readBigInt64BE(0);
}

/** tsetcd's lease value: the TTL, and the persisted remaining TTL when there is one. */
function leaseRecord(v: Buffer): [ttl: bigint, remainingTtl: bigint] {
  if (v.length === 16) return [v.readBigInt64BE(0), v.readBigInt64BE(8)];
  return [readInt64(v, 'lease TTL'), 0n];
}

function leaseValue(l: { ttl: bigint; remainingTtl: bigint }): Buffer {
  if (l.remainingTtl <= 0n) return int64Bytes(l.ttl);
  return Buffer.concat([int64Bytes(l.ttl), int64Bytes(l.remainingTtl)]);
}

/** leasepb.Lease {ID = 1, TTL = 2, RemainingTTL = 3}: zero fields left out, as gogoproto does. */
export function encodeLease(id: bigint, ttl: bigint, remainingTtl = 0n): Buffer {
  const parts: number[] = [];
  if (id !== 0n) parts.push(0x08, ...varint(id));
  if (ttl !== 0n) parts.push(0x10, ...varint(ttl));
  if (remainingTtl !== 0n) parts.push(0x18, ...varint(remainingTtl));
  return Buffer.from(parts);
}

export function decodeLease(b: Buffer): { id: bigint; ttl: bigint; remainingTtl: bigint } {
  const out = { id: 0n, ttl: 0n, remainingTtl: 0n };
  let pos = 0;
  while (pos < b.length) {
    const [tag, p1] = readVarint(b, pos);
    if ((tag & 7n) !== 0n) throw new Error(`etcd-schema: leasepb.Lease field ${tag >> 3n} has wire type ${tag & 7n}, want varint`);
    const [v, p2] = readVarint(b, p1);
    pos = p2;
    const value = BigInt.asIntN(64, v);
    if (tag >> 3n === 1n) out.id = value;
    else if (tag >> 3n === 2n) out.ttl = value;
    else if (tag >> 3n === 3n) out.remainingTtl = value;
  }
  return out;
}

function varint(v: bigint): number[] {
  let u = BigInt.asUintN(64, v);
  const out: number[] = [];
  while (u >= 0x80n) {
    out.push(Number(u & 0x7fn) | 0x80);
    u >>= 7n;
  }
  out.push(Number(u));
  return out;
}

function readVarint(b: Buffer, pos: number): [bigint, number] {
  let v = 0n;
  for (let shift = 0n; shift < 70n; shift += 7n) {
    if (pos >= b.length) throw new Error('etcd-schema: truncated varint');
    const byte = b[pos++]!;
    v |= BigInt(byte & 0x7f) << shift;
    if (byte < 0x80) return [v, pos];
  }
  throw new Error('etcd-schema: varint longer than 10 bytes');
}

// ------------------------------------------------------------------ members

interface TsetcdMember {
  id: string;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
}

function memberToEtcd(value: Buffer): Record {
  const m = JSON.parse(value.toString('utf8')) as TsetcdMember;
  const id = BigInt('0x' + m.id);
  // field order and omissions of Go's json.Marshal(membership.Member)
  let json = `{"id":${id},"peerURLs":${goStringList(m.peerURLs)}`;
  if (m.isLearner) json += ',"isLearner":true';
  if (m.name) json += `,"name":${goJsonString(m.name)}`;
  if (m.clientURLs.length > 0) json += `,"clientURLs":${goStringList(m.clientURLs)}`;
  return [Buffer.from(id.toString(16)), Buffer.from(json + '}')];
}

function memberFromEtcd(key: Buffer, value: Buffer): Record {
  // the ID comes from the key: the JSON number does not fit a double
  const id = idFromHexKey(key, 'members');
  const m = JSON.parse(value.toString('utf8')) as { peerURLs?: string[] | null; isLearner?: boolean; name?: string; clientURLs?: string[] | null };
  const stored: TsetcdMember = {
    id: id.toString(16),
    name: m.name ?? '',
    peerURLs: m.peerURLs ?? [],
    clientURLs: m.clientURLs ?? [],
    isLearner: m.isLearner ?? false,
  };
  return [paddedHexKey(id), Buffer.from(JSON.stringify(stored))];
}

function idFromHexKey(key: Buffer, bucket: string): bigint {
  const s = key.toString('latin1');
  if (!/^[0-9a-f]{1,16}$/.test(s)) throw new Error(`etcd-schema: ${bucket} key ${JSON.stringify(s)} is not a hexadecimal member ID`);
  return BigInt('0x' + s);
}

function paddedHexKey(id: bigint): Buffer {
  return Buffer.from(id.toString(16).padStart(16, '0'));
}

function goStringList(l: readonly string[] | null | undefined): string {
  // Go writes a nil slice as null; tsetcd never stores one, but an empty list stays []
  return `[${(l ?? []).map(goJsonString).join(',')}]`;
}

/** A string as Go's encoding/json writes it (HTML-safe escaping, as json.Marshal does). */
export function goJsonString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += '\\' + ch;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20 || ch === '<' || ch === '>' || ch === '&' || c === 0x2028 || c === 0x2029) out += '\\u' + c.toString(16).padStart(4, '0');
    else if (c >= 0xd800 && c <= 0xdfff) out += '\\ufffd'; // a lone surrogate: invalid UTF-8 in Go
    else out += ch;
  }
  return out + '"';
}

// ------------------------------------------------------------------ alarm

function alarmKeyToEtcd(key: Buffer): Buffer {
  if (key.length !== 9) throw new Error(`etcd-schema: alarm key of ${key.length} bytes, want 9`);
  return AlarmMember.encode({ memberID: key.readBigUInt64BE(0), alarm: key[8]! });
}

function alarmKeyFromEtcd(key: Buffer): Buffer {
  const a = AlarmMember.decode(key);
  const b = Buffer.alloc(9);
  b.writeBigUInt64BE(BigInt.asUintN(64, a.memberID), 0);
  b[8] = a.alarm;
  return b;
}

// ------------------------------------------------------------------ helpers

function readInt64(v: Buffer, what: string): bigint {
  if (v.length !== 8) throw new Error(`etcd-schema: ${what} of ${v.length} bytes, want 8`);
  return v.readBigInt64BE(0);
}

function int64Bytes(v: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(v);
  return b;
}

function uint64Bytes(v: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt.asUintN(64, v));
  return b;
}

function cmpBigint(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function* map(records: Iterable<Record>, f: (r: Record) => Record): Generator<Record> {
  for (const r of records) yield f(r);
}

function* filter(records: Iterable<Record>, keep: (r: Record) => boolean): Generator<Record> {
  for (const r of records) if (keep(r)) yield r;
}

/** Small buckets only: collects the records and orders them as bbolt and LMDB do. */
function sorted(records: Iterable<Record>): Record[] {
  return [...records].sort((a, b) => Buffer.compare(a[0], b[0]));
}
