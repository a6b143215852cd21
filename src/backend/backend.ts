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
import { crc32 } from 'node:zlib';
import path from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';

export const BUCKETS = ['key', 'meta', 'lease', 'members', 'members_removed', 'cluster', 'alarm', 'auth', 'authUsers', 'authRoles'] as const;
export type BucketName = (typeof BUCKETS)[number];

type BinaryDb = Database<Buffer, Buffer>;

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
}

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
  /** told how long each batch commit took, for etcd_disk_backend_commit_duration_seconds */
  onCommit: ((durationMs: number) => void) | undefined;
  /** set while defragment() copies the database: commits wait */
  private defragmenting = false;
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
    });
  }

  private openBuckets(): void {
    this.dbs.clear();
    for (const name of BUCKETS) {
      this.dbs.set(name, this.env.openDB<Buffer, Buffer>({ name, keyEncoding: 'binary', encoding: 'binary' }));
    }
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
      this.commit();
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

  /** Bytes of pages the B+tree actually uses (etcd's dbSizeInUse). */
  sizeInUseBytes(): number {
    const stats = this.env.getStats() as { pageSize: number; lastPageNumber: number; free?: { entryCount: number } };
    return (stats.lastPageNumber + 1) * stats.pageSize;
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
    await old.close();
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
    await old?.close();
  }

  /** A checksum of every bucket's keys and values, in order (Maintenance.Hash). */
  hash(): number {
    this.commit();
    let h = 0;
    for (const name of BUCKETS) {
      h = crc32(Buffer.from(name), h);
      for (const { key, value } of this.db(name).getRange({})) h = crc32(value as Buffer, crc32(key as Buffer, h));
    }
    return h;
  }

  /** A consistent copy of the whole database, written to `dest`. */
  async copyTo(dest: string): Promise<void> {
    this.commit();
    await this.env.backup(dest, true);
  }

  async close(): Promise<void> {
    await this.forceCommit();
    await this.env.close();
  }

  private assertWriting(): void {
    if (!this.group) throw new Error('backend: write outside a write group');
  }
}

function latin1(b: Uint8Array): string {
  return asBuffer(b).toString('latin1');
}

function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}
