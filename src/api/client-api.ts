// Serves the client API of one member on every --listen-client-urls address: the gRPC
// services and, on the same port, the HTTP endpoints.
import { AlarmType, LeaseKeepAliveRequest, LeaseKeepAliveResponse, RangeRequest, WatchRequest, WatchResponse } from '../proto/etcdserverpb.js';
import { LeaderRequest, LeaderResponse } from '../proto/v3electionpb.js';
import type { GatewayStream } from './gateway-stream.js';
import { CLUSTER_VERSION, SERVER_VERSION } from '../server/options.js';
import type { ClientPorts } from '../server/ports.js';
import type { Logger } from '../pkg/logger.js';
import { GrpcRouter } from './grpc/server.js';
import { toGrpcError } from './errors.js';
import { createHttpHandler, type HealthStatus } from './http.js';
import http from 'node:http';
import { HTTP2_SETTINGS, listenCleartext, listenTls, type ClientListener, type ClientListenerHandlers, type HttpHandler, type ListenHost } from './listener.js';
import { listenAddress } from './peer-api.js';
import { StreamSlots } from './stream-slots.js';
import { withAccessControl, type AccessRules } from './access-control.js';
import { registerHealthService, ServingStatus } from './health-service.js';
import { HealthCheckResponse_ServingStatus as HealthStatusCode } from '../proto/grpc_health_v1.js';
import { RefusalLog, secureContextOptions, watchTlsFiles, type TlsFiles } from '../pki/tls-context.js';
import type { H2ServerStream } from './h2/index.js';
import { registerUnary, type AnyUnaryMethod, type Codec } from './method.js';
import { kvMethods } from './kv-service.js';
import { clusterMethods } from './cluster-service.js';
import { maintenanceMethods, registerMaintenanceStreams } from './maintenance-service.js';
import { leaseMethods, registerLeaseStreams } from './lease-service.js';
import { coordinationMethods, registerCoordinationStreams } from './coordination-service.js';
import { registerWatchService } from './watch-service.js';
import { authMethods } from './auth-service.js';
import { callerOf } from './identity.js';
import { createPprofHandler, PPROF_PREFIX } from './pprof.js';

/** gRPC accepts this much more than --max-request-bytes, so the server can answer "request is too large" itself. */
const GRPC_OVERHEAD_BYTES = 512 * 1024;
const HEALTH_TIMEOUT_MS = 5000;

export interface ClientApi {
  close(): Promise<void>;
  /** what the client listeners serve, for the peer listener to serve too */
  readonly handlers: ClientListenerHandlers;
}

/** etcd's floor for --experimental-watch-progress-notify-interval */
const MIN_PROGRESS_NOTIFY_INTERVAL_MS = 100;

export interface ClientApiOptions {
  /** --experimental-watch-progress-notify-interval; 0 or absent: etcd's 10 minutes */
  progressNotifyIntervalMs?: number;
  /** --enable-pprof: serve /debug/pprof/* */
  enablePprof?: boolean;
  /** --max-concurrent-streams; absent or etcd's default (2^32-1): the listener's own bound */
  maxConcurrentStreams?: number;
  /** --enable-grpc-gateway=false: no JSON gateway under /v3/ */
  enableGrpcGateway?: boolean;
  /** --socket-reuse-port (the caller checked the runtime can) */
  reusePort?: boolean;
  /** --listen-client-http-urls: serve HTTP (gateway, /health, /metrics...) only there */
  listenClientHttpUrls?: URL[];
  /** --client-cert-allowed-hostname */
  allowedHostname?: string;
  /** --experimental-stop-grpc-service-on-defrag: gRPC health says NOT_SERVING while defragmenting */
  stopGrpcServiceOnDefrag?: boolean;
  /** --cors / --host-whitelist (absent: allow all, etcd's defaults) */
  access?: AccessRules;
  /** --grpc-keepalive-min-time / -interval / -timeout in ms (absent: not enforced, no server pings) */
  keepalive?: { minTimeMs: number; intervalMs: number; timeoutMs: number };
}

/** etcd's default --max-concurrent-streams: no limit */
const UNLIMITED_STREAMS = 0xffffffff;

/** The client API's handlers: the gRPC router and the unary methods the JSON gateway also serves. */
export interface ClientServices {
  router: GrpcRouter;
  methods: AnyUnaryMethod[];
}

/**
 * Builds the client services once per listener set; the dashboard builds its own over the
 * same member (without a logger or options: etcd's defaults, no defrag listener).
 */
export function clientServices(server: ClientPorts, logger?: Logger, options: ClientApiOptions = {}): ClientServices {
  const router = new GrpcRouter({
    maxReceiveMessageBytes: server.maxRequestBytes + GRPC_OVERHEAD_BYTES,
    onCallDone: (path, code, kind, startedAtMs) => server.metrics.grpcDone(path, code, kind, startedAtMs),
    toStatus: toGrpcError,
  });
  const methods: AnyUnaryMethod[] = [
    ...kvMethods(server),
    ...clusterMethods(server),
    ...maintenanceMethods(server),
    ...leaseMethods(server),
    ...coordinationMethods(server),
    ...authMethods(server),
  ];
  registerUnary(router, methods);
  const serving = new ServingStatus();
  registerHealthService(router, serving);
  if (options.stopGrpcServiceOnDefrag) {
    if (logger) server.onDefrag((active) => serving.set(active ? HealthStatusCode.NOT_SERVING : HealthStatusCode.SERVING, logger, active ? 'defrag is active' : undefined));
  }
  registerLeaseStreams(router, server);
  registerMaintenanceStreams(router, server);
  registerCoordinationStreams(router, server);
  let progressNotifyIntervalMs = options.progressNotifyIntervalMs ?? 0;
  if (progressNotifyIntervalMs > 0 && progressNotifyIntervalMs < MIN_PROGRESS_NOTIFY_INTERVAL_MS) {
    logger?.warn('adjusting watch progress notify interval to minimum period', { 'min-watch-progress-notify-interval': `${MIN_PROGRESS_NOTIFY_INTERVAL_MS}ms` });
    progressNotifyIntervalMs = MIN_PROGRESS_NOTIFY_INTERVAL_MS;
  }
  registerWatchService(router, server, server.watchable, {
    ...(progressNotifyIntervalMs > 0 ? { progressNotifyIntervalMs } : {}),
    authorize: (ctx, key, rangeEnd) => {
      if (server.authEnabled) server.checkWatch(callerOf(server, ctx), key, rangeEnd);
    },
  });
  return { router, methods };
}

export async function serveClientApi(server: ClientPorts, urls: URL[], logger: Logger, tlsFiles?: TlsFiles, options: ClientApiOptions = {}): Promise<ClientApi> {
  const { router, methods } = clientServices(server, logger, options);
  const maxStreams = options.maxConcurrentStreams ?? UNLIMITED_STREAMS;
  const limited = maxStreams !== UNLIMITED_STREAMS;
  const httpHandler = createHttpHandler({
    version: () => ({ etcdserver: SERVER_VERSION, etcdcluster: CLUSTER_VERSION }),
    health: (query) => checkHealth(server, query),
    extraRoutes: new Map([['/metrics', metricsRoute(server)]]),
    gatewayMethods: options.enableGrpcGateway === false ? [] : methods,
    gatewayStreams: options.enableGrpcGateway === false ? [] : gatewayStreams(router),
    maxRequestBytes: server.maxRequestBytes,
    ...(limited ? { gatewaySlots: new StreamSlots(maxStreams) } : {}),
  });
  const pprof = options.enablePprof ? await createPprofHandler() : undefined;
  if (pprof) logger.info('pprof is enabled', { path: PPROF_PREFIX });
  const onHttpRequest: HttpHandler = pprof
    ? (req, res) => ((req.url ?? '/').startsWith(PPROF_PREFIX) ? pprof(req, res) : httpHandler(req, res))
    : httpHandler;
  const listeners: ClientListener[] = [];
  const stopWatching: Array<() => void> = [];
  const handlers: ClientListenerHandlers = {
    onGrpcStream: (stream: H2ServerStream) => router.handle(stream),
    onHttpRequest,
    http2Settings: {
      ...HTTP2_SETTINGS,
      ...(limited ? { maxConcurrentStreams: maxStreams } : {}),
      ...(options.keepalive
        ? { keepaliveMinTimeMs: options.keepalive.minTimeMs, keepaliveIntervalMs: options.keepalive.intervalMs, keepaliveTimeoutMs: options.keepalive.timeoutMs }
        : {}),
    },
    ...(options.reusePort ? { reusePort: true } : {}),
  };
  // --listen-client-http-urls: HTTP moves there, and the client URLs keep only gRPC
  const httpUrls = options.listenClientHttpUrls ?? [];
  const grpcOnly: ClientListenerHandlers = { ...handlers, onHttpRequest: refuseHttp };
  const httpOnly: ClientListenerHandlers = { ...handlers, onGrpcStream: refuseGrpc };
  const served = [
    ...urls.map((url) => ({ url, base: httpUrls.length > 0 ? grpcOnly : handlers })),
    ...httpUrls.map((url) => ({ url, base: httpOnly })),
  ];
  try {
    for (const { url, base } of served) {
      const where = listenAddress(url, 2379);
      const host: ListenHost = 'path' in where ? { path: where.path } : where.host;
      const port = 'path' in where ? 0 : where.port;
      const address = 'path' in where ? where.path : `${where.host}:${where.port}`;
      const secure = url.protocol === 'https:' || url.protocol === 'unixs:';
      const listenerHandlers: ClientListenerHandlers = options.access
        ? { ...base, onHttpRequest: withAccessControl(base.onHttpRequest, options.access, secure, logger) }
        : base;
      if (secure) {
        if (!tlsFiles || !tlsFiles.certFile || !tlsFiles.keyFile) {
          throw new Error(`TLS key/cert (--cert-file, --key-file) must be provided for client url ${url.href.replace(/\/$/, '')} with HTTPS scheme`);
        }
        const files = tlsFiles;
        const refusals = new RefusalLog((msg, fields) => logger.warn(msg, fields));
        const listener = await listenTls(host, port, listenerHandlers, {
          secureContext: secureContextOptions(files, ''),
          requestClientCert: files.clientCertAuth,
          ...(files.crlFile ? { crlFile: files.crlFile } : {}),
          ...(options.allowedHostname ? { allowedHostname: options.allowedHostname } : {}),
          onRefused: (remoteAddr, reason) => refusals.refused('rejected a client TLS handshake', remoteAddr, reason),
        });
        stopWatching.push(
          watchTlsFiles(
            files,
            '',
            (ctx) => {
              listener.reload(ctx);
              logger.info('reloaded client TLS certificates', { address });
            },
            (err) => logger.warn('kept the previous client TLS certificates', { error: err.message }),
          ),
        );
        listeners.push(listener);
        logger.info('serving client traffic securely', { address, 'client-cert-auth': files.clientCertAuth });
      } else if (url.protocol === 'http:' || url.protocol === 'unix:') {
        listeners.push(await listenCleartext(host, port, listenerHandlers));
        logger.info('serving client traffic insecurely; this is strongly discouraged!', { address });
      } else {
        throw new Error(`client URL ${url.href}: unsupported scheme`);
      }
    }
  } catch (err) {
    for (const stop of stopWatching) stop();
    await Promise.all(listeners.map((l) => l.close()));
    await pprof?.close();
    throw err;
  }
  return {
    handlers,
    close: async () => {
      for (const stop of stopWatching) stop();
      await Promise.all(listeners.map((l) => l.close()));
      await pprof?.close();
    },
  };
}


/** HTTP on a client URL that serves only gRPC (--listen-client-http-urls is set). */
const refuseHttp: HttpHandler = (_req, res) => {
  const body = 'this client URL serves gRPC only; HTTP is served on --listen-client-http-urls\n';
  res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
};

/** gRPC on a --listen-client-http-urls URL: a plain HTTP 404, as etcd's HTTP-only server gives. */
function refuseGrpc(stream: H2ServerStream): void {
  stream.onData = () => {};
  stream.respond({ ':status': 404, 'content-type': 'text/plain; charset=utf-8' }, true);
}

/** The streaming calls etcd's gateway serves, bridged to the same gRPC handlers. */
function gatewayStreams(router: GrpcRouter): GatewayStream[] {
  const table: Array<[string, string, Codec<unknown>, Codec<unknown>]> = [
    ['/watch', '/etcdserverpb.Watch/Watch', WatchRequest as Codec<unknown>, WatchResponse as Codec<unknown>],
    ['/lease/keepalive', '/etcdserverpb.Lease/LeaseKeepAlive', LeaseKeepAliveRequest as Codec<unknown>, LeaseKeepAliveResponse as Codec<unknown>],
    ['/election/observe', '/v3electionpb.Election/Observe', LeaderRequest as Codec<unknown>, LeaderResponse as Codec<unknown>],
  ];
  const out: GatewayStream[] = [];
  for (const [gatewayPath, grpcPath, request, response] of table) {
    const handler = router.streamHandler(grpcPath);
    if (handler) out.push({ gatewayPath, grpcPath, request, response, handler });
  }
  return out;
}

function metricsRoute(server: Pick<ClientPorts, 'metrics'>): HttpHandler {
  return (_req, res) => {
    server.metrics.text().then(
      (text) => {
        res.writeHead(200, { 'Content-Type': server.metrics.contentType, 'Content-Length': Buffer.byteLength(text) });
        res.end(text);
      },
      (err: Error) => {
        res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end(`metrics: ${err.message}\n`);
      },
    );
  };
}

/**
 * --listen-metrics-urls: a plain HTTP port with /metrics, /health, /livez and /readyz only,
 * so monitoring and Kubernetes probes need no client credentials.
 */
export async function serveMetricsApi(server: ClientPorts, urls: URL[], logger: Logger): Promise<Pick<ClientApi, 'close'>> {
  const metrics = metricsRoute(server);
  const handler: HttpHandler = (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') return metrics(req, res);
    if (path === '/health' || path === '/livez' || path === '/readyz') {
      void checkHealth(server, new URLSearchParams((req.url ?? '').split('?')[1] ?? '')).then((h) => {
        const body = path === '/health' ? JSON.stringify({ health: String(h.health), reason: h.reason }) : h.health ? 'ok\n' : `not ok: ${h.reason}\n`;
        res.writeHead(h.health ? 200 : 503, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
        res.end(body);
      });
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end('404 page not found\n');
  };
  const servers: http.Server[] = [];
  try {
    for (const url of urls) {
      if (url.protocol !== 'http:') throw new Error(`metrics URL ${url.href}: only http is served by this build`);
      const s = http.createServer((req, res) => handler(req, res));
      const host = url.hostname.replace(/^\[|\]$/g, '');
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen({ host, port: Number(url.port) }, () => resolve());
      });
      servers.push(s);
      logger.info('serving metrics', { address: `${host}:${url.port}` });
    }
  } catch (err) {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    throw err;
  }
  return {
    close: async () => {
      await Promise.all(
        servers.map(
          (s) =>
            new Promise<void>((resolve) => {
              s.close(() => resolve());
              s.closeAllConnections();
            }),
        ),
      );
    },
  };
}

const AUTH_REFUSAL = /user name is empty|permission denied/;

/**
 * etcd 3.5's /health: false with "ALARM <NAME>" while an alarm not named by ?exclude= is
 * raised, "RAFT NO LEADER" without a leader, "RANGE ERROR" when a read fails (a
 * linearizable read unless ?serializable=true).
 */
async function checkHealth(server: ClientPorts, query: URLSearchParams): Promise<HealthStatus> {
  const excluded = new Set(query.getAll('exclude'));
  for (const a of server.alarmList()) {
    const name = AlarmType[a.alarm] ?? 'UNKNOWN';
    if (!excluded.has(name)) return { health: false, reason: `ALARM ${name}` };
  }
  if (server.leaderId === 0n) return { health: false, reason: 'RAFT NO LEADER' };
  const serializable = query.get('serializable') === 'true';
  const timeout = new Promise<HealthStatus>((resolve) =>
    setTimeout(() => resolve({ health: false, reason: 'RANGE ERROR' }), HEALTH_TIMEOUT_MS).unref(),
  );
  const read = server
    .range(RangeRequest.create({ key: Buffer.from('health'), keys_only: true, limit: 1, serializable }))
    .then(
      () => ({ health: true, reason: '' }),
      // with auth on, the anonymous read is refused, which still proves the member serves
      // reads (etcd counts ErrUserEmpty and ErrPermissionDenied as healthy too)
      (err: unknown) => (AUTH_REFUSAL.test(String((err as Error)?.message)) ? { health: true, reason: '' } : { health: false, reason: 'RANGE ERROR' }),
    );
  return Promise.race([read, timeout]);
}
