// One client port serves gRPC (HTTP/2) and plain HTTP/1.1 (health, version, metrics,
// the JSON gateway), as etcd does. Cleartext connections are told apart by their first
// bytes: HTTP/2 with prior knowledge always opens with the "PRI * HTTP/2.0" preface.
// HTTP/2 runs on our own implementation (src/api/h2): node:http2 rejects the
// `:authority` grpc-go sends for etcdctl's per-endpoint calls, and costs far more CPU.
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import { PREFACE_TIMEOUT_MS, serveHttp2, type H2ServerStream, type H2Settings } from './h2/index.js';
import { askForClientCertificate, refuseConnection, refuseUnverified, trustOf } from '../pki/tls-context.js';
import { RevocationList } from './crl.js';

/** The subset of an HTTP request the HTTP handlers read, over HTTP/1.1 or HTTP/2. */
export interface HttpRequestLike {
  readonly method?: string;
  readonly url?: string;
  readonly headers: Record<string, string | string[] | undefined>;
  on(event: 'data', fn: (chunk: Buffer) => void): unknown;
  on(event: 'end', fn: () => void): unknown;
  on(event: 'error', fn: (err: Error) => void): unknown;
  destroy(): void;
}

/** The subset of an HTTP response the HTTP handlers write. */
export interface HttpResponseLike {
  writeHead(status: number, headers: Record<string, string | number>): unknown;
  write(chunk: string | Buffer): boolean;
  end(body?: string | Buffer): unknown;
  on(event: 'close', fn: () => void): unknown;
}

export type HttpHandler = (req: HttpRequestLike, res: HttpResponseLike) => void;

export interface ClientListenerHandlers {
  onGrpcStream: (stream: H2ServerStream) => void;
  onHttpRequest: HttpHandler;
  /** HTTP/2 settings for this listener's connections (default HTTP2_SETTINGS) */
  http2Settings?: H2Settings;
  /** --socket-reuse-port: listen with SO_REUSEPORT (Node.js 22.12 or later) */
  reusePort?: boolean;
}

export const HTTP2_SETTINGS: H2Settings = {
  // etcd leaves concurrent streams unlimited by default; a bound keeps memory bounded
  maxConcurrentStreams: 10_000,
  initialWindowSize: 1 << 20,
  connectionWindowSize: 8 << 20,
  maxHeaderListSize: 1 << 20,
  // gRPC's MaxConnectionIdle, which etcd leaves unset: a client with no call open for this
  // long gets GOAWAY(NO_ERROR) and reconnects on its next call, so abandoned connections
  // do not hold their buffers and HPACK tables forever
  idleTimeoutMs: 10 * 60 * 1000,
};

const PREFACE = Buffer.from('PRI * HTTP/2.0');

/** a host name or address to listen on with a port, or a unix socket path (the port is then unused) */
export type ListenHost = string | { path: string };

export interface ClientListener {
  readonly server: net.Server;
  close(): Promise<void>;
}

/** Routes one HTTP/2 stream: gRPC by content-type, anything else as plain HTTP. */
export function routeHttp2Stream(stream: H2ServerStream, handlers: ClientListenerHandlers): void {
  const contentType = stream.headers['content-type'] ?? '';
  if (contentType.startsWith('application/grpc')) handlers.onGrpcStream(stream);
  else {
    // curl over TLS (ALPN h2) or with --http2-prior-knowledge
    const { req, res } = adaptHttp2Stream(stream);
    handlers.onHttpRequest(req, res);
  }
}

/** Listens on host:port and sends each connection to HTTP/2 or HTTP/1.1 by its preface. */
export async function listenCleartext(host: ListenHost, port: number, handlers: ClientListenerHandlers): Promise<ClientListener> {
  const route = connectionRouter(handlers);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    track(sockets, socket);
    route(socket, undefined);
  });
  return { server, close: await listenOn(server, host, port, sockets, handlers.reusePort) };
}

export interface TlsListenerOptions {
  secureContext: tls.SecureContextOptions;
  /** require a client certificate verified against the trusted CA */
  requestClientCert: boolean;
  /** --client-crl-file: refuse clients whose certificate serial it lists */
  crlFile?: string;
  /** --client-cert-allowed-hostname: refuse client certificates not valid for this name */
  allowedHostname?: string;
  /** told of every refused handshake (callers rate-limit: see RefusalLog) */
  onRefused?: (remoteAddr: string | undefined, reason: string) => void;
}

/**
 * Listens with TLS. ALPN picks HTTP/2 (gRPC, curl) or HTTP/1.1; a client that offers no
 * ALPN is told apart by its first bytes, as on cleartext. `reload` swaps in new
 * certificates and CA bundles for connections made from then on.
 */
export async function listenTls(
  host: ListenHost,
  port: number,
  handlers: ClientListenerHandlers,
  opts: TlsListenerOptions,
): Promise<ClientListener & { reload(ctx: tls.SecureContextOptions): void }> {
  const route = connectionRouter(handlers);
  const sockets = new Set<net.Socket>();
  const crl = opts.crlFile ? new RevocationList(opts.crlFile) : undefined;
  const serverOptions = (ctx: tls.SecureContextOptions): tls.TlsOptions => ({
    ...ctx,
    ALPNProtocols: ['h2', 'http/1.1'],
    ...askForClientCertificate(opts.requestClientCert),
  });
  let trust = trustOf(opts.secureContext);
  const server = tls.createServer(serverOptions(opts.secureContext), (socket) => {
    const refusal = refuseUnverified(socket, opts.requestClientCert, trust);
    if (refusal !== null) return opts.onRefused?.(socket.remoteAddress, refusal);
    const revoked = crl ? crl.check(socket) : null;
    if (revoked !== null) {
      opts.onRefused?.(socket.remoteAddress, revoked);
      return refuseConnection(socket);
    }
    if (opts.allowedHostname && tls.checkServerIdentity(opts.allowedHostname, socket.getPeerCertificate()) !== undefined) {
      opts.onRefused?.(socket.remoteAddress, `the client certificate is not valid for ${opts.allowedHostname}`);
      return refuseConnection(socket);
    }
    track(sockets, socket);
    route(socket, socket.alpnProtocol || undefined);
  });
  // a failed handshake (no certificate, a certificate from another CA) just ends that connection
  server.on('tlsClientError', (err, socket) => {
    opts.onRefused?.(socket.remoteAddress, err.message);
    socket.destroy();
  });
  const reload = (ctx: tls.SecureContextOptions): void => {
    server.setSecureContext(serverOptions(ctx));
    trust = trustOf(ctx);
  };
  return { server, reload, close: await listenOn(server, host, port, sockets, handlers.reusePort) };
}

/**
 * Hands a connection to our HTTP/2 server or to node's HTTP/1.1 one: by the protocol ALPN
 * chose, or, without ALPN, by whether its first bytes are the HTTP/2 preface.
 */
function connectionRouter(handlers: ClientListenerHandlers): (socket: net.Socket, alpn: string | undefined) => void {
  const h1 = http.createServer({ keepAlive: true }, (req, res) => handlers.onHttpRequest(req, res));
  const startH2 = (socket: net.Socket, head: Buffer, prefaceTimeoutMs = PREFACE_TIMEOUT_MS): void => {
    const settings = { ...(handlers.http2Settings ?? HTTP2_SETTINGS), prefaceTimeoutMs };
    const conn = serveHttp2(socket, head, (s) => routeHttp2Stream(s, handlers), settings);
    conn.onError = () => {};
  };
  return (socket, alpn) => {
    if (alpn === 'h2') return startH2(socket, Buffer.alloc(0));
    if (alpn === 'http/1.1') return void h1.emit('connection', socket);
    sniff(socket, (isHttp2, head, leftMs) => {
      if (isHttp2) return startH2(socket, head, leftMs);
      socket.pause();
      socket.unshift(head);
      h1.emit('connection', socket);
      socket.resume();
    });
  };
}

/** Keeps an accepted socket in `sockets` until it closes, so close() can end it. */
function track(sockets: Set<net.Socket>, socket: net.Socket): void {
  sockets.add(socket);
  socket.once('close', () => sockets.delete(socket));
  socket.setNoDelay(true);
  socket.on('error', () => socket.destroy());
}

/** Starts listening; resolves to a close() that stops accepting and ends open connections. */
async function listenOn(server: net.Server, host: ListenHost, port: number, sockets: Set<net.Socket>, reusePort = false): Promise<() => Promise<void>> {
  // reusePort is a listen option from Node.js 22.12 on; older ones are refused at start
  const where = typeof host === 'string' ? { host, port, backlog: 1024, ...(reusePort ? { reusePort } : {}) } : { path: host.path, backlog: 1024 };
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(where as net.ListenOptions, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    });
}

/** Routes by the first bytes; `leftMs`: what is left of the preface timeout for HTTP/2 to use. */
function sniff(socket: net.Socket, route: (isHttp2: boolean, head: Buffer, leftMs: number) => void): void {
  let head: Buffer = Buffer.alloc(0);
  const startMs = performance.now();
  // a client that trickles its first bytes holds a socket: the HTTP/2 preface timeout bounds it
  const timer = setTimeout(() => socket.destroy(), PREFACE_TIMEOUT_MS);
  timer.unref();
  const onData = (chunk: Buffer): void => {
    head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
    const n = Math.min(head.length, PREFACE.length);
    const matchesSoFar = head.subarray(0, n).equals(PREFACE.subarray(0, n));
    if (matchesSoFar && head.length < PREFACE.length) return; // need more bytes to decide
    clearTimeout(timer);
    socket.off('data', onData);
    route(matchesSoFar, head, Math.max(1, PREFACE_TIMEOUT_MS - (performance.now() - startMs)));
  };
  socket.on('data', onData);
  socket.once('close', () => clearTimeout(timer));
}

const HTTP1_ONLY_FIELDS = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

/** Wraps one HTTP/2 stream as a request/response pair for the plain HTTP handlers. */
function adaptHttp2Stream(stream: H2ServerStream): { req: HttpRequestLike; res: HttpResponseLike } {
  const dataListeners: Array<(chunk: Buffer) => void> = [];
  const endListeners: Array<() => void> = [];
  const closeListeners: Array<() => void> = [];
  stream.onData = (chunk) => dataListeners.forEach((l) => l(chunk));
  stream.onEnd = () => endListeners.forEach((l) => l());
  stream.onClose = () => closeListeners.forEach((l) => l());
  const req: HttpRequestLike = {
    method: stream.headers[':method'],
    url: stream.headers[':path'],
    headers: stream.headers,
    on(event: string, fn: (...args: never[]) => void) {
      if (event === 'data') dataListeners.push(fn as (c: Buffer) => void);
      else if (event === 'end') endListeners.push(fn as () => void);
      return req;
    },
    destroy: () => stream.reset(),
  };
  const res: HttpResponseLike = {
    writeHead(status, hdrs) {
      const out: Record<string, string | number> = { ':status': status };
      for (const [k, v] of Object.entries(hdrs)) {
        const name = k.toLowerCase();
        // HTTP/2 forbids connection-specific fields (RFC 9113 8.2.2); a client treats them as a protocol error
        if (!HTTP1_ONLY_FIELDS.has(name)) out[name] = v;
      }
      if (!stream.closed && !stream.headersSent) stream.respond(out);
      return res;
    },
    write: (chunk) => stream.write(typeof chunk === 'string' ? Buffer.from(chunk) : chunk),
    end(body) {
      if (body !== undefined && body.length > 0) stream.write(typeof body === 'string' ? Buffer.from(body) : body);
      stream.end();
      return res;
    },
    on(event, fn) {
      if (event === 'close') closeListeners.push(fn);
      return res;
    },
  };
  return { req, res };
}
