// Binary encodings of raft messages and conf changes. Our own compact format (the
// layout is documented in docs/raft.md): unsigned LEB128 varints for integers,
// length-prefixed byte strings, a version byte up front. Decoding checks every bound
// and throws RaftDecodeError on malformed input; it never reads past the buffer.
// Decoded byte fields are views into the input buffer (no copies).
import { RaftDecodeError } from './errors.js';
import { type ConfChange, ConfChangeType, MAX_MESSAGE_TYPE, type Message, type MessageType } from './message.js';
import type { Entry, Snapshot } from './types.js';

export const MESSAGE_FORMAT_VERSION = 1;
export const CONF_CHANGE_FORMAT_VERSION = 1;

const FLAG_REJECT = 1;
const FLAG_SNAPSHOT = 2;
const KNOWN_FLAGS = FLAG_REJECT | FLAG_SNAPSHOT;
const MAX_U64 = (1n << 64n) - 1n;

// ---- sizes ---------------------------------------------------------------------------

function uvarintSize(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

// uint64s (member ids, random over the whole range) are split into plain numbers so a
// varint costs one or two BigInt operations rather than two per byte: ids are in every
// message, and BigInt arithmetic allocates.
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function bigUvarintSize(v: bigint): number {
  if (v <= MAX_SAFE) return uvarintSize(Number(v));
  // four bytes of 7 bits, then bits 28..63 (below 2^36, exact as a number)
  return 4 + uvarintSize(Number(v >> 28n));
}

function bytesSize(b: Uint8Array): number {
  return uvarintSize(b.byteLength) + b.byteLength;
}

function entrySize(e: Entry): number {
  return uvarintSize(e.term) + uvarintSize(e.index) + 1 + bytesSize(e.data);
}

function snapshotSize(s: Snapshot): number {
  const cs = s.metadata.confState;
  let n = uvarintSize(s.metadata.index) + uvarintSize(s.metadata.term);
  n += uvarintSize(cs.voters.length) + uvarintSize(cs.learners.length);
  for (const id of cs.voters) n += bigUvarintSize(id);
  for (const id of cs.learners) n += bigUvarintSize(id);
  return n + bytesSize(s.data);
}

// ---- writer --------------------------------------------------------------------------

class Writer {
  readonly buf: Uint8Array;
  pos = 0;
  constructor(size: number) {
    this.buf = new Uint8Array(size);
  }
  byte(b: number): void {
    this.buf[this.pos++] = b;
  }
  uvarint(v: number): void {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`cannot encode ${v}: not a non-negative safe integer`);
    while (v >= 0x80) {
      this.buf[this.pos++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.pos++] = v;
  }
  bigUvarint(v: bigint): void {
    if (v < 0n || v > MAX_U64) throw new RangeError(`cannot encode ${v}: not a uint64`);
    if (v <= MAX_SAFE) return this.uvarint(Number(v));
    // at least 2^53, so the first four bytes all carry a continuation bit
    let low = Number(BigInt.asUintN(28, v));
    for (let i = 0; i < 4; i++) {
      this.buf[this.pos++] = (low & 0x7f) | 0x80;
      low >>>= 7;
    }
    let high = Number(v >> 28n);
    while (high >= 0x80) {
      this.buf[this.pos++] = (high % 128) | 0x80;
      high = Math.floor(high / 128);
    }
    this.buf[this.pos++] = high;
  }
  bytes(b: Uint8Array): void {
    this.uvarint(b.byteLength);
    this.buf.set(b, this.pos);
    this.pos += b.byteLength;
  }
}

// ---- reader --------------------------------------------------------------------------

class Reader {
  pos = 0;
  constructor(private readonly buf: Uint8Array) {}
  remaining(): number {
    return this.buf.byteLength - this.pos;
  }
  byte(what: string): number {
    if (this.pos >= this.buf.byteLength) throw new RaftDecodeError(`truncated input reading ${what} at offset ${this.pos}`);
    return this.buf[this.pos++]!;
  }
  uvarint(what: string): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; ; i++) {
      if (i >= 8) throw new RaftDecodeError(`${what}: varint too long at offset ${this.pos}`);
      const b = this.byte(what);
      result += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) {
        if (i > 0 && b === 0) throw new RaftDecodeError(`${what}: non-minimal varint at offset ${this.pos - 1}`);
        break;
      }
      mul *= 128;
    }
    if (!Number.isSafeInteger(result)) throw new RaftDecodeError(`${what}: ${result} exceeds 2^53-1`);
    return result;
  }
  bigUvarint(what: string): bigint {
    // bits 0..27 from the first four bytes, bits 28 and up from the rest, as numbers
    let low = 0;
    let high = 0;
    let mul = 1;
    for (let i = 0; ; i++) {
      if (i >= 10) throw new RaftDecodeError(`${what}: varint too long at offset ${this.pos}`);
      const b = this.byte(what);
      if (i < 4) low |= (b & 0x7f) << (7 * i);
      else {
        high += (b & 0x7f) * mul;
        mul *= 128;
      }
      if ((b & 0x80) === 0) {
        if (i > 0 && b === 0) throw new RaftDecodeError(`${what}: non-minimal varint at offset ${this.pos - 1}`);
        break;
      }
    }
    if (high >= 2 ** 36) throw new RaftDecodeError(`${what}: exceeds uint64`);
    return high === 0 ? BigInt(low >>> 0) : (BigInt(high) << 28n) | BigInt(low >>> 0);
  }
  bytes(what: string): Uint8Array {
    const n = this.uvarint(`${what} length`);
    if (n > this.remaining()) throw new RaftDecodeError(`${what}: length ${n} exceeds the ${this.remaining()} bytes left`);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  /** a count of items that each take at least minItemBytes: bounded by what is left */
  count(what: string, minItemBytes: number): number {
    const n = this.uvarint(what);
    if (n * minItemBytes > this.remaining()) throw new RaftDecodeError(`${what}: ${n} items cannot fit in ${this.remaining()} bytes`);
    return n;
  }
  end(what: string): void {
    if (this.remaining() !== 0) throw new RaftDecodeError(`${what}: ${this.remaining()} trailing bytes`);
  }
}

// ---- messages ------------------------------------------------------------------------

export function encodedMessageSize(m: Message): number {
  let n = 3; // version, type, flags
  n += bigUvarintSize(m.to) + bigUvarintSize(m.from);
  n += uvarintSize(m.term) + uvarintSize(m.logTerm) + uvarintSize(m.index) + uvarintSize(m.commit) + uvarintSize(m.rejectHint);
  n += bytesSize(m.context);
  n += uvarintSize(m.entries.length);
  for (const e of m.entries) n += entrySize(e);
  if (m.snapshot) n += snapshotSize(m.snapshot);
  return n;
}

export function encodeMessage(m: Message): Uint8Array {
  const w = new Writer(encodedMessageSize(m));
  w.byte(MESSAGE_FORMAT_VERSION);
  w.byte(m.type);
  w.byte((m.reject ? FLAG_REJECT : 0) | (m.snapshot ? FLAG_SNAPSHOT : 0));
  w.bigUvarint(m.to);
  w.bigUvarint(m.from);
  w.uvarint(m.term);
  w.uvarint(m.logTerm);
  w.uvarint(m.index);
  w.uvarint(m.commit);
  w.uvarint(m.rejectHint);
  w.bytes(m.context);
  w.uvarint(m.entries.length);
  for (const e of m.entries) {
    w.uvarint(e.term);
    w.uvarint(e.index);
    w.byte(e.type);
    w.bytes(e.data);
  }
  if (m.snapshot) writeSnapshot(w, m.snapshot);
  if (w.pos !== w.buf.byteLength) throw new Error(`encodeMessage: wrote ${w.pos} of ${w.buf.byteLength} bytes`);
  return w.buf;
}

function writeSnapshot(w: Writer, s: Snapshot): void {
  const cs = s.metadata.confState;
  w.uvarint(s.metadata.index);
  w.uvarint(s.metadata.term);
  w.uvarint(cs.voters.length);
  for (const id of cs.voters) w.bigUvarint(id);
  w.uvarint(cs.learners.length);
  for (const id of cs.learners) w.bigUvarint(id);
  w.bytes(s.data);
}

export function decodeMessage(b: Uint8Array): Message {
  if (!(b instanceof Uint8Array)) throw new RaftDecodeError('input is not a Uint8Array');
  const r = new Reader(b);
  const version = r.byte('version');
  if (version !== MESSAGE_FORMAT_VERSION) throw new RaftDecodeError(`unknown message format version ${version}`);
  const type = r.byte('type');
  if (type > MAX_MESSAGE_TYPE) throw new RaftDecodeError(`unknown message type ${type}`);
  const flags = r.byte('flags');
  if ((flags & ~KNOWN_FLAGS) !== 0) throw new RaftDecodeError(`unknown flags 0x${flags.toString(16)}`);
  const m: Message = {
    type: type as MessageType,
    to: r.bigUvarint('to'),
    from: r.bigUvarint('from'),
    term: r.uvarint('term'),
    logTerm: r.uvarint('logTerm'),
    index: r.uvarint('index'),
    commit: r.uvarint('commit'),
    rejectHint: r.uvarint('rejectHint'),
    reject: (flags & FLAG_REJECT) !== 0,
    context: r.bytes('context'),
    entries: [],
  };
  const n = r.count('entry count', 4);
  for (let i = 0; i < n; i++) m.entries.push(readEntry(r));
  if (flags & FLAG_SNAPSHOT) m.snapshot = readSnapshot(r);
  r.end('message');
  return m;
}

function readEntry(r: Reader): Entry {
  const term = r.uvarint('entry term');
  const index = r.uvarint('entry index');
  const type = r.byte('entry type');
  if (type > 1) throw new RaftDecodeError(`unknown entry type ${type}`);
  return { term, index, type, data: r.bytes('entry data') };
}

function readSnapshot(r: Reader): Snapshot {
  const index = r.uvarint('snapshot index');
  const term = r.uvarint('snapshot term');
  const nv = r.count('voter count', 1);
  const voters: bigint[] = [];
  for (let i = 0; i < nv; i++) voters.push(r.bigUvarint('voter id'));
  const nl = r.count('learner count', 1);
  const learners: bigint[] = [];
  for (let i = 0; i < nl; i++) learners.push(r.bigUvarint('learner id'));
  const data = r.bytes('snapshot data');
  return { metadata: { index, term, confState: { voters, learners } }, data };
}

// ---- conf changes --------------------------------------------------------------------

export function encodeConfChange(cc: ConfChange): Uint8Array {
  const w = new Writer(2 + bigUvarintSize(cc.nodeId) + bytesSize(cc.context));
  w.byte(CONF_CHANGE_FORMAT_VERSION);
  w.byte(cc.type);
  w.bigUvarint(cc.nodeId);
  w.bytes(cc.context);
  return w.buf;
}

export function decodeConfChange(b: Uint8Array): ConfChange {
  const r = new Reader(b);
  const version = r.byte('version');
  if (version !== CONF_CHANGE_FORMAT_VERSION) throw new RaftDecodeError(`unknown conf change format version ${version}`);
  const type = r.byte('conf change type');
  if (type > ConfChangeType.AddLearnerNode) throw new RaftDecodeError(`unknown conf change type ${type}`);
  const cc: ConfChange = { type, nodeId: r.bigUvarint('node id'), context: r.bytes('context') };
  r.end('conf change');
  return cc;
}
