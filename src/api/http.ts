// The client port's HTTP side: /health, /livez, /readyz, /version and etcd's JSON
// gateway under /v3/ (and the older /v3beta/ prefix).
import { toGrpcError } from './errors.js';
import type { HttpRequestLike, HttpResponseLike } from './listener.js';
import { GrpcCode, GrpcError } from './grpc/status.js';
import type { CallContext } from './grpc/server.js';
import type { AnyUnaryMethod } from './method.js';
import { goJsonSyntaxError, parseJsonLossless, serveGatewayStream, type GatewayStream } from './gateway-stream.js';
import type { StreamSlots } from './stream-slots.js';

type Req = HttpRequestLike;
type Res = HttpResponseLike;

export interface HealthStatus {
  health: boolean;
  reason: string;
}

export interface HttpApiOptions {
  version: () => { etcdserver: string; etcdcluster: string };
  /** checks the member can serve a linearizable read within a timeout */
  health: (query: URLSearchParams) => Promise<HealthStatus>;
  /** extra routes (metrics) by exact path */
  extraRoutes?: Map<string, (req: Req, res: Res) => void>;
  gatewayMethods: AnyUnaryMethod[];
  /** streaming calls on the gateway (watch, lease keep-alive, election observe) */
  gatewayStreams?: GatewayStream[];
  /** largest request body accepted by the gateway */
  maxRequestBytes: number;
  /** --max-concurrent-streams: calls the gateway may have open at once (absent: no limit) */
  gatewaySlots?: StreamSlots;
}

const CORS_HEADERS = {
  'Access-Control-Allow-Headers': 'accept, content-type, authorization',
  'Access-Control-Allow-Methods': 'POST, GET, OPTIONS, PUT, DELETE',
  'Access-Control-Allow-Origin': '*',
};

/** grpc-gateway's mapping of gRPC codes to HTTP statuses */
const HTTP_STATUS_BY_CODE: Record<number, number> = {
  [GrpcCode.OK]: 200,
  [GrpcCode.Canceled]: 408,
  [GrpcCode.Unknown]: 500,
  [GrpcCode.InvalidArgument]: 400,
  [GrpcCode.DeadlineExceeded]: 504,
  [GrpcCode.NotFound]: 404,
  [GrpcCode.AlreadyExists]: 409,
  [GrpcCode.PermissionDenied]: 403,
  [GrpcCode.Unauthenticated]: 401,
  [GrpcCode.ResourceExhausted]: 429,
  [GrpcCode.FailedPrecondition]: 400,
  [GrpcCode.Aborted]: 409,
  [GrpcCode.OutOfRange]: 400,
  [GrpcCode.Unimplemented]: 501,
  [GrpcCode.Internal]: 500,
  [GrpcCode.Unavailable]: 503,
  [GrpcCode.DataLoss]: 500,
};

function send(res: Res, status: number, contentType: string, body: string): void {
  const headers = { ...CORS_HEADERS, 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) };
  res.writeHead(status, headers);
  res.end(body);
}

export function createHttpHandler(opts: HttpApiOptions): (req: Req, res: Res) => void {
  const gateway = new Map<string, AnyUnaryMethod>();
  for (const m of opts.gatewayMethods) {
    const paths = m.gatewayPath === undefined ? [] : Array.isArray(m.gatewayPath) ? m.gatewayPath : [m.gatewayPath];
    for (const p of paths) {
      gateway.set('/v3' + p, m);
      gateway.set('/v3beta' + p, m);
    }
  }
  const streams = new Map<string, GatewayStream>();
  for (const st of opts.gatewayStreams ?? []) {
    streams.set('/v3' + st.gatewayPath, st);
    streams.set('/v3beta' + st.gatewayPath, st);
  }
  return (req, res) => {
    const url = req.url ?? '/';
    const pathname = url.split('?')[0]!;
    const extra = opts.extraRoutes?.get(pathname);
    if (extra) return extra(req, res);
    switch (pathname) {
      case '/health':
      case '/livez':
      case '/readyz':
        return void serveHealth(pathname, opts, res, new URLSearchParams(url.slice(pathname.length + 1)));
      case '/version':
        return send(res, 200, 'application/json', JSON.stringify(opts.version()));
    }
    const stream = streams.get(pathname);
    if (stream) {
      if (req.method !== 'POST' && req.method !== 'PUT') return send(res, 405, 'text/plain; charset=utf-8', 'Method Not Allowed\n');
      if (!opts.gatewaySlots) return serveGatewayStream(stream, req, res);
      // the slot is held for the stream's whole life, as its gRPC stream would be
      const slot = opts.gatewaySlots.acquire();
      res.on('close', () => void slot.then((release) => release()));
      return serveGatewayStream(stream, req, res, slot);
    }
    const method = gateway.get(pathname);
    if (method) {
      if (req.method !== 'POST' && req.method !== 'PUT') return send(res, 405, 'text/plain; charset=utf-8', 'Method Not Allowed\n');
      return void serveGateway(method, req, res, opts.maxRequestBytes, opts.gatewaySlots);
    }
    send(res, 404, 'text/plain; charset=utf-8', '404 page not found\n');
  };
}

async function serveHealth(path: string, opts: HttpApiOptions, res: Res, query: URLSearchParams): Promise<void> {
  let status: HealthStatus;
  try {
    status = await opts.health(query);
  } catch (err) {
    status = { health: false, reason: (err as Error).message };
  }
  if (path === '/health') {
    return send(res, status.health ? 200 : 503, 'text/plain; charset=utf-8', JSON.stringify({ health: String(status.health), reason: status.reason }));
  }
  send(res, status.health ? 200 : 503, 'text/plain; charset=utf-8', status.health ? 'ok\n' : `not ok: ${status.reason}\n`);
}

function readBody(req: Req, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    req.on('data', (c: Buffer) => {
      total += c.length;
      if (total > maxBytes) {
        reject(new GrpcError(GrpcCode.InvalidArgument, 'etcdserver: request is too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

async function serveGateway(method: AnyUnaryMethod, req: Req, res: Res, maxRequestBytes: number, slots?: StreamSlots): Promise<void> {
  let release: (() => void) | undefined;
  try {
    const body = await readBody(req, maxRequestBytes + 512 * 1024);
    release = await slots?.acquire();
    let json: unknown;
    const text = body.toString('utf8');
    try {
      json = body.length === 0 ? {} : parseJsonLossless(text);
    } catch {
      throw new GrpcError(GrpcCode.InvalidArgument, goJsonSyntaxError(text));
    }
    let request: unknown;
    try {
      request = method.request.fromJSON(json);
    } catch (err) {
      throw new GrpcError(GrpcCode.InvalidArgument, (err as Error).message);
    }
    const raw = method.request.encode(request);
    const ctx: CallContext = { path: method.path, metadata: req.headers, signal: new AbortController().signal };
    const response = await method.handle(request, raw, ctx);
    send(res, 200, 'application/json', JSON.stringify(method.response.toJSON(response)));
  } catch (err) {
    const g = toGrpcError(err);
    const payload = JSON.stringify({ error: g.message, message: g.message, code: g.code });
    send(res, HTTP_STATUS_BY_CODE[g.code] ?? 500, 'application/json', payload);
  } finally {
    release?.();
  }
}
