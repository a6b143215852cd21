// Tells what a database, snapshot or WAL file is before anything opens it.
//
// Opening a foreign file with the wrong library is how a member dies by signal: LMDB maps
// whatever it is given and trusts its meta pages, so an etcd (bbolt) database crashes it.
// Every path that opens a backend file, a snapshot or a WAL segment asks here first and
// refuses with a sentence that says what the file is and what to run instead.
//
// Facts used (both formats put a 16-byte page header before their meta page):
// - bbolt: u32 magic 0xED0CDAED at byte 16 of pages 0 and 1 (little-endian on disk).
// - LMDB: u32 magic 0xBEEFC0DE after its page header: byte 16, or byte 24 in the LMDB 1.x
//   that lmdb-js builds (its page header is 8 bytes longer).
// - etcd's WAL: each record is a u64 length then a protobuf walpb.Record; the first record
//   of a segment is the CRC record, type 4, so bytes 8–9 are 0x08 0x04.
// - tsetcd's WAL: 16-byte record header whose byte 8 is the record kind, 1 (head) first.
import fs from 'node:fs';

export type FileKind = 'missing' | 'directory' | 'empty' | 'bbolt' | 'lmdb' | 'etcd-wal' | 'tsetcd-wal' | 'unknown';

const BBOLT_MAGIC = 0xed0cdaed;
const LMDB_MAGIC = 0xbeefc0de;
/** bytes read to tell the kinds apart */
const HEAD_BYTES = 32;
const LMDB_MAGIC_OFFSETS = [16, 24];

export function kindOfHead(head: Buffer): FileKind {
  if (head.length === 0) return 'empty';
  if (head.length >= 20) {
    const magic = head.readUInt32LE(16);
    if (magic === BBOLT_MAGIC) return 'bbolt';
  }
  for (const at of LMDB_MAGIC_OFFSETS) if (head.length >= at + 4 && head.readUInt32LE(at) === LMDB_MAGIC) return 'lmdb';
  if (head.length >= 10 && head[8] === 0x08 && head[9] === 0x04) return 'etcd-wal';
  if (head.length >= 20 && head[8] === 1 && head.readUInt32LE(16) === 1) return 'tsetcd-wal';
  return 'unknown';
}

/** The kind of the file at `file`; errors other than "missing" (permissions, I/O) are thrown. */
export function fileKind(file: string): FileKind {
  let fd: number;
  try {
    if (fs.statSync(file).isDirectory()) return 'directory';
    fd = fs.openSync(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw err;
  }
  try {
    const head = Buffer.alloc(HEAD_BYTES);
    const n = fs.readSync(fd, head, 0, HEAD_BYTES, 0);
    return kindOfHead(head.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
}

export function describeKind(kind: FileKind): string {
  switch (kind) {
    case 'bbolt':
      return "an etcd (bbolt) database";
    case 'lmdb':
      return 'a tsetcd (LMDB) database';
    case 'etcd-wal':
      return "an etcd WAL segment";
    case 'tsetcd-wal':
      return 'a tsetcd WAL segment';
    case 'empty':
      return 'an empty file';
    case 'directory':
      return 'a directory';
    case 'missing':
      return 'missing';
    default:
      return 'not a database file tsetcd knows';
  }
}

/** Raised when a file is not what the caller can open; the message says what to do. */
export class ForeignFileError extends Error {
  constructor(
    readonly file: string,
    readonly kind: FileKind,
    advice: string,
  ) {
    super(`${file} is ${describeKind(kind)}${advice ? `: ${advice}` : ''}`);
    this.name = 'ForeignFileError';
  }
}

/** What to run instead of opening a stopped etcd member's data dir in place. */
export function etcdDataDirAdvice(dataDir: string): string {
  return (
    `this data dir was written by etcd, and tsetcd does not open etcd's files in place. ` +
    `Stop etcd, then make a tsetcd data dir from it with ` +
    `"tsetcdutl snapshot restore ${dataDir} --data-dir <new dir> [--name, --initial-cluster ...]" ` +
    `(reads its database and replays its WAL), or restore a snapshot saved with "etcdctl snapshot save"`
  );
}

/**
 * Throws unless `dbFile` is absent, empty or tsetcd's own LMDB file: the check that
 * keeps a member or tool from mapping an etcd database or a stray file.
 */
export function assertTsetcdBackendFile(dbFile: string, dataDir?: string): void {
  const kind = fileKind(dbFile);
  if (kind === 'missing' || kind === 'empty' || kind === 'lmdb') return;
  if (kind === 'bbolt') throw new ForeignFileError(dbFile, kind, etcdDataDirAdvice(dataDir ?? '<data dir>'));
  throw new ForeignFileError(dbFile, kind, 'expected a tsetcd backend database (member/snap/db); move it away or point --data-dir elsewhere');
}
