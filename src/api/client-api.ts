// Serves the client API of one member on every --listen-client-urls address: the gRPC
// services and, on the same port, the HTTP endpoints.
import { LeaseKeepAliveRequest, LeaseKeepAliveResponse, RangeRequest, WatchRequest, WatchResponse } from '../proto/etcdserverpb.js';
import { LeaderRequest, LeaderResponse } from '../proto/v3electionpb.js';
import type { GatewayStream } from './gateway-stream.js';
import { CLUSTER_VERSION, SERVER_VERSION, type EtcdServer } from '../server/server.js';
import type { Logger } from '../pkg/logger.js';
import { GrpcRouter } from './grpc/server.js';
import { createHttpHandler, type HealthStatus } from './http.js';
import http from 'node:http';
import { listenCleartext, listenTls, type ClientListener, type HttpHandler } from './listener.js';
import { RefusalLog, secureContextOptions, watchTlsFiles, type TlsFiles } from './tls-context.js';
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

/** gRPC accepts this much more than --max-request-bytes, so the server can answer "request is too large" itself. */
const GRPC_OVERHEAD_BYTES = 512 * 1024;
const HEALTH_TIMEOUT_MS = 5000;

export interface ClientApi {
  close(): Promise<void>;
}

export async function serveClientApi(server: EtcdServer, urls: URL[], logger: Logger, tlsFiles?: TlsFiles): Promise<ClientApi> {
  const router = new GrpcRouter({
    maxReceiveMessageBytes: server.maxRequestBytes + GRPC_OVERHEAD_BYTES,
    onCallDone: (path, code, kind) => server.metrics.grpcDone(path, code, kind),
  });
  const methods: AnyUnaryMethod[] = [
    ...kvMethods(server),
    ...clusterMethods(server),
    ...maintenanceMethods(server),
    ...leaseMethods(server),
    ...coordinationMethods(server),
    ...authMethods({
      auth: server.auth,
      proposeAuth: (field, request, caller) => server.proposeAuth(field, request, caller),
      header: (rev) => server.header(rev),
      get revision() {
        return server.revision;
      },
      linearizableRead: () => server.linearizableReadBarrier(),
    }),
  ];
  registerUnary(router, methods);
  registerLeaseStreams(router, server);
  registerMaintenanceStreams(router, server);
  registerCoordinationStreams(router, server);
  registerWatchService(router, server, server.watchable, {
    authorize: (ctx, key, rangeEnd) => {
      if (server.auth.enabled) server.auth.checkWatch(callerOf(server, ctx), key, rangeEnd);
    },
  });
  const httpHandler = createHttpHandler({
    version: () => ({ etcdserver: SERVER_VERSION, etcdcluster: CLUSTER_VERSION }),
    health: () => checkHealth(server),
    extraRoutes: new Map([['/metrics', metricsRoute(server)]]),
    gatewayMethods: methods,
    gatewayStreams: gatewayStreams(router),
    maxRequestBytes: server.maxRequestBytes,
  });
  const listeners: ClientListener[] = [];
  const stopWatching: Array<() => void> = [];
  const handlers = { onGrpcStream: (stream: H2ServerStream) => router.handle(stream), onHttpRequest: httpHandler };
  try {
    for (const url of urls) {
      const host = url.hostname.replace(/^\[|\]$/g, '');
      const port = Number(url.port || 2379);
      if (url.protocol === 'https:') {
        if (!tlsFiles || !tlsFiles.certFile || !tlsFiles.keyFile) {
          throw new Error(`TLS key/cert (--cert-file, --key-file) must be provided for client url ${url.href.replace(/\/$/, '')} with HTTPS scheme`);
        }
        const files = tlsFiles;
        const refusals = new RefusalLog((msg, fields) => logger.warn(msg, fields));
        const listener = await listenTls(host, port, handlers, {
          secureContext: secureContextOptions(files, ''),
          requestClientCert: files.clientCertAuth,
          onRefused: (remoteAddr, reason) => refusals.refused('rejected a client TLS handshake', remoteAddr, reason),
        });
        stopWatching.push(
          watchTlsFiles(
            files,
            '',
            (ctx) => {
              listener.reload(ctx);
              logger.info('reloaded client TLS certificates', { address: `${host}:${port}` });
            },
            (err) => logger.warn('kept the previous client TLS certificates', { error: err.message }),
          ),
        );
        listeners.push(listener);
        logger.info('serving client traffic securely', { address: `${host}:${port}`, 'client-cert-auth': files.clientCertAuth });
      } else if (url.protocol === 'http:') {
        listeners.push(await listenCleartext(host, port, handlers));
        logger.info('serving client traffic insecurely; this is strongly discouraged!', { address: `${host}:${port}` });
      } else {
        throw new Error(`client URL ${url.href}: unix sockets are not served by this build`);
      }
    }
  } catch (err) {
    for (const stop of stopWatching) stop();
    await Promise.all(listeners.map((l) => l.close()));
    throw err;
  }
  return {
    close: async () => {
      for (const stop of stopWatching) stop();
      await Promise.all(listeners.map((l) => l.close()));
    },
  };
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

function metricsRoute(server: EtcdServer): HttpHandler {
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
 * --listen-metrics-urls: a plain HTTP port with /metrics and /health only, so monitoring
 * can scrape without client credentials.
 */
export async function serveMetricsApi(server: EtcdServer, urls: URL[], logger: Logger): Promise<ClientApi> {
  const metrics = metricsRoute(server);
  const handler: HttpHandler = (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') return metrics(req, res);
    if (path === '/health') {
      void checkHealth(server).then((h) => {
        const body = JSON.stringify({ health: String(h.health), reason: h.reason });
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

async function checkHealth(server: EtcdServer): Promise<HealthStatus> {
  if (server.leaderId === 0n) return { health: false, reason: 'RAFT NO LEADER' };
  const timeout = new Promise<HealthStatus>((resolve) =>
    setTimeout(() => resolve({ health: false, reason: 'RANGE ERROR' }), HEALTH_TIMEOUT_MS).unref(),
  );
  const read = server
    .range(RangeRequest.create({ key: Buffer.from('health'), keys_only: true, limit: 1 }))
    .then(() => ({ health: true, reason: '' }), () => ({ health: false, reason: 'RANGE ERROR' }));
  return Promise.race([read, timeout]);
}
