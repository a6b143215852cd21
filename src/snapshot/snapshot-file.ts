// An etcd snapshot file, checked before it is used: a bbolt database, optionally followed
// by the SHA-256 of the database bytes (what the Snapshot RPC appends and `snapshot save`
// keeps). etcd decides whether the trailer is there from the size alone: a database is a
// whole number of pages, so a size that is 32 more than a multiple of 512 has a trailer.
//
// A file that is anything else (empty, truncated, a flipped byte, an LMDB file, a WAL, a
// directory) is refused with a SnapshotFileError whose message says what it is; nothing
// here writes to the file.
import fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import { sha256OfPrefix } from './sha256-prefix.js';
import { BboltFile, BboltFormatError } from '../bbolt/reader.js';
import { describeKind, fileKind } from '../backend/file-kind.js';

export const SHA256_BYTES = 32;
/** etcd's rule: the smallest sector size, which every page size is a multiple of */
const SECTOR_BYTES = 512;

export class SnapshotFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SnapshotFileError';
  }
}

export function hasSha256Trailer(sizeBytes: number): boolean {
  return sizeBytes % SECTOR_BYTES === SHA256_BYTES;
}

export interface OpenedSnapshot {
  path: string;
  db: BboltFile;
  /** bytes of the bbolt database (the file less its trailer) */
  dbBytes: number;
  hasHash: boolean;
  /** with `verifyInBackground`: settles once the trailer is checked (rejects on a mismatch) */
  verified: Promise<void>;
}

/** What is wrong with `file` as a snapshot before bbolt even looks at it, or undefined. */
function kindProblem(file: string): string | undefined {
  let kind;
  try {
    kind = fileKind(file);
  } catch (err) {
    return `cannot read ${file}: ${(err as Error).message}`;
  }
  if (kind === 'bbolt') return undefined;
  if (kind === 'missing') return `stat ${file}: no such file or directory`;
  if (kind === 'lmdb') {
    return `${file} is ${describeKind(kind)}, not a snapshot: save one with "etcdctl snapshot save" (or copy member/snap/db of an etcd member and pass --skip-hash-check)`;
  }
  return `${file} is ${describeKind(kind)}, not an etcd snapshot (a bbolt database)`;
}

/**
 * Opens `file` as a snapshot. With `skipHashCheck` false, a file without the trailer is
 * refused (as etcd does: a copied member/snap/db needs --skip-hash-check) and the
 * trailer must match the database bytes.
 */
export function openSnapshot(
  file: string,
  opts: { skipHashCheck: boolean; verifyInBackground?: boolean },
): OpenedSnapshot {
  const problem = kindProblem(file);
  if (problem) {
    // etcd checks the trailer before it reads the database: a saved snapshot whose first
    // pages were overwritten is reported by its hash ("expected sha256 ..."), as etcd does
    const size = fs.existsSync(file) ? fs.statSync(file).size : 0;
    if (!opts.skipHashCheck && size > SHA256_BYTES && hasSha256Trailer(size) && fileKind(file) === 'unknown') verifySha256(file, size - SHA256_BYTES);
    throw new SnapshotFileError(problem);
  }
  const size = fs.statSync(file).size;
  const hasHash = hasSha256Trailer(size);
  if (!hasHash && !opts.skipHashCheck) throw new SnapshotFileError('snapshot missing hash but --skip-hash-check=false');
  const dbBytes = hasHash ? size - SHA256_BYTES : size;
  let verified = Promise.resolve();
  if (hasHash && !opts.skipHashCheck) {
    if (opts.verifyInBackground) verified = verifyInWorker(file, dbBytes);
    else verifySha256(file, dbBytes);
  }
  // a rejection is the caller's to handle when it awaits; until then it is not "unhandled"
  verified.catch(() => undefined);
  let db: BboltFile;
  try {
    db = BboltFile.open(file, { limitBytes: dbBytes });
  } catch (err) {
    if (err instanceof BboltFormatError) throw new SnapshotFileError(`${file}: invalid database: ${err.message}`);
    throw err;
  }
  return { path: file, db, dbBytes, hasHash, verified };
}

/** The trailer check on a worker thread (src/snapshot/sha256-worker.ts). */
function verifyInWorker(file: string, dbBytes: number): Promise<void> {
  const want = storedDigest(file, dbBytes);
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./sha256-worker.js', import.meta.url), { workerData: { file, lengthBytes: dbBytes } });
    worker.once('message', (m: { digest?: Uint8Array; error?: string }) => {
      void worker.terminate();
      if (m.error !== undefined) return reject(new SnapshotFileError(m.error));
      const problem = digestProblem(want, Buffer.from(m.digest!));
      if (problem) reject(problem);
      else resolve();
    });
    worker.once('error', (err) => reject(err));
  });
}

/** The 32 bytes stored after the database. */
function storedDigest(file: string, dbBytes: number): Buffer {
  const want = Buffer.alloc(SHA256_BYTES);
  const fd = fs.openSync(file, 'r');
  try {
    fs.readSync(fd, want, 0, SHA256_BYTES, dbBytes);
  } finally {
    fs.closeSync(fd);
  }
  return want;
}

function digestProblem(want: Buffer, got: Buffer): SnapshotFileError | undefined {
  return got.equals(want) ? undefined : new SnapshotFileError(`expected sha256 ${goBytes(want)}, got ${goBytes(got)}`);
}

function verifySha256(file: string, dbBytes: number): void {
  let got: Buffer;
  try {
    got = sha256OfPrefix(file, dbBytes);
  } catch (err) {
    throw new SnapshotFileError((err as Error).message);
  }
  const problem = digestProblem(storedDigest(file, dbBytes), got);
  if (problem) throw problem;
}

/** A byte slice as Go's %v prints it: [1 2 3] */
function goBytes(b: Buffer): string {
  return `[${[...b].join(' ')}]`;
}
