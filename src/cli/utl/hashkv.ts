// tsetcdutl hashkv <filename> [--rev]: the KV history hash of a database file, as
// `etcdctl endpoint hashkv` would get it from a member holding that file, printed in
// etcdutl's formats (simple, json, fields, table; protobuf is refused with exit 4).
//
// Contract: the hash is MvccStore.hashKV's (etcd's algorithm), computed by a store
// restored from the file, so it is the member's answer at the same revision. Two kinds of
// file are read: a bbolt file (etcd's member/snap/db, or a snapshot from etcd or tsetcd)
// and tsetcd's LMDB backend (member/snap/db of a tsetcd data dir; a data dir given as the
// argument means that file). A bbolt file is never written: a compaction the member had
// not finished is skipped in the hash exactly as it is by a store that has finished it.
// A tsetcd data dir is read only while no member runs on it (its WAL lock is taken).
import fs from 'node:fs';
import path from 'node:path';
import { Backend, type BucketName } from '../../backend/backend.js';
import { fileKind } from '../../backend/file-kind.js';
import { BboltFile } from '../../bbolt/reader.js';
import { MvccStore, type StoreBackend } from '../../mvcc/store.js';
import { DirLock } from '../../wal/lock.js';
import { WalLockedError } from '../../wal/errors.js';
import type { RunContext } from '../ctl/cmdtree.js';
import { goJsonStruct } from '../ctl/gofmt.js';
import { CtlExit, ExitCode, type Io } from '../ctl/io.js';
import { renderTable } from '../ctl/table.js';

export interface KvHash {
  hash: number;
  hashRevision: number;
  compactRevision: number;
}

/** A bbolt file as the store's backend: reads scan the file, writes are dropped. */
class BboltStoreView implements StoreBackend {
  constructor(private readonly db: BboltFile) {}

  *range(bucket: BucketName, start?: Uint8Array, end?: Uint8Array): Generator<{ key: Buffer; value: Buffer }> {
    const name = Buffer.from(bucket);
    if (!this.db.hasBucket(name)) return;
    for (const [key, value] of this.db.entries(name)) {
      if (start && Buffer.compare(key, start) < 0) continue;
      if (end && Buffer.compare(key, end) >= 0) return;
      yield { key, value };
    }
  }

  get(bucket: BucketName, key: Uint8Array): Buffer | undefined {
    for (const e of this.range(bucket, key)) return e.key.equals(key) ? e.value : undefined;
    return undefined;
  }

  write<T>(fn: () => T): T {
    return fn();
  }

  put(): void {}

  delete(): void {}
}

/** The backend file a hashkv argument names: the file itself, or a data dir's member/snap/db. */
export function dbFileOf(arg: string): string {
  const kind = fileKind(arg);
  if (kind === 'missing') throw new Error(`open ${arg}: no such file or directory`);
  if (kind !== 'directory') return arg;
  const db = path.join(arg, 'member', 'snap', 'db');
  if (!fs.existsSync(db)) throw new Error(`${arg} is a directory without member/snap/db; give a database file or a data dir`);
  return db;
}

/** The KV hash of the database at `file` up to `rev` (0: its latest revision). */
export async function hashKvOfFile(file: string, rev: number): Promise<KvHash> {
  const kind = fileKind(file);
  if (kind === 'bbolt') {
    const db = BboltFile.open(file);
    try {
      return hashOf(new MvccStore(new BboltStoreView(db)), rev);
    } finally {
      db.close();
    }
  }
  if (kind === 'lmdb') {
    const lock = await lockMemberOf(file);
    try {
      const backend = Backend.open(file);
      try {
        const store = new MvccStore(backend);
        const h = hashOf(store, rev);
        await store.compactionsDone();
        return h;
      } finally {
        await backend.close();
      }
    } finally {
      await lock?.release();
    }
  }
  throw new Error(`${file} is not a database file (${kind}); give an etcd or tsetcd member/snap/db, or a snapshot file`);
}

/**
 * Takes the WAL directory lock of the data dir holding `dbFile` (member/snap/db), if it has
 * one: a running member holds it, and a store opened beside it could finish a compaction or
 * clear defragmentation files under the member's feet.
 */
async function lockMemberOf(dbFile: string): Promise<DirLock | undefined> {
  const walDir = path.join(path.dirname(path.dirname(path.resolve(dbFile))), 'wal');
  if (!fs.existsSync(walDir)) return undefined;
  try {
    return await DirLock.acquire(walDir);
  } catch (err) {
    if (err instanceof WalLockedError) throw new Error(`${dbFile} is in use by a running member; stop it first, or ask it: tsetcdctl endpoint hashkv`);
    throw err;
  }
}

function hashOf(store: MvccStore, rev: number): KvHash {
  store.restore();
  const h = store.hashKV(rev);
  return { hash: h.hash, hashRevision: h.hashRev, compactRevision: h.compactRev };
}

export function printKvHash(io: Io, format: string, h: KvHash): void {
  const row = [String(h.hash), String(h.hashRevision), String(h.compactRevision)];
  switch (format) {
    case 'simple':
      io.out(row.join(', ') + '\n');
      return;
    case 'json':
      io.out(goJsonStruct([['hash', h.hash], ['hashRevision', h.hashRevision], ['compactRevision', h.compactRevision]]) + '\n');
      return;
    case 'fields':
      io.out(`"Hash" : ${h.hash}\n"Hash revision" : ${h.hashRevision}\n"Compact revision" : ${h.compactRevision}\n`);
      return;
    case 'table':
      io.out(renderTable(['hash', 'hash revision', 'compact revision'], [row]));
      return;
    default:
      throw new CtlExit(ExitCode.BadFeature, `${format} not supported as output format`);
  }
}

export async function hashKvCommand(ctx: RunContext): Promise<void> {
  if (ctx.args.length !== 1) throw new CtlExit(ExitCode.Error, `accepts 1 arg(s), received ${ctx.args.length}`);
  const format = ctx.flags.get('write-out').string;
  // etcdutl picks its printer first: a format it has no printer for fails before any work
  if (!['simple', 'json', 'fields', 'table', 'protobuf'].includes(format)) throw new CtlExit(ExitCode.BadFeature, 'unsupported output format');
  const rev = ctx.flags.get('rev').int64;
  if (rev > BigInt(Number.MAX_SAFE_INTEGER) || rev < BigInt(Number.MIN_SAFE_INTEGER)) throw new CtlExit(ExitCode.Error, 'mvcc: required revision is a future revision');
  let h: KvHash;
  try {
    h = await hashKvOfFile(dbFileOf(ctx.args[0]!), Number(rev));
  } catch (err) {
    throw new CtlExit(ExitCode.Error, (err as Error).message);
  }
  printKvHash(ctx.io, format, h);
}
