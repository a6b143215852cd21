// Streaming writer of bbolt database files (the format of etcd's backend and snapshots).
//
// Contract: `bboltFileChunks` turns sorted buckets into the bytes of a bbolt file that
// bbolt's tx.Check() accepts and etcd opens, as a pull-based sequence of Buffers holding
// whole pages. Memory is O(number of leaf pages) (one copied first key per leaf page, for
// the branch levels), never O(data): each bucket's `entries()` is iterated twice, once to
// lay the pages out and once to fill them, and both passes must yield the same sequence.
//
// Layout written (page ids in file order):
//   0, 1      meta pages (txid T on page T%2, T-1 on the other, both naming the same tree,
//             as bbolt's Tx.WriteTo does for a snapshot)
//   2         an empty freelist page (see docs/bbolt-format.md for why it is written)
//   3..       for each bucket, sorted by name: its leaf pages in key order, then its branch
//             levels bottom-up, the bucket's root page last
//   last      the root bucket's leaf pages (bucket name -> bucket header) and its branches
// Every bucket is a regular (non-inline) bucket; an empty bucket is one empty leaf page.

import { open } from 'node:fs/promises';
import { endianness } from 'node:os';
import {
  BRANCH_ELEMENT_BYTES,
  BRANCH_PAGE_FLAG,
  BUCKET_HEADER_BYTES,
  BUCKET_LEAF_FLAG,
  FREELIST_PAGE_FLAG,
  LEAF_ELEMENT_BYTES,
  LEAF_PAGE_FLAG,
  MAX_ELEMENTS_PER_PAGE,
  MAX_KEY_BYTES,
  MAX_VALUE_BYTES,
  PAGE_HEADER_BYTES,
  encodeMetaPage,
  sortsAfter,
} from './format.js';

export interface BboltBucket {
  /** bucket name bytes (non-empty, at most 32768 bytes, unique among the buckets) */
  name: Uint8Array;
  /** entries sorted by key bytewise, unique non-empty keys. Called exactly twice (layout
   *  pass, then emit pass); both calls must yield the same sequence. Values may be empty.
   *  A yielded key or value may be reused by the caller once the next entry is pulled. */
  entries(): Iterable<readonly [Uint8Array, Uint8Array]>;
  /** Optional: the same sequence as entries() but with each value's length only, for the
   *  layout pass, so a source that must copy values to yield them can skip the copies. */
  layoutEntries?(): Iterable<readonly [Uint8Array, number]>;
}

export interface BboltWriteOptions {
  /** page size of the file: a power of two from 1024 to 65536; default 4096 (etcd on amd64) */
  pageSizeBytes?: number;
  /** transaction id of the newer meta page; the other meta gets txid - 1. Default 2, the
   *  txid of a fresh bbolt file after its first commit. */
  txid?: number;
}

/** target size of one yielded chunk; a single overflow run larger than this is yielded alone */
const CHUNK_BYTES = 64 * 1024;
const LITTLE_ENDIAN_HOST = endianness() === 'LE';
const FIRST_DATA_PGID = 3;
const MIN_BRANCH_CHILDREN = 2;
const FREELIST_PGID = 2;

/** where the pages of one B+tree go: leaves first, then branch levels bottom-up */
interface TreeLayout {
  firstPgid: number;
  /** per leaf node: element count, pages in its run, copy of its first key */
  leafCounts: number[];
  leafPages: number[];
  leafFirstKeys: Buffer[];
  /** per branch level (bottom-up): each branch node's [first child index, end index), pages */
  levels: BranchLevel[];
  rootPgid: number;
  /** first pgid after this tree */
  endPgid: number;
}

interface BranchLevel {
  /** pgid of each node of the level below (the children) and their first keys */
  childPgids: number[];
  childKeys: Buffer[];
  /** this level's nodes: children [starts[i], starts[i+1]) ; pages[i] pages each */
  starts: number[];
  pages: number[];
  firstPgid: number;
}

function checkOptions(opts: BboltWriteOptions | undefined): { pageSize: number; txid: number } {
  const pageSize = opts?.pageSizeBytes ?? 4096;
  if (!Number.isInteger(pageSize) || pageSize < 1024 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) {
    throw new RangeError(`bbolt writer: page size must be a power of two from 1024 to 65536, got ${pageSize}`);
  }
  const txid = opts?.txid ?? 2;
  if (!Number.isSafeInteger(txid) || txid < 1) throw new RangeError(`bbolt writer: txid must be an integer >= 1, got ${txid}`);
  return { pageSize, txid };
}

function sortedBuckets(buckets: BboltBucket[]): BboltBucket[] {
  const sorted = [...buckets].sort((a, b) => Buffer.compare(a.name, b.name));
  for (let i = 0; i < sorted.length; i++) {
    const n = sorted[i].name;
    if (n.length === 0) throw new RangeError('bbolt writer: a bucket name is empty');
    if (n.length > MAX_KEY_BYTES) throw new RangeError(`bbolt writer: bucket name of ${n.length} bytes is longer than ${MAX_KEY_BYTES}`);
    if (i > 0 && Buffer.compare(sorted[i - 1].name, n) === 0) {
      throw new RangeError(`bbolt writer: bucket ${JSON.stringify(Buffer.from(n).toString())} is given twice`);
    }
  }
  return sorted;
}

function pagesFor(bytes: number, pageSize: number): number {
  return Math.max(1, Math.ceil(bytes / pageSize));
}

/** Grows-only scratch copy of the previous key, so order checks allocate nothing per entry. */
class PrevKey {
  private buf = Buffer.alloc(64);
  private len = -1;

  /** throws unless `k` sorts strictly after the previous key */
  advance(k: Uint8Array, what: string): void {
    if (this.len >= 0 && !sortsAfter(k, this.buf, this.len)) {
      throw new RangeError(`bbolt writer: ${what}: keys are not sorted and unique (${Buffer.from(k).toString('hex')} after ${this.buf.subarray(0, this.len).toString('hex')})`);
    }
    if (k.length > this.buf.length) this.buf = Buffer.alloc(Math.max(k.length, this.buf.length * 2));
    this.buf.set(k, 0);
    this.len = k.length;
  }
}

function checkEntry(k: Uint8Array, valueBytes: number, what: string): void {
  if (k.length === 0) throw new RangeError(`bbolt writer: ${what}: a key is empty`);
  if (k.length > MAX_KEY_BYTES) throw new RangeError(`bbolt writer: ${what}: key of ${k.length} bytes is longer than ${MAX_KEY_BYTES}`);
  if (valueBytes > MAX_VALUE_BYTES) throw new RangeError(`bbolt writer: ${what}: value of ${valueBytes} bytes is longer than ${MAX_VALUE_BYTES}`);
}

function* withLengths(entries: Iterable<readonly [Uint8Array, Uint8Array]>): Generator<readonly [Uint8Array, number]> {
  for (const [k, v] of entries) yield [k, v.length];
}

/** Layout pass over one tree's entries: leaf boundaries (greedy fill), then branch levels. */
function layoutTree(entries: Iterable<readonly [Uint8Array, number]>, firstPgid: number, pageSize: number, what: string): TreeLayout {
  const leafCounts: number[] = [];
  const leafPages: number[] = [];
  const leafFirstKeys: Buffer[] = [];
  const prev = new PrevKey();
  let size = PAGE_HEADER_BYTES;
  let count = 0;
  const close = (): void => {
    leafCounts.push(count);
    leafPages.push(pagesFor(size, pageSize));
    size = PAGE_HEADER_BYTES;
    count = 0;
  };
  for (const [k, valueBytes] of entries) {
    checkEntry(k, valueBytes, what);
    prev.advance(k, what);
    const elementBytes = LEAF_ELEMENT_BYTES + k.length + valueBytes;
    if (count > 0 && (size + elementBytes > pageSize || count === MAX_ELEMENTS_PER_PAGE)) close();
    if (count === 0) leafFirstKeys.push(Buffer.from(k));
    size += elementBytes;
    count++;
    // an entry too big for one page gets a run of pages to itself (bbolt's overflow pages)
    if (size > pageSize) close();
  }
  if (count > 0) close();
  if (leafCounts.length === 0) {
    leafCounts.push(0);
    leafPages.push(1);
    leafFirstKeys.push(Buffer.alloc(0));
  }
  return layoutBranches(firstPgid, leafCounts, leafPages, leafFirstKeys, pageSize);
}

function layoutBranches(firstPgid: number, leafCounts: number[], leafPages: number[], leafFirstKeys: Buffer[], pageSize: number): TreeLayout {
  let childPgids: number[] = [];
  let pgid = firstPgid;
  for (const n of leafPages) {
    childPgids.push(pgid);
    pgid += n;
  }
  let childKeys = leafFirstKeys;
  const levels: BranchLevel[] = [];
  while (childPgids.length > 1) {
    const level = packBranchLevel(childPgids, childKeys, pgid, pageSize);
    if (level.pages.length >= childPgids.length) throw new Error(`bbolt writer: a branch level of ${childPgids.length} nodes did not shrink`);
    levels.push(level);
    const nextPgids: number[] = [];
    const nextKeys: Buffer[] = [];
    for (let i = 0; i < level.pages.length; i++) {
      nextPgids.push(pgid);
      nextKeys.push(childKeys[level.starts[i]]);
      pgid += level.pages[i];
    }
    childPgids = nextPgids;
    childKeys = nextKeys;
  }
  return { firstPgid, leafCounts, leafPages, leafFirstKeys, levels, rootPgid: childPgids[0], endPgid: pgid };
}

function packBranchLevel(childPgids: number[], childKeys: Buffer[], firstPgid: number, pageSize: number): BranchLevel {
  const starts: number[] = [];
  const pages: number[] = [];
  let size = PAGE_HEADER_BYTES;
  let count = 0;
  for (let i = 0; i < childPgids.length; i++) {
    const elementBytes = BRANCH_ELEMENT_BYTES + childKeys[i].length;
    // at least two children per branch page (bbolt's minKeysPerPage), so every level is at
    // most half the one below and the tree ends in one root even when keys outgrow a page
    if (count >= MIN_BRANCH_CHILDREN && (size + elementBytes > pageSize || count === MAX_ELEMENTS_PER_PAGE)) {
      pages.push(pagesFor(size, pageSize));
      size = PAGE_HEADER_BYTES;
      count = 0;
    }
    if (count === 0) starts.push(i);
    size += elementBytes;
    count++;
  }
  pages.push(pagesFor(size, pageSize));
  starts.push(childPgids.length);
  return { childPgids, childKeys, starts, pages, firstPgid };
}

/** Collects written pages into chunks of about CHUNK_BYTES, zero-filled, whole pages only. */
class ChunkSink {
  private chunk: Buffer | null = null;
  /** the current chunk as u32 words on little-endian hosts (element fields are 4-byte aligned) */
  words: Uint32Array | null = null;
  private used = 0;
  private ready: Buffer[] = [];
  total = 0;

  constructor(private readonly pageSize: number) {}

  /** room for `pages` contiguous pages; returns the buffer and the offset of the first */
  reserve(pages: number): [Buffer, number] {
    const bytes = pages * this.pageSize;
    if (this.chunk === null || this.used + bytes > this.chunk.length) {
      this.flush();
      this.chunk = Buffer.alloc(Math.max(CHUNK_BYTES, bytes));
      if (LITTLE_ENDIAN_HOST) this.words = new Uint32Array(this.chunk.buffer, this.chunk.byteOffset, this.chunk.length >>> 2);
    }
    const off = this.used;
    this.used += bytes;
    this.total += bytes;
    return [this.chunk, off];
  }

  flush(): void {
    if (this.chunk !== null && this.used > 0) this.ready.push(this.chunk.subarray(0, this.used));
    this.chunk = null;
    this.used = 0;
  }

  /** completed chunks, each handed out once */
  *drain(): Generator<Buffer> {
    while (this.ready.length > 0) yield this.ready.shift()!;
  }
}

function writePageHeader(buf: Buffer, off: number, pgid: number, flags: number, count: number, pages: number): void {
  buf.writeUInt32LE(pgid % 2 ** 32, off);
  buf.writeUInt32LE(Math.floor(pgid / 2 ** 32), off + 4);
  buf.writeUInt16LE(flags, off + 8);
  buf.writeUInt16LE(count, off + 10);
  buf.writeUInt32LE(pages - 1, off + 12);
}

function mismatch(what: string, detail: string): Error {
  return new Error(`bbolt writer: ${what}: entries() yielded a different sequence on its second call (${detail})`);
}

/** Emit pass: fills the leaf pages laid out by `layoutTree`, then the branch pages. */
function* emitTree(t: TreeLayout, entries: Iterable<readonly [Uint8Array, Uint8Array]>, elementFlags: number, sink: ChunkSink, pageSize: number, what: string): Generator<Buffer> {
  let leaf = -1;
  let left = 0; // elements still to write on the current leaf
  let pgid = t.firstPgid;
  let buf: Buffer = Buffer.alloc(0);
  let words: Uint32Array | null = null;
  let elem = 0;
  let data = 0;
  let end = 0;
  const emptyTree = t.leafCounts[0] === 0;
  for (const [k, v] of entries) {
    if (emptyTree) throw mismatch(what, 'entries in a bucket that was empty');
    if (left === 0) {
      leaf++;
      if (leaf >= t.leafCounts.length) throw mismatch(what, 'more entries');
      const pages = t.leafPages[leaf];
      let off: number;
      [buf, off] = sink.reserve(pages);
      words = sink.words;
      left = t.leafCounts[leaf];
      writePageHeader(buf, off, pgid, LEAF_PAGE_FLAG, left, pages);
      pgid += pages;
      elem = off + PAGE_HEADER_BYTES;
      data = elem + LEAF_ELEMENT_BYTES * left;
      end = off + pages * pageSize;
      if (Buffer.compare(k, t.leafFirstKeys[leaf]) !== 0) throw mismatch(what, `leaf ${leaf} starts with another key`);
    }
    if (data + k.length + v.length > end) throw mismatch(what, `leaf ${leaf} grew`);
    if (words !== null) {
      const w = elem >>> 2;
      words[w] = elementFlags;
      words[w + 1] = data - elem;
      words[w + 2] = k.length;
      words[w + 3] = v.length;
    } else {
      buf.writeUInt32LE(elementFlags, elem);
      buf.writeUInt32LE(data - elem, elem + 4);
      buf.writeUInt32LE(k.length, elem + 8);
      buf.writeUInt32LE(v.length, elem + 12);
    }
    buf.set(k, data);
    buf.set(v, data + k.length);
    elem += LEAF_ELEMENT_BYTES;
    data += k.length + v.length;
    if (--left === 0) yield* sink.drain();
  }
  if (!emptyTree && (left !== 0 || leaf + 1 !== t.leafCounts.length)) throw mismatch(what, 'fewer entries');
  if (emptyTree) {
    const [b, off] = sink.reserve(1);
    writePageHeader(b, off, pgid, LEAF_PAGE_FLAG, 0, 1);
  }
  for (const level of t.levels) yield* emitBranchLevel(level, sink);
}

function* emitBranchLevel(level: BranchLevel, sink: ChunkSink): Generator<Buffer> {
  let pgid = level.firstPgid;
  for (let n = 0; n < level.pages.length; n++) {
    const from = level.starts[n];
    const to = level.starts[n + 1];
    const [buf, off] = sink.reserve(level.pages[n]);
    writePageHeader(buf, off, pgid, BRANCH_PAGE_FLAG, to - from, level.pages[n]);
    pgid += level.pages[n];
    let elem = off + PAGE_HEADER_BYTES;
    let data = elem + BRANCH_ELEMENT_BYTES * (to - from);
    for (let i = from; i < to; i++) {
      const key = level.childKeys[i];
      const child = level.childPgids[i];
      buf.writeUInt32LE(data - elem, elem);
      buf.writeUInt32LE(key.length, elem + 4);
      buf.writeUInt32LE(child % 2 ** 32, elem + 8);
      buf.writeUInt32LE(Math.floor(child / 2 ** 32), elem + 12);
      buf.set(key, data);
      elem += BRANCH_ELEMENT_BYTES;
      data += key.length;
    }
    yield* sink.drain();
  }
}

/** the root bucket's entries: bucket name -> 16-byte header naming the bucket's root page */
function* rootEntries(buckets: BboltBucket[], roots: number[]): Generator<readonly [Uint8Array, Uint8Array]> {
  for (let i = 0; i < buckets.length; i++) {
    const header = Buffer.alloc(BUCKET_HEADER_BYTES);
    header.writeBigUInt64LE(BigInt(roots[i]), 0);
    yield [buckets[i].name, header];
  }
}

/**
 * The whole file's bytes in order, as Buffers of whole pages (about 64 KiB each; one
 * overflow run bigger than that is yielded alone). Nothing is computed before the first
 * pull; the layout pass (first `entries()` call of every bucket) runs then.
 */
export function* bboltFileChunks(buckets: BboltBucket[], opts?: BboltWriteOptions): Generator<Buffer> {
  const { pageSize, txid } = checkOptions(opts);
  const sorted = sortedBuckets(buckets);
  const layouts: TreeLayout[] = [];
  let pgid = FIRST_DATA_PGID;
  for (const b of sorted) {
    const what = `bucket ${JSON.stringify(Buffer.from(b.name).toString())}`;
    const t = layoutTree(b.layoutEntries ? b.layoutEntries() : withLengths(b.entries()), pgid, pageSize, what);
    layouts.push(t);
    pgid = t.endPgid;
  }
  const roots = layouts.map((t) => t.rootPgid);
  const rootTree = layoutTree(withLengths(rootEntries(sorted, roots)), pgid, pageSize, 'root bucket');
  const highWater = rootTree.endPgid;

  const sink = new ChunkSink(pageSize);
  const [metaBuf, metaOff] = sink.reserve(2);
  for (let i = 0; i < 2; i++) {
    // the newer meta goes on page txid % 2, as bbolt's meta.write places it
    const pageTxid = i === txid % 2 ? txid : txid - 1;
    encodeMetaPage(metaBuf, metaOff + i * pageSize, i, {
      pageSizeBytes: pageSize,
      flags: 0,
      rootPgid: BigInt(rootTree.rootPgid),
      rootSequence: 0n,
      freelistPgid: BigInt(FREELIST_PGID),
      highWaterPgid: BigInt(highWater),
      txid: BigInt(pageTxid),
    });
  }
  const [flBuf, flOff] = sink.reserve(1);
  writePageHeader(flBuf, flOff, FREELIST_PGID, FREELIST_PAGE_FLAG, 0, 1);

  for (let i = 0; i < sorted.length; i++) {
    const what = `bucket ${JSON.stringify(Buffer.from(sorted[i].name).toString())}`;
    yield* emitTree(layouts[i], sorted[i].entries(), 0, sink, pageSize, what);
  }
  yield* emitTree(rootTree, rootEntries(sorted, roots), BUCKET_LEAF_FLAG, sink, pageSize, 'root bucket');
  sink.flush();
  yield* sink.drain();
  if (sink.total !== highWater * pageSize) throw new Error(`bbolt writer: wrote ${sink.total} bytes, laid out ${highWater * pageSize}`);
}

/** Writes the file (created or truncated), fsyncs it, and returns its size in bytes. */
export async function writeBboltFile(path: string, buckets: BboltBucket[], opts?: BboltWriteOptions): Promise<number> {
  const fh = await open(path, 'w', 0o600);
  try {
    let pos = 0;
    for (const chunk of bboltFileChunks(buckets, opts)) {
      let done = 0;
      while (done < chunk.length) {
        const { bytesWritten } = await fh.write(chunk, done, chunk.length - done, pos + done);
        if (bytesWritten <= 0) throw new Error(`bbolt writer: write returned ${bytesWritten} at offset ${pos + done} of ${path}`);
        done += bytesWritten;
      }
      pos += chunk.length;
    }
    await fh.sync();
    return pos;
  } finally {
    await fh.close();
  }
}
