// The part of a stopped etcd 3.4 member's log that its backend has not applied yet, as tsetcd
// should replay it after migration.
//
// Contract: committedTail(walDir, consistentIndex) reads the WAL after `consistentIndex` (the
// db's meta/consistent_index) and returns the committed entries (index <= the hard state's
// commit) that tsetcd's apply must run, in log order, as raw InternalRaftRequest bytes, and
// counts what it leaves out and why. It throws EtcdWalError when the WAL cannot be read or
// does not hold every committed entry after the consistent index, and when an entry is not
// a protobuf message at all (etcd itself would stop there).
//
// Why replaying is right: etcd saves the consistent index only with a transaction that
// changed the key space, so entries after it may already be partly in the db (a lease grant,
// an auth change); at restart etcd re-applies everything after the consistent index all the
// same, and so does this replay. Leaving an entry out is safe for these kinds only:
// - empty: a new leader's no-op; etcd applies nothing for it.
// - conf-change (ConfChange, ConfChangeV2): membership; migration writes a new member list.
// - v2-request (legacy pb.Request, or InternalRaftRequest.v2): the v2 store, which neither a
//   v3 snapshot nor tsetcd carries; in 3.4 this includes the member attribute publish and the
//   cluster version (/0/members, /0/version), both replaced at migration.
// - read-only (range, auth user get, auth role get, auth status): no side effect; etcd skips
//   them too when nobody waits for the answer, and nobody waits during a migration.
// - lease-checkpoint: only lowers a lease's remaining TTL; without it a lease lives at most
//   its full TTL after migration, as after any etcd leader change without checkpoints.
// - authenticate: makes an auth token in memory only; tokens never survive a restart.
// - cluster-metadata (3.5's cluster version, member attributes, downgrade info): describe the
//   old cluster, which migration replaces.
// Any other kind (a request field or entry type not known here) is left out too and counted
// under its own name ("field-N", "entry-type-N"), so the caller can report or refuse it.
import { forEachField, WalProtoError } from './proto.js';
import { EtcdEntryType, EtcdWalError, readEtcdWal, type EtcdEntry, type EtcdHardState, type EtcdWalMetadata, type TornTail } from './reader.js';

/** InternalRaftRequest fields tsetcd's apply runs (etcd 3.4's numbers). */
const APPLIED_FIELDS: ReadonlyMap<number, string> = new Map([
  [4, 'put'],
  [5, 'delete-range'],
  [6, 'txn'],
  [7, 'compaction'],
  [8, 'lease-grant'],
  [9, 'lease-revoke'],
  [10, 'alarm'],
  [1000, 'auth-enable'],
  [1011, 'auth-disable'],
  [1100, 'auth-user-add'],
  [1101, 'auth-user-delete'],
  [1103, 'auth-user-change-password'],
  [1104, 'auth-user-grant-role'],
  [1105, 'auth-user-revoke-role'],
  [1106, 'auth-user-list'],
  [1107, 'auth-role-list'],
  [1200, 'auth-role-add'],
  [1201, 'auth-role-delete'],
  [1203, 'auth-role-grant-permission'],
  [1204, 'auth-role-revoke-permission'],
]);

/** InternalRaftRequest fields left out, by kind (see the header for why each is safe). */
const SKIPPED_FIELDS: ReadonlyMap<number, SkipKind> = new Map([
  [2, 'v2-request'],
  [3, 'read-only'],
  [1102, 'read-only'],
  [1202, 'read-only'],
  [1013, 'read-only'],
  [11, 'lease-checkpoint'],
  [1012, 'authenticate'],
  [1300, 'cluster-metadata'],
  [1301, 'cluster-metadata'],
  [1302, 'cluster-metadata'],
]);

const HEADER_FIELD = 100;
const LEGACY_ID_FIELD = 1;

export type SkipKind =
  | 'empty'
  | 'conf-change'
  | 'v2-request'
  | 'read-only'
  | 'lease-checkpoint'
  | 'authenticate'
  | 'cluster-metadata'
  /** an InternalRaftRequest with no request field, or with several */
  | 'no-single-request'
  | `field-${number}`
  | `entry-type-${number}`;

export const SKIP_REASONS: Readonly<Record<string, string>> = {
  empty: "a leader's no-op entry",
  'conf-change': 'membership change; migration writes a new member list',
  'v2-request': 'v2 store request; v2 data is not migrated',
  'read-only': 'no side effect and nobody waits for the answer',
  'lease-checkpoint': 'only lowers a remaining lease TTL',
  authenticate: 'auth tokens do not survive a restart',
  'cluster-metadata': 'describes the old cluster, which migration replaces',
  'no-single-request': 'not exactly one request in the entry',
};

export interface TailEntry {
  /** the index in the etcd log */
  index: number;
  term: number;
  /** the InternalRaftRequest field the entry carries */
  field: number;
  /** what `field` is, e.g. "put" */
  kind: string;
  /** the InternalRaftRequest, as etcd wrote it */
  data: Buffer;
}

export interface CommittedTail {
  metadata: EtcdWalMetadata;
  hardState: EtcdHardState;
  consistentIndex: number;
  /** the entries to apply, in log order */
  entries: TailEntry[];
  /** left-out entries per kind, in the order first met */
  skipped: Map<SkipKind, number>;
  /** entries in the WAL after the commit index: not known to be committed, not returned */
  uncommitted: number;
  /** set when the last segment ended in a torn record (see readEtcdWal) */
  torn?: TornTail;
}

export type Classified = { apply: true; field: number; kind: string } | { apply: false; kind: SkipKind };

/** Decides whether tsetcd applies an entry, from its type and its InternalRaftRequest's top-level fields. */
export function classifyEntry(e: EtcdEntry): Classified {
  if (e.type === EtcdEntryType.confChange || e.type === EtcdEntryType.confChangeV2) return { apply: false, kind: 'conf-change' };
  if (e.type !== EtcdEntryType.normal) return { apply: false, kind: `entry-type-${e.type}` };
  if (e.data.length === 0) return { apply: false, kind: 'empty' };
  const fields = requestFields(e);
  // a legacy pb.Request always writes its Method as field 2, so it lands here with InternalRaftRequest.v2
  if (fields.includes(2)) return { apply: false, kind: 'v2-request' };
  if (fields.length !== 1) return { apply: false, kind: 'no-single-request' };
  const field = fields[0]!;
  const applied = APPLIED_FIELDS.get(field);
  if (applied !== undefined) return { apply: true, field, kind: applied };
  return { apply: false, kind: SKIPPED_FIELDS.get(field) ?? `field-${field}` };
}

function requestFields(e: EtcdEntry): number[] {
  const fields: number[] = [];
  try {
    forEachField(e.data, 'InternalRaftRequest', (f) => {
      if (f.no !== HEADER_FIELD && f.no !== LEGACY_ID_FIELD && !fields.includes(f.no)) fields.push(f.no);
    });
  } catch (err) {
    if (err instanceof WalProtoError) throw new EtcdWalError(`entry ${e.index} is not an InternalRaftRequest nor a v2 request: ${err.message}`);
    throw err;
  }
  return fields;
}

/** The committed entries after `consistentIndex` that tsetcd should apply; see the header. */
export function committedTail(walDir: string, consistentIndex: number): CommittedTail {
  const wal = readEtcdWal(walDir, { startIndex: consistentIndex });
  const commit = wal.hardState.commit;
  const last = wal.entries.length > 0 ? wal.entries[wal.entries.length - 1]!.index : consistentIndex;
  if (last < commit) {
    throw new EtcdWalError(`the hard state's commit index ${commit} is past the last entry in the WAL (${last})`, walDir);
  }
  const tail: CommittedTail = { metadata: wal.metadata, hardState: wal.hardState, consistentIndex, entries: [], skipped: new Map(), uncommitted: 0, torn: wal.torn };
  for (const e of wal.entries) {
    if (e.index > commit) {
      tail.uncommitted++;
      continue;
    }
    const c = classifyEntry(e);
    if (c.apply) tail.entries.push({ index: e.index, term: e.term, field: c.field, kind: c.kind, data: Buffer.isBuffer(e.data) ? e.data : Buffer.from(e.data) });
    else tail.skipped.set(c.kind, (tail.skipped.get(c.kind) ?? 0) + 1);
  }
  return tail;
}
