// The web dashboard (--listen-dashboard-urls): serves the bundled UI and a JSON API on
// its own HTTP or HTTPS port. Contract:
// - Every API call runs through the member's own client handlers (the same unary methods
//   the JSON gateway serves, the same watch and snapshot streams), with the caller's
//   identity in the call context, so auth and permissions apply exactly as for etcdctl.
// - Identity is the token from POST /api/login (kept in an HttpOnly, SameSite=Strict
//   cookie) or, over HTTPS, the verified client certificate's CN.
// - With auth enabled, nothing under /api/ but login and session answers without one.
// - State-changing calls need the X-Tsetcd-Dashboard header, which a cross-site form or
//   script cannot send without a CORS preflight this server never grants.
import { toGrpcError } from '../api/errors.js';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import type tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import type { EtcdServer } from '../server/server.js';
import type { Logger } from '../pkg/logger.js';
import { clientServices, type ClientServices } from '../api/client-api.js';
import type { AnyUnaryMethod, Codec } from '../api/method.js';
import type { CallContext } from '../api/grpc/server.js';
import { GrpcCode, GrpcError } from '../api/grpc/status.js';
import { secureContextOptions, type TlsFiles } from '../pki/tls-context.js';
import { SnapshotResponse, WatchRequest } from '../proto/etcdserverpb.js';
import { openInProcessStream } from './stream.js';
import { WatchRelay } from './watch-relay.js';
import { ClusterStatus } from './member-status.js';
import type { PeerTlsOptions } from '../peer/dialer.js';

/** one cookie per dashboard port: browsers share cookies across ports, tokens are per member */
export const COOKIE_PREFIX = 'tsetcd-dashboard-token-';
export const CSRF_HEADER = 'x-tsetcd-dashboard';
const MAX_BODY_BYTES = 4 * 1024 * 1024;

export interface Dashboard {
  close(): Promise<void>;
}

export interface DashboardOptions {
  urls: URL[];
  logger: Logger;
  tlsFiles?: TlsFiles;
  /** this member's credentials for dialing peers: the Cluster view asks them for their Status */
  peerTls?: PeerTlsOptions;
  /** where the built UI lives; defaults to dist/dashboard-ui beside this module */
  assetsDir?: string;
}

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DEFAULT_ASSETS_DIR = path.resolve(HERE, '../../dashboard-ui');

const STATUS_BY_CODE: Partial<Record<GrpcCode, number>> = {
  [GrpcCode.InvalidArgument]: 400,
  [GrpcCode.FailedPrecondition]: 400,
  [GrpcCode.OutOfRange]: 400,
  [GrpcCode.NotFound]: 404,
  [GrpcCode.PermissionDenied]: 403,
  [GrpcCode.Unauthenticated]: 401,
  [GrpcCode.Unavailable]: 503,
  [GrpcCode.DeadlineExceeded]: 504,
  [GrpcCode.ResourceExhausted]: 429,
};

type Req = http.IncomingMessage;
type Res = http.ServerResponse;

export async function serveDashboard(server: EtcdServer, opts: DashboardOptions): Promise<Dashboard> {
  if (opts.urls.length === 0) return { close: async () => {} };
  const services = clientServices(server);
  const cluster = new ClusterStatus(server, services.methods.find((m) => m.path === '/etcdserverpb.Maintenance/Status')!, opts.peerTls);
  const handler = dashboardHandler(server, services, cluster, loadAssets(opts.assetsDir ?? DEFAULT_ASSETS_DIR), opts.tlsFiles?.clientCertAuth ?? false);
  const servers: http.Server[] = [];
  const close = async (): Promise<void> => {
    cluster.close();
    await Promise.all(servers.map(closeServer));
  };
  try {
    for (const url of opts.urls) servers.push(await listen(url, handler, opts));
  } catch (err) {
    await close();
    throw err;
  }
  return { close };
}

async function listen(url: URL, handler: (req: Req, res: Res) => void, opts: DashboardOptions): Promise<http.Server> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let s: http.Server;
  if (url.protocol === 'https:') {
    const files = opts.tlsFiles;
    if (!files?.certFile || !files.keyFile) {
      throw new Error(`TLS key/cert (--cert-file, --key-file) must be provided for dashboard url ${url.href.replace(/\/$/, '')} with HTTPS scheme`);
    }
    // the verdict on a client certificate is ours (see peerIdentity), so Node only asks for one
    s = https.createServer({ ...secureContextOptions(files, ''), requestCert: files.clientCertAuth, rejectUnauthorized: false }, handler);
  } else if (url.protocol === 'http:') {
    s = http.createServer(handler);
  } else {
    throw new Error(`dashboard URL ${url.href}: only http and https are served`);
  }
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.listen({ host, port: Number(url.port || (url.protocol === 'https:' ? 443 : 80)) }, () => resolve());
  });
  opts.logger.info('serving the web dashboard', { address: `${url.protocol}//${host}:${url.port}` });
  return s;
}

function closeServer(s: http.Server): Promise<void> {
  return new Promise((resolve) => {
    s.close(() => resolve());
    s.closeAllConnections();
  });
}

// ---- static assets ----

interface Asset {
  body: Buffer;
  type: string;
}

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };

/** Reads the built UI once; a member built without it still serves the API. */
function loadAssets(dir: string): Map<string, Asset> {
  const out = new Map<string, Asset>();
  let names: string[] = [];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of names) {
    const type = TYPES[path.extname(name)];
    if (type) out.set('/' + name, { body: fs.readFileSync(path.join(dir, name)), type });
  }
  return out;
}

// ---- request routing ----

interface Caller {
  token?: string;
  commonName?: string;
}

function dashboardHandler(server: EtcdServer, services: ClientServices, cluster: ClusterStatus, assets: Map<string, Asset>, certRequired: boolean): (req: Req, res: Res) => void {
  const unary = new Map<string, AnyUnaryMethod>();
  for (const m of services.methods) {
    const paths = m.gatewayPath === undefined ? [] : Array.isArray(m.gatewayPath) ? m.gatewayPath : [m.gatewayPath];
    for (const p of paths) unary.set('/api/v3' + p, m);
  }
  const authenticate = services.methods.find((m) => m.path === '/etcdserverpb.Auth/Authenticate')!;
  return (req, res) => {
    const pathname = (req.url ?? '/').split('?')[0]!;
    const peer = peerIdentity(req, certRequired);
    if (peer === 'refused') return sendJson(res, 403, { error: 'a verified client certificate is required (--client-cert-auth)' });
    const caller: Caller = { token: cookie(req, cookieName(req)), commonName: peer };
    if (!pathname.startsWith('/api/')) return serveAsset(assets, pathname, req, res);
    if (req.method === 'POST' && req.headers[CSRF_HEADER] === undefined) return sendJson(res, 403, { error: `missing ${CSRF_HEADER} header` });
    if (pathname === '/api/login') return void login(server, authenticate, req, res);
    if (pathname === '/api/logout') return logout(req, res);
    if (pathname === '/api/session') return session(server, caller, res);
    if (server.authEnabled && !server.authInfo(caller.token, caller.commonName)) {
      return sendJson(res, 401, { error: 'etcdserver: user name is empty', code: GrpcCode.Unauthenticated });
    }
    const method = unary.get(pathname);
    if (method && req.method === 'POST') return void callUnary(method, caller, req, res);
    if (pathname === '/api/watch' && req.method === 'POST') return void watch(services, caller, req, res);
    if (pathname === '/api/snapshot' && req.method === 'GET') return snapshot(services, caller, res);
    if (pathname === '/api/metrics' && req.method === 'GET') return void metrics(server, res);
    if (pathname === '/api/cluster/status' && req.method === 'GET') return void cluster.all().then((members) => sendJson(res, 200, { members }));
    sendJson(res, 404, { error: '404 page not found' });
  };
}

function cookieName(req: Req): string {
  return COOKIE_PREFIX + String(req.socket.localPort ?? '');
}

function isTls(req: Req): boolean {
  return (req.socket as tls.TLSSocket).encrypted === true;
}

/** The verified client certificate's CN; 'refused' when one is required and missing. */
function peerIdentity(req: Req, certRequired: boolean): string | undefined | 'refused' {
  if (!isTls(req)) return undefined;
  const socket = req.socket as tls.TLSSocket;
  if (!socket.authorized) return certRequired ? 'refused' : undefined;
  const cn = socket.getPeerCertificate()?.subject?.CN;
  return Array.isArray(cn) ? cn[0] : cn || undefined;
}

function cookie(req: Req, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}

function serveAsset(assets: Map<string, Asset>, pathname: string, req: Req, res: Res): void {
  const asset = assets.get(pathname === '/' ? '/index.html' : pathname);
  if (!asset) {
    if (assets.size === 0) return sendText(res, 503, 'the dashboard UI was not built (npm run build)\n');
    return sendText(res, 404, '404 page not found\n');
  }
  res.writeHead(200, {
    'Content-Type': asset.type,
    'Content-Length': asset.body.length,
    'Cache-Control': 'no-cache',
    'X-Content-Type-Options': 'nosniff',
    'Content-Security-Policy': "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:",
  });
  res.end(req.method === 'HEAD' ? undefined : asset.body);
}

function sendJson(res: Res, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' });
  res.end(text);
}

function sendText(res: Res, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: Res, err: unknown): void {
  const g = toGrpcError(err);
  sendJson(res, STATUS_BY_CODE[g.code] ?? 500, { error: g.message, code: g.code });
}

async function readJson(req: Req): Promise<unknown> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req) {
    total += (chunk as Buffer).length;
    if (total > MAX_BODY_BYTES) throw new GrpcError(GrpcCode.InvalidArgument, 'etcdserver: request is too large');
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return text.trim() === '' ? {} : JSON.parse(text);
  } catch {
    throw new GrpcError(GrpcCode.InvalidArgument, 'request body is not JSON');
  }
}

function callContext(grpcPath: string, caller: Caller, signal: AbortSignal): CallContext {
  const metadata: Record<string, string> = caller.token ? { token: caller.token } : {};
  return { path: grpcPath, metadata, signal, peerCommonName: caller.commonName };
}

function fromJson<T>(codec: Codec<T>, json: unknown): T {
  try {
    return codec.fromJSON(json);
  } catch (err) {
    throw new GrpcError(GrpcCode.InvalidArgument, (err as Error).message);
  }
}

// ---- API endpoints ----

async function callUnary(method: AnyUnaryMethod, caller: Caller, req: Req, res: Res): Promise<void> {
  try {
    const request = fromJson(method.request, await readJson(req));
    const response = await method.handle(request, method.request.encode(request), callContext(method.path, caller, new AbortController().signal));
    sendJson(res, 200, method.response.toJSON(response));
  } catch (err) {
    sendError(res, err);
  }
}

function cookieHeader(req: Req, value: string, maxAgeSec: number): string {
  return `${cookieName(req)}=${encodeURIComponent(value)}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSec}${isTls(req) ? '; Secure' : ''}`;
}

async function login(server: EtcdServer, authenticate: AnyUnaryMethod, req: Req, res: Res): Promise<void> {
  try {
    const body = (await readJson(req)) as { name?: unknown; password?: unknown };
    if (!server.authEnabled) return sendJson(res, 200, { authEnabled: false });
    const request = fromJson(authenticate.request, { name: String(body.name ?? ''), password: String(body.password ?? '') });
    const response = (await authenticate.handle(request, authenticate.request.encode(request), callContext(authenticate.path, {}, new AbortController().signal))) as {
      token: string;
    };
    res.setHeader('Set-Cookie', cookieHeader(req, response.token, 24 * 3600));
    sendJson(res, 200, { authEnabled: true, user: String(body.name) });
  } catch (err) {
    sendError(res, err);
  }
}

function logout(req: Req, res: Res): void {
  res.setHeader('Set-Cookie', cookieHeader(req, '', 0));
  sendJson(res, 200, {});
}

/** Who the browser is: answers 401 when auth is on and it has no valid identity. */
function session(server: EtcdServer, caller: Caller, res: Res): void {
  if (!server.authEnabled) return sendJson(res, 200, { authEnabled: false, user: null, root: true });
  const info = server.authInfo(caller.token, caller.commonName);
  if (!info) return sendJson(res, 401, { authEnabled: true, user: null, error: 'etcdserver: user name is empty' });
  let root = true;
  try {
    server.checkAdmin(info);
  } catch {
    root = false;
  }
  sendJson(res, 200, { authEnabled: true, user: info.username, root, viaCertificate: !caller.token && caller.commonName !== undefined });
}

async function metrics(server: EtcdServer, res: Res): Promise<void> {
  try {
    const text = await server.metrics.text();
    res.writeHead(200, { 'Content-Type': server.metrics.contentType, 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' });
    res.end(text);
  } catch (err) {
    sendError(res, err);
  }
}

/**
 * One watch per request: the body is a WatchRequest as JSON; the answer is JSON lines,
 * batched and thinned by WatchRelay (each {"result": WatchResponse} or {"skipped": n}).
 */
async function watch(services: ClientServices, caller: Caller, req: Req, res: Res): Promise<void> {
  let request: WatchRequest;
  try {
    request = fromJson(WatchRequest as Codec<WatchRequest>, await readJson(req));
  } catch (err) {
    return sendError(res, err);
  }
  res.writeHead(200, { 'Content-Type': 'application/x-ndjson', 'Cache-Control': 'no-store', 'X-Accel-Buffering': 'no' });
  res.flushHeaders();
  const controller = new AbortController();
  const relay = new WatchRelay({ write: (text) => res.write(text), get backedUp() { return res.writableNeedDrain; } });
  const stream = openInProcessStream(services.router.streamHandler('/etcdserverpb.Watch/Watch')!, callContext('/etcdserverpb.Watch/Watch', caller, controller.signal), {
    onMessage: (bytes) => relay.push(bytes),
    onEnd: (err) => {
      relay.close();
      relay.flush(true);
      if (err) res.write(JSON.stringify({ error: err.message, code: err.code }) + '\n');
      res.end();
    },
  });
  res.on('close', () => {
    relay.close();
    controller.abort();
    stream.close();
  });
  stream.send(WatchRequest.encode(request));
}

/** The member's snapshot in etcd's format (the bytes etcdctl snapshot save writes). */
function snapshot(services: ClientServices, caller: Caller, res: Res): void {
  const controller = new AbortController();
  let started = false;
  const stream = openInProcessStream(services.router.streamHandler('/etcdserverpb.Maintenance/Snapshot')!, callContext('/etcdserverpb.Maintenance/Snapshot', caller, controller.signal), {
    onMessage: (bytes) => {
      const m = SnapshotResponse.decode(bytes);
      if (!started) {
        started = true;
        res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Disposition': 'attachment; filename="snapshot.db"', 'Cache-Control': 'no-store' });
      }
      return res.write(m.blob);
    },
    onEnd: (err) => {
      if (err && !started) return sendError(res, err);
      // a failure after the first bytes can only be told by cutting the download short
      if (err) return void res.destroy(err);
      if (!started) res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
      res.end();
    },
  });
  res.on('drain', () => stream.drained());
  res.on('close', () => {
    controller.abort();
    stream.close();
  });
  stream.halfClose(SnapshotRequestBytes);
}

const SnapshotRequestBytes = new Uint8Array(0);
