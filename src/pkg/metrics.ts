// Prometheus metrics with etcd's names, so existing dashboards and alerts keep working.
// Gauges that mirror member state are read when scraped; events (fsyncs, commits, calls)
// are recorded as they happen.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** What the member reports at scrape time. */
export interface MetricsSource {
  hasLeader(): boolean;
  isLeader(): boolean;
  isLearner(): boolean;
  committedIndex(): number;
  appliedIndex(): number;
  pendingProposals(): number;
  dbSizeBytes(): number;
  dbSizeInUseBytes(): number;
  keysTotal(): number;
  currentRevision(): number;
  compactRevision(): number;
  quotaBackendBytes(): number;
  memberIdHex(): string;
  serverVersion(): string;
  clusterVersion(): string;
  /** mvcc operation counts since start */
  mvccOps(): { ranges: number; puts: number; deletes: number; txns: number; putBytes: number };
}

// etcd's buckets for disk latencies: 1 ms doubling 14 times (up to ~8 s)
const DISK_BUCKETS_SEC = Array.from({ length: 14 }, (_, i) => 0.001 * 2 ** i);
// go-grpc-prometheus's handling-time histogram uses the Prometheus client's default
// buckets (prometheus.DefBuckets), so etcd's Grafana panels read ours unchanged
const GRPC_HANDLING_BUCKETS_SEC = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

type GrpcLabels = 'grpc_type' | 'grpc_service' | 'grpc_method';

/** A call path's metric children, resolved once: label hashing per call costs throughput. */
interface GrpcPathMetrics {
  labels: Record<GrpcLabels, string>;
  started: { inc(): void };
  handled: Map<number, { inc(): void }>;
  handling?: { observe(v: number): void };
}

export class Metrics {
  readonly registry = new Registry();
  readonly walFsyncSeconds: Histogram;
  readonly backendCommitSeconds: Histogram;
  readonly leaderChanges: Counter;
  readonly proposalsFailed: Counter;
  readonly grpcStarted: Counter<'grpc_type' | 'grpc_service' | 'grpc_method'>;
  readonly grpcHandled: Counter<'grpc_type' | 'grpc_service' | 'grpc_method' | 'grpc_code'>;
  /** grpc_server_handling_seconds: only with --metrics=extensive, as etcd */
  private grpcHandling?: Histogram<GrpcLabels>;
  private readonly grpcByPath = new Map<string, GrpcPathMetrics>();

  constructor(source: MetricsSource) {
    const r = this.registry;
    collectDefaultMetrics({ register: r });
    const gauge = (name: string, help: string, read: () => number): void => {
      new Gauge({ name, help, registers: [r], collect() { this.set(read()); } });
    };
    gauge('etcd_server_has_leader', 'Whether this member knows a leader (1) or not (0).', () => (source.hasLeader() ? 1 : 0));
    gauge('etcd_server_is_leader', 'Whether this member is the leader (1) or not (0).', () => (source.isLeader() ? 1 : 0));
    gauge('etcd_server_is_learner', 'Whether this member is a learner (1) or not (0).', () => (source.isLearner() ? 1 : 0));
    gauge('etcd_server_proposals_committed_total', 'Raft index of the last committed entry.', () => source.committedIndex());
    gauge('etcd_server_proposals_applied_total', 'Raft index of the last applied entry.', () => source.appliedIndex());
    gauge('etcd_server_proposals_pending', 'Proposals waiting to be committed.', () => source.pendingProposals());
    gauge('etcd_mvcc_db_total_size_in_bytes', 'Size of the backend database file in bytes.', () => source.dbSizeBytes());
    gauge('etcd_mvcc_db_total_size_in_use_in_bytes', 'Bytes of the backend database in use.', () => source.dbSizeInUseBytes());
    gauge('etcd_debugging_mvcc_keys_total', 'Number of live keys.', () => source.keysTotal());
    gauge('etcd_debugging_mvcc_current_revision', 'The store revision.', () => source.currentRevision());
    gauge('etcd_debugging_mvcc_compact_revision', 'The revision of the last compaction.', () => source.compactRevision());
    gauge('etcd_server_quota_backend_bytes', 'The backend quota in bytes.', () => source.quotaBackendBytes());
    // counters kept by the store; etcd 3.4 also exports each under etcd_debugging_mvcc_
    const counted = (name: string, help: string, read: () => number): void => {
      new Counter({ name, help, registers: [r], collect() { this.reset(); this.inc(read()); } });
    };
    const ops = () => source.mvccOps();
    for (const prefix of ['etcd_mvcc', 'etcd_debugging_mvcc']) {
      counted(`${prefix}_range_total`, 'Total number of ranges seen by this member.', () => ops().ranges);
      counted(`${prefix}_put_total`, 'Total number of puts seen by this member.', () => ops().puts);
      counted(`${prefix}_delete_total`, 'Total number of deletes seen by this member.', () => ops().deletes);
      counted(`${prefix}_txn_total`, 'Total number of txns seen by this member.', () => ops().txns);
    }
    gauge('etcd_debugging_mvcc_total_put_size_in_bytes', 'The total size of put kv pairs seen by this member.', () => ops().putBytes);
    gauge('etcd_debugging_mvcc_db_total_size_in_bytes', 'Size of the backend database file in bytes (debugging name).', () => source.dbSizeBytes());
    new Gauge({
      name: 'etcd_server_id',
      help: 'The member ID, as a label; always 1.',
      labelNames: ['server_id'],
      registers: [r],
      collect() {
        this.reset();
        this.set({ server_id: source.memberIdHex() }, 1);
      },
    });
    new Gauge({
      name: 'etcd_server_version',
      help: 'The etcd API version this member implements, as a label; always 1.',
      labelNames: ['server_version'],
      registers: [r],
      collect() {
        this.reset();
        this.set({ server_version: source.serverVersion() }, 1);
      },
    });
    new Gauge({
      name: 'etcd_cluster_version',
      help: 'The cluster version, as a label; always 1.',
      labelNames: ['cluster_version'],
      registers: [r],
      collect() {
        this.reset();
        this.set({ cluster_version: source.clusterVersion() }, 1);
      },
    });
    this.walFsyncSeconds = new Histogram({
      name: 'etcd_disk_wal_fsync_duration_seconds',
      help: 'Latency of the durable WAL writes (write plus sync).',
      buckets: DISK_BUCKETS_SEC,
      registers: [r],
    });
    this.backendCommitSeconds = new Histogram({
      name: 'etcd_disk_backend_commit_duration_seconds',
      help: 'Latency of the backend batch commits.',
      buckets: DISK_BUCKETS_SEC,
      registers: [r],
    });
    this.leaderChanges = new Counter({ name: 'etcd_server_leader_changes_seen_total', help: 'Leader changes this member has seen.', registers: [r] });
    this.proposalsFailed = new Counter({ name: 'etcd_server_proposals_failed_total', help: 'Proposals that failed.', registers: [r] });
    this.grpcStarted = new Counter({
      name: 'grpc_server_started_total',
      help: 'RPCs started on the server.',
      labelNames: ['grpc_type', 'grpc_service', 'grpc_method'],
      registers: [r],
    });
    this.grpcHandled = new Counter({
      name: 'grpc_server_handled_total',
      help: 'RPCs completed on the server, by status code.',
      labelNames: ['grpc_type', 'grpc_service', 'grpc_method', 'grpc_code'],
      registers: [r],
    });
  }

  /**
   * --metrics=extensive: adds go-grpc-prometheus's handling-time histogram (etcd calls
   * grpc_prometheus.EnableHandlingTimeHistogram for it).
   */
  enableHandlingTimeHistogram(): void {
    if (this.grpcHandling) return;
    this.grpcHandling = new Histogram({
      name: 'grpc_server_handling_seconds',
      help: 'Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.',
      labelNames: ['grpc_type', 'grpc_service', 'grpc_method'],
      buckets: GRPC_HANDLING_BUCKETS_SEC,
      registers: [this.registry],
    });
    this.grpcByPath.clear();
  }

  /** Records one finished gRPC call; `path` is /package.Service/Method, startedAtMs from performance.now(). */
  grpcDone(path: string, code: number, kind: 'unary' | 'stream', startedAtMs?: number): void {
    const m = this.grpcPath(path, kind);
    m.started.inc();
    let handled = m.handled.get(code);
    if (!handled) m.handled.set(code, (handled = this.grpcHandled.labels({ ...m.labels, grpc_code: GRPC_CODE_NAMES[code] ?? 'Unknown' })));
    handled.inc();
    if (m.handling && startedAtMs !== undefined) m.handling.observe((performance.now() - startedAtMs) / 1000);
  }

  private grpcPath(path: string, kind: 'unary' | 'stream'): GrpcPathMetrics {
    const key = kind + path;
    let m = this.grpcByPath.get(key);
    if (m) return m;
    const slash = path.lastIndexOf('/');
    const labels = { grpc_type: kind === 'unary' ? 'unary' : 'bidi_stream', grpc_service: path.slice(1, slash), grpc_method: path.slice(slash + 1) };
    m = { labels, started: this.grpcStarted.labels(labels), handled: new Map(), handling: this.grpcHandling?.labels(labels) };
    // paths come from routes, but a client can send any path: unknown ones share no cache slot
    if (this.grpcByPath.size < MAX_CACHED_GRPC_PATHS) this.grpcByPath.set(key, m);
    return m;
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/** more than the client API's methods (about 60), fewer than a path-scanning client could make */
const MAX_CACHED_GRPC_PATHS = 256;

const GRPC_CODE_NAMES = [
  'OK',
  'Canceled',
  'Unknown',
  'InvalidArgument',
  'DeadlineExceeded',
  'NotFound',
  'AlreadyExists',
  'PermissionDenied',
  'ResourceExhausted',
  'FailedPrecondition',
  'Aborted',
  'OutOfRange',
  'Unimplemented',
  'Internal',
  'Unavailable',
  'DataLoss',
  'Unauthenticated',
];
