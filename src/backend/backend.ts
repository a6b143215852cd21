// The member's state machine storage: one LMDB environment (a copy-on-write B+tree,
// the design bbolt descends from) holding etcd's buckets.
//
// Writes are batched like etcd's backend batches them: a `write()` group lands in an
// in-memory overlay that reads consult first, and the overlay is committed to LMDB in one
// transaction every BATCH_INTERVAL_MS or BATCH_LIMIT operations. Commits skip fsync: the
// WAL is the durable record, and on restart the server replays every entry above the
// consistent index stored here. `forceCommit` makes everything so far durable (before a
// raft snapshot releases WAL segments).
import fs from 'node:fs';
import path from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import { assertTsetcdBackendFile } from './file-kind.js';
import { LmdbFileReader, lmdbUsedBytes, parseDbRecord, type LmdbTree } from '../lmdbfile/reader.js';

export const BUCKETS = ['key', 'meta', 'lease', 'members', 'members_removed', 'cluster', 'alarm', 'auth', 'authUsers', 'authRoles'] as const;
export type BucketName = (typeof BUCKETS)[number];

type BinaryDb = Database<Buffer, Buffer>;

/** A frozen read-only view of the backend (see Backend.readView). */
export interface BackendView {
  range(bucket: BucketName): Iterable<readonly [Buffer, Buffer]>;
  /**
   * like range, but read from the data file with positioned reads instead of through
   * LMDB's memory map (which would leave every page read resident in the process): key
   * and value are views of a reused buffer, valid only until the next entry
   */
  rangeFromFile(bucket: BucketName): Iterable<readonly [Buffer, Buffer]>;
  /** like rangeFromFile, with each value's length in place of the value (values are not read) */
  sizesFromFile(bucket: BucketName): Iterable<readonly [Buffer, number]>;
  release(): void;
}

/** etcd's defaults for --backend-batch-interval and --backend-batch-limit */
export const BATCH_INTERVAL_MS = 100;
export const BATCH_LIMIT = 10_000;

/** Pending changes of one bucket: latin1 key -> value, or null for a delete. */
type Overlay = Map<BucketName, Map<string, Buffer | null>>;

function overlayPut(o: Overlay, bucket: BucketName, key: string, value: Buffer | null): void {
  let m = o.get(bucket);
  if (!m) {
    m = new Map();
    o.set(bucket, m);
  }
  m.set(key, value);
}

export interface BackendOptions {
  /** upper bound of the memory map; the file grows on demand up to it */
  mapSizeBytes?: number;
  /** --backend-batch-interval: longest a batch waits before it is committed (default 100 ms) */
  batchIntervalMs?: number;
  /** --backend-batch-limit: operations that make a batch commit at once (default 10,000) */
  batchLimit?: number;
  /**
   * For loading a new file that nothing else opens meanwhile (snapshot restore): LMDB
   * writes through its memory map (MDB_WRITEMAP) instead of building every dirty page in
   * memory and writing it again at commit, which halves the copying of a bulk load.
   * LMDB extends such a file to the whole map size (sparse); close() cuts it back to the
   * pages in use, so the member that opens it later sees an ordinary file.
   */
  writeMap?: boolean;
}

/**
 * importRecords' LMDB transactions end at this many records or bytes, whichever comes
 * first: big enough to amortise a commit, small enough that a transaction's dirty pages
 * (held in memory until it commits) stay bounded when values are large.
 */
const IMPORT_BATCH = 10_000;
const IMPORT_BATCH_BYTES = 64 * 1024 * 1024;

export const DEFAULT_MAP_SIZE_BYTES = 16 * 1024 ** 3;

export class Backend {
  private env: RootDatabase<Buffer, Buffer>;
  private dbs = new Map<BucketName, BinaryDb>();
  /** changes of the write group in progress */
  private group: Overlay | null = null;
  private groupOps = 0;
  /** changes of finished groups not yet committed to LMDB */
  private pending: Overlay = new Map();
  private pendingOps = 0;
  private commitTimer: NodeJS.Timeout | undefined;
  /** told when a timed batch commit fails; without it the error is thrown */
  onCommitFailed: ((err: Error) => void) | undefined;
  /** told how long each batch commit took, for etcd_disk_backend_commit_duration_seconds */
  onCommit: ((durationMs: number) => void) | undefined;
  /** set while defragment() copies the database: commits wait */
  private defragmenting = false;
  /** open read views per environment, and closes deferred until they are released */
  private views = new Map<RootDatabase<Buffer, Buffer>, number>();
  private closeWhenUnviewed = new Map<RootDatabase<Buffer, Buffer>, () => void>();
  /** cached file size; -1 when it must be read again */
  private fileSizeBytes = -1;

  private constructor(
    readonly filePath: string,
    private readonly opts: BackendOptions,
  ) {
    this.env = Backend.openEnv(filePath, opts);
    // the database holds every key and value: readable by the member's user only, as etcd's
    for (const f of [filePath, filePath + '-lock']) fs.chmodSync(f, 0o600);
    this.openBuckets();
  }

  static open(filePath: string, opts: BackendOptions = {}): Backend {
    // before anything is created or removed: a foreign file is refused untouched
    assertTsetcdBackendFile(filePath, path.dirname(path.dirname(path.dirname(filePath))));
    fs.mkdirSync(path.dirname(filePath), { recursive: true, mode: 0o700 });
    // leftovers of a defragmentation: a copy that was not swapped in, or the lock file
    // of one that was
    for (const f of [filePath + '.defrag', filePath + '.defrag-lock']) fs.rmSync(f, { force: true });
    return new Backend(filePath, opts);
  }

  private static openEnv(filePath: string, opts: BackendOptions): RootDatabase<Buffer, Buffer> {
    return open<Buffer, Buffer>({
      path: filePath,
      // one file at member/snap/db, as etcd lays it out (lmdb-js would make a directory)
      noSubdir: true,
      noSync: true,
      maxDbs: 32,
      mapSize: opts.mapSizeBytes ?? DEFAULT_MAP_SIZE_BYTES,
      compression: false,
      cache: false,
      keyEncoding: 'binary',
      encoding: 'binary',
      useWritemap: opts.writeMap === true,
    });
  }

  private openBuckets(): void {
    this.dbs.clear();
    for (const name of BUCKETS) this.dbs.set(name, this.env.openDB<Buffer, Buffer>({ name, keyEncoding: 'binary', encoding: 'binary' }));
  }

  private db(bucket: BucketName): BinaryDb {
    const db = this.dbs.get(bucket);
    if (!db) throw new Error(`backend: unknown bucket ${bucket}`);
    return db;
  }

  /**
   * Runs fn as one write group: its changes become visible to reads at once and reach
   * LMDB together in the next batch commit. If fn throws, none of them happen.
   */
  write<T>(fn: () => T): T {
    if (this.group) return fn();
    this.group = new Map();
    this.groupOps = 0;
    let result: T;
    try {
      result = fn();
    } catch (err) {
      this.group = null;
      throw err;
    }
    const group = this.group;
    this.group = null;
    for (const [bucket, m] of group) for (const [k, v] of m) overlayPut(this.pending, bucket, k, v);
    this.pendingOps += this.groupOps;
    if (this.pendingOps >= (this.opts.batchLimit || BATCH_LIMIT)) this.commit();
    else this.scheduleCommit();
    return result;
  }

  get writing(): boolean {
    return this.group !== null;
  }

  put(bucket: BucketName, key: Uint8Array, value: Uint8Array): void {
    this.assertWriting();
    overlayPut(this.group!, bucket, latin1(key), asBuffer(value));
    this.groupOps++;
  }

  delete(bucket: BucketName, key: Uint8Array): void {
    this.assertWriting();
    overlayPut(this.group!, bucket, latin1(key), null);
    this.groupOps++;
  }

  /** The value, from the pending overlay or LMDB; callers must not modify it. */
  get(bucket: BucketName, key: Uint8Array): Buffer | undefined {
    if (this.group || this.pendingOps > 0) {
      const k = latin1(key);
      const inGroup = this.group?.get(bucket)?.get(k);
      if (inGroup !== undefined) return inGroup ?? undefined;
      const pending = this.pending.get(bucket)?.get(k);
      if (pending !== undefined) return pending ?? undefined;
    }
    return this.db(bucket).getBinary(asBuffer(key)) ?? undefined;
  }

  private scheduleCommit(): void {
    if (this.commitTimer) return;
    this.commitTimer = setTimeout(() => {
      this.commitTimer = undefined;
      try {
        this.commit();
      } catch (err) {
        // a batch that cannot be written (a full disk, an I/O error) leaves the member
        // unable to go on: etcd stops with "failed to commit tx"; so does the owner here
        if (!this.onCommitFailed) throw err;
        this.onCommitFailed(err as Error);
      }
    }, this.opts.batchIntervalMs || BATCH_INTERVAL_MS);
    this.commitTimer.unref();
  }

  /** Writes the pending overlay to LMDB in one transaction (no fsync). */
  commit(): void {
    if (this.commitTimer) {
      clearTimeout(this.commitTimer);
      this.commitTimer = undefined;
    }
    // while a defragmentation copies the file, writes stay in the overlay (reads see
    // them) and reach the new file once it is swapped in
    if (this.pendingOps === 0 || this.defragmenting) return;
    const pending = this.pending;
    const startMs = performance.now();
    this.env.transactionSync(() => {
      for (const [bucket, m] of pending) {
        const db = this.db(bucket);
        for (const [k, v] of m) {
          const key = Buffer.from(k, 'latin1');
          if (v === null) db.removeSync(key);
          else db.putSync(key, v);
        }
      }
    });
    this.pending = new Map();
    this.pendingOps = 0;
    this.fileSizeBytes = -1;
    this.onCommit?.(performance.now() - startMs);
  }

  /** Entries with start <= key < end (end undefined: to the last key), in key order. */
  *range(bucket: BucketName, start?: Uint8Array, end?: Uint8Array): Generator<{ key: Buffer; value: Buffer }> {
    if (this.group) throw new Error('backend: range scan inside a write group');
    this.commit(); // scans read LMDB only, so it must hold everything first
    const options: { start?: Buffer; end?: Buffer } = {};
    if (start) options.start = asBuffer(start);
    if (end) options.end = asBuffer(end);
    for (const { key, value } of this.db(bucket).getRange(options)) yield { key: key as Buffer, value: value as Buffer };
  }

  /** The entry with the greatest key, or undefined for an empty bucket. */
  last(bucket: BucketName): { key: Buffer; value: Buffer } | undefined {
    if (this.group) throw new Error('backend: range scan inside a write group');
    this.commit();
    for (const { key, value } of this.db(bucket).getRange({ reverse: true, limit: 1 })) return { key: key as Buffer, value: value as Buffer };
    return undefined;
  }

  /**
   * Loads records straight into LMDB, IMPORT_BATCH records or IMPORT_BATCH_BYTES at a time
   * per transaction, bypassing the overlay: for restore and migration, where nothing else
   * reads or writes meanwhile. Each record is written as it is pulled, so the source may
   * reuse its buffers from one record to the next and nothing piles up in memory.
   */
  importRecords(bucket: BucketName, records: Iterable<readonly [Uint8Array, Uint8Array]>): number {
    this.commit();
    const db = this.db(bucket);
    const it = records[Symbol.iterator]();
    let n = 0;
    let more = true;
    while (more) {
      this.env.transactionSync(() => {
        let batchBytes = 0;
        for (let rows = 0; rows < IMPORT_BATCH && batchBytes < IMPORT_BATCH_BYTES; rows++) {
          const r = it.next();
          if (r.done) {
            more = false;
            return;
          }
          const [k, v] = r.value;
          db.putSync(asBuffer(k), asBuffer(v));
          batchBytes += k.length + v.length;
          n++;
        }
      });
    }
    this.fileSizeBytes = -1;
    return n;
  }

  count(bucket: BucketName): number {
    this.commit();
    return this.db(bucket).getCount();
  }

  /** Commits everything pending and flushes it to stable storage. */
  forceCommit(): Promise<void> {
    this.commit();
    return new Promise((resolve, reject) => {
      // lmdb-js has sync(callback) on the root database; its typings omit it
      const env = this.env as unknown as { sync(cb: (err?: Error) => void): void };
      env.sync((err?: Error) => (err ? reject(err) : resolve()));
    });
  }

  /**
   * Size of the database file on disk, as etcd reports db size. The file only grows at
   * a commit, so the size is read then rather than on every request that asks (the
   * quota check asks on every write).
   */
  sizeBytes(): number {
    if (this.fileSizeBytes < 0) this.fileSizeBytes = this.statSize();
    return this.fileSizeBytes;
  }

  private statSize(): number {
    try {
      return fs.statSync(this.filePath).size;
    } catch {
      return 0;
    }
  }

  /**
   * Bytes of the file that hold data (etcd's dbSizeInUse: its file size less its free
   * pages). LMDB reports pages per tree, not its free-page count, so the pages in use are
   * counted: the two meta pages, the main tree naming the buckets, every bucket's branch,
   * leaf and overflow pages, and the free list's own tree. The rest of the file is free
   * pages (left by deletes and compactions, reused by later writes) and unused tail.
   */
  sizeInUseBytes(): number {
    const env = this.env.getStats() as LmdbEnvStats;
    let pages = LMDB_META_PAGES + treePages(env.root) + treePages(env.free);
    for (const db of this.dbs.values()) pages += treePages(db.getStats() as LmdbTreeStats);
    return Math.min(pages * env.pageSize, this.sizeBytes());
  }

  /**
   * Swaps in a database file received from the leader (a raft snapshot): the current
   * file is replaced, pending writes are dropped (the snapshot supersedes them).
   */
  async replaceWith(file: string): Promise<void> {
    if (this.commitTimer) clearTimeout(this.commitTimer);
    this.commitTimer = undefined;
    this.pending = new Map();
    this.pendingOps = 0;
    const old = this.env;
    // open the new file where it is, then move it into place: opening a second environment
    // on the path of one that is still open invalidates the new one (lmdb keys its
    // environments by path), which is why defragment() does it in this order too
    fs.rmSync(file + '-lock', { force: true });
    this.env = Backend.openEnv(file, this.opts);
    this.openBuckets();
    fs.renameSync(file, this.filePath);
    fs.chmodSync(this.filePath, 0o600);
    this.fileSizeBytes = -1;
    await this.closeSwapped(old);
  }

  /**
   * Rewrites the database into a fresh file without free pages and swaps it in, which
   * gives disk space back after compactions (etcd's defragment). The caller must keep
   * writes out meanwhile; reads go on, and never see a closed environment: the new file
   * is opened and swapped in before the old one is closed.
   */
  async defragment(): Promise<void> {
    if (this.defragmenting) throw new Error('backend: a defragmentation is already running');
    this.commit();
    this.defragmenting = true;
    const tmp = this.filePath + '.defrag';
    let old: RootDatabase<Buffer, Buffer> | undefined;
    try {
      for (const f of [tmp, tmp + '-lock']) fs.rmSync(f, { force: true });
      await this.env.backup(tmp, true);
      old = this.env;
      this.env = Backend.openEnv(tmp, this.opts);
      this.openBuckets();
      fs.renameSync(tmp, this.filePath);
      fs.chmodSync(this.filePath, 0o600);
      this.fileSizeBytes = -1;
    } finally {
      this.defragmenting = false;
    }
    this.commit();
    // a snapshot being streamed keeps reading the old file until it is done
    if (old && this.views.has(old)) void this.closeSwapped(old).catch(() => undefined);
    else await old?.close();
  }

  /**
   * A read-only view of everything committed so far, frozen at this moment (one LMDB read
   * transaction): what a snapshot streams while writes go on. Scans of the view can be
   * repeated and always see the same data. Call release() when done; a defragmentation
   * keeps the old file open until every view on it is released.
   *
   * The FromFile scans read the trees of this transaction's snapshot from the data file
   * (src/lmdbfile/reader.ts): the open transaction keeps LMDB from reusing their pages.
   * The file is opened here, in the same turn as the transaction, while this.filePath is
   * still the environment's file (swaps rename synchronously, so a later one cannot come
   * in between); the descriptor keeps that file even after a swap renames another over it.
   */
  readView(): BackendView {
    this.commit();
    const env = this.env;
    const dbs = new Map(this.dbs);
    const txn = env.useReadTransaction();
    let fd: number;
    try {
      fd = fs.openSync(this.filePath, 'r');
    } catch (err) {
      txn.done();
      throw err;
    }
    this.views.set(env, (this.views.get(env) ?? 0) + 1);
    let released = false;
    let reader: LmdbFileReader | undefined;
    const live = (): void => {
      if (released) throw new Error('backend: read view used after release');
    };
    const treeOf = (bucket: BucketName): LmdbTree => {
      if (!dbs.has(bucket)) throw new Error(`backend: unknown bucket ${bucket}`);
      // the main database maps each bucket's name to its tree's record, as of this
      // transaction; lmdb-js names a tree with its name and a NUL byte, plain LMDB without
      const name = Buffer.from(bucket, 'latin1');
      for (const { key, value } of env.getRange({ transaction: txn, start: name, limit: 2 })) if (isTreeName(key as Buffer, name)) return parseDbRecord(value as Buffer);
      return { flags: 0, depth: 0, entries: 0, root: undefined };
    };
    const fileReader = (): LmdbFileReader => (reader ??= LmdbFileReader.onFd(fd));
    function* scan(bucket: BucketName): Generator<readonly [Buffer, Buffer]> {
      live();
      const db = dbs.get(bucket);
      if (!db) throw new Error(`backend: unknown bucket ${bucket}`);
      for (const { key, value } of db.getRange({ transaction: txn })) yield [key as Buffer, value as Buffer] as const;
    }
    function* fromFile<V>(bucket: BucketName, read: (r: LmdbFileReader, tree: LmdbTree) => Iterable<readonly [Buffer, V]>): Generator<readonly [Buffer, V]> {
      live();
      yield* read(fileReader(), treeOf(bucket));
    }
    return {
      range: (bucket) => scan(bucket),
      rangeFromFile: (bucket) => fromFile(bucket, (r, t) => r.entries(t)),
      sizesFromFile: (bucket) => fromFile(bucket, (r, t) => r.sizes(t)),
      release: () => {
        if (released) return;
        released = true;
        fs.closeSync(fd);
        txn.done();
        this.viewReleased(env);
      },
    };
  }

  private viewReleased(env: RootDatabase<Buffer, Buffer>): void {
    const n = (this.views.get(env) ?? 1) - 1;
    if (n > 0) {
      this.views.set(env, n);
      return;
    }
    this.views.delete(env);
    const close = this.closeWhenUnviewed.get(env);
    if (close) {
      this.closeWhenUnviewed.delete(env);
      close();
    }
  }

  /** Closes an environment that was swapped out, once no read view uses it. */
  private closeSwapped(env: RootDatabase<Buffer, Buffer>): Promise<void> {
    if (!this.views.has(env)) return env.close();
    return new Promise((resolve, reject) => this.closeWhenUnviewed.set(env, () => void env.close().then(resolve, reject)));
  }

  /** A consistent copy of the whole database, written to `dest`. */
  async copyTo(dest: string): Promise<void> {
    this.commit();
    await this.env.backup(dest, true);
  }

  async close(): Promise<void> {
    await this.forceCommit();
    await this.env.close();
    if (this.opts.writeMap) trimToUsed(this.filePath);
  }

  private assertWriting(): void {
    if (!this.group) throw new Error('backend: write outside a write group');
  }
}

interface LmdbTreeStats {
  treeBranchPageCount: number;
  treeLeafPageCount: number;
  overflowPages: number;
}

interface LmdbEnvStats {
  pageSize: number;
  /** the unnamed database that names the buckets */
  root: LmdbTreeStats;
  /** LMDB's free-page database (its own pages are in use) */
  free: LmdbTreeStats;
}

const LMDB_META_PAGES = 2;

function treePages(s: LmdbTreeStats): number {
  return s.treeBranchPageCount + s.treeLeafPageCount + s.overflowPages;
}

/** Cuts a closed LMDB file back to its pages in use (see BackendOptions.writeMap), durably. */
function trimToUsed(file: string): void {
  const fd = fs.openSync(file, 'r+');
  try {
    fs.ftruncateSync(fd, lmdbUsedBytes(fd));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Whether a main-database key names the tree `name` (see readView). */
function isTreeName(key: Buffer, name: Buffer): boolean {
  const nul = key.length === name.length + 1 && key[name.length] === 0;
  return (key.length === name.length || nul) && key.subarray(0, name.length).equals(name);
}

function latin1(b: Uint8Array): string {
  return asBuffer(b).toString('latin1');
}

function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}
