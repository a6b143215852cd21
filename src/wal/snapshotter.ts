// Raft snapshot files of a member (member/snap/), named %016x-%016x.snap after term and
// index so that name order is snapshot order. docs/wal-format.md describes the bytes:
//
//   0  4 bytes  magic "SNAP"
//   4  u32  format version (1)
//   8  u32  CRC-32 (zlib) of bytes [12, end of file)
//  12  u32  metaBytes
//  16  meta: u64 index, u64 term, u32 voters, u32 learners, voters u64[], learners u64[]
//  16 + metaBytes: data, to the end of the file
//
// Like the WAL, the Snapshotter has one caller at a time: await each call before the next.

import { mkdir, readFile, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { Snapshot } from '../raft/types.js';
import { describe, errnoCode } from './errors.js';
import { writeFileAtomic } from './fsutil.js';
import { getU64, putU64 } from './record.js';
import { hex16 } from './segments.js';
import type { SnapshotPoint } from './reader.js';

const MAGIC = 0x50414e53; // the bytes "SNAP" read as a little-endian u32
const VERSION = 1;
const HEADER_BYTES = 16;
const SNAP_SUFFIX = '.snap';
const NAME_RE = /^([0-9a-f]{16})-([0-9a-f]{16})\.snap$/;

export function snapshotFileName(term: number, index: number): string {
  return `${hex16(term)}-${hex16(index)}${SNAP_SUFFIX}`;
}

/** Encodes `snap` as [header + meta, data]: two chunks so the data is never copied. */
export function encodeSnapshot(snap: Snapshot): Uint8Array[] {
  const { index, term, confState } = snap.metadata;
  const metaBytes = 24 + 8 * (confState.voters.length + confState.learners.length);
  const head = Buffer.alloc(HEADER_BYTES + metaBytes);
  head.writeUInt32LE(MAGIC, 0);
  head.writeUInt32LE(VERSION, 4);
  head.writeUInt32LE(metaBytes, 12);
  let p = HEADER_BYTES;
  putU64(head, p, index);
  putU64(head, p + 8, term);
  head.writeUInt32LE(confState.voters.length, p + 16);
  head.writeUInt32LE(confState.learners.length, p + 20);
  p += 24;
  for (const id of [...confState.voters, ...confState.learners]) {
    head.writeBigUInt64LE(id, p);
    p += 8;
  }
  const crc = crc32(snap.data, crc32(head.subarray(12)));
  head.writeUInt32LE(crc, 8);
  return [head, snap.data];
}

/** Decodes a snapshot file; returns a sentence on any damage. `data` is a view into `buf`. */
export function decodeSnapshot(buf: Buffer): Snapshot | string {
  if (buf.length < HEADER_BYTES + 24) return `file is ${buf.length} bytes, too short for a snapshot`;
  if (buf.readUInt32LE(0) !== MAGIC) return 'not a snapshot file (bad magic number)';
  if (buf.readUInt32LE(4) !== VERSION) return `snapshot format version ${buf.readUInt32LE(4)}, this build reads ${VERSION}`;
  const stored = buf.readUInt32LE(8);
  const actual = crc32(buf.subarray(12));
  if (stored !== actual) return `CRC mismatch (stored ${stored.toString(16)}, computed ${actual.toString(16)})`;
  const metaBytes = buf.readUInt32LE(12);
  let p = HEADER_BYTES;
  const index = getU64(buf, p);
  const term = getU64(buf, p + 8);
  const nVoters = buf.readUInt32LE(p + 16);
  const nLearners = buf.readUInt32LE(p + 20);
  if (Number.isNaN(index) || Number.isNaN(term)) return 'index or term beyond 2^53';
  if (metaBytes !== 24 + 8 * (nVoters + nLearners) || HEADER_BYTES + metaBytes > buf.length) return 'metadata length does not match its member counts';
  p += 24;
  const ids: bigint[] = [];
  for (let i = 0; i < nVoters + nLearners; i++, p += 8) ids.push(buf.readBigUInt64LE(p));
  return {
    metadata: { index, term, confState: { voters: ids.slice(0, nVoters), learners: ids.slice(nVoters) } },
    data: buf.subarray(HEADER_BYTES + metaBytes),
  };
}

export class Snapshotter {
  constructor(readonly dir: string) {}

  /** Writes the snapshot durably and atomically (temp file, fsync, rename, fsync dir). */
  async save(snapshot: Snapshot): Promise<void> {
    const { index, term } = snapshot.metadata;
    if (!Number.isSafeInteger(index) || index < 1) throw new RangeError(`snap: snapshot index must be >= 1, got ${index}`);
    await mkdir(this.dir, { recursive: true });
    const path = join(this.dir, snapshotFileName(term, index));
    await writeFileAtomic(this.dir, path, encodeSnapshot(snapshot));
  }

  /**
   * The newest snapshot that reads back intact, or null if there is none. With `markers`, only
   * a snapshot whose (index, term) is among them counts (pass Wal.readSnapshotMarkers(): a
   * snapshot file saved just before a crash may have no WAL marker yet). A file that fails its
   * checks is renamed to `<name>.broken` and skipped.
   */
  async loadNewest(markers?: readonly SnapshotPoint[]): Promise<Snapshot | null> {
    for (const name of await this.names()) {
      const path = join(this.dir, name);
      let buf: Buffer;
      try {
        buf = await readFile(path);
      } catch (err) {
        throw new Error(`snap: cannot read ${path}: ${describe(err)}`, { cause: err });
      }
      const snap = decodeSnapshot(buf);
      if (typeof snap === 'string') {
        await rename(path, path + '.broken');
        continue;
      }
      const { index, term } = snap.metadata;
      if (markers === undefined || markers.some((m) => m.index === index && m.term === term)) return snap;
    }
    return null;
  }

  /** Deletes all but the newest `keep` snapshot files (and leftover temp files). Returns how many went. */
  async purge(keep: number): Promise<number> {
    if (!Number.isSafeInteger(keep) || keep < 1) throw new RangeError(`snap: keep must be >= 1, got ${keep}`);
    let removed = 0;
    for (const name of (await this.names()).slice(keep)) {
      await rm(join(this.dir, name), { force: true });
      removed++;
    }
    for (const name of await this.list()) {
      if (name.endsWith(SNAP_SUFFIX + '.tmp')) await rm(join(this.dir, name), { force: true });
    }
    return removed;
  }

  /** snapshot file names, newest first */
  async names(): Promise<string[]> {
    return (await this.list()).filter((n) => NAME_RE.test(n)).sort().reverse();
  }

  private async list(): Promise<string[]> {
    try {
      return await readdir(this.dir);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return [];
      throw new Error(`snap: cannot list ${this.dir}: ${describe(err)}`, { cause: err });
    }
  }
}
