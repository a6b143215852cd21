// Read-only access to bbolt database files (etcd's member/snap/db and snapshot files).
//
// Contract: `BboltFile.open` validates the meta pages the way bbolt does and picks the
// valid one with the higher txid; reads are positioned (fs.readSync on one fd) through a
// small block cache, so files of any size are read in bounded memory (an overflow run is
// read whole, bounded by the file's size). Every structural inconsistency met on the way
// (page id mismatch, page beyond the high-water mark or the file, wrong page type,
// elements outside their page, unsorted or repeated keys, a page reached twice) throws
// BboltFormatError naming the page; a corrupt or random file fails fast, never loops.
// Nested sub-buckets inside a top-level bucket are skipped by `entries()` (etcd has none).

import fs from 'node:fs';
import {
  BRANCH_ELEMENT_BYTES,
  BRANCH_PAGE_FLAG,
  BUCKET_HEADER_BYTES,
  BUCKET_LEAF_FLAG,
  FREELIST_PAGE_FLAG,
  LEAF_ELEMENT_BYTES,
  LEAF_PAGE_FLAG,
  MAGIC,
  META_BYTES,
  META_OFFSET,
  PAGE_HEADER_BYTES,
  PGID_NO_FREELIST,
  VERSION,
  decodeMeta,
  metaChecksum,
  sortsAfter,
  type Meta,
} from './format.js';

export class BboltFormatError extends Error {
  override readonly name = 'BboltFormatError';
}

/** bbolt reads this much at offset 0 to find the page size (db.go Open) */
const FIRST_READ_BYTES = 4096;
const MIN_PAGE_BYTES = 512;
const MAX_PAGE_BYTES = 1 << 24;
const BLOCK_TARGET_BYTES = 64 * 1024;
const CACHE_BLOCKS = 64;
/** deeper than any B+tree a file can hold with at least two children per branch */
const MAX_DEPTH = 64;
/** sub-buckets nested deeper than this are taken as damage (keeps the walk off the JS stack limit) */
const MAX_NESTING = 256;

/** true if the first 80 bytes (or more) hold a valid bbolt meta page (page 0) */
export function looksLikeBbolt(head: Buffer): boolean {
  if (head.length < META_OFFSET + META_BYTES) return false;
  return metaProblem(head) === null;
}

/** why the meta page starting at page[0] is invalid, or null (bbolt's meta.validate) */
function metaProblem(page: Buffer): string | null {
  const m = decodeMeta(page);
  if (m.magic !== MAGIC) return `bad magic 0x${m.magic.toString(16)} (want 0x${MAGIC.toString(16)})`;
  if (m.version !== VERSION) return `version ${m.version} (want ${VERSION})`;
  if (m.checksum !== 0n && m.checksum !== metaChecksum(page)) return 'checksum mismatch';
  return null;
}

interface Frame {
  page: Buffer;
  next: number;
  count: number;
}

export class BboltFile {
  readonly pageSizeBytes: number;
  readonly txid: bigint;
  private fd: number;
  private readonly path: string;
  private readonly meta: Meta;
  private readonly highWater: number;
  private readonly blockBytes: number;
  private readonly cache = new Map<number, Buffer>();
  private freeCount: number | null = null;
  private readonly scratch: LeafElement = { flags: 0, start: 0, ksize: 0, vsize: 0 };

  private constructor(path: string, fd: number, meta: Meta) {
    this.path = path;
    this.fd = fd;
    this.meta = meta;
    this.pageSizeBytes = meta.pageSizeBytes;
    this.txid = meta.txid;
    this.highWater = Number(meta.highWaterPgid);
    this.blockBytes = meta.pageSizeBytes * Math.max(1, Math.floor(BLOCK_TARGET_BYTES / meta.pageSizeBytes));
  }

  /** Opens read-only and validates the meta pages; `limitBytes` treats the file as that long. */
  static open(path: string, opts?: { limitBytes?: number }): BboltFile {
    const fd = fs.openSync(path, 'r');
    try {
      const meta = BboltFile.readMeta(path, fd, opts?.limitBytes);
      return new BboltFile(path, fd, meta);
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  private static readMeta(path: string, fd: number, limitBytes: number | undefined): Meta {
    const fileBytes = fs.fstatSync(fd).size;
    if (limitBytes !== undefined && (!Number.isSafeInteger(limitBytes) || limitBytes < 0 || limitBytes > fileBytes)) {
      throw new BboltFormatError(`${path}: limit of ${limitBytes} bytes is beyond the file's ${fileBytes} bytes`);
    }
    const size = limitBytes ?? fileBytes;
    if (size < FIRST_READ_BYTES) {
      throw new BboltFormatError(`${path}: ${size} bytes is too small for a bbolt database (at least ${FIRST_READ_BYTES})`);
    }
    const head = readExactly(fd, 0, FIRST_READ_BYTES);
    const problem0 = metaProblem(head);
    // like bbolt: the page size comes from meta 0; if that is damaged, assume the OS page size
    const pageSize = problem0 === null ? head.readUInt32LE(META_OFFSET + 8) : FIRST_READ_BYTES;
    if (pageSize < MIN_PAGE_BYTES || pageSize > MAX_PAGE_BYTES) {
      throw new BboltFormatError(`${path}: meta page 0 gives a page size of ${pageSize} bytes (want ${MIN_PAGE_BYTES} to ${MAX_PAGE_BYTES})`);
    }
    if (problem0 !== null && size < 2 * pageSize) throw new BboltFormatError(`${path}: not a bbolt database: meta page 0: ${problem0}`);
    if (size < 2 * pageSize) throw new BboltFormatError(`${path}: ${size} bytes is too small for two meta pages of ${pageSize} bytes`);
    const page1 = readExactly(fd, pageSize, META_OFFSET + META_BYTES);
    let problem1 = metaProblem(page1);
    if (problem1 === null && page1.readUInt32LE(META_OFFSET + 8) !== pageSize) problem1 = `page size ${page1.readUInt32LE(META_OFFSET + 8)} differs from ${pageSize}`;
    const metas = [problem0 === null ? decodeMeta(head) : null, problem1 === null ? decodeMeta(page1) : null];
    if (metas[0] === null && metas[1] === null) {
      throw new BboltFormatError(`${path}: not a bbolt database: meta page 0: ${problem0}; meta page 1: ${problem1}`);
    }
    // bbolt's choice: the valid meta with the higher txid. An older meta is not tried when
    // the newer one names a broken tree: its pages may have been reused since.
    const [m0, m1] = metas;
    const m = m0 === null ? m1! : m1 === null ? m0 : m1.txid > m0.txid ? m1 : m0;
    const why = treeMetaProblem(m, size);
    if (why !== null) throw new BboltFormatError(`${path}: meta page ${m === m0 ? 0 : 1} (txid ${m.txid}): ${why}`);
    return m;
  }

  /** bbolt's tx.Size(): high-water pgid times the page size */
  sizeBytes(): number {
    return this.highWater * this.pageSizeBytes;
  }

  /** top-level bucket names, in bbolt's (bytewise) order */
  bucketNames(): Buffer[] {
    const names: Buffer[] = [];
    for (const [flags, key] of this.rootElements()) {
      if ((flags & BUCKET_LEAF_FLAG) === 0) throw this.err(`root bucket holds key ${key.toString('hex')} that is not a bucket`);
      names.push(key);
    }
    return names;
  }

  /**
   * A top-level bucket's key/value pairs in key order; values of nested sub-buckets are
   * skipped. Throws BboltFormatError if there is no such bucket. Keys and values are views
   * of read-only cache blocks: valid for as long as the caller keeps them.
   */
  *entries(bucket: Uint8Array): Generator<[Buffer, Buffer]> {
    const what = `bucket ${JSON.stringify(Buffer.from(bucket).toString())}`;
    const order = new KeyOrder(this, what);
    for (const page of this.leafPages(this.bucketHeader(bucket), what)) {
      const count = this.leafCount(page, what);
      for (let i = 0; i < count; i++) {
        const { flags, start, ksize, vsize } = this.leafElement(page, i, what);
        const key = page.subarray(start, start + ksize);
        order.next(key, page);
        if ((flags & BUCKET_LEAF_FLAG) === 0) yield [key, page.subarray(start + ksize, start + ksize + vsize)];
      }
    }
  }

  /** true if the top-level bucket exists */
  hasBucket(bucket: Uint8Array): boolean {
    for (const [, key] of this.rootElements()) if (key.equals(bucket)) return true;
    return false;
  }

  /**
   * Free pages: the freelist page's count when the freelist was synced; otherwise (etcd on
   * Linux writes none) the pages below the high-water mark that no tree reaches, found by
   * walking every tree once (reads the whole file; the result is kept).
   */
  freePageCount(): number {
    if (this.freeCount === null) {
      this.freeCount = this.meta.freelistPgid !== PGID_NO_FREELIST ? this.freelistCount() : this.highWater - this.reachablePageCount();
    }
    return this.freeCount;
  }

  close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
    this.cache.clear();
  }

  /** @internal a BboltFormatError naming this file */
  err(what: string): BboltFormatError {
    return new BboltFormatError(`${this.path}: ${what}`);
  }

  private freelistCount(): number {
    const pgid = Number(this.meta.freelistPgid);
    const p = this.page(pgid, null);
    if (p.readUInt16LE(8) !== FREELIST_PAGE_FLAG) throw this.err(`freelist page ${pgid} has flags 0x${p.readUInt16LE(8).toString(16)}`);
    let count = p.readUInt16LE(10);
    let first = PAGE_HEADER_BYTES;
    if (count === 0xffff) {
      const big = p.readBigUInt64LE(PAGE_HEADER_BYTES);
      if (big > BigInt(this.highWater)) throw this.err(`freelist page ${pgid} counts ${big} pages, more than the ${this.highWater} in the file`);
      count = Number(big);
      first += 8;
    }
    if (first + count * 8 > p.length) throw this.err(`freelist page ${pgid} lists ${count} pages, more than fit in its ${p.length} bytes`);
    for (let i = 0; i < count; i++) {
      const id = p.readBigUInt64LE(first + i * 8);
      if (id < 2n || id >= BigInt(this.highWater)) throw this.err(`freelist page ${pgid} lists page ${id}, outside 2..${this.highWater - 1}`);
    }
    return count;
  }

  /** pages reached from the metas: both metas, the freelist run, every tree page (nested buckets too) */
  private reachablePageCount(): number {
    const seen = new Uint8Array(Math.ceil(this.highWater / 8));
    let reached = 2;
    const visit = (pgid: number, pages: number): void => {
      for (let i = pgid; i < pgid + pages; i++) {
        if (seen[i >> 3] & (1 << (i & 7))) throw this.err(`page ${i} is referenced twice`);
        seen[i >> 3] |= 1 << (i & 7);
      }
      reached += pages;
    };
    const walk = (header: Buffer, what: string, depth: number): void => {
      if (depth > MAX_NESTING) throw this.err(`${what}: buckets nested deeper than ${MAX_NESTING}`);
      for (const [flags, key, value] of this.treeElements(header, what, visit)) {
        if (flags & BUCKET_LEAF_FLAG) walk(value, `${what}/${key.toString('hex')}`, depth + 1);
      }
    };
    if (this.meta.freelistPgid !== PGID_NO_FREELIST) {
      const fl = Number(this.meta.freelistPgid);
      visit(fl, this.page(fl, null).readUInt32LE(12) + 1);
    }
    const root = Buffer.alloc(BUCKET_HEADER_BYTES);
    root.writeBigUInt64LE(this.meta.rootPgid, 0);
    walk(root, 'root bucket', 0);
    return reached;
  }

  private rootElements(): Generator<[number, Buffer, Buffer]> {
    const root = Buffer.alloc(BUCKET_HEADER_BYTES);
    root.writeBigUInt64LE(this.meta.rootPgid, 0);
    return this.treeElements(root, 'root bucket');
  }

  private bucketHeader(bucket: Uint8Array): Buffer {
    for (const [flags, key, value] of this.rootElements()) {
      if (!key.equals(bucket)) continue;
      if ((flags & BUCKET_LEAF_FLAG) === 0) throw this.err(`root bucket key ${key.toString('hex')} is not a bucket`);
      return value;
    }
    throw this.err(`no bucket named ${JSON.stringify(Buffer.from(bucket).toString())}`);
  }

  /** Every leaf element of the tree a bucket header names, in order: [flags, key, value]. */
  private *treeElements(header: Buffer, what: string, onPage?: (pgid: number, pages: number) => void): Generator<[number, Buffer, Buffer]> {
    const order = new KeyOrder(this, what);
    for (const page of this.leafPages(header, what, onPage)) {
      const count = this.leafCount(page, what);
      for (let i = 0; i < count; i++) {
        const el = this.leafElement(page, i, what);
        const key = page.subarray(el.start, el.start + el.ksize);
        order.next(key, page);
        yield [el.flags, key, page.subarray(el.start + el.ksize, el.start + el.ksize + el.vsize)];
      }
    }
  }

  /**
   * The leaf pages (runs) of the tree a bucket header names, left to right; for an inline
   * bucket, its one page inside the header's value. Non-root pages must hold elements:
   * with keys checked to rise strictly (KeyOrder), a page reached twice then fails within
   * MAX_DEPTH pages, so no visited set is needed.
   */
  private *leafPages(header: Buffer, what: string, onPage?: (pgid: number, pages: number) => void): Generator<Buffer> {
    if (header.length < BUCKET_HEADER_BYTES) throw this.err(`${what}: bucket header of ${header.length} bytes (want ${BUCKET_HEADER_BYTES})`);
    const rootPgid = header.readUInt32LE(0) + header.readUInt32LE(4) * 2 ** 32;
    if (rootPgid === 0) {
      const page = header.subarray(BUCKET_HEADER_BYTES);
      if (page.length < PAGE_HEADER_BYTES) throw this.err(`${what}: inline bucket of ${page.length} bytes has no page header`);
      if (page.readUInt16LE(8) !== LEAF_PAGE_FLAG) throw this.err(`${what}: inline bucket page has flags 0x${page.readUInt16LE(8).toString(16)} (want leaf)`);
      yield page;
      return;
    }
    const stack: Frame[] = [];
    const push = (pgid: number, isRoot: boolean): void => {
      if (stack.length >= MAX_DEPTH) throw this.err(`${what}: tree deeper than ${MAX_DEPTH} levels at page ${pgid} (a loop?)`);
      const page = this.page(pgid, what);
      const count = page.readUInt16LE(10);
      if (count === 0 && !isRoot) throw this.err(`${what}: page ${pgid} is empty but is not the tree's root`);
      onPage?.(pgid, page.length / this.pageSizeBytes);
      stack.push({ page, next: 0, count });
    };
    push(rootPgid, true);
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      if (top.page.readUInt16LE(8) === LEAF_PAGE_FLAG) {
        stack.pop();
        yield top.page;
      } else if (top.next < top.count) {
        push(this.branchChild(top.page, top.next++, what), false);
      } else {
        stack.pop();
      }
    }
  }

  /** element count of a leaf page, after checking the element array fits in it */
  private leafCount(page: Buffer, what: string): number {
    const count = page.readUInt16LE(10);
    if (PAGE_HEADER_BYTES + count * LEAF_ELEMENT_BYTES > page.length) {
      throw this.err(`${what}: leaf page ${pageId(page)} claims ${count} elements, more than fit in ${page.length} bytes`);
    }
    return count;
  }

  /** leaf element `i` of a page (checked by leafCount), decoded into a reused scratch object */
  private leafElement(page: Buffer, i: number, what: string): LeafElement {
    const e = PAGE_HEADER_BYTES + i * LEAF_ELEMENT_BYTES;
    const el = this.scratch;
    el.flags = page.readUInt32LE(e);
    el.start = e + page.readUInt32LE(e + 4);
    el.ksize = page.readUInt32LE(e + 8);
    el.vsize = page.readUInt32LE(e + 12);
    if ((el.flags & ~BUCKET_LEAF_FLAG) !== 0) throw this.err(`${what}: leaf page ${pageId(page)} element ${i} has unknown flags 0x${el.flags.toString(16)}`);
    if (el.ksize === 0) throw this.err(`${what}: leaf page ${pageId(page)} element ${i} has an empty key`);
    if (el.start + el.ksize + el.vsize > page.length) throw this.err(`${what}: leaf page ${pageId(page)} element ${i} lies outside the page`);
    return el;
  }

  /** child pgid of branch element `i`, after checking the element lies inside its page */
  private branchChild(page: Buffer, i: number, what: string): number {
    const count = page.readUInt16LE(10);
    if (PAGE_HEADER_BYTES + count * BRANCH_ELEMENT_BYTES > page.length) {
      throw this.err(`${what}: branch page ${pageId(page)} claims ${count} elements, more than fit in ${page.length} bytes`);
    }
    const e = PAGE_HEADER_BYTES + i * BRANCH_ELEMENT_BYTES;
    const start = e + page.readUInt32LE(e);
    const ksize = page.readUInt32LE(e + 4);
    if (ksize === 0 || start + ksize > page.length) throw this.err(`${what}: branch page ${pageId(page)} element ${i} key lies outside the page`);
    const hi = page.readUInt32LE(e + 12);
    if (hi !== 0) throw this.err(`${what}: branch page ${pageId(page)} element ${i} points beyond the high-water mark`);
    return page.readUInt32LE(e + 8);
  }

  /**
   * The whole run of page `pgid` (page plus its overflow pages), checked: id matches,
   * run lies below the high-water mark; for tree pages (what != null) branch or leaf type.
   */
  private page(pgid: number, what: string | null): Buffer {
    const where = what === null ? '' : `${what}: `;
    if (pgid < 2 || pgid >= this.highWater) throw this.err(`${where}page ${pgid} is outside 2..${this.highWater - 1} (high-water mark ${this.highWater})`);
    const first = this.pageFromCache(pgid);
    const id = first.readUInt32LE(0) + first.readUInt32LE(4) * 2 ** 32;
    if (id !== pgid) throw this.err(`${where}page ${pgid} has id ${id} in its header`);
    const flags = first.readUInt16LE(8);
    if (what !== null && flags !== BRANCH_PAGE_FLAG && flags !== LEAF_PAGE_FLAG) {
      throw this.err(`${where}page ${pgid} has flags 0x${flags.toString(16)} (want branch or leaf)`);
    }
    const overflow = first.readUInt32LE(12);
    if (overflow === 0) return first;
    if (pgid + overflow >= this.highWater) throw this.err(`${where}page ${pgid} runs over ${overflow} pages beyond the high-water mark ${this.highWater}`);
    // bbolt sizes a tree page's run to its content (a freelist run may have one spare
    // page): a run longer than its content is damage, and is refused before it is read
    const used = what === null ? freelistBytes(first) : this.treePageBytes(pgid, first, overflow, where);
    const spare = what === null ? 1 : 0;
    if (used <= (overflow - spare) * this.pageSizeBytes) {
      throw this.err(`${where}page ${pgid} claims ${overflow} overflow pages but its content ends at byte ${used}`);
    }
    return readExactly(this.fd, pgid * this.pageSizeBytes, (overflow + 1) * this.pageSizeBytes);
  }

  /** where the content of a branch or leaf page run ends: its last element's data */
  private treePageBytes(pgid: number, first: Buffer, overflow: number, where: string): number {
    const count = first.readUInt16LE(10);
    const elementsEnd = PAGE_HEADER_BYTES + count * LEAF_ELEMENT_BYTES;
    if (elementsEnd > (overflow + 1) * this.pageSizeBytes) throw this.err(`${where}page ${pgid} claims ${count} elements, more than fit in its run`);
    const area = elementsEnd <= first.length ? first : readExactly(this.fd, pgid * this.pageSizeBytes, elementsEnd);
    const isLeaf = first.readUInt16LE(8) === LEAF_PAGE_FLAG;
    let end = elementsEnd;
    for (let e = PAGE_HEADER_BYTES; e < elementsEnd; e += LEAF_ELEMENT_BYTES) {
      // leaf: flags, pos, ksize, vsize; branch: pos, ksize, pgid
      const dataEnd = isLeaf ? e + area.readUInt32LE(e + 4) + area.readUInt32LE(e + 8) + area.readUInt32LE(e + 12) : e + area.readUInt32LE(e) + area.readUInt32LE(e + 4);
      if (dataEnd > end) end = dataEnd;
    }
    return end;
  }

  /** one page through the block cache (blocks are never reused, so views stay valid) */
  private pageFromCache(pgid: number): Buffer {
    if (this.fd < 0) throw new Error(`bbolt reader: ${this.path} is closed`);
    const byte = pgid * this.pageSizeBytes;
    const blockNo = Math.floor(byte / this.blockBytes);
    let block = this.cache.get(blockNo);
    if (block !== undefined) {
      this.cache.delete(blockNo);
    } else {
      const start = blockNo * this.blockBytes;
      block = readExactly(this.fd, start, Math.min(this.blockBytes, this.sizeBytes() - start));
      if (this.cache.size >= CACHE_BLOCKS) this.cache.delete(this.cache.keys().next().value as number);
    }
    this.cache.set(blockNo, block);
    const off = byte - blockNo * this.blockBytes;
    return block.subarray(off, off + this.pageSizeBytes);
  }
}

interface LeafElement {
  flags: number;
  /** offset of the key in its page; the value follows the key */
  start: number;
  ksize: number;
  vsize: number;
}

/** Checks that keys rise strictly across one walk of a tree (what makes the walk end). */
class KeyOrder {
  private prev: Buffer | null = null;

  constructor(
    private readonly file: BboltFile,
    private readonly what: string,
  ) {}

  next(key: Buffer, page: Buffer): void {
    if (this.prev !== null && !sortsAfter(key, this.prev, this.prev.length)) {
      throw this.file.err(`${this.what}: keys are not sorted at page ${pageId(page)} (${key.toString('hex')} after ${this.prev.toString('hex')})`);
    }
    this.prev = key;
  }
}

/** bytes a freelist page's content needs (header, optional 64-bit count, the ids) */
function freelistBytes(first: Buffer): number {
  const count = first.readUInt16LE(10);
  if (count !== 0xffff) return PAGE_HEADER_BYTES + 8 * count;
  const big = first.readBigUInt64LE(PAGE_HEADER_BYTES);
  return big > 2n ** 40n ? Number.MAX_SAFE_INTEGER : PAGE_HEADER_BYTES + 8 * (Number(big) + 1);
}

function pageId(page: Buffer): number {
  return page.readUInt32LE(0) + page.readUInt32LE(4) * 2 ** 32;
}

/** why a valid-checksum meta still cannot name a readable tree in a file of `size` bytes */
function treeMetaProblem(m: Meta, size: number): string | null {
  const pageSize = BigInt(m.pageSizeBytes);
  if (m.highWaterPgid < 3n) return `high-water mark ${m.highWaterPgid} is below 3 pages`;
  if (m.highWaterPgid * pageSize > BigInt(size)) {
    return `the file is truncated: ${m.highWaterPgid} pages of ${m.pageSizeBytes} bytes need ${m.highWaterPgid * pageSize} bytes, it has ${size}`;
  }
  if (m.rootPgid < 2n || m.rootPgid >= m.highWaterPgid) return `root page ${m.rootPgid} is outside 2..${m.highWaterPgid - 1n}`;
  if (m.freelistPgid !== PGID_NO_FREELIST && (m.freelistPgid < 2n || m.freelistPgid >= m.highWaterPgid)) {
    return `freelist page ${m.freelistPgid} is outside 2..${m.highWaterPgid - 1n}`;
  }
  return null;
}

/** positioned read of exactly `length` bytes; a short file is a format error */
function readExactly(fd: number, position: number, length: number): Buffer {
  const buf = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const n = fs.readSync(fd, buf, done, length - done, position + done);
    if (n === 0) throw new BboltFormatError(`unexpected end of file at byte ${position + done} (reading ${length} bytes at ${position})`);
    done += n;
  }
  return buf;
}
