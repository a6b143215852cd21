// What the API layer (src/api) may ask of the member, one interface per service, as
// etcd's v3rpc takes its server through narrow interfaces (RaftKV, Lessor, Authenticator,
// Cluster, Maintenance). EtcdServer implements them all; a handler sees only its own, so
// nothing in src/api reaches into the member's parts (auth store, cluster, transport).
import type { Socket } from 'node:net';
import type { AuthFieldNumber, AuthInfo } from '../auth/index.js';
import type { BackendView } from '../backend/backend.js';
import type { Change } from '../mvcc/store.js';
import type { Metrics } from '../pkg/metrics.js';
import type {
  AlarmMember,
  AlarmRequest,
  AlarmResponse,
  CompactionRequest,
  CompactionResponse,
  DeleteRangeRequest,
  DeleteRangeResponse,
  HashKVResponse,
  HashResponse,
  LeaseGrantRequest,
  LeaseGrantResponse,
  LeaseLeasesResponse,
  LeaseRevokeRequest,
  LeaseRevokeResponse,
  LeaseTimeToLiveResponse,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  ResponseHeader,
  TxnRequest,
  TxnResponse,
} from '../proto/etcdserverpb.js';
import type { EtcdExportContext } from '../snapshot/etcd-schema.js';
import type { WatchableStore } from '../watch/watchable-store.js';
import type { Member } from './membership.js';

/** Every response carries the member's header. */
export interface HeaderPort {
  header(revision: number): ResponseHeader;
  /** the store's current revision */
  readonly revision: number;
}

export interface KvPort extends HeaderPort {
  range(r: RangeRequest, caller?: AuthInfo): Promise<RangeResponse>;
  put(r: PutRequest, raw: Uint8Array, caller?: AuthInfo): Promise<PutResponse>;
  deleteRange(r: DeleteRangeRequest, raw: Uint8Array, caller?: AuthInfo): Promise<DeleteRangeResponse>;
  txn(r: TxnRequest, raw: Uint8Array, caller?: AuthInfo): Promise<TxnResponse>;
  compact(r: CompactionRequest, raw: Uint8Array, caller?: AuthInfo): Promise<CompactionResponse>;
  /** called with every applied write's changes; returns the unsubscribe function */
  subscribeChanges(listener: (changes: Change[], rev: number) => void): () => void;
  readonly maxTxnOps: number;
}

export interface LeasePort extends HeaderPort {
  leaseGrant(r: LeaseGrantRequest, raw: Uint8Array, caller?: AuthInfo): Promise<LeaseGrantResponse>;
  leaseRevoke(r: LeaseRevokeRequest, raw: Uint8Array, caller?: AuthInfo): Promise<LeaseRevokeResponse>;
  /** a keep-alive: the TTL granted again, 0 when the lease does not exist */
  leaseRenew(id: bigint): Promise<number>;
  leaseTimeToLive(id: bigint, withKeys: boolean): Promise<LeaseTimeToLiveResponse>;
  leaseLeases(): LeaseLeasesResponse;
}

/** Who is calling and what they may do; auth requests go through the log. */
export interface AuthPort extends HeaderPort {
  readonly authEnabled: boolean;
  readonly authRevision: number;
  authInfo(token: string | undefined, certCommonName?: string): AuthInfo | undefined;
  checkAdmin(caller: AuthInfo | undefined): void;
  checkWatch(caller: AuthInfo | undefined, key: Uint8Array, rangeEnd: Uint8Array): void;
  /** refuses early what apply would refuse for lack of rights */
  checkAuthAccess(field: AuthFieldNumber, request: unknown, caller: AuthInfo | undefined): void;
  /** the work done once before proposing (bcrypt hashing, the password check) */
  prepareAuth(field: AuthFieldNumber, request: unknown): Promise<unknown>;
  /** proposes a prepared auth request; resolves with apply's response, header filled */
  proposeAuth(field: number, request: unknown, caller: AuthInfo | undefined): Promise<unknown>;
  /** resolves once this member applied everything committed before the call */
  linearizableReadBarrier(): Promise<void>;
}

export interface ClusterPort {
  header(revision: number): ResponseHeader;
  readonly clusterId: bigint;
  members(): Member[];
  addMember(peerURLs: string[], isLearner: boolean): Promise<{ member: Member; members: Member[] }>;
  removeMember(id: bigint): Promise<Member[]>;
  updateMember(id: bigint, peerURLs: string[]): Promise<Member[]>;
  promoteMember(id: bigint): Promise<Member[]>;
  linearizableReadBarrier(): Promise<void>;
}

export interface MaintenancePort extends HeaderPort {
  readonly leaderId: bigint;
  readonly raftIndex: number;
  readonly raftTerm: number;
  readonly raftAppliedIndex: number;
  readonly isLearner: boolean;
  dbSizeBytes(): number;
  dbSizeInUseBytes(): number;
  /** the alarms raised (of every type) */
  alarmList(): AlarmMember[];
  alarm(r: AlarmRequest, raw: Uint8Array): Promise<AlarmResponse>;
  hash(): HashResponse;
  hashKV(revision: number): HashKVResponse;
  defragment(): Promise<void>;
  /** told when a defragmentation starts (true) and ends (false); returns the unsubscribe function */
  onDefrag(listener: (active: boolean) => void): () => void;
  snapshotView(): { view: BackendView; revision: number; ctx: EtcdExportContext };
  /** hands leadership to `target`; resolves once it leads */
  moveLeader(target: bigint): Promise<void>;
}

export interface WatchPort extends HeaderPort {
  readonly watchable: WatchableStore;
  readonly maxRequestBytes: number;
}

/** The client API's whole view of the member. */
export interface ClientPorts extends KvPort, LeasePort, AuthPort, ClusterPort, MaintenancePort, WatchPort {
  readonly metrics: Metrics;
}

/** What the peer listener serves from the member. */
export interface PeerPort extends HeaderPort {
  readonly clusterId: bigint;
  readonly isLeader: boolean;
  members(): Member[];
  /** the leader's side of a follower's forwarded keep-alive */
  renewLocally(id: bigint): number;
  timeToLiveLocally(id: bigint, withKeys: boolean): LeaseTimeToLiveResponse;
  promoteMember(id: bigint): Promise<Member[]>;
  hashKV(revision: number): HashKVResponse;
  /** a raft or snapshot stream from a peer, after its preface was read */
  acceptPeerStream(socket: Socket, head: Buffer): void;
}
