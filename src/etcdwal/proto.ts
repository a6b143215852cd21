// The few protobuf messages an etcd 3.4 WAL holds, decoded by hand (their field numbers are
// etcd's: walpb/record.proto, raft/raftpb/raft.proto, etcdserverpb/etcdserver.proto).
//
// Contract: every decoder reads only inside the bytes it is given and follows the rules of
// the gogo/protobuf code etcd 3.4 decodes with, so that it accepts and refuses the same
// bytes: unknown fields of any wire type but 4, 6 and 7 are skipped (groups included), a
// field number below 1 or a known field with the wrong wire type is refused. It throws
// WalProtoError; `truncated` is set when the bytes end inside a field, which etcd reports as
// io.ErrUnexpectedEOF (and its repair treats as a torn write). Byte fields are views into
// the input.

export class WalProtoError extends Error {
  override name = 'WalProtoError';
  constructor(
    message: string,
    /** the message ends inside a field (gogo's io.ErrUnexpectedEOF) */
    readonly truncated = false,
  ) {
    super(message);
  }
}

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_BYTES = 2;
const WIRE_GROUP_START = 3;
const WIRE_GROUP_END = 4;
const WIRE_FIXED32 = 5;
const MAX_VARINT_BYTES = 10;
/** gogo recurses without limit into unknown groups; a JS stack does not, so nesting is capped */
const MAX_GROUP_DEPTH = 1000;

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

function truncated(what: string, pos: number): WalProtoError {
  return new WalProtoError(`${what}: unexpected EOF (a field runs past the end at byte ${pos})`, true);
}

/** Field number to wire type, for the fields a decoder knows. */
export type Schema = ReadonlyMap<number, number>;

/**
 * Calls `onField` for each top-level field of `buf`, in wire order. With a schema, a known
 * field's wire type is checked before its value is read (gogo's order) and only known
 * fields are passed on.
 */
export function forEachField(buf: Uint8Array, what: string, onField: (f: Field) => void, schema?: Schema): void {
  let pos = 0;
  while (pos < buf.length) {
    const [tag, afterTag] = readVarint(buf, pos, what);
    // gogo keeps the field number as an int32
    const no = Number(BigInt.asIntN(32, tag >> 3n));
    const wire = Number(tag & 7n);
    if (wire === WIRE_GROUP_END) throw new WalProtoError(`${what}: wiretype end group for non-group at byte ${pos}`);
    if (no <= 0) throw new WalProtoError(`${what}: illegal tag ${no} (wire type ${wire}) at byte ${pos}`);
    pos = afterTag;
    const expected = schema?.get(no);
    if (expected !== undefined && expected !== wire) throw new WalProtoError(`${what}: wrong wireType = ${wire} for field ${no}`);
    if (schema !== undefined && expected === undefined) {
      pos = skipValue(buf, pos, wire, what, 0);
      continue;
    }
    if (wire === WIRE_VARINT) {
      const [v, next] = readVarint(buf, pos, what);
      onField({ no, wire, varint: v, bytes: NO_BYTES });
      pos = next;
    } else if (wire === WIRE_BYTES) {
      const [start, end] = lengthDelimited(buf, pos, what);
      onField({ no, wire, varint: 0n, bytes: buf.subarray(start, end) });
      pos = end;
    } else {
      const end = skipValue(buf, pos, wire, what, 0);
      onField({ no, wire, varint: 0n, bytes: NO_BYTES });
      pos = end;
    }
  }
}

/** The payload range of a length-delimited value whose length varint starts at `pos`. */
function lengthDelimited(buf: Uint8Array, pos: number, what: string): [number, number] {
  const [len, start] = readVarint(buf, pos, what);
  if (BigInt.asIntN(64, len) < 0n) throw new WalProtoError(`${what}: negative length found during unmarshaling at byte ${pos}`);
  if (len > BigInt(buf.length - start)) throw truncated(what, start);
  return [start, start + Number(len)];
}

/** Skips a value of wire type `wire` starting at `pos` (its tag already read); returns the position after it. */
function skipValue(buf: Uint8Array, pos: number, wire: number, what: string, depth: number): number {
  switch (wire) {
    case WIRE_VARINT:
      return readVarint(buf, pos, what)[1];
    case WIRE_FIXED64:
    case WIRE_FIXED32: {
      const end = pos + (wire === WIRE_FIXED64 ? 8 : 4);
      if (end > buf.length) throw truncated(what, pos);
      return end;
    }
    case WIRE_BYTES:
      return lengthDelimited(buf, pos, what)[1];
    case WIRE_GROUP_START:
      return skipGroup(buf, pos, what, depth + 1);
    default:
      throw new WalProtoError(`${what}: illegal wireType ${wire} at byte ${pos}`);
  }
}

/** Skips fields up to and including the next end-group tag (of any field number, as gogo does). */
function skipGroup(buf: Uint8Array, pos: number, what: string, depth: number): number {
  if (depth > MAX_GROUP_DEPTH) throw new WalProtoError(`${what}: groups nested deeper than ${MAX_GROUP_DEPTH}`);
  for (;;) {
    const [tag, next] = readVarint(buf, pos, what);
    const wire = Number(tag & 7n);
    if (wire === WIRE_GROUP_END) return next;
    pos = skipValue(buf, next, wire, what, depth);
  }
}

/** Reads an unsigned varint at `pos`; returns the value and the position after it. */
export function readVarint(buf: Uint8Array, pos: number, what: string): [bigint, number] {
  // fast path: up to 7 bytes (49 bits) are exact in a number
  let small = 0;
  for (let i = 0; i < 7; i++) {
    if (pos + i >= buf.length) throw truncated(what, pos);
    const b = buf[pos + i]!;
    small += (b & 0x7f) * 2 ** (7 * i);
    if (b < 0x80) return [BigInt(small), pos + i + 1];
  }
  let v = 0n;
  for (let i = 0; i < MAX_VARINT_BYTES; i++) {
    if (pos + i >= buf.length) throw truncated(what, pos);
    const b = buf[pos + i]!;
    v |= BigInt(b & 0x7f) << BigInt(7 * i);
    if (b < 0x80) return [BigInt.asUintN(64, v), pos + i + 1];
  }
  throw new WalProtoError(`${what}: integer overflow (varint longer than ${MAX_VARINT_BYTES} bytes at byte ${pos})`);
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

const RECORD_SCHEMA: Schema = new Map([
  [1, WIRE_VARINT],
  [2, WIRE_VARINT],
  [3, WIRE_BYTES],
]);

export function decodeRecord(buf: Uint8Array): WalRecord {
  const rec: WalRecord = { type: 0n, crc: 0, data: NO_BYTES };
  forEachField(buf, 'walpb.Record', (f) => {
    if (f.no === 1) {
      rec.type = BigInt.asIntN(64, f.varint);
    } else if (f.no === 2) {
      rec.crc = Number(BigInt.asUintN(32, f.varint)); // Go's uint32 decoding keeps the low 32 bits
    } else if (f.no === 3) {
      rec.data = f.bytes;
    }
  }, RECORD_SCHEMA);
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

const ENTRY_SCHEMA: Schema = new Map([
  [1, WIRE_VARINT],
  [2, WIRE_VARINT],
  [3, WIRE_VARINT],
  [4, WIRE_BYTES],
]);

export function decodeEntry(buf: Uint8Array): EtcdEntry {
  const e: EtcdEntry = { index: 0, term: 0, type: 0, data: NO_BYTES };
  forEachField(buf, 'raftpb.Entry', (f) => {
    if (f.no === 1) {
      e.type = Number(BigInt.asIntN(32, f.varint));
    } else if (f.no === 2) {
      e.term = safeNumber(f.varint, 'raftpb.Entry term');
    } else if (f.no === 3) {
      e.index = safeNumber(f.varint, 'raftpb.Entry index');
    } else if (f.no === 4) {
      e.data = f.bytes;
    }
  }, ENTRY_SCHEMA);
  return e;
}

// ---- raftpb.HardState {uint64 term = 1; uint64 vote = 2; uint64 commit = 3} --------------

export interface EtcdHardState {
  term: number;
  /** member ID voted for, 0n for none */
  vote: bigint;
  commit: number;
}

const HARD_STATE_SCHEMA: Schema = new Map([
  [1, WIRE_VARINT],
  [2, WIRE_VARINT],
  [3, WIRE_VARINT],
]);

export function decodeHardState(buf: Uint8Array): EtcdHardState {
  const s: EtcdHardState = { term: 0, vote: 0n, commit: 0 };
  forEachField(buf, 'raftpb.HardState', (f) => {
    if (f.no === 1) s.term = safeNumber(f.varint, 'raftpb.HardState term');
    else if (f.no === 2) s.vote = f.varint;
    else s.commit = safeNumber(f.varint, 'raftpb.HardState commit');
  }, HARD_STATE_SCHEMA);
  return s;
}

// ---- etcdserverpb.Metadata {uint64 NodeID = 1; uint64 ClusterID = 2} ----------------------

export interface EtcdWalMetadata {
  nodeId: bigint;
  clusterId: bigint;
}

/** Metadata and walpb.Snapshot: two uint64s, fields 1 and 2 */
const TWO_VARINTS: Schema = new Map([
  [1, WIRE_VARINT],
  [2, WIRE_VARINT],
]);

export function decodeMetadata(buf: Uint8Array): EtcdWalMetadata {
  const m: EtcdWalMetadata = { nodeId: 0n, clusterId: 0n };
  forEachField(buf, 'etcdserverpb.Metadata', (f) => {
    if (f.no === 1) m.nodeId = f.varint;
    else m.clusterId = f.varint;
  }, TWO_VARINTS);
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
    if (f.no === 1) s.index = safeNumber(f.varint, 'walpb.Snapshot index');
    else s.term = safeNumber(f.varint, 'walpb.Snapshot term');
  }, TWO_VARINTS);
  return s;
}
