// Reading a WAL: walk segment buffers record by record, apply complete batches, and tell a
// torn tail (repairable) from damage in the middle of the log (fatal). Pure: no I/O here, the
// caller reads the files and performs the repair this module asks for.

import { join } from 'node:path';
import { emptyHardState, type Entry, type HardState } from '../raft/types.js';
import { WalCorruptError } from './errors.js';
import {
  FLAG_END,
  bodyOf,
  FORMAT_VERSION,
  RecordKind,
  decodeEntry,
  decodeHardState,
  decodeHead,
  decodeSnapshot,
  hex32,
  readRecord,
  type RawRecord,
} from './record.js';
import type { SegmentName } from './segments.js';

export interface SnapshotPoint {
  index: number;
  term: number;
}

/** disks write in sectors of at least this size; a torn write leaves whole sectors unwritten */
const SECTOR_BYTES = 512;
const RECORD_ALIGN = 8;

/**
 * Walks the records of one segment and hands every complete batch to `onBatch`.
 * Returns the offset where the valid log ends: the file length, or (tail segment only) the start
 * of a torn last write. Throws WalCorruptError for anything that is not a torn tail.
 */
export function scanSegment(file: string, buf: Buffer, isTail: boolean, onBatch: (batch: RawRecord[], first: boolean) => void): number {
  let off = 0;
  let batch: RawRecord[] = [];
  let batchStart = 0;
  let batches = 0;
  let reason: string | null = null;
  // bounded: every pass advances `off` by at least one record header
  while (off < buf.length) {
    const r = readRecord(buf, off);
    if (typeof r === 'string') {
      reason = r;
      break;
    }
    if (batch.length === 0) batchStart = off;
    if (r.batchOffset !== off - batchStart) {
      const where = batch.length === 0 ? 'a new write' : `a write that began at offset ${batchStart}`;
      throw new WalCorruptError(file, off, `record claims batch offset ${r.batchOffset} but is part of ${where}`);
    }
    batch.push(r);
    off = r.end;
    if ((r.flags & FLAG_END) !== 0) {
      onBatch(batch, batches === 0);
      batches++;
      batch = [];
    }
  }
  if (buf.length === 0) throw new WalCorruptError(file, 0, 'the segment is empty: a named segment always has a head');
  if (reason === null && batch.length === 0) return buf.length;

  const bad = off;
  const tornStart = batch.length > 0 ? batchStart : bad;
  const what = reason ?? `the file ends inside the write that began at offset ${batchStart} (its last record is missing)`;
  if (!isTail) throw new WalCorruptError(file, bad, `${what}; this is not the last segment, so it cannot be a torn write`);
  if (tornStart === 0) throw new WalCorruptError(file, bad, `${what}; the segment head is damaged (heads are synced before the segment is named)`);
  checkTornTail(file, buf, bad, tornStart, what);
  return tornStart;
}

/**
 * The log stopped parsing at `bad`, inside a write that began at `tornStart`. That is a torn
 * tail only if nothing written later follows. Records of the same write may follow when the disk
 * persisted its sectors out of order; that is accepted only if an unwritten (all-zero) sector
 * lies in the gap, which is what an interrupted write leaves and bit rot does not.
 */
function checkTornTail(file: string, buf: Buffer, bad: number, tornStart: number, what: string): void {
  let firstSameWrite = -1;
  let y = bad + RECORD_ALIGN;
  // bounded: y grows every pass
  while (y + 16 <= buf.length) {
    const r = readRecord(buf, y);
    if (typeof r === 'string') {
      y += RECORD_ALIGN;
      continue;
    }
    if (y - r.batchOffset !== tornStart) {
      throw new WalCorruptError(file, bad, `${what}; a valid record of a later write follows at offset ${y}, so this is damage inside the log, not a torn tail`);
    }
    if (firstSameWrite < 0) firstSameWrite = y;
    y = r.end;
  }
  // the sector holding the start of that intact record was written, so look only before it
  if (firstSameWrite >= 0 && !hasBlankSector(buf, bad, Math.floor(firstSameWrite / SECTOR_BYTES) * SECTOR_BYTES)) {
    throw new WalCorruptError(file, bad, `${what}; later records of the same write follow intact at offset ${firstSameWrite} with no unwritten sector between, so this is damage, not a torn write`);
  }
}

/** Does [from, to) contain a sector-aligned piece that is entirely zero? */
export function hasBlankSector(buf: Buffer, from: number, to: number): boolean {
  let start = from;
  while (start < to) {
    const end = Math.min(to, (Math.floor(start / SECTOR_BYTES) + 1) * SECTOR_BYTES);
    let zero = true;
    for (let i = start; i < end; i++) {
      if (buf[i] !== 0) {
        zero = false;
        break;
      }
    }
    if (zero) return true;
    start = end;
  }
  return false;
}

/**
 * Accumulates the state raft last saw from consecutive segments: metadata, the last hard state,
 * the entries after `start` (later writes of an index replace it and drop everything after it),
 * the snapshot markers, and what the writer needs to continue (last index, last record CRC).
 */
export class LogLoader {
  metadata: Buffer | null = null;
  hardState: HardState = emptyHardState();
  readonly entries: Entry[] = [];
  readonly markers: SnapshotPoint[] = [];
  markerFound = false;
  /** index of the last entry written (raised by snapshot markers): the writer names the next segment from it */
  lastIndex = -1;
  /** CRC of the last record of the last complete write: the next segment head must carry it */
  lastCrc = 0;
  walId: Buffer | null = null;
  private segmentsRead = 0;
  private file = '';

  /** `start` null: collect markers only, keep no entries (Wal.readSnapshotMarkers) */
  constructor(
    readonly dir: string,
    readonly start: SnapshotPoint | null,
  ) {}

  /** Reads one segment; returns where its valid records end (< buf.length: a torn tail to cut). */
  loadSegment(seg: SegmentName, buf: Buffer, isTail: boolean): number {
    this.file = join(this.dir, seg.name);
    const end = scanSegment(this.file, buf, isTail, (batch, first) => this.applyBatch(seg, buf, batch, first));
    this.segmentsRead++;
    return end;
  }

  private corrupt(offset: number, what: string): WalCorruptError {
    return new WalCorruptError(this.file, offset, what);
  }

  private applyBatch(seg: SegmentName, buf: Buffer, batch: RawRecord[], first: boolean): void {
    let i = 0;
    if (first) {
      this.applyHead(seg, buf, batch);
      i = 2;
    }
    for (; i < batch.length; i++) this.applyRecord(buf, batch[i]!);
    this.lastCrc = batch[batch.length - 1]!.crc;
  }

  private applyHead(seg: SegmentName, buf: Buffer, batch: RawRecord[]): void {
    const h = batch[0]!;
    const m = batch[1];
    if (h.kind !== RecordKind.Head || h.offset !== 0) throw this.corrupt(h.offset, `expected the segment head record, found kind ${h.kind}`);
    const head = decodeHead(buf, h);
    if (typeof head === 'string') throw this.corrupt(h.offset, head);
    if (head.version !== FORMAT_VERSION) throw this.corrupt(h.offset, `segment format version ${head.version}, this build reads ${FORMAT_VERSION}`);
    if (head.seq !== seg.seq || head.firstIndex !== seg.firstIndex) {
      throw this.corrupt(h.offset, `head says sequence ${head.seq}, first index ${head.firstIndex}, but the file name says ${seg.seq}, ${seg.firstIndex}`);
    }
    if (this.walId === null) {
      this.walId = Buffer.from(head.walId);
      this.lastIndex = Math.max(0, seg.firstIndex - 1);
    } else {
      if (!this.walId.equals(head.walId)) throw this.corrupt(h.offset, `segment belongs to WAL ${head.walId.toString('hex')}, not ${this.walId.toString('hex')}`);
      if (head.prevLastCrc !== this.lastCrc) {
        throw this.corrupt(h.offset, `continuity break: head expects the previous segment to end with CRC ${hex32(head.prevLastCrc)}, it ends with ${hex32(this.lastCrc)}`);
      }
      if (seg.firstIndex !== this.lastIndex + 1) {
        throw this.corrupt(h.offset, `segment starts at index ${seg.firstIndex} but the previous segment ends at index ${this.lastIndex}`);
      }
    }
    if (m === undefined || m.kind !== RecordKind.Metadata) throw this.corrupt(m?.offset ?? h.end, 'segment head lacks its metadata record');
    const metadata = bodyOf(buf, m);
    if (this.metadata === null) this.metadata = metadata;
    else if (!this.metadata.equals(metadata)) throw this.corrupt(m.offset, 'metadata differs from the metadata of earlier segments');
  }

  private applyRecord(buf: Buffer, r: RawRecord): void {
    switch (r.kind) {
      case RecordKind.Entry: {
        const e = decodeEntry(buf, r);
        if (typeof e === 'string') throw this.corrupt(r.offset, e);
        this.applyEntry(e, r.offset);
        return;
      }
      case RecordKind.HardState: {
        const hs = decodeHardState(buf, r);
        if (typeof hs === 'string') throw this.corrupt(r.offset, hs);
        this.hardState = hs;
        return;
      }
      case RecordKind.Snapshot: {
        const s = decodeSnapshot(buf, r);
        if (typeof s === 'string') throw this.corrupt(r.offset, s);
        this.applyMarker(s, r.offset);
        return;
      }
      default:
        throw this.corrupt(r.offset, `record kind ${r.kind} may only appear in a segment head`);
    }
  }

  private applyEntry(e: Entry, offset: number): void {
    this.lastIndex = e.index;
    if (this.start === null || e.index <= this.start.index) return;
    const at = e.index - this.start.index - 1;
    if (at > this.entries.length) {
      throw this.corrupt(offset, `entry ${e.index} leaves a gap: the log read so far ends at index ${this.start.index + this.entries.length}`);
    }
    // raft truncation: a rewritten index replaces itself and everything after it
    this.entries.length = at;
    this.entries.push(e);
  }

  private applyMarker(s: SnapshotPoint, offset: number): void {
    this.lastIndex = Math.max(this.lastIndex, s.index);
    this.markers.push(s);
    if (this.start === null || s.index !== this.start.index) return;
    if (s.term !== this.start.term) throw this.corrupt(offset, `snapshot marker for index ${s.index} has term ${s.term}, the snapshot has term ${this.start.term}`);
    this.markerFound = true;
  }

  /** after the last segment: the given snapshot must have its marker */
  finish(lastFile: string, lastEnd: number): void {
    if (this.start === null || this.markerFound) return;
    throw new WalCorruptError(
      lastFile,
      lastEnd,
      `reached the end of the log without finding the marker of snapshot index ${this.start.index}, term ${this.start.term} (read ${this.segmentsRead} segments)`,
    );
  }
}
