// The proxy's own Prometheus metrics (served on /proxy/metrics, as etcd 3.5 serves them;
// /metrics is the cluster's): etcd's grpc-proxy names for the cache and watch coalescing,
// the gRPC server counters, and one name of ours for what coalescing saves.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

const GRPC_CODE_NAMES = ['OK', 'Canceled', 'Unknown', 'InvalidArgument', 'DeadlineExceeded', 'NotFound', 'AlreadyExists', 'PermissionDenied', 'ResourceExhausted', 'FailedPrecondition', 'Aborted', 'OutOfRange', 'Unimplemented', 'Internal', 'Unavailable', 'DataLoss', 'Unauthenticated'];

export class ProxyMetrics {
  readonly registry = new Registry();
  /** etcd: receivers sharing another receiver's upstream watch */
  readonly watchersCoalescing: Gauge;
  readonly eventsCoalescing: Counter;
  readonly cacheKeys: Gauge;
  readonly cacheHits: Gauge;
  readonly cacheMisses: Gauge;
  /** ours: upstream watches open now (one per group of coalesced client watches) */
  readonly upstreamWatches: Gauge;
  /** ours: client watches open now */
  readonly clientWatches: Gauge;
  private readonly grpcStarted: Counter<'grpc_type' | 'grpc_service' | 'grpc_method'>;
  private readonly grpcHandled: Counter<'grpc_type' | 'grpc_service' | 'grpc_method' | 'grpc_code'>;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    // etcd declares the hit and miss counts as gauges; the types are kept for dashboards
    this.watchersCoalescing = new Gauge({ name: 'etcd_grpc_proxy_watchers_coalescing_total', help: 'Total number of current watchers coalescing', registers });
    this.eventsCoalescing = new Counter({ name: 'etcd_grpc_proxy_events_coalescing_total', help: 'Total number of events coalescing', registers });
    this.cacheKeys = new Gauge({ name: 'etcd_grpc_proxy_cache_keys_total', help: 'Total number of keys/ranges cached', registers });
    this.cacheHits = new Gauge({ name: 'etcd_grpc_proxy_cache_hits_total', help: 'Total number of cache hits', registers });
    this.cacheMisses = new Gauge({ name: 'etcd_grpc_proxy_cache_misses_total', help: 'Total number of cache misses', registers });
    this.upstreamWatches = new Gauge({ name: 'tsetcd_grpc_proxy_upstream_watches', help: 'Watches the proxy holds open on the cluster', registers });
    this.clientWatches = new Gauge({ name: 'tsetcd_grpc_proxy_client_watches', help: 'Watches clients hold open on the proxy', registers });
    this.grpcStarted = new Counter({ name: 'grpc_server_started_total', help: 'RPCs started on the server.', labelNames: ['grpc_type', 'grpc_service', 'grpc_method'], registers });
    this.grpcHandled = new Counter({
      name: 'grpc_server_handled_total',
      help: 'RPCs completed on the server, by status code.',
      labelNames: ['grpc_type', 'grpc_service', 'grpc_method', 'grpc_code'],
      registers,
    });
  }

  grpcDone(path: string, code: number, kind: 'unary' | 'stream'): void {
    const slash = path.lastIndexOf('/');
    const labels = { grpc_type: kind === 'unary' ? 'unary' : 'bidi_stream', grpc_service: path.slice(1, slash), grpc_method: path.slice(slash + 1) };
    this.grpcStarted.inc(labels);
    this.grpcHandled.inc({ ...labels, grpc_code: GRPC_CODE_NAMES[code] ?? 'Unknown' });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
