// One client port serves gRPC (HTTP/2) and plain HTTP/1.1 (health, version, metrics,
// the JSON gateway), as etcd does. Cleartext connections are told apart by their first
// bytes: HTTP/2 with prior knowledge always opens with the "PRI * HTTP/2.0" preface.
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';

/** The subset of an HTTP request the HTTP handlers read, over HTTP/1.1 or HTTP/2. */
export interface HttpRequestLike {
  readonly method?: string;
  readonly url?: string;
  readonly headers: http.IncomingHttpHeaders;
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
  onGrpcStream: (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void;
  onHttpRequest: HttpHandler;
}

/** HTTP/2 settings chosen for throughput: large windows so a 1.5 MiB request is not throttled. */
export const HTTP2_SETTINGS: http2.Settings = {
  initialWindowSize: 1 << 20,
  maxFrameSize: 1 << 14,
  maxConcurrentStreams: 4294967295,
  maxHeaderListSize: 16 << 20,
};
const CONNECTION_WINDOW_BYTES = 8 << 20;

const PREFACE = Buffer.from('PRI * HTTP/2.0');

export interface ClientListener {
  readonly server: net.Server;
  close(): Promise<void>;
}

export function createHttp2Server(handlers: ClientListenerHandlers): http2.Http2Server {
  const h2 = http2.createServer({ settings: HTTP2_SETTINGS, maxSessionMemory: 64 });
  h2.on('session', (session) => {
    session.on('error', () => {});
    try {
      session.setLocalWindowSize(CONNECTION_WINDOW_BYTES);
    } catch {
      /* the session may already be closing */
    }
  });
  h2.on('stream', (stream, headers) => {
    const contentType = headers['content-type'] ?? '';
    if (contentType.startsWith('application/grpc')) handlers.onGrpcStream(stream, headers);
    else {
      // curl over TLS (ALPN h2) or with --http2-prior-knowledge: plain HTTP semantics
      const { req, res } = adaptHttp2Stream(stream, headers);
      handlers.onHttpRequest(req, res);
    }
  });
  return h2;
}

/** Listens on host:port and sends each connection to HTTP/2 or HTTP/1.1 by its preface. */
export async function listenCleartext(
  host: string,
  port: number,
  handlers: ClientListenerHandlers,
): Promise<ClientListener> {
  const h2 = createHttp2Server(handlers);
  const h1 = http.createServer({ keepAlive: true }, (req, res) => handlers.onHttpRequest(req, res));
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.setNoDelay(true);
    socket.on('error', () => socket.destroy());
    sniff(socket, (isHttp2) => (isHttp2 ? h2 : h1).emit('connection', socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, backlog: 1024 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

function sniff(socket: net.Socket, route: (isHttp2: boolean) => void): void {
  let head: Buffer = Buffer.alloc(0);
  const onData = (chunk: Buffer): void => {
    head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
    const n = Math.min(head.length, PREFACE.length);
    const matchesSoFar = head.subarray(0, n).equals(PREFACE.subarray(0, n));
    if (matchesSoFar && head.length < PREFACE.length) return; // need more bytes to decide
    socket.off('data', onData);
    socket.pause();
    socket.unshift(head);
    if (!matchesSoFar) {
      route(false);
      socket.resume();
      return;
    }
    // An HTTP/2 session reads the socket natively at once but replays the bytes we
    // already read only on the next tick; bytes arriving in between would be parsed
    // first and break the connection. So reading stops until the replay is done.
    const handle = (socket as unknown as { _handle?: { readStop?: () => number; readStart?: () => number } })._handle;
    route(true);
    if (handle?.readStop && handle.readStart) {
      handle.readStop();
      process.nextTick(() => {
        if (!socket.destroyed) handle.readStart!();
      });
    }
  };
  socket.on('data', onData);
}

/**
 * Wraps one HTTP/2 stream as a request/response pair. Node's own compatibility layer
 * is not used because it takes over every stream of the server, gRPC ones included.
 */
function adaptHttp2Stream(
  stream: http2.ServerHttp2Stream,
  headers: http2.IncomingHttpHeaders,
): { req: HttpRequestLike; res: HttpResponseLike } {
  stream.on('error', () => {});
  const req: HttpRequestLike = {
    method: headers[':method'],
    url: headers[':path'],
    headers,
    on(event: string, fn: (...args: never[]) => void) {
      stream.on(event, fn as (...args: unknown[]) => void);
      return req;
    },
    destroy: () => stream.destroy(),
  };
  const res: HttpResponseLike = {
    writeHead(status, hdrs) {
      const out: http2.OutgoingHttpHeaders = { ':status': status };
      for (const [k, v] of Object.entries(hdrs)) out[k.toLowerCase()] = v;
      if (!stream.destroyed && !stream.headersSent) stream.respond(out);
      return res;
    },
    write: (chunk) => (stream.destroyed ? false : stream.write(chunk)),
    end(body) {
      if (!stream.destroyed) stream.end(body);
      return res;
    },
    on(event, fn) {
      stream.on(event, fn);
      return res;
    },
  };
  return { req, res };
}
