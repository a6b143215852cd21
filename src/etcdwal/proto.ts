// The few protobuf messages an etcd 3.4 WAL holds, decoded by hand (their field numbers are
// etcd's: walpb/record.proto, raft/raftpb/raft.proto, etcdserverpb/etcdserver.proto).
//
// Contract: every decoder reads only inside the bytes it is given, accepts unknown fields
// of wire types 0, 1, 2 and 5 (skipped, as proto2 readers do), and throws WalProtoError for
// anything else (a truncated varint or field, a group wire type, a 64-bit value where a
// safe integer or a uint32 is needed). Byte fields are views into the input.

export class WalProtoError extends Error {
  override name = 'WalProtoError';
}

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_BYTES = 2;
const WIRE_FIXED32 = 5;
const MAX_VARINT_BYTES = 10;

/** One field as read off the wire: a varint value or a byte range. */
export interface Field {
  no: number;
  wire: number;
  /** the value of a varint field (0n for the others) */
  varint: bigint;
  /** the payload of a length-delimited field (empty for the others) */
  bytes: Uint8Array;
}

const NO_BYTES = new Uint8Array(0);

/** Calls `onField` for each top-level field of `buf`, in wire order. */
export function forEachField(buf: Uint8Array, what: string, onField: (f: Field) => void): void {
  let pos = 0;
  while (pos < buf.length) {
    const [tag, afterTag] = readVarint(buf, pos, what);
    const no = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    if (no === 0) throw new WalProtoError(`${what}: field number 0 at byte ${pos}`);
    pos = afterTag;
    if (wire === WIRE_VARINT) {
      const [v, next] = readVarint(buf, pos, what);
      onField({ no, wire, varint: v, bytes: NO_BYTES });
      pos = next;
    } else if (wire === WIRE_BYTES) {
      const [len, start] = readVarint(buf, pos, what);
      if (len > BigInt(buf.length - start)) throw new WalProtoError(`${what}: field ${no} runs past the end (${len} bytes at byte ${start} of ${buf.length})`);
      const end = start + Number(len);
      onField({ no, wire, varint: 0n, bytes: buf.subarray(start, end) });
      pos = end;
    } else if (wire === WIRE_FIXED64 || wire === WIRE_FIXED32) {
      const size = wire === WIRE_FIXED64 ? 8 : 4;
      if (pos + size > buf.length) throw new WalProtoError(`${what}: field ${no} runs past the end`);
      onField({ no, wire, varint: 0n, bytes: NO_BYTES });
      pos += size;
    } else {
      throw new WalProtoError(`${what}: field ${no} has wire type ${wire}, which this reader does not accept`);
    }
  }
}

/** Reads an unsigned varint at `pos`; returns the value and the position after it. */
export function readVarint(buf: Uint8Array, pos: number, what: string): [bigint, number] {
  let v = 0n;
  for (let i = 0; i < MAX_VARINT_BYTES; i++) {
    if (pos + i >= buf.length) throw new WalProtoError(`${what}: truncated varint at byte ${pos}`);
    const b = buf[pos + i]!;
    v |= BigInt(b & 0x7f) << BigInt(7 * i);
    if (b < 0x80) return [BigInt.asUintN(64, v), pos + i + 1];
  }
  throw new WalProtoError(`${what}: varint longer than ${MAX_VARINT_BYTES} bytes at byte ${pos}`);
}

function expectWire(f: Field, wire: number, what: string): void {
  if (f.wire !== wire) throw new WalProtoError(`${what}: field ${f.no} has wire type ${f.wire}, expected ${wire}`);
}

function safeNumber(v: bigint, what: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new WalProtoError(`${what}: ${v} is beyond what this reader handles (2^53 - 1)`);
  return Number(v);
}

// ---- walpb.Record {int64 type = 1; uint32 crc = 2; bytes data = 3} ----------------------

export interface WalRecord {
  /** etcd's int64 as read; known record types are 1..5 */
  type: bigint;
  crc: number;
  data: Uint8Array;
}

export function decodeRecord(buf: Uint8Array): WalRecord {
  const rec: WalRecord = { type: 0n, crc: 0, data: NO_BYTES };
  forEachField(buf, 'walpb.Record', (f) => {
    if (f.no === 1) {
      expectWire(f, WIRE_VARINT, 'walpb.Record');
      rec.type = BigInt.asIntN(64, f.varint);
    } else if (f.no === 2) {
      expectWire(f, WIRE_VARINT, 'walpb.Record');
      rec.crc = Number(BigInt.asUintN(32, f.varint)); // Go's uint32 decoding keeps the low 32 bits
    } else if (f.no === 3) {
      expectWire(f, WIRE_BYTES, 'walpb.Record');
      rec.data = f.bytes;
    }
  });
  return rec;
}

// ---- raftpb.Entry {Type = 1; uint64 Term = 2; uint64 Index = 3; bytes Data = 4} ---------

/** raftpb.EntryType values */
export const EtcdEntryType = { normal: 0, confChange: 1, confChangeV2: 2 } as const;

export interface EtcdEntry {
  index: number;
  term: number;
  /** raftpb.EntryType as written (EtcdEntryType; other values are kept, not refused) */
  type: number;
  data: Uint8Array;
}

export function decodeEntry(buf: Uint8Array): EtcdEntry {
  const e: EtcdEntry = { index: 0, term: 0, type: 0, data: NO_BYTES };
  forEachField(buf, 'raftpb.Entry', (f) => {
    if (f.no === 1) {
      expectWire(f, WIRE_VARINT, 'raftpb.Entry');
      e.type = Number(BigInt.asIntN(32, f.varint));
    } else if (f.no === 2) {
      expectWire(f, WIRE_VARINT, 'raftpb.Entry');
      e.term = safeNumber(f.varint, 'raftpb.Entry term');
    } else if (f.no === 3) {
      expectWire(f, WIRE_VARINT, 'raftpb.Entry');
      e.index = safeNumber(f.varint, 'raftpb.Entry index');
    } else if (f.no === 4) {
      expectWire(f, WIRE_BYTES, 'raftpb.Entry');
      e.data = f.bytes;
    }
  });
  return e;
}

// ---- raftpb.HardState {uint64 term = 1; uint64 vote = 2; uint64 commit = 3} --------------

export interface EtcdHardState {
  term: number;
  /** member ID voted for, 0n for none */
  vote: bigint;
  commit: number;
}

export function decodeHardState(buf: Uint8Array): EtcdHardState {
  const s: EtcdHardState = { term: 0, vote: 0n, commit: 0 };
  forEachField(buf, 'raftpb.HardState', (f) => {
    if (f.no < 1 || f.no > 3) return;
    expectWire(f, WIRE_VARINT, 'raftpb.HardState');
    if (f.no === 1) s.term = safeNumber(f.varint, 'raftpb.HardState term');
    else if (f.no === 2) s.vote = f.varint;
    else s.commit = safeNumber(f.varint, 'raftpb.HardState commit');
  });
  return s;
}

// ---- etcdserverpb.Metadata {uint64 NodeID = 1; uint64 ClusterID = 2} ----------------------

export interface EtcdWalMetadata {
  nodeId: bigint;
  clusterId: bigint;
}

export function decodeMetadata(buf: Uint8Array): EtcdWalMetadata {
  const m: EtcdWalMetadata = { nodeId: 0n, clusterId: 0n };
  forEachField(buf, 'etcdserverpb.Metadata', (f) => {
    if (f.no !== 1 && f.no !== 2) return;
    expectWire(f, WIRE_VARINT, 'etcdserverpb.Metadata');
    if (f.no === 1) m.nodeId = f.varint;
    else m.clusterId = f.varint;
  });
  return m;
}

// ---- walpb.Snapshot {uint64 index = 1; uint64 term = 2} (3.5 adds conf_state = 3) ---------

export interface EtcdSnapshotMark {
  index: number;
  term: number;
}

export function decodeSnapshotMark(buf: Uint8Array): EtcdSnapshotMark {
  const s: EtcdSnapshotMark = { index: 0, term: 0 };
  forEachField(buf, 'walpb.Snapshot', (f) => {
    if (f.no !== 1 && f.no !== 2) return;
    expectWire(f, WIRE_VARINT, 'walpb.Snapshot');
    if (f.no === 1) s.index = safeNumber(f.varint, 'walpb.Snapshot index');
    else s.term = safeNumber(f.varint, 'walpb.Snapshot term');
  });
  return s;
}
