// Reads the B+trees of an LMDB data file with positioned reads (pread into reused buffers)
// instead of through LMDB's memory map. What it is for: the Snapshot RPC streams the whole
// database, and reading it through the map makes every page it touches resident in the
// member's memory (file-backed, but counted in its RSS, as much as the database is big).
// Positioned reads go through the kernel's page cache without mapping anything into the
// process, which is how bbolt's WriteTo keeps etcd's RSS flat during a snapshot.
//
// Contract:
// - the caller names a tree by its LMDB database record (MDB_db: root page, depth, entry
//   count), read from the main database *inside an open read transaction*, and keeps that
//   transaction open for as long as it reads the tree: LMDB never reuses a page that a
//   live reader's snapshot can reach, so every page under that root stays as it was for
//   the whole scan while writers go on. Positioned reads and the map share the page cache,
//   so committed pages are seen whether LMDB wrote them through the map or with pwrite.
// - entries come in key order; a yielded key or value is a view of a reused buffer, valid
//   until the next entry is pulled (copy it to keep it).
// - the file is checked as it is read (page numbers, page kinds along the tree's depth,
//   node bounds, overflow runs, the entry count): a damaged or foreign file throws
//   LmdbFileError, never yields garbage. Trees with duplicate keys (MDB_DUPSORT) or nested
//   databases are refused: tsetcd's backend uses neither.
//
// Format facts (LMDB 0.9 as vendored by lmdb-js, 64-bit build; see mdb.c): every page
// starts with a 24-byte header (page number u64, txn id u64, pad u16, flags u16, then
// lower/upper free-space bounds u16 each, or the overflow page count u32); node offsets
// (u16 each) follow the header and are relative to its end; a node is lo u16, hi u16,
// flags u16, key size u16, key, data. In a branch node lo|hi<<16|flags<<32 is the child
// page; in a leaf node lo|hi<<16 is the data size, and with F_BIGDATA the data is a
// 24-byte overflow reference (page u64, txn id u64, page count u64) to a run of pages
// whose first one carries the header and then the value.
import fs from 'node:fs';

export class LmdbFileError extends Error {}

const PAGE_HEADER_BYTES = 24;
const NODE_HEADER_BYTES = 8;
const OVERFLOW_REF_BYTES = 24;
/** an MDB_db record: pad u32, flags u16, depth u16, branch/leaf/overflow page counts, entries, root (u64 each) */
export const DB_RECORD_BYTES = 48;

const P_BRANCH = 0x01;
const P_LEAF = 0x02;
const P_OVERFLOW = 0x04;
const P_META = 0x08;
const P_LEAF2 = 0x20;
const P_SUBP = 0x40;
const F_BIGDATA = 0x01;
const F_SUBDATA = 0x02;
const F_DUPDATA = 0x04;
/** MDB_DUPSORT in an MDB_db record's flags */
const MDB_DUPSORT = 0x04;

const MDB_MAGIC = 0xbeefc0de;
const MDB_DATA_VERSION = 2;
/** meta page 0: header, then magic u32, version u32, address u64, map size u64, then the free DB's record, whose pad is the page size */
const META_MAGIC_OFFSET = PAGE_HEADER_BYTES;
const META_PAGE_SIZE_OFFSET = PAGE_HEADER_BYTES + 24;
/** page sizes LMDB can use (it takes the OS page size, at most 64 KiB) */
const MIN_PAGE_BYTES = 512;
const MAX_PAGE_BYTES = 65536;
/** no-root marker (P_INVALID, all ones) of an empty tree */
const P_INVALID = 0xffffffffffffffffn;
/** deeper than any tree LMDB can build in a file this reader can address; bounds the buffers */
const MAX_DEPTH = 64;

/** The parts of an MDB_db record a scan needs. */
export interface LmdbTree {
  flags: number;
  depth: number;
  entries: number;
  /** root page number, or undefined for an empty tree */
  root: number | undefined;
}

export function parseDbRecord(record: Uint8Array): LmdbTree {
  if (record.length !== DB_RECORD_BYTES) throw new LmdbFileError(`LMDB database record of ${record.length} bytes (want ${DB_RECORD_BYTES})`);
  const b = Buffer.from(record.buffer, record.byteOffset, record.length);
  const root = b.readBigUInt64LE(40);
  return {
    flags: b.readUInt16LE(4),
    depth: b.readUInt16LE(6),
    entries: safeNumber(b.readBigUInt64LE(32), 'entry count'),
    root: root === P_INVALID ? undefined : safeNumber(root, 'root page'),
  };
}

function safeNumber(n: bigint, what: string): number {
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new LmdbFileError(`LMDB ${what} ${n} is out of range`);
  return Number(n);
}

export class LmdbFileReader {
  private readonly pages: number;

  private constructor(
    private readonly fd: number,
    readonly pageBytes: number,
    fileBytes: number,
  ) {
    this.pages = Math.floor(fileBytes / pageBytes);
  }

  /** A reader on an open descriptor of an LMDB data file (not closed by the reader). */
  static onFd(fd: number): LmdbFileReader {
    const head = Buffer.alloc(META_PAGE_SIZE_OFFSET + 4);
    readFully(fd, head, 0);
    if (head.readUInt32LE(META_MAGIC_OFFSET) !== MDB_MAGIC) throw new LmdbFileError('not an LMDB data file (no LMDB magic in meta page 0)');
    const version = head.readUInt32LE(META_MAGIC_OFFSET + 4);
    if (version !== MDB_DATA_VERSION) throw new LmdbFileError(`LMDB data file version ${version}, this reader knows ${MDB_DATA_VERSION}`);
    if ((head.readUInt16LE(18) & P_META) === 0) throw new LmdbFileError('LMDB page 0 is not a meta page');
    const pageBytes = head.readUInt32LE(META_PAGE_SIZE_OFFSET);
    if (pageBytes < MIN_PAGE_BYTES || pageBytes > MAX_PAGE_BYTES || (pageBytes & (pageBytes - 1)) !== 0) throw new LmdbFileError(`LMDB page size ${pageBytes} is not possible`);
    return new LmdbFileReader(fd, pageBytes, fs.fstatSync(fd).size);
  }

  /** The tree's entries in key order; key and value are valid until the next entry. */
  entries(tree: LmdbTree): Generator<readonly [Buffer, Buffer]> {
    const value: { buf: Buffer } = { buf: Buffer.alloc(0) };
    return this.scan(tree, (leaf, node, size, big) => (big ? this.overflowValue(leaf, node, size, value) : leaf.subarray(node, node + size)));
  }

  /** The tree's keys in order with each value's length; no value (nor overflow page) is read. */
  sizes(tree: LmdbTree): Generator<readonly [Buffer, number]> {
    return this.scan(tree, (_leaf, _node, size) => size);
  }

  private *scan<V>(tree: LmdbTree, value: (leaf: Buffer, dataAt: number, size: number, big: boolean) => V): Generator<readonly [Buffer, V]> {
    if (tree.flags & MDB_DUPSORT) throw new LmdbFileError('LMDB tree with duplicate keys (MDB_DUPSORT): not supported by this reader');
    if (tree.root === undefined) {
      if (tree.entries !== 0) throw new LmdbFileError(`LMDB tree without a root claims ${tree.entries} entries`);
      return;
    }
    if (tree.depth < 1 || tree.depth > MAX_DEPTH) throw new LmdbFileError(`LMDB tree depth ${tree.depth} is not possible`);
    let seen = 0;
    // depth-first, left to right: one cursor (page buffer, next node) per level; the
    // buffers are the scan's own, so scans of one reader may interleave
    const pages: Buffer[] = Array.from({ length: tree.depth }, () => Buffer.alloc(this.pageBytes));
    const cursor: number[] = new Array<number>(tree.depth).fill(0);
    const counts: number[] = new Array<number>(tree.depth).fill(0);
    let level = 0;
    counts[0] = this.loadPage(pages[0]!, tree.root, tree.depth === 1);
    while (level >= 0) {
      const page = pages[level]!;
      if (cursor[level]! >= counts[level]!) {
        level--;
        continue;
      }
      const i = cursor[level]!++;
      const node = this.nodeAt(page, i, counts[level]!);
      if (level < tree.depth - 1) {
        const childPgno = lowBits(page, node) + page.readUInt16LE(node + 4) * 2 ** 32;
        level++;
        cursor[level] = 0;
        counts[level] = this.loadPage(pages[level]!, childPgno, level === tree.depth - 1);
        continue;
      }
      const flags = page.readUInt16LE(node + 4);
      if (flags & (F_SUBDATA | F_DUPDATA)) throw new LmdbFileError(`LMDB page ${page.readBigUInt64LE(0)}: a nested database or duplicate keys (node flags ${flags}): not supported by this reader`);
      const keyBytes = page.readUInt16LE(node + 6);
      const size = lowBits(page, node);
      const big = (flags & F_BIGDATA) !== 0;
      const dataAt = node + NODE_HEADER_BYTES + keyBytes;
      if (dataAt + (big ? OVERFLOW_REF_BYTES : size) > page.length) throw this.damaged(page, `node ${i} runs past the end of the page`);
      seen++;
      yield [page.subarray(node + NODE_HEADER_BYTES, dataAt), value(page, dataAt, size, big)] as const;
    }
    if (seen !== tree.entries) throw new LmdbFileError(`LMDB tree at page ${tree.root}: ${seen} entries found, its record says ${tree.entries}`);
  }

  /** Reads page `pgno` into `page`, checks its kind; returns its node count. */
  private loadPage(page: Buffer, pgno: number, leaf: boolean): number {
    if (pgno < 2 || pgno >= this.pages) throw new LmdbFileError(`LMDB page ${pgno} is outside the file's ${this.pages} pages`);
    readFully(this.fd, page, pgno * this.pageBytes);
    if (Number(page.readBigUInt64LE(0)) !== pgno) throw this.damaged(page, `read at page ${pgno}`);
    const flags = page.readUInt16LE(18);
    const want = leaf ? P_LEAF : P_BRANCH;
    if ((flags & (P_BRANCH | P_LEAF | P_OVERFLOW | P_META)) !== want || flags & (P_LEAF2 | P_SUBP)) {
      throw this.damaged(page, `flags ${flags.toString(16)} where a ${want === P_LEAF ? 'leaf' : 'branch'} page belongs`);
    }
    const lower = page.readUInt16LE(20);
    const upper = page.readUInt16LE(22);
    const count = lower >> 1;
    if (count === 0 || lower > upper || PAGE_HEADER_BYTES + upper > this.pageBytes) throw this.damaged(page, `free-space bounds ${lower}..${upper}`);
    return count;
  }

  /** Byte offset of node `i` of a loaded page. */
  private nodeAt(page: Buffer, i: number, count: number): number {
    const node = page.readUInt16LE(PAGE_HEADER_BYTES + 2 * i) + PAGE_HEADER_BYTES;
    if (node < PAGE_HEADER_BYTES + 2 * count || node + NODE_HEADER_BYTES > page.length) throw this.damaged(page, `node ${i} at offset ${node}`);
    return node;
  }

  /** A value stored in a run of overflow pages, read with one positioned read. */
  private overflowValue(leaf: Buffer, ref: number, size: number, into: { buf: Buffer }): Buffer {
    const pgno = safeNumber(leaf.readBigUInt64LE(ref), 'overflow page');
    const runPages = safeNumber(leaf.readBigUInt64LE(ref + 16), 'overflow page count');
    if (pgno < 2 || pgno + runPages > this.pages) throw this.damaged(leaf, `overflow run ${pgno}+${runPages} outside the file's ${this.pages} pages`);
    if (PAGE_HEADER_BYTES + size > runPages * this.pageBytes) throw this.damaged(leaf, `a ${size}-byte value in ${runPages} overflow pages`);
    const need = PAGE_HEADER_BYTES + size;
    if (into.buf.length < need) into.buf = Buffer.allocUnsafe(Math.max(need, into.buf.length * 2));
    const buf = into.buf;
    readFully(this.fd, buf.subarray(0, need), pgno * this.pageBytes);
    if (Number(buf.readBigUInt64LE(0)) !== pgno || (buf.readUInt16LE(18) & (P_OVERFLOW | P_BRANCH | P_LEAF | P_META)) !== P_OVERFLOW || buf.readUInt32LE(20) !== runPages) {
      throw this.damaged(leaf, `page ${pgno} is not the start of a ${runPages}-page overflow run`);
    }
    return buf.subarray(PAGE_HEADER_BYTES, need);
  }

  private damaged(page: Buffer, what: string): LmdbFileError {
    return new LmdbFileError(`LMDB page ${page.readBigUInt64LE(0)} is damaged: ${what}`);
  }
}

/** meta page fields after the header: magic, version, address, map size, two MDB_db records, then the last page number and the txn id */
const META_LAST_PAGE_OFFSET = PAGE_HEADER_BYTES + 24 + 2 * DB_RECORD_BYTES;
const META_TXNID_OFFSET = META_LAST_PAGE_OFFSET + 8;

/**
 * Bytes of an LMDB data file that hold pages (up to the last page the newest meta page
 * names): what the file needs to be. LMDB writing through its map (MDB_WRITEMAP) extends
 * the file to the whole map size; the rest is never read. For a closed environment only.
 */
export function lmdbUsedBytes(fd: number): number {
  const pageBytes = LmdbFileReader.onFd(fd).pageBytes;
  const metas = [0, 1].map((i) => {
    const b = Buffer.alloc(META_TXNID_OFFSET + 8);
    readFully(fd, b, i * pageBytes);
    if (b.readUInt32LE(META_MAGIC_OFFSET) !== MDB_MAGIC) throw new LmdbFileError(`LMDB meta page ${i} has no LMDB magic`);
    return { lastPage: safeNumber(b.readBigUInt64LE(META_LAST_PAGE_OFFSET), 'last page'), txnid: b.readBigUInt64LE(META_TXNID_OFFSET) };
  });
  const newest = metas[0]!.txnid >= metas[1]!.txnid ? metas[0]! : metas[1]!;
  return (newest.lastPage + 1) * pageBytes;
}

/** A node's lo | hi << 16: a leaf's data size, or the low 32 bits of a branch's child page. */
function lowBits(page: Buffer, node: number): number {
  return page.readUInt16LE(node) + page.readUInt16LE(node + 2) * 65536;
}

/** pread until `buf` is full; a file that ends first is damaged (or was truncated). */
function readFully(fd: number, buf: Buffer, position: number): void {
  let done = 0;
  while (done < buf.length) {
    const n = fs.readSync(fd, buf, done, buf.length - done, position + done);
    if (n === 0) throw new LmdbFileError(`LMDB file ends at byte ${position + done}, before the page that was read (${buf.length} bytes at ${position})`);
    done += n;
  }
}
