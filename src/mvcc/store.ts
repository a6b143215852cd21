// The multi-version key-value store: every write transaction gets the next store
// revision; the backend's key bucket holds every KeyValue version keyed by revision, and
// the in-memory tree index maps keys to their revisions. Reads at an old revision work
// until that revision is compacted away.
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { Backend } from '../backend/backend.js';
import { crc32c } from '../pkg/crc32c.js';
import { KeyValue } from '../proto/mvccpb.js';
import { errCompacted, errFutureRev } from './errors.js';
import { revKey } from './key-index.js';
import { bytesToRev, isTombstoneBytes, revToBytes, type Revision } from './revision.js';
import { keyBytes, keyString, TreeIndex, type KeyRange } from './tree-index.js';

export interface RangeOptions {
  /** read at this revision; 0 or less reads the current one */
  rev?: number;
  /** at most this many key-values (count still counts them all); 0 means no limit */
  limit?: number;
  countOnly?: boolean;
}

export interface RangeResult {
  kvs: KeyValue[];
  /** number of keys in the range at the read revision, regardless of limit */
  count: number;
  /** the store's current revision (not the read revision), as etcd reports it */
  rev: number;
}

/** One change made by a write transaction, in order: what watchers are told. */
export interface Change {
  kind: 'put' | 'delete';
  /** for a delete: the key with mod_revision set to the delete's revision */
  kv: KeyValue;
}

/** Keeps the lessor's key attachments in step with puts and deletes. */
export interface LeaseAttachments {
  attach(leaseId: bigint, key: string): void;
  detach(leaseId: bigint, key: string): void;
}

const KEY_BUCKET_NAME = Buffer.from('key');
const META_SCHEDULED_COMPACT = Buffer.from('scheduledCompactRev');
const META_FINISHED_COMPACT = Buffer.from('finishedCompactRev');
/** deletions per backend transaction during a physical compaction */
const COMPACTION_BATCH = 1000;

/**
 * Operation counts since start, as etcd's metrics count them (etcd_mvcc_*_total): each
 * Range, Put and DeleteRange call once; a transaction when it made more than one call.
 */
export interface MvccOpStats {
  ranges: number;
  puts: number;
  deletes: number;
  txns: number;
  putBytes: number;
}

/**
 * What the store asks of its backend. tsetcd's LMDB Backend is the one a member uses;
 * tsetcdutl hashkv gives the store a read-only view of a bbolt file instead.
 */
export type StoreBackend = Pick<Backend, 'range' | 'get' | 'write' | 'put' | 'delete'>;

export class MvccStore {
  readonly stats: MvccOpStats = { ranges: 0, puts: 0, deletes: 0, txns: 0, putBytes: 0 };
  /** revisions scanned per physical compaction batch (--experimental-compaction-batch-limit) */
  compactionBatchLimit = COMPACTION_BATCH;
  /** given each compaction's hash (HashKV at its revision just before it), for compaction hash checks */
  onCompactionHash: ((h: { revision: number; compactRevision: number; hash: number }) => void) | undefined;
  private index = new TreeIndex();
  /** key (latin1) -> lease currently attached to its live generation */
  private keyLeases = new Map<string, bigint>();
  private currentRev = 1;
  private compactMainRev = -1;
  private compacting: Promise<void> = Promise.resolve();
  leases: LeaseAttachments | undefined;

  constructor(private readonly backend: StoreBackend) {}

  get rev(): number {
    return this.currentRev;
  }

  get compactRev(): number {
    return this.compactMainRev;
  }

  /** Number of keys with a live generation (etcd_debugging_mvcc_keys_total). */
  get keyCount(): number {
    let n = 0;
    this.index.visit({ start: '', end: '' }, (ki) => {
      if (ki.isLive()) n++;
    });
    return n;
  }

  /** Forgets everything in memory, before restore() from a backend that was replaced. */
  reset(): void {
    this.index = new TreeIndex();
    this.keyLeases = new Map();
    this.currentRev = 1;
    this.compactMainRev = -1;
  }

  /** Rebuilds the index from the backend after a restart and resumes an unfinished compaction. */
  restore(): void {
    for (const { key, value } of this.backend.range('key')) {
      const rev = bytesToRev(key);
      if (rev.main > this.currentRev) this.currentRev = rev.main;
      // an empty value marks a revision and holds no key: etcdutl's --bump-revision writes
      // one, and the compaction it schedules removes it
      if (value.length === 0) continue;
      const kv = KeyValue.decode(value);
      const k = keyString(kv.key);
      if (isTombstoneBytes(key)) {
        const ki = this.index.lookup(k);
        if (ki && ki.isLive()) ki.tombstone(rev);
        this.keyLeases.delete(k);
      } else {
        this.index.restore(k, { main: kv.create_revision, sub: 0 }, rev, kv.version);
        if (kv.lease !== 0n) this.keyLeases.set(k, kv.lease);
        else this.keyLeases.delete(k);
      }
      if (rev.main > this.currentRev) this.currentRev = rev.main;
    }
    const scheduled = this.readMetaRev(META_SCHEDULED_COMPACT);
    const finished = this.readMetaRev(META_FINISHED_COMPACT);
    if (scheduled > 0) {
      this.compactMainRev = scheduled;
      if (this.currentRev < scheduled) this.currentRev = scheduled;
      const keep = this.index.compact(scheduled);
      if (scheduled !== finished) this.compacting = this.physicalCompaction(scheduled, keep, finished > 0 ? finished : -1);
    }
  }

  /** Leases attached to live keys, for the lessor to rebuild its key sets. */
  attachedLeases(): Map<string, bigint> {
    return this.keyLeases;
  }

  range(range: KeyRange, opts: RangeOptions = {}): RangeResult {
    this.stats.ranges++;
    return this.rangeAt(range, this.currentRev, opts);
  }

  private rangeAt(range: KeyRange, curRev: number, opts: RangeOptions): RangeResult {
    let rev = opts.rev ?? 0;
    if (rev > curRev) throw errFutureRev();
    if (rev <= 0) rev = curRev;
    if (rev < this.compactMainRev) throw errCompacted();
    if (opts.countOnly) return { kvs: [], count: this.index.countRevisions(range, rev), rev: curRev };
    const { keys, total } = this.index.revisions(range, rev, opts.limit ?? 0);
    const kvs = new Array<KeyValue>(keys.length);
    for (let i = 0; i < keys.length; i++) {
      const m = keys[i]!.modified;
      kvs[i] = this.readKv(m);
    }
    return { kvs, count: total, rev: curRev };
  }

  private readKv(rev: Revision): KeyValue {
    const bytes = this.backend.get('key', revToBytes(rev.main, rev.sub));
    if (!bytes) throw new Error(`mvcc: index names revision ${rev.main}_${rev.sub} that the backend does not hold`);
    return KeyValue.decode(bytes);
  }

  /** The newest version of one key, if it is live. */
  get(key: string): KeyValue | undefined {
    const at = this.index.get(key, this.currentRev);
    return at ? this.readKv(at.modified) : undefined;
  }

  /** Starts a write transaction; must run inside `backend.write`. */
  write(): WriteTxn {
    return new WriteTxn(this, this.backend, this.index, this.keyLeases);
  }

  /** @internal called by WriteTxn.end */
  commitRev(): void {
    this.currentRev++;
  }

  /** @internal */
  rangeInTxn(range: KeyRange, rev: number, opts: RangeOptions): RangeResult {
    return this.rangeAt(range, rev, opts);
  }

  /** Settles when the compactions begun so far (including one resumed by restore()) are done. */
  compactionsDone(): Promise<void> {
    return this.compacting;
  }

  /**
   * Compacts history up to rev: reads below it fail from now on; the backend drops the
   * dead versions in the background. Must run inside `backend.write` (it records the
   * scheduled compaction with the applied entry). Returns when the space is reclaimed.
   */
  compact(rev: number): Promise<void> {
    if (rev <= this.compactMainRev) throw errCompacted();
    if (rev > this.currentRev) throw errFutureRev();
    const previousCompactRev = this.compactMainRev;
    this.compactMainRev = rev;
    this.backend.put('meta', META_SCHEDULED_COMPACT, revToBytes(rev, 0));
    const keep = this.index.compact(rev);
    const previous = this.compacting;
    this.compacting = previous.then(() => this.physicalCompaction(rev, keep, previousCompactRev));
    return this.compacting;
  }

  private async physicalCompaction(rev: number, keep: Set<string>, previousCompactRev: number): Promise<void> {
    const end = revToBytes(rev + 1, 0);
    let start: Buffer | undefined;
    const onHash = this.onCompactionHash;
    if (onHash) {
      // nothing at or below `rev` is deleted yet: the hash HashKV(rev) gave before the compaction
      await yieldToLoop();
      onHash({ revision: rev, compactRevision: previousCompactRev, hash: this.hashUpTo(rev, previousCompactRev, keep) });
    }
    for (;;) {
      await yieldToLoop();
      const doomed: Buffer[] = [];
      let last: Buffer | undefined;
      let scanned = 0;
      for (const { key } of this.backend.range('key', start, end)) {
        scanned++;
        last = key;
        if (!keep.has(revKey(bytesToRev(key)))) doomed.push(Buffer.from(key));
        if (scanned >= this.compactionBatchLimit) break;
      }
      const done = scanned < this.compactionBatchLimit;
      this.backend.write(() => {
        for (const k of doomed) this.backend.delete('key', k);
        if (done) this.backend.put('meta', META_FINISHED_COMPACT, revToBytes(rev, 0));
      });
      if (done || !last) return;
      start = Buffer.concat([last, Buffer.from([0])]);
    }
  }

  /**
   * etcd's HashKV: CRC-32C of the bucket name "key", then of every backend key and value
   * (revision bytes, KeyValue bytes) in revision order up to `rev` (0: current), so that
   * members holding the same history agree. Revisions at or below the compaction that a
   * compaction at `rev` would not keep are skipped (they may or may not be deleted yet),
   * unless that would keep nothing; so is a tombstone at exactly the compaction revision:
   * etcd up to 3.4.33/3.5.15 deletes it, later versions keep it but skip it here, and both
   * give this hash. The compact revision is -1 until the first compaction, as etcd's.
   * A revision at or below the compact revision is refused, as etcd 3.4 refuses it
   * (3.5.5+ answers a hash it cached at compaction time for exactly that revision).
   */
  hashKV(rev: number): { hash: number; currentRev: number; compactRev: number; hashRev: number } {
    const compactRev = this.compactMainRev;
    if (rev > 0 && rev <= compactRev) throw errCompacted();
    if (rev > this.currentRev) throw errFutureRev();
    const upper = rev === 0 ? this.currentRev : rev;
    return { hash: this.hashUpTo(upper, compactRev, this.index.keep(upper)), currentRev: this.currentRev, compactRev, hashRev: upper };
  }

  private hashUpTo(upper: number, compactRev: number, keep: Set<string>): number {
    let hash = crc32c(KEY_BUCKET_NAME);
    for (const { key, value } of this.backend.range('key', undefined, revToBytes(upper + 1, 0))) {
      const r = bytesToRev(key);
      if (r.main <= compactRev && keep.size > 0 && !keep.has(revKey(r))) continue;
      if (r.main === compactRev && isTombstoneBytes(key)) continue;
      hash = crc32c(value, crc32c(key, hash));
    }
    return hash;
  }

  private readMetaRev(name: Buffer): number {
    const b = this.backend.get('meta', name);
    return b ? bytesToRev(b).main : 0;
  }
}

export class WriteTxn {
  private readonly beginRev: number;
  readonly changes: Change[] = [];
  /** Range, Put and DeleteRange calls made in this transaction */
  private calls = 0;

  constructor(
    private readonly store: MvccStore,
    private readonly backend: StoreBackend,
    private readonly index: TreeIndex,
    private readonly keyLeases: Map<string, bigint>,
  ) {
    this.beginRev = store.rev;
  }

  /** Reads see this transaction's own earlier writes. */
  range(range: KeyRange, opts: RangeOptions = {}): RangeResult {
    this.calls++;
    this.store.stats.ranges++;
    const rev = this.changes.length > 0 ? this.beginRev + 1 : this.beginRev;
    return this.store.rangeInTxn(range, rev, opts);
  }

  /** The revision this transaction's changes get. */
  get rev(): number {
    return this.beginRev + 1;
  }

  put(key: Uint8Array, value: Uint8Array, lease: bigint): void {
    this.calls++;
    this.store.stats.puts++;
    this.store.stats.putBytes += key.length + value.length;
    const main = this.beginRev + 1;
    const k = keyString(key);
    const prev = this.index.get(k, main);
    const created = prev ? prev.created.main : main;
    const version = prev ? prev.ver + 1 : 1;
    const kv: KeyValue = {
      key,
      value,
      create_revision: created,
      mod_revision: main,
      version,
      lease,
    };
    const sub = this.changes.length;
    this.backend.put('key', revToBytes(main, sub), KeyValue.encode(kv));
    this.index.put(k, { main, sub });
    this.changes.push({ kind: 'put', kv });
    const oldLease = this.keyLeases.get(k) ?? 0n;
    if (oldLease !== lease) {
      if (oldLease !== 0n) this.store.leases?.detach(oldLease, k);
      if (lease !== 0n) this.store.leases?.attach(lease, k);
    }
    if (lease !== 0n) this.keyLeases.set(k, lease);
    else this.keyLeases.delete(k);
  }

  /** Deletes every live key in the range; returns how many. */
  deleteRange(range: KeyRange): number {
    this.calls++;
    this.store.stats.deletes++;
    const rev = this.changes.length > 0 ? this.beginRev + 1 : this.beginRev;
    const { keys } = this.index.revisions(range, rev);
    for (const { key } of keys) this.deleteKey(key);
    return keys.length;
  }

  private deleteKey(k: string): void {
    const main = this.beginRev + 1;
    const sub = this.changes.length;
    const key = keyBytes(k);
    const tomb: KeyValue = KeyValue.create({ key });
    this.backend.put('key', revToBytes(main, sub, true), KeyValue.encode(tomb));
    this.index.tombstone(k, { main, sub });
    this.changes.push({ kind: 'delete', kv: { ...tomb, mod_revision: main } });
    const oldLease = this.keyLeases.get(k);
    if (oldLease !== undefined) {
      this.store.leases?.detach(oldLease, k);
      this.keyLeases.delete(k);
    }
  }

  /** Finishes the transaction: the store revision moves on only if something changed. */
  end(): Change[] {
    if (this.calls > 1) this.store.stats.txns++;
    if (this.changes.length > 0) this.store.commitRev();
    return this.changes;
  }
}
