// Reads the WAL directory of a stopped etcd 3.4 member (member/wal), read-only, the way
// etcd's wal.OpenForRead + ReadAll would, for offline migration to tsetcd.
//
// Format (facts from etcd's wal package):
// - segments are named %016x-%016x.wal: sequence number, then the raft index the segment's
//   first entry may have; sequence numbers run without gaps. Other names are ignored.
// - a segment is a run of frames: a u64 little-endian length word (low 56 bits: record bytes;
//   top byte 0x80|pad when the record is padded to 8 bytes), the record, the zero padding.
//   A zero length word (preallocated space) or the end of the file ends a segment.
// - a record is walpb.Record {type, crc, data}: types metadata 1, entry 2, state 3, crc 4,
//   snapshot 5. `crc` is CRC-32C (Castagnoli) of every earlier record's data, chained over all
//   segments; a crc record (first in every segment) carries the chain value so far.
//
// Contract: readEtcdWal(dir, {startIndex, startTerm}) returns the metadata, the last hard
// state, every entry after startIndex (a later record at an index replaces that entry and
// everything after it, as raft truncates on conflict), the snapshot marks, and which files
// were read. A torn last record of the last segment (a crash mid-write: the frame runs past
// the file's end, or one of its 512-byte sectors is all zeros) ends the log there and is
// reported in `torn`, as etcd's repair would cut it; any other damage throws EtcdWalError
// naming the file and byte offset. Nothing is written. Memory stays within one window of the
// file plus the largest record (bounded by the file's size and etcd's 10 MB record limit).
import fs from 'node:fs';
import path from 'node:path';
import { crc32c } from '../pkg/crc32c.js';
import {
  decodeEntry,
  decodeHardState,
  decodeMetadata,
  decodeRecord,
  decodeSnapshotMark,
  type EtcdEntry,
  type EtcdHardState,
  type EtcdSnapshotMark,
  type EtcdWalMetadata,
  type WalRecord,
  WalProtoError,
} from './proto.js';

export { EtcdEntryType, type EtcdEntry, type EtcdHardState, type EtcdSnapshotMark, type EtcdWalMetadata } from './proto.js';

/** walpb record types (etcd's wal.go) */
export const RecordType = { metadata: 1n, entry: 2n, state: 3n, crc: 4n, snapshot: 5n } as const;

const FRAME_BYTES = 8;
const SECTOR_BYTES = 512;
/** etcd refuses records this large or larger (decoder.go: maxWALEntrySizeLimit) */
export const MAX_RECORD_BYTES = 10 * 1024 * 1024;
const WINDOW_BYTES = 1 << 20;

export class EtcdWalError extends Error {
  override name = 'EtcdWalError';
  constructor(
    /** etcd's message where etcd has one (e.g. "walpb: crc mismatch") */
    readonly reason: string,
    readonly file?: string,
    readonly offset?: number,
  ) {
    super(file === undefined ? `etcd WAL: ${reason}` : `etcd WAL ${file}${offset === undefined ? '' : ` at offset ${offset}`}: ${reason}`);
  }
}

export interface SegmentName {
  name: string;
  seq: number;
  /** the raft index the segment's first entry may have */
  index: number;
}

export interface TornTail {
  file: string;
  /** where the valid log ends: etcd's repair truncates the file here */
  offset: number;
  reason: string;
}

export interface EtcdWalContents {
  metadata: EtcdWalMetadata;
  /** the last hard state recorded (all zero if none was) */
  hardState: EtcdHardState;
  /** the entries after the start index, consecutive */
  entries: EtcdEntry[];
  /** every snapshot mark read, in log order */
  snapshots: EtcdSnapshotMark[];
  /** segment file names read, in order */
  segments: string[];
  /** file names in the directory that are not segments (etcd ignores them too) */
  ignored: string[];
  /** set when the last segment ends in a torn record */
  torn?: TornTail;
}

export interface ReadOptions {
  /** entries at or below this index are not returned (default 0); reading starts at the last segment that may hold startIndex + 1 */
  startIndex?: number;
  /** when given, a snapshot mark at startIndex must exist and have this term (etcd's rule for opening at a snapshot) */
  startTerm?: number;
}

const NAME_RE = /^([0-9a-f]{16})-([0-9a-f]{16})\.wal$/;

export function parseSegmentName(name: string): SegmentName | null {
  const m = NAME_RE.exec(name);
  if (m === null) return null;
  const seq = BigInt(`0x${m[1]!}`);
  const index = BigInt(`0x${m[2]!}`);
  const max = BigInt(Number.MAX_SAFE_INTEGER);
  if (seq > max || index > max) return null;
  return { name, seq: Number(seq), index: Number(index) };
}

/** Segment names in `walDir`, sorted, and the other names; EtcdWalError if the directory cannot be listed or holds no segment. */
export function listSegments(walDir: string): { segments: SegmentName[]; ignored: string[] } {
  let names: string[];
  try {
    names = fs.readdirSync(walDir).sort();
  } catch (err) {
    throw new EtcdWalError(`cannot list the WAL directory: ${(err as Error).message}`, walDir);
  }
  const segments: SegmentName[] = [];
  const ignored: string[] = [];
  for (const name of names) {
    const s = parseSegmentName(name);
    if (s) segments.push(s);
    else if (!name.endsWith('.tmp')) ignored.push(name);
  }
  if (segments.length === 0) throw new EtcdWalError('wal: file not found (no *.wal segment)', walDir);
  return { segments, ignored };
}

/** The segments to read for entries after `startIndex`: from the last one named at or below it (etcd's searchIndex), with no sequence gap after. */
export function selectSegments(walDir: string, all: SegmentName[], startIndex: number): SegmentName[] {
  let from = -1;
  for (let i = all.length - 1; i >= 0; i--) {
    if (startIndex >= all[i]!.index) {
      from = i;
      break;
    }
  }
  if (from < 0) throw new EtcdWalError(`wal: file not found (no segment starts at or below index ${startIndex}; the first is ${all[0]!.name})`, walDir);
  const chosen = all.slice(from);
  for (let i = 1; i < chosen.length; i++) {
    if (chosen[i]!.seq !== chosen[i - 1]!.seq + 1) {
      throw new EtcdWalError(`wal: file not found (sequence gap between ${chosen[i - 1]!.name} and ${chosen[i]!.name})`, walDir);
    }
  }
  return chosen;
}

/** Positioned reads through a window, so a 64 MB preallocated segment is not read whole. */
class SegmentFile {
  readonly size: number;
  private window = Buffer.alloc(0);
  private windowStart = 0;

  constructor(
    private readonly fd: number,
    readonly file: string,
  ) {
    this.size = fs.fstatSync(fd).size;
  }

  /** Bytes [off, off + n), or fewer if the file ends first. The view is valid until the next call. */
  bytes(off: number, n: number): Buffer {
    const want = Math.max(0, Math.min(n, this.size - off));
    if (off >= this.windowStart && off + want <= this.windowStart + this.window.length) {
      return this.window.subarray(off - this.windowStart, off - this.windowStart + want);
    }
    const fill = Math.min(Math.max(want, WINDOW_BYTES), this.size - off);
    const buf = Buffer.allocUnsafe(fill);
    let got = 0;
    while (got < fill) {
      const r = fs.readSync(this.fd, buf, got, fill - got, off + got);
      if (r === 0) break;
      got += r;
    }
    this.window = buf.subarray(0, got);
    this.windowStart = off;
    return this.window.subarray(0, Math.min(want, got));
  }
}

/** What the frame at an offset holds. */
type Frame =
  | { kind: 'end' }
  | { kind: 'record'; rec: WalRecord; next: number }
  | { kind: 'torn'; reason: string }
  | { kind: 'bad'; reason: string };

/** Decodes the frame at `off`; never reads past the file, never allocates beyond the file's size. */
function readFrame(f: SegmentFile, off: number): Frame {
  if (off >= f.size) return { kind: 'end' };
  const head = f.bytes(off, FRAME_BYTES);
  if (head.length < FRAME_BYTES) return { kind: 'torn', reason: `unexpected EOF: ${head.length} bytes of a length word` };
  const lo = head.readUInt32LE(0);
  const hi = head.readUInt32LE(4);
  if (lo === 0 && hi === 0) return { kind: 'end' }; // preallocated space
  const recBytes = lo + (hi & 0xffffff) * 2 ** 32;
  const padBytes = hi & 0x80000000 ? (hi >>> 24) & 7 : 0;
  if (recBytes >= MAX_RECORD_BYTES - padBytes) return { kind: 'bad', reason: `wal: max entry size limit exceeded (record of ${recBytes} bytes)` };
  if (off + FRAME_BYTES + recBytes + padBytes > f.size) {
    return { kind: 'torn', reason: `unexpected EOF: a ${recBytes}-byte record runs past the end of the file (${f.size} bytes)` };
  }
  const data = f.bytes(off + FRAME_BYTES, recBytes + padBytes);
  let rec: WalRecord;
  try {
    rec = decodeRecord(data.subarray(0, recBytes));
  } catch (err) {
    // gogo's io.ErrUnexpectedEOF inside the record is what etcd's repair cuts, zeroed sectors or not
    if (err instanceof WalProtoError && err.truncated) return { kind: 'torn', reason: err.message };
    return tornOrBad(data, off, (err as Error).message);
  }
  return { kind: 'record', rec, next: off + FRAME_BYTES + recBytes + padBytes };
}

function tornOrBad(data: Uint8Array, off: number, reason: string): Frame {
  return hasZeroSector(data, off + FRAME_BYTES) ? { kind: 'torn', reason: `${reason} (a zeroed sector: torn write)` } : { kind: 'bad', reason };
}

/** True if a sector-aligned piece of the record (starting at file offset `fileOff`) is all zeros: the disk never wrote it (etcd's isTornEntry). */
export function hasZeroSector(data: Uint8Array, fileOff: number): boolean {
  let pos = 0;
  while (pos < data.length) {
    const end = Math.min(data.length, pos + SECTOR_BYTES - ((fileOff + pos) % SECTOR_BYTES));
    let zero = true;
    for (let i = pos; i < end && zero; i++) zero = data[i] === 0;
    if (zero) return true;
    pos = end;
  }
  return false;
}

/** Folds records into the result; one instance per read. */
class Collector {
  readonly out: EtcdWalContents;
  private metadataRaw: Buffer | undefined;
  private snapshotMatched = false;
  crc = 0;

  constructor(
    private readonly startIndex: number,
    private readonly startTerm: number | undefined,
    ignored: string[],
  ) {
    this.out = { metadata: { nodeId: 0n, clusterId: 0n }, hardState: { term: 0, vote: 0n, commit: 0 }, entries: [], snapshots: [], segments: [], ignored };
  }

  /** Applies one CRC-checked record; returns an error reason or undefined. */
  add(rec: WalRecord): string | undefined {
    switch (rec.type) {
      case RecordType.entry:
        return this.addEntry(decodeEntry(rec.data));
      case RecordType.state:
        this.out.hardState = decodeHardState(rec.data);
        return undefined;
      case RecordType.metadata:
        return this.addMetadata(rec.data);
      case RecordType.crc:
        return undefined;
      case RecordType.snapshot:
        return this.addSnapshot(decodeSnapshotMark(rec.data));
      default:
        return `unexpected block type ${rec.type}`;
    }
  }

  private addEntry(e: EtcdEntry): string | undefined {
    if (e.index <= this.startIndex) return undefined;
    const at = e.index - this.startIndex - 1;
    const ents = this.out.entries;
    if (at > ents.length) return `wal: slice bounds out of range (entry ${e.index} follows ${ents.length === 0 ? `start index ${this.startIndex}` : `entry ${ents[ents.length - 1]!.index}`})`;
    if (at < ents.length) ents.length = at; // a conflicting entry replaces the tail from its index on
    ents.push({ ...e, data: Buffer.from(e.data) });
    return undefined;
  }

  private addMetadata(data: Uint8Array): string | undefined {
    if (this.metadataRaw !== undefined) return this.metadataRaw.equals(data) ? undefined : 'wal: conflicting metadata found';
    this.metadataRaw = Buffer.from(data);
    this.out.metadata = decodeMetadata(data);
    return undefined;
  }

  private addSnapshot(s: EtcdSnapshotMark): string | undefined {
    this.out.snapshots.push(s);
    if (this.startTerm !== undefined && s.index === this.startIndex) {
      if (s.term !== this.startTerm) return `wal: snapshot mismatch (mark ${s.index} has term ${s.term}, expected ${this.startTerm})`;
      this.snapshotMatched = true;
    }
    return undefined;
  }

  finish(walDir: string): EtcdWalContents {
    if (this.startTerm !== undefined && !this.snapshotMatched) {
      throw new EtcdWalError(`wal: snapshot not found (no mark at index ${this.startIndex} term ${this.startTerm})`, walDir);
    }
    return this.out;
  }
}

type Problem = { kind: 'torn' | 'bad'; reason: string };

/** Checks a record against the CRC chain, moves the chain on and folds the record in; returns what is wrong, if anything. */
function takeRecord(f: SegmentFile, c: Collector, off: number, frame: { rec: WalRecord; next: number }): Problem | undefined {
  const rec = frame.rec;
  if (rec.type === RecordType.crc) {
    // a fresh reader (chain 0) takes the segment's value; otherwise it must match
    if (c.crc !== 0 && rec.crc !== c.crc) return { kind: 'bad', reason: 'wal: crc mismatch' };
    c.crc = rec.crc;
    return undefined;
  }
  const next = crc32c(rec.data, c.crc);
  if (next !== rec.crc) {
    const body = f.bytes(off + FRAME_BYTES, frame.next - off - FRAME_BYTES);
    return hasZeroSector(body, off + FRAME_BYTES) ? { kind: 'torn', reason: 'walpb: crc mismatch (a zeroed sector: torn write)' } : { kind: 'bad', reason: 'walpb: crc mismatch' };
  }
  c.crc = next;
  try {
    const reason = c.add(rec);
    return reason === undefined ? undefined : { kind: 'bad', reason };
  } catch (err) {
    return { kind: 'bad', reason: (err as Error).message };
  }
}

/** Reads one segment into the collector; returns the torn tail if the (last) segment ends in one. */
function readSegment(f: SegmentFile, c: Collector, isLast: boolean): TornTail | undefined {
  let off = 0;
  for (;;) {
    const frame = readFrame(f, off);
    if (frame.kind === 'end') return undefined;
    const problem = frame.kind === 'record' ? takeRecord(f, c, off, frame) : frame;
    if (problem === undefined && frame.kind === 'record') {
      off = frame.next;
      continue;
    }
    const { kind, reason } = problem as Problem;
    if (kind === 'torn' && isLast) return { file: f.file, offset: off, reason };
    throw new EtcdWalError(reason, f.file, off);
  }
}

/** Reads a stopped etcd member's WAL directory; see the header for the contract. */
export function readEtcdWal(walDir: string, opts: ReadOptions = {}): EtcdWalContents {
  const startIndex = opts.startIndex ?? 0;
  if (!Number.isSafeInteger(startIndex) || startIndex < 0) throw new RangeError(`etcd WAL: start index ${startIndex} is not a non-negative integer`);
  const { segments, ignored } = listSegments(walDir);
  const chosen = selectSegments(walDir, segments, startIndex);
  const c = new Collector(startIndex, opts.startTerm, ignored);
  for (let i = 0; i < chosen.length; i++) {
    const file = path.join(walDir, chosen[i]!.name);
    const torn = withSegment(file, (f) => readSegment(f, c, i === chosen.length - 1));
    c.out.segments.push(chosen[i]!.name);
    if (torn) c.out.torn = torn;
  }
  return c.finish(walDir);
}

function withSegment<T>(file: string, fn: (f: SegmentFile) => T): T {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (err) {
    throw new EtcdWalError(`cannot open: ${(err as Error).message}`, file);
  }
  try {
    return fn(new SegmentFile(fd, file));
  } finally {
    fs.closeSync(fd);
  }
}
