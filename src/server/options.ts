// The member's configuration (what tsetcd's flags become) and the versions it reports.
import type { Logger } from '../pkg/logger.js';
import type { Clock } from '../pkg/clock.js';
import type { PeerTlsOptions } from '../peer/dialer.js';
import type { AutoCompactionSettings } from './compactor.js';
import type { LeaseCheckpointOptions } from './lease-checkpoint.js';
import type { RaftConnTimeouts } from '../peer/link-deadlines.js';

/** --auto-compaction-mode and --auto-compaction-retention */
export type AutoCompactionOptions = AutoCompactionSettings;

export interface ServerOptions {
  name: string;
  dataDir: string;
  /** defaults to <dataDir>/member/wal */
  walDir?: string;
  initialCluster: Map<string, string[]>;
  initialClusterState: 'new' | 'existing';
  initialClusterToken: string;
  advertiseClientUrls: string[];
  maxRequestBytes: number;
  maxTxnOps: number;
  heartbeatIntervalMs: number;
  electionTimeoutMs: number;
  preVote?: boolean;
  strictReconfigCheck?: boolean;
  /** --initial-election-tick-advance (default true) */
  initialElectionTickAdvance?: boolean;
  /** --force-new-cluster: on restart, become the only member of the cluster (keeping the data) */
  forceNewCluster?: boolean;
  /** --auth-token, --bcrypt-cost, --auth-token-ttl; clientCertAuth: the client certificate CN may identify a user */
  auth?: { token: string; bcryptCost: number; tokenTtlSec: number; clientCertAuth: boolean };
  /** TLS for dialing peers (https peer URLs) */
  peerTls?: PeerTlsOptions;
  quotaBackendBytes: number;
  snapshotCount: number;
  maxSnapshots: number;
  maxWals: number;
  autoCompaction?: AutoCompactionOptions;
  logger: Logger;
  /** called when the member cannot go on safely (a failed fsync); default: log and exit(1) */
  onFatal?: (err: Error) => void;
  /** called when this member's own removal from the cluster is applied */
  onRemoved?: () => void;
  /** --experimental-initial-corrupt-check: a restarting member compares its hash with its peers' before it runs */
  initialCorruptCheck?: boolean;
  /** --experimental-corrupt-check-time: the leader compares hashes with every member this often (0: never) */
  corruptCheckTimeMs?: number;
  /** --backend-batch-interval / --backend-batch-limit (0 or absent: etcd's 100 ms / 10,000) */
  backendBatchIntervalMs?: number;
  backendBatchLimit?: number;
  /** --unsafe-no-fsync: the WAL is never synced */
  unsafeNoFsync?: boolean;
  /** --experimental-compaction-batch-limit (0 or absent: 1000) */
  compactionBatchLimit?: number;
  /** --experimental-max-learners (default 1) */
  maxLearners?: number;
  /** --experimental-snapshot-catchup-entries (default 5000) */
  snapshotCatchUpEntries?: number;
  /** --experimental-warning-apply-duration: applying one entry longer than this is logged (default 100 ms) */
  warningApplyDurationMs?: number;
  /** --experimental-bootstrap-defrag-threshold-megabytes: defragment at start when that much would be freed (0: never) */
  bootstrapDefragThresholdMb?: number;
  /** --experimental-enable-lease-checkpoint (+ -persist, tsetcd's --experimental-lease-checkpoint-interval) */
  leaseCheckpoint?: LeaseCheckpointOptions;
  /** --experimental-compact-hash-check-enabled with --experimental-compact-hash-check-time */
  compactHashCheck?: { intervalMs: number };
  /** --raft-read-timeout / --raft-write-timeout on peer streams (default 5 s each) */
  raftConnTimeouts?: RaftConnTimeouts;
  /** time, timers and randomness for everything the member runs (default: the system's) */
  clock?: Clock;
}

/** version this member reports: the etcd API level it implements */
export const SERVER_VERSION = '3.5.0';
export const CLUSTER_VERSION = '3.5.0';

/**
 * The shortest lease TTL, as etcd computes it: one and a half election timeouts, in
 * whole seconds (2 s with the default 100 ms heartbeat and 1 s election timeout).
 */
export function minLeaseTtlSec(opts: { heartbeatIntervalMs: number; electionTimeoutMs: number }): number {
  const electionTicks = Math.floor(opts.electionTimeoutMs / opts.heartbeatIntervalMs);
  return Math.ceil((Math.floor((3 * electionTicks) / 2) * opts.heartbeatIntervalMs) / 1000);
}
