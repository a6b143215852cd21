// The write-ahead log of a member: raft's entries, hard state and snapshot markers, in
// segment files under member/wal/. docs/wal-format.md describes the bytes.
//
// One writer, one call at a time: save(), saveSnapshotMarker(), releaseTo() and close() must each
// be awaited before the next call (a call made while another runs throws WalBusyError). The
// server's Ready loop is that single writer, so the WAL keeps no queue and takes no locks of
// its own beyond the directory lock against other processes.

import fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Entry, HardState } from '../raft/types.js';
import { WalBusyError, WalCorruptError, WalFailedError, describe, errnoCode } from './errors.js';
import { fsyncDir, writeFully } from './fsutil.js';
import { checkWalSyncFailpoint, tornWriteFailpoint } from './failpoint.js';
import { DirLock } from './lock.js';
import { LogLoader, type SnapshotPoint } from './reader.js';
import { BatchWriter, ENTRY_FIXED_BYTES, HARD_STATE_BODY_BYTES, HEAD_BODY_BYTES, SNAPSHOT_BODY_BYTES, recordBytes } from './record.js';
import {
  LOCK_FILE,
  TEMP_SUFFIX,
  isMissingOrEmptyDir,
  listSegments,
  segmentName,
  segmentPath,
  segmentsExist,
  type SegmentName,
} from './segments.js';

export interface WalOptions {
  /** cut to a new segment once the live one reaches this size; default 64 MiB */
  segmentSizeBytes?: number;
  /** releaseTo() never leaves fewer segments than this; default 5, like etcd's --max-wals */
  keepSegments?: number;
  /** skip fdatasync, like etcd's --unsafe-no-fsync: a crash may lose acknowledged writes */
  unsafeNoFsync?: boolean;
}

export interface WalOpenResult {
  wal: Wal;
  /** the bytes given to Wal.create() */
  metadata: Uint8Array;
  /** the last hard state saved (all zero if none was) */
  hardState: HardState;
  /**
   * The log after the snapshot, as raft last saw it: index snapshot.index + 1 onward, contiguous.
   * Each entry's `data` is a view into the segment file's buffer, not a copy.
   */
  entries: Entry[];
  /** bytes cut off the last segment because the last write was torn (0 if none) */
  repairedBytes: number;
}

export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;
export const DEFAULT_KEEP_SEGMENTS = 5;

interface Settings {
  segmentSizeBytes: number;
  keepSegments: number;
  unsafeNoFsync: boolean;
}

function settings(opts: WalOptions | undefined): Settings {
  const s = {
    segmentSizeBytes: opts?.segmentSizeBytes ?? DEFAULT_SEGMENT_BYTES,
    keepSegments: opts?.keepSegments ?? DEFAULT_KEEP_SEGMENTS,
    unsafeNoFsync: opts?.unsafeNoFsync ?? false,
  };
  if (!Number.isSafeInteger(s.segmentSizeBytes) || s.segmentSizeBytes < 1) throw new RangeError(`wal: segmentSizeBytes must be a positive integer, got ${s.segmentSizeBytes}`);
  if (!Number.isSafeInteger(s.keepSegments) || s.keepSegments < 1) throw new RangeError(`wal: keepSegments must be a positive integer, got ${s.keepSegments}`);
  return s;
}

/** What a newly opened or created Wal continues from. */
interface Tail {
  fh: FileHandle;
  offset: number;
  segments: SegmentName[];
  lastIndex: number;
  lastCrc: number;
  hardState: HardState;
  metadata: Buffer;
  walId: Buffer;
}

export class Wal {
  private tail: FileHandle;
  /** O_DSYNC descriptor of the live segment, opened on first append */
  private appendFd: number | null = null;
  /** a save with sync=false wrote to the live segment since its last sync */
  private unsyncedWrites = false;
  private tailOffset: number;
  private readonly segmentList: SegmentName[];
  private lastEntryIndex: number;
  private lastCrc: number;
  private hardState: HardState;
  private readonly metadata: Buffer;
  private readonly walId: Buffer;
  private running: string | null = null;
  private failure: WalFailedError | null = null;
  private closed = false;

  private constructor(
    readonly dir: string,
    private readonly dirHandle: FileHandle,
    private readonly lock: DirLock,
    private readonly cfg: Settings,
    t: Tail,
  ) {
    this.tail = t.fh;
    this.tailOffset = t.offset;
    this.segmentList = t.segments;
    this.lastEntryIndex = t.lastIndex;
    this.lastCrc = t.lastCrc;
    this.hardState = t.hardState;
    this.metadata = t.metadata;
    this.walId = t.walId;
  }

  /** true if `dir` holds at least one segment file */
  static exists(dir: string): boolean {
    return segmentsExist(dir);
  }

  /**
   * Creates a WAL in `dir` (which must be missing or empty) holding `metadata`. The directory
   * is built as `<dir>.tmp` and renamed into place, so a crash leaves either no WAL or a whole one.
   */
  static async create(dir: string, metadata: Uint8Array, opts?: WalOptions): Promise<Wal> {
    const cfg = settings(opts);
    if (segmentsExist(dir)) throw new Error(`wal: ${dir} already holds a WAL`);
    if (!(await isMissingOrEmptyDir(dir))) throw new Error(`wal: cannot create a WAL in ${dir}: it exists and is not an empty directory`);
    const finalDir = resolve(dir);
    const tmpDir = finalDir + TEMP_SUFFIX;
    const walId = randomBytes(8);
    const w = new BatchWriter(recordBytes(HEAD_BODY_BYTES) + recordBytes(metadata.length) + recordBytes(SNAPSHOT_BODY_BYTES), 3);
    w.head(walId, 0, 0, 0);
    w.metadata(metadata);
    w.snapshot(0, 0);
    const head = w.finish();
    const first: SegmentName = { name: segmentName(0, 0), seq: 0, firstIndex: 0 };

    await rm(tmpDir, { recursive: true, force: true });
    await mkdir(tmpDir, { recursive: true });
    let fh: FileHandle | null = null;
    try {
      fh = await open(join(tmpDir, first.name), 'wx', 0o600);
      await writeFully(fh, head, 0);
      await fh.datasync();
      await writeFile(join(tmpDir, LOCK_FILE), DirLock.contents(), { mode: 0o600 });
      await fsyncDir(tmpDir);
      await rename(tmpDir, finalDir);
      await fsyncDir(dirname(finalDir));
    } catch (err) {
      await fh?.close().catch(() => undefined);
      await rm(tmpDir, { recursive: true, force: true }).catch(() => undefined);
      throw new Error(`wal: cannot create ${dir}: ${describe(err)}`, { cause: err });
    }
    const lock = DirLock.adopt(dir);
    const dirHandle = await open(finalDir, 'r');
    return new Wal(dir, dirHandle, lock, cfg, {
      fh,
      offset: head.length,
      segments: [first],
      lastIndex: 0,
      lastCrc: w.lastCrc,
      hardState: { term: 0, vote: 0n, commit: 0 },
      metadata: Buffer.from(metadata),
      walId,
    });
  }

  /**
   * Locks `dir`, reads the log from the segment holding `snapshot` (default: the start),
   * checks everything, repairs a torn tail, and returns a Wal ready to append. On
   * WalCorruptError nothing on disk has been changed.
   */
  static async open(dir: string, snapshot?: SnapshotPoint, opts?: WalOptions): Promise<WalOpenResult> {
    const cfg = settings(opts);
    const start = snapshot ?? { index: 0, term: 0 };
    await listSegments(dir); // missing, empty or unreadable dir: say so before locking
    const lock = await DirLock.acquire(dir);
    let fh: FileHandle | null = null;
    let dirHandle: FileHandle | null = null;
    try {
      const { segments, temps } = await listSegments(dir);
      const { loader, tailEnd, tailBytes } = await loadLog(dir, segments, start);
      const last = segments[segments.length - 1]!;
      // every check passed: from here on we may touch the disk
      fh = await openFile(segmentPath(dir, last), 'r+');
      if (tailEnd < tailBytes) {
        await fh.truncate(tailEnd);
        await fh.datasync();
      }
      for (const t of temps) await rm(join(dir, t), { force: true });
      dirHandle = await open(dir, 'r');
      const wal = new Wal(dir, dirHandle, lock, cfg, {
        fh,
        offset: tailEnd,
        segments,
        lastIndex: loader.lastIndex,
        lastCrc: loader.lastCrc,
        hardState: loader.hardState,
        metadata: loader.metadata!,
        walId: loader.walId!,
      });
      return { wal, metadata: loader.metadata!, hardState: { ...loader.hardState }, entries: loader.entries, repairedBytes: tailBytes - tailEnd };
    } catch (err) {
      await fh?.close().catch(() => undefined);
      await dirHandle?.close().catch(() => undefined);
      await lock.release();
      throw err;
    }
  }

  /**
   * The snapshot markers in the WAL whose index is covered by the last saved commit index
   * (like etcd's ValidSnapshotEntries). Read-only and lock-free: call it before open() to pick
   * the newest snapshot file the WAL can start from.
   */
  static async readSnapshotMarkers(dir: string): Promise<SnapshotPoint[]> {
    const { segments } = await listSegments(dir);
    checkSequence(dir, segments, 0);
    const loader = new LogLoader(dir, null);
    for (let i = 0; i < segments.length; i++) {
      const seg = segments[i]!;
      loader.loadSegment(seg, await readSegment(dir, seg), i === segments.length - 1);
    }
    return loader.markers.filter((m) => m.index <= loader.hardState.commit);
  }

  /** index of the last entry written (or of the last snapshot marker, if higher) */
  get lastIndex(): number {
    return this.lastEntryIndex;
  }

  /** names of the segment files, oldest first; the last is the live one */
  segments(): string[] {
    return this.segmentList.map((s) => s.name);
  }

  /**
   * Appends `entries` and, if given and changed, `hardState`, as ONE write() and ONE fdatasync;
   * resolves when they are durable. An entry whose index is at or below the last index
   * replaces that entry and everything after it. Entries must be contiguous and must not leave
   * a gap after the last index (save the snapshot marker first when installing a snapshot).
   */
  /**
   * `sync` false skips making the write durable: raft allows that when only the commit
   * index changed. The next durable save then syncs the whole file, so an unsynced
   * record can never be a hole behind a durable one.
   */
  async save(hardState: HardState | null, entries: readonly Entry[], sync = true): Promise<void> {
    this.enter('save');
    try {
      const hs = hardState !== null && !sameHardState(hardState, this.hardState) ? hardState : null;
      if (hs === null && entries.length === 0) return;
      this.checkEntries(entries);
      if (hs !== null) this.checkHardState(hs);
      let bytes = hs !== null ? recordBytes(HARD_STATE_BODY_BYTES) : 0;
      for (const e of entries) bytes += recordBytes(ENTRY_FIXED_BYTES + e.data.length);
      const w = new BatchWriter(bytes, entries.length + (hs !== null ? 1 : 0));
      for (const e of entries) w.entry(e);
      if (hs !== null) w.hardState(hs);
      await this.append(w.finish(), sync);
      this.lastCrc = w.lastCrc;
      if (entries.length > 0) this.lastEntryIndex = entries[entries.length - 1]!.index;
      if (hs !== null) this.hardState = { term: hs.term, vote: hs.vote, commit: hs.commit };
      if (this.tailOffset >= this.cfg.segmentSizeBytes) await this.cut();
    } finally {
      this.running = null;
    }
  }

  /**
   * Records that a raft snapshot up to (index, term) exists, durably. Save the snapshot file
   * (Snapshotter.save) before this, and call releaseTo() only after it.
   */
  async saveSnapshotMarker(snap: SnapshotPoint): Promise<void> {
    this.enter('saveSnapshotMarker');
    try {
      assertIndex('snapshot index', snap.index, 0);
      assertIndex('snapshot term', snap.term, 0);
      const w = new BatchWriter(recordBytes(SNAPSHOT_BODY_BYTES), 1);
      w.snapshot(snap.index, snap.term);
      await this.append(w.finish());
      this.lastCrc = w.lastCrc;
      this.lastEntryIndex = Math.max(this.lastEntryIndex, snap.index);
      if (this.tailOffset >= this.cfg.segmentSizeBytes) await this.cut();
    } finally {
      this.running = null;
    }
  }

  /**
   * Deletes the oldest segments that open() will never need once a snapshot at `index` exists:
   * a segment goes only if a later segment starts at or below `index` (so that one holds the
   * snapshot's starting point), never the live one, and never below `keep` segments.
   * Returns how many files were removed.
   */
  async releaseTo(index: number, keep: number = this.cfg.keepSegments): Promise<number> {
    this.enter('releaseTo');
    try {
      assertIndex('release index', index, 0);
      let n = 0;
      const removable = this.segmentList.length - Math.max(1, keep);
      while (n < removable && this.segmentList[n + 1]!.firstIndex <= index) n++;
      for (let i = 0; i < n; i++) {
        const seg = this.segmentList[0]!;
        await rm(segmentPath(this.dir, seg), { force: true });
        this.segmentList.shift();
      }
      if (n > 0) await this.dirHandle.sync();
      return n;
    } finally {
      this.running = null;
    }
  }

  /** Closes the files and releases the directory lock. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.running !== null) throw new WalBusyError('close', this.running);
    this.closed = true;
    try {
      this.closeDsyncFd();
      await this.tail.close();
      await this.dirHandle.close();
    } finally {
      await this.lock.release();
    }
  }

  // -------------------------------------------------------------------------------------------

  private dsyncFd(): number {
    if (this.appendFd === null) {
      const live = this.segmentList[this.segmentList.length - 1]!;
      this.appendFd = fs.openSync(segmentPath(this.dir, live), fs.constants.O_WRONLY | fs.constants.O_DSYNC);
    }
    return this.appendFd;
  }

  private closeDsyncFd(): void {
    if (this.appendFd !== null) {
      fs.closeSync(this.appendFd);
      this.appendFd = null;
    }
  }

  private enter(method: string): void {
    if (this.closed) throw new Error(`wal: ${method}() on ${this.dir}, which is closed`);
    if (this.failure !== null) throw this.failure;
    if (this.running !== null) throw new WalBusyError(method, this.running);
    this.running = method;
  }

  /**
   * One durable write at the end of the live segment; any failure poisons the WAL.
   * Appends go through a second descriptor opened with O_DSYNC: each write returns only
   * once its data is on stable storage, like write + fdatasync, but in one system call
   * and one trip through libuv's thread pool — this is on every request's latency path.
   */
  private async append(buf: Buffer, sync = true): Promise<void> {
    tornWriteFailpoint(this.tail.fd, buf, this.tailOffset);
    try {
      if (this.cfg.unsafeNoFsync || !sync) {
        await writeFully(this.tail, buf, this.tailOffset);
        if (!this.cfg.unsafeNoFsync) this.unsyncedWrites = true;
      } else if (this.unsyncedWrites) {
        await writeFully(this.tail, buf, this.tailOffset);
        checkWalSyncFailpoint();
        await this.tail.datasync();
        this.unsyncedWrites = false;
      } else {
        await writeAllDurable(this.dsyncFd(), buf, this.tailOffset);
        checkWalSyncFailpoint();
      }
    } catch (err) {
      this.failure = new WalFailedError(this.dir, err);
      throw this.failure;
    }
    this.tailOffset += buf.length;
  }

  /**
   * Starts the next segment. Its head (continuity record, metadata, hard state) is written to
   * `<name>.tmp` and synced before the rename, so a named segment always has a whole head.
   */
  private async cut(): Promise<void> {
    const prev = this.segmentList[this.segmentList.length - 1]!;
    const next: SegmentName = { name: segmentName(prev.seq + 1, this.lastEntryIndex + 1), seq: prev.seq + 1, firstIndex: this.lastEntryIndex + 1 };
    const withState = !sameHardState(this.hardState, { term: 0, vote: 0n, commit: 0 });
    const records = withState ? 3 : 2;
    const size = recordBytes(HEAD_BODY_BYTES) + recordBytes(this.metadata.length) + (withState ? recordBytes(HARD_STATE_BODY_BYTES) : 0);
    const w = new BatchWriter(size, records);
    w.head(this.walId, next.seq, next.firstIndex, this.lastCrc);
    w.metadata(this.metadata);
    if (withState) w.hardState(this.hardState);
    const head = w.finish();
    const path = segmentPath(this.dir, next);
    let fh: FileHandle | null = null;
    try {
      fh = await open(path + TEMP_SUFFIX, 'w', 0o600);
      await writeFully(fh, head, 0);
      if (!this.cfg.unsafeNoFsync) await fh.datasync();
      await rename(path + TEMP_SUFFIX, path);
      if (!this.cfg.unsafeNoFsync) await this.dirHandle.sync();
    } catch (err) {
      await fh?.close().catch(() => undefined);
      this.failure = new WalFailedError(this.dir, err);
      throw this.failure;
    }
    const old = this.tail;
    if (this.unsyncedWrites && !this.cfg.unsafeNoFsync) await old.datasync();
    this.unsyncedWrites = false;
    this.closeDsyncFd();
    this.tail = fh;
    this.tailOffset = head.length;
    this.lastCrc = w.lastCrc;
    this.segmentList.push(next);
    await old.close();
  }

  /** paired with the reader's checks: never write what open() would reject */
  private checkEntries(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = entries[0]!.index;
    assertIndex('entry index', first, 1);
    if (first > this.lastEntryIndex + 1) {
      throw new RangeError(`wal: entry ${first} would leave a gap after the last index ${this.lastEntryIndex}`);
    }
    let term = 0;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (e.index !== first + i) throw new RangeError(`wal: entries are not contiguous: ${e.index} follows ${first + i - 1}`);
      assertIndex('entry term', e.term, 1);
      if (e.term < term) throw new RangeError(`wal: entry ${e.index} has term ${e.term}, lower than the term ${term} before it`);
      term = e.term;
      if (!(e.data instanceof Uint8Array)) throw new TypeError(`wal: entry ${e.index} data is not a Uint8Array`);
    }
  }

  private checkHardState(hs: HardState): void {
    assertIndex('hard state term', hs.term, 0);
    assertIndex('hard state commit', hs.commit, 0);
    if (typeof hs.vote !== 'bigint' || hs.vote < 0n || hs.vote > 0xffff_ffff_ffff_ffffn) throw new RangeError(`wal: hard state vote ${String(hs.vote)} is not a u64`);
    if (hs.term < this.hardState.term) throw new RangeError(`wal: hard state term ${hs.term} is lower than the saved ${this.hardState.term}`);
    if (hs.commit < this.hardState.commit) throw new RangeError(`wal: hard state commit ${hs.commit} is lower than the saved ${this.hardState.commit}`);
  }
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

function assertIndex(what: string, v: number, min: number): void {
  if (!Number.isSafeInteger(v) || v < min) throw new RangeError(`wal: ${what} must be an integer >= ${min}, got ${v}`);
}

/** Writes all of buf at position through fd (callback API: the cheapest path through libuv). */
function writeAllDurable(fd: number, buf: Buffer, position: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const step = (done: number): void => {
      if (done >= buf.length) return resolve();
      fs.write(fd, buf, done, buf.length - done, position + done, (err, written) => {
        if (err) return reject(err);
        if (written <= 0) return reject(new Error(`write returned ${written} at offset ${position + done}`));
        step(done + written);
      });
    };
    step(0);
  });
}

async function openFile(path: string, flags: string): Promise<FileHandle> {
  try {
    return await open(path, flags);
  } catch (err) {
    throw new Error(`wal: cannot open ${path}: ${describe(err)}`, { cause: err });
  }
}

async function readSegment(dir: string, seg: SegmentName): Promise<Buffer> {
  const path = segmentPath(dir, seg);
  try {
    return await readFile(path);
  } catch (err) {
    const code = errnoCode(err);
    const why = code === 'EISDIR' ? 'it is a directory' : describe(err);
    throw new Error(`wal: cannot read segment ${path}: ${why}`, { cause: err });
  }
}

/** segments from `from` on must have consecutive sequence numbers */
function checkSequence(dir: string, segments: SegmentName[], from: number): void {
  for (let i = from + 1; i < segments.length; i++) {
    const prev = segments[i - 1]!;
    const cur = segments[i]!;
    if (cur.seq !== prev.seq + 1) {
      throw new WalCorruptError(join(dir, cur.name), 0, `segment sequence gap: it follows ${prev.name}, expected sequence ${prev.seq + 1}, found ${cur.seq}`);
    }
  }
}

/** Reads and checks the segments a start point needs. Changes nothing on disk. */
async function loadLog(dir: string, segments: SegmentName[], start: SnapshotPoint): Promise<{ loader: LogLoader; tailEnd: number; tailBytes: number }> {
  let from = -1;
  for (let i = segments.length - 1; i >= 0; i--) {
    if (segments[i]!.firstIndex <= start.index) {
      from = i;
      break;
    }
  }
  if (from < 0) {
    const oldest = segments[0]!;
    throw new WalCorruptError(join(dir, oldest.name), 0, `no segment holds snapshot index ${start.index}: the oldest segment starts at index ${oldest.firstIndex}`);
  }
  checkSequence(dir, segments, from);
  const loader = new LogLoader(dir, start);
  let tailEnd = 0;
  let tailBytes = 0;
  for (let i = from; i < segments.length; i++) {
    const seg = segments[i]!;
    const buf = await readSegment(dir, seg);
    tailEnd = loader.loadSegment(seg, buf, i === segments.length - 1);
    tailBytes = buf.length;
  }
  loader.finish(join(dir, segments[segments.length - 1]!.name), tailEnd);
  return { loader, tailEnd, tailBytes };
}
