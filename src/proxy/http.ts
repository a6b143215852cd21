// The proxy's HTTP endpoints, on its listen address and on --metrics-addr, as etcd 3.5's
// proxy serves them: /metrics is the cluster's (fetched from the current member, like
// etcd's proxy does), /proxy/metrics the proxy's own; /health asks the cluster for a key
// within a second, /proxy/health asks it through this proxy's own KV path (so a broken
// proxy reports itself); /debug/pprof/ with --enable-pprof.
import http from 'node:http';
import https from 'node:https';
import { KVService, RangeRequest } from '../proto/etcdserverpb.js';
import type { HttpHandler, HttpResponseLike } from '../api/listener.js';
import type { PprofHandler } from '../api/pprof.js';
import { PPROF_PREFIX } from '../api/pprof.js';
import { GrpcError } from '../api/grpc/status.js';
import type { ProxyMetrics } from './metrics.js';
import type { Upstream } from './upstream.js';

/** etcd's proxy checkHealth gives the read one second */
const HEALTH_TIMEOUT_MS = 1000;
/** a member's /metrics page is a few hundred KiB; more is refused */
const MAX_UPSTREAM_METRICS_BYTES = 16 << 20;
const PERMISSION_DENIED = 'etcdserver: permission denied';

export interface ProxyHttpDeps {
  upstream: Upstream;
  metrics: ProxyMetrics;
  /** a Range as a client of this proxy would make it (through the proxy's KV handler) */
  rangeThroughProxy: (request: Uint8Array) => Promise<Uint8Array>;
  pprof?: PprofHandler;
}

function send(res: HttpResponseLike, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

/** etcd's proxy health: a read of key "a" answered (or refused for permission) in time */
async function healthy(read: () => Promise<unknown>): Promise<boolean> {
  const timeout = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), HEALTH_TIMEOUT_MS).unref());
  const answer = read().then(
    () => true,
    (err: unknown) => err instanceof GrpcError && err.message === PERMISSION_DENIED,
  );
  return Promise.race([answer, timeout]);
}

function fetchText(url: string, tls: ReturnType<Upstream['httpTarget']>['tls']): Promise<string> {
  return new Promise((resolve, reject) => {
    const isHttps = url.startsWith('https:');
    const get = isHttps ? https.get : http.get;
    const opts = isHttps && tls ? { ca: tls.ca, cert: tls.cert, key: tls.key, rejectUnauthorized: tls.rejectUnauthorized ?? true } : {};
    const req = get(url, opts as https.RequestOptions, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_UPSTREAM_METRICS_BYTES) req.destroy(new Error('metrics page too large'));
        else chunks.push(c);
      });
      res.on('end', () => resolve(Buffer.concat(chunks).toString()));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

export function proxyHttpHandler(d: ProxyHttpDeps): HttpHandler {
  const keyA = RangeRequest.encode(RangeRequest.create({ key: Buffer.from('a') }));
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (d.pprof && path.startsWith(PPROF_PREFIX)) return d.pprof(req, res);
    switch (path) {
      case '/metrics': {
        const { url, tls } = d.upstream.httpTarget();
        fetchText(`${url.replace(/\/$/, '')}/metrics`, tls).then(
          (text) => send(res, 200, text, 'text/plain; version=0.0.4'),
          () => send(res, 500, 'Internal server error\n'),
        );
        return;
      }
      case '/proxy/metrics':
        d.metrics.text().then(
          (text) => send(res, 200, text, d.metrics.registry.contentType),
          (err: Error) => send(res, 500, `metrics: ${err.message}\n`),
        );
        return;
      case '/health':
      case '/proxy/health': {
        const read =
          path === '/health'
            ? () => d.upstream.call(KVService.methods.Range.path, keyA, {}, { repeatable: true, timeoutMs: HEALTH_TIMEOUT_MS })
            : () => d.rangeThroughProxy(keyA);
        void healthy(read).then((ok) => send(res, ok ? 200 : 503, JSON.stringify({ health: String(ok), reason: ok ? '' : 'RANGE ERROR' })));
        return;
      }
      default:
        send(res, 404, '404 page not found\n');
    }
  };
}
