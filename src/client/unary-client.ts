// A minimal gRPC client over node:http2 for unary calls: what the tools and tests
// need to talk to a member without pulling in a gRPC library.
import http2 from 'node:http2';
import type { Duplex } from 'node:stream';
import { frameMessage, MessageDeframer } from '../api/grpc/framing.js';
import { decodeGrpcMessage, GrpcCode, GrpcError } from '../api/grpc/status.js';
import { connectVerified, TlsRefusal, type VerifiedTlsOptions } from './tls-connect.js';

export interface UnaryCallOptions {
  timeoutMs?: number;
  metadata?: Record<string, string>;
}

const MAX_RESPONSE_BYTES = 2 ** 31 - 1;

/**
 * TLS settings for an https:// endpoint (ignored for http://). Without `ca`, the
 * server is verified against the system roots; the server's name is checked against
 * the endpoint's host (its IP SANs when the host is an IP address).
 */
export interface ClientTlsOptions {
  /** trusted CA certificates (PEM); an empty list trusts nothing */
  ca?: string | Buffer | Array<string | Buffer>;
  /** the client certificate (chain) to present, PEM */
  cert?: string | Buffer;
  /** the client certificate's private key, PEM */
  key?: string | Buffer;
  /** false: accept any server certificate (default true) */
  rejectUnauthorized?: boolean;
}

/**
 * Opens an HTTP/2 session to `endpoint`. For https:// URLs the TLS connection is made and
 * its server certificate verified by Go's rules (connectVerified) first, so nothing — no
 * request, no token — is sent to a server that is refused; the promise then rejects with
 * the reason (a TlsRefusal). `socket`: a connection already made and verified by the caller.
 */
async function openSession(
  endpoint: string,
  tls: ClientTlsOptions | undefined,
  settings?: http2.Settings,
  socket?: () => Duplex,
): Promise<http2.ClientHttp2Session> {
  const base: http2.SecureClientSessionOptions = settings ? { settings } : {};
  let session: http2.ClientHttp2Session;
  if (socket) session = http2.connect(endpoint, { ...base, createConnection: socket });
  else if (!tls || !/^https:/i.test(endpoint)) session = http2.connect(endpoint, base);
  else {
    const opts: VerifiedTlsOptions = { verify: tls.rejectUnauthorized !== false, alpn: ['h2'] };
    if (tls.ca !== undefined) opts.ca = tls.ca;
    if (tls.cert !== undefined) opts.cert = tls.cert;
    if (tls.key !== undefined) opts.key = tls.key;
    const u = new URL(endpoint);
    const socket = await connectVerified(u.hostname, Number(u.port || 443), opts);
    session = http2.connect(endpoint, { ...base, createConnection: () => socket });
  }
  session.on('error', () => {});
  return session;
}

export class UnaryClient {
  private session: Promise<http2.ClientHttp2Session> | undefined;
  /** the session once it is open, until it closes */
  private live: http2.ClientHttp2Session | undefined;
  private closed = false;

  /** socket: a connection already made (e.g. by the peer dialer, which verifies as Go does) */
  constructor(
    readonly endpoint: string,
    readonly tls?: ClientTlsOptions,
    private readonly socket?: () => Duplex,
  ) {
    this.session = this.connect();
  }

  private connect(): Promise<http2.ClientHttp2Session> {
    const p = openSession(this.endpoint, this.tls, { initialWindowSize: 1 << 20 }, this.socket);
    p.then(
      (s) => {
        if (this.closed) s.close();
        this.live = s;
        s.on('close', () => {
          if (this.session === p) this.session = undefined;
          if (this.live === s) this.live = undefined;
        });
      },
      () => {
        if (this.session === p) this.session = undefined;
      },
    );
    return p;
  }

  /** Whether a connection to the server is up (its handshake done). */
  get connected(): boolean {
    return this.live !== undefined && !this.live.connecting && !this.live.destroyed;
  }

  /** The open session, connecting again when the last one closed or failed to open. */
  private async currentSession(): Promise<http2.ClientHttp2Session> {
    for (;;) {
      const p = (this.session ??= this.connect());
      const s = await p;
      if (!s.closed && !s.destroyed) return s;
      if (this.session === p) this.session = undefined;
    }
  }

  async call(path: string, request: Uint8Array, opts: UnaryCallOptions = {}): Promise<Buffer> {
    let session: http2.ClientHttp2Session;
    try {
      session = await this.currentSession();
    } catch (err) {
      // grpc-go's words for a connection that could not be made
      const why = err instanceof TlsRefusal ? 'authentication handshake failed' : 'Error while dialing';
      throw new GrpcError(GrpcCode.Unavailable, `connection error: desc = "transport: ${why}: ${(err as Error).message}"`);
    }
    return new Promise((resolve, reject) => {
      const headers: http2.OutgoingHttpHeaders = {
        ':method': 'POST',
        ':path': path,
        'content-type': 'application/grpc',
        te: 'trailers',
        ...opts.metadata,
      };
      if (opts.timeoutMs !== undefined) headers['grpc-timeout'] = `${Math.max(1, Math.ceil(opts.timeoutMs))}m`;
      let req: http2.ClientHttp2Stream;
      try {
        req = session.request(headers);
      } catch (err) {
        reject(new GrpcError(GrpcCode.Unavailable, (err as Error).message));
        return;
      }
      const deframer = new MessageDeframer(MAX_RESPONSE_BYTES);
      let message: Uint8Array | undefined;
      const result = new CallStatus();
      req.on('response', result.take);
      req.on('trailers', result.take);
      req.on('data', (chunk: Buffer) => {
        for (const m of deframer.push(chunk)) message = m;
      });
      req.on('error', (err) => reject(new GrpcError(GrpcCode.Unavailable, err.message)));
      req.on('close', () => {
        if (result.status === undefined) reject(new GrpcError(GrpcCode.Unavailable, 'stream closed without a status'));
        else if (result.status !== 0) reject(new GrpcError(result.status as GrpcCode, result.message));
        else resolve(Buffer.from(message ?? new Uint8Array(0)));
      });
      req.end(frameMessage(request));
    });
  }

  /** Opens a streaming call on this client's connection (shared with its unary calls). */
  stream(path: string, metadata?: Record<string, string>): ClientStream {
    return streamOn(this.currentSession(), path, metadata, false);
  }

  /**
   * An HTTP/2 PING on the open connection (none is opened for it): false when the ack does
   * not come within `timeoutMs`, and the connection is then dropped so the next call
   * connects again. True when there is no connection to check.
   */
  ping(timeoutMs: number): Promise<boolean> {
    const s = this.live;
    if (!s || s.closed || s.destroyed || s.connecting) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        s.destroy();
        resolve(false);
      }, timeoutMs);
      s.ping((err) => {
        clearTimeout(timer);
        if (err) s.destroy();
        resolve(!err);
      });
    });
  }

  close(): void {
    this.closed = true;
    void this.session?.then(
      (s) => s.close(),
      () => {},
    );
  }
}

export interface ClientStream {
  send(message: Uint8Array): void;
  /** half-closes the request side */
  end(): void;
  /** cancels the call */
  cancel(): void;
  onMessage: (message: Buffer) => void;
  /** settles with the call's status: resolves on OK, rejects with a GrpcError */
  readonly done: Promise<void>;
}

/**
 * Opens a bidirectional (or server-streaming) call on a fresh HTTP/2 connection; `tls`
 * applies to https:// endpoints, `metadata` is sent as request headers (e.g. `token`).
 * Messages sent before the connection is up are queued; a connection that fails (or whose
 * server certificate is refused) ends the call with Unavailable and the reason.
 */
export function openStream(endpoint: string, path: string, tls?: ClientTlsOptions, metadata?: Record<string, string>): ClientStream {
  return streamOn(openSession(endpoint, tls), path, metadata, true);
}

/** A call on `opening`'s session; `ownsSession`: the session is this call's alone and closes with it. */
function streamOn(
  opening: Promise<http2.ClientHttp2Session>,
  path: string,
  metadata: Record<string, string> | undefined,
  ownsSession: boolean,
): ClientStream {
  const deframer = new MessageDeframer(MAX_RESPONSE_BYTES);
  const result = new CallStatus();
  let session: http2.ClientHttp2Session | undefined;
  let req: http2.ClientHttp2Stream | undefined;
  /** what the caller did before the stream existed, replayed in order */
  const pending: Array<(r: http2.ClientHttp2Stream) => void> = [];
  let cancelled = false;
  const act = (f: (r: http2.ClientHttp2Stream) => void): void => {
    if (req) f(req);
    else pending.push(f);
  };
  const stream: ClientStream = {
    send: (m) => act((r) => void r.write(frameMessage(m))),
    end: () => act((r) => void r.end()),
    cancel: () => {
      cancelled = true;
      if (req) req.close(http2.constants.NGHTTP2_CANCEL);
      if (ownsSession) session?.close();
    },
    onMessage: () => {},
    done: new Promise<void>((resolve, reject) => {
      opening.then(
        (s) => {
          session = s;
          if (cancelled) {
            if (ownsSession) s.close();
            reject(new GrpcError(GrpcCode.Canceled, 'context canceled'));
            return;
          }
          let r: http2.ClientHttp2Stream;
          try {
            r = s.request({ ...metadata, ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers' });
          } catch (err) {
            reject(new GrpcError(GrpcCode.Unavailable, (err as Error).message));
            return;
          }
          req = r;
          r.on('response', result.take);
          r.on('trailers', result.take);
          r.on('data', (chunk: Buffer) => {
            for (const m of deframer.push(chunk)) stream.onMessage(Buffer.from(m));
          });
          r.on('error', () => {});
          r.on('close', () => {
            if (ownsSession) s.close();
            if (result.status === 0) resolve();
            else if (result.status !== undefined) reject(new GrpcError(result.status as GrpcCode, result.message));
            // ended by the caller, or else by the connection going away
            else reject(new GrpcError(cancelled ? GrpcCode.Canceled : GrpcCode.Unavailable, 'stream closed without a status'));
          });
          for (const f of pending.splice(0)) f(r);
        },
        (err: Error) => reject(new GrpcError(cancelled ? GrpcCode.Canceled : GrpcCode.Unavailable, err.message)),
      );
    }),
  };
  stream.done.catch(() => {});
  return stream;
}

/** The grpc-status and grpc-message of a call, from its headers or trailers. */
class CallStatus {
  status: number | undefined;
  message = '';
  readonly take = (h: http2.IncomingHttpHeaders): void => {
    if (h['grpc-status'] !== undefined) {
      this.status = Number(h['grpc-status']);
      this.message = decodeGrpcMessage(String(h['grpc-message'] ?? ''));
    }
  };
}
