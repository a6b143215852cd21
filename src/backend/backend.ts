// The member's state machine storage: one LMDB environment (a copy-on-write B+tree,
// the design bbolt descends from) holding etcd's buckets. Writes happen in synchronous
// transactions committed without fsync: the WAL is the durable record, and on restart
// the server replays every entry above the consistent index stored here. `forceCommit`
// makes everything so far durable (before a raft snapshot releases WAL segments).
import fs from 'node:fs';
import path from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';

export const BUCKETS = ['key', 'meta', 'lease', 'members', 'members_removed', 'cluster', 'alarm', 'auth', 'authUsers', 'authRoles'] as const;
export type BucketName = (typeof BUCKETS)[number];

type BinaryDb = Database<Buffer, Buffer>;

export interface BackendOptions {
  /** upper bound of the memory map; the file grows on demand up to it */
  mapSizeBytes?: number;
}

export const DEFAULT_MAP_SIZE_BYTES = 16 * 1024 ** 3;

export class Backend {
  private env: RootDatabase<Buffer, Buffer>;
  private dbs = new Map<BucketName, BinaryDb>();
  private inWriteTxn = false;
  private commitListeners: Array<() => void> = [];

  private constructor(
    readonly filePath: string,
    private readonly opts: BackendOptions,
  ) {
    this.env = Backend.openEnv(filePath, opts);
    this.openBuckets();
  }

  static open(filePath: string, opts: BackendOptions = {}): Backend {
    fs.mkdirSync(path.dirname(filePath), { recursive: true, mode: 0o700 });
    return new Backend(filePath, opts);
  }

  private static openEnv(filePath: string, opts: BackendOptions): RootDatabase<Buffer, Buffer> {
    return open<Buffer, Buffer>({
      path: filePath,
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

  /** Runs fn inside one write transaction; everything it writes commits together. */
  write<T>(fn: () => T): T {
    if (this.inWriteTxn) return fn();
    this.inWriteTxn = true;
    try {
      return this.env.transactionSync(fn);
    } finally {
      this.inWriteTxn = false;
      const listeners = this.commitListeners;
      if (listeners.length > 0) {
        this.commitListeners = [];
        for (const l of listeners) l();
      }
    }
  }

  get writing(): boolean {
    return this.inWriteTxn;
  }

  put(bucket: BucketName, key: Uint8Array, value: Uint8Array): void {
    this.assertWriting();
    this.db(bucket).putSync(asBuffer(key), asBuffer(value));
  }

  delete(bucket: BucketName, key: Uint8Array): void {
    this.assertWriting();
    this.db(bucket).removeSync(asBuffer(key));
  }

  /** A private copy of the value, safe to keep. */
  get(bucket: BucketName, key: Uint8Array): Buffer | undefined {
    return this.db(bucket).getBinary(asBuffer(key)) ?? undefined;
  }

  /** Entries with start <= key < end (end undefined: to the last key), in key order. */
  *range(bucket: BucketName, start?: Uint8Array, end?: Uint8Array): Generator<{ key: Buffer; value: Buffer }> {
    const options: { start?: Buffer; end?: Buffer } = {};
    if (start) options.start = asBuffer(start);
    if (end) options.end = asBuffer(end);
    for (const { key, value } of this.db(bucket).getRange(options)) yield { key: key as Buffer, value: value as Buffer };
  }

  count(bucket: BucketName): number {
    return this.db(bucket).getCount();
  }

  /** Flushes committed transactions to stable storage. */
  forceCommit(): Promise<void> {
    return new Promise((resolve, reject) => {
      // lmdb-js has sync(callback) on the root database; its typings omit it
      const env = this.env as unknown as { sync(cb: (err?: Error) => void): void };
      env.sync((err?: Error) => (err ? reject(err) : resolve()));
    });
  }

  /** Size of the database file on disk, as etcd reports db size. */
  sizeBytes(): number {
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

  /** Runs fn after the current write transaction commits (at once when none is open). */
  afterCommit(fn: () => void): void {
    if (this.inWriteTxn) this.commitListeners.push(fn);
    else fn();
  }

  /**
   * Rewrites the database into a fresh file without free pages and swaps it in, which
   * gives disk space back after compactions (etcd's defragment).
   */
  async defragment(): Promise<void> {
    const tmp = this.filePath + '.defrag';
    fs.rmSync(tmp, { force: true });
    fs.rmSync(tmp + '-lock', { force: true });
    await this.env.backup(tmp, true);
    await this.forceCommit();
    await this.env.close();
    fs.renameSync(tmp, this.filePath);
    fs.rmSync(tmp + '-lock', { force: true });
    this.env = Backend.openEnv(this.filePath, this.opts);
    this.openBuckets();
  }

  /** A consistent copy of the whole database, written to `dest`. */
  async copyTo(dest: string): Promise<void> {
    await this.env.backup(dest, true);
  }

  async close(): Promise<void> {
    await this.forceCommit();
    await this.env.close();
  }

  private assertWriting(): void {
    if (!this.inWriteTxn) throw new Error('backend: write outside a write transaction');
  }
}

function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}
