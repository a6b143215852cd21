// A minimal gRPC client over node:http2 for unary calls: what the tools and tests
// need to talk to a member without pulling in a gRPC library.
import http2 from 'node:http2';
import type { Duplex } from 'node:stream';
import { frameMessage, MessageDeframer } from '../api/grpc/framing.js';
import { decodeGrpcMessage, GrpcCode, GrpcError } from '../api/grpc/status.js';

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

/** http2.connect's options for `endpoint`: the TLS settings apply to https:// URLs only. */
function tlsConnectOptions(endpoint: string, tls: ClientTlsOptions | undefined): http2.SecureClientSessionOptions {
  if (!tls || !/^https:/i.test(endpoint)) return {};
  const o: http2.SecureClientSessionOptions = {};
  if (tls.ca !== undefined) o.ca = tls.ca;
  if (tls.cert !== undefined) o.cert = tls.cert;
  if (tls.key !== undefined) o.key = tls.key;
  if (tls.rejectUnauthorized !== undefined) o.rejectUnauthorized = tls.rejectUnauthorized;
  return o;
}

export class UnaryClient {
  private session: http2.ClientHttp2Session;

  /** socket: a connection already made (e.g. by the peer dialer, which verifies as Go does) */
  constructor(
    readonly endpoint: string,
    readonly tls?: ClientTlsOptions,
    private readonly socket?: () => Duplex,
  ) {
    this.session = this.connect();
  }

  private connect(): http2.ClientHttp2Session {
    const over = this.socket ? { createConnection: this.socket } : tlsConnectOptions(this.endpoint, this.tls);
    const s = http2.connect(this.endpoint, { ...over, settings: { initialWindowSize: 1 << 20 } });
    s.on('error', () => {});
    s.on('close', () => {
      if (this.session === s) this.session = undefined as unknown as http2.ClientHttp2Session;
    });
    return s;
  }

  call(path: string, request: Uint8Array, opts: UnaryCallOptions = {}): Promise<Buffer> {
    if (!this.session || this.session.closed || this.session.destroyed) this.session = this.connect();
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
        req = this.session.request(headers);
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
    if (!this.session || this.session.closed || this.session.destroyed) this.session = this.connect();
    return streamOn(this.session, path, metadata, false);
  }

  /**
   * An HTTP/2 PING on the open connection (none is opened for it): false when the ack does
   * not come within `timeoutMs`, and the connection is then dropped so the next call
   * connects again. True when there is no connection to check.
   */
  ping(timeoutMs: number): Promise<boolean> {
    const s = this.session;
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
    this.session?.close();
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
 */
export function openStream(endpoint: string, path: string, tls?: ClientTlsOptions, metadata?: Record<string, string>): ClientStream {
  const session = http2.connect(endpoint, tlsConnectOptions(endpoint, tls));
  session.on('error', () => {});
  return streamOn(session, path, metadata, true);
}

/** A call on `session`; `ownsSession`: the session is this call's alone and closes with it. */
function streamOn(session: http2.ClientHttp2Session, path: string, metadata: Record<string, string> | undefined, ownsSession: boolean): ClientStream {
  const deframer = new MessageDeframer(MAX_RESPONSE_BYTES);
  const result = new CallStatus();
  let req: http2.ClientHttp2Stream | undefined;
  let openError: Error | undefined;
  let canceled = false;
  try {
    req = session.request({ ...metadata, ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers' });
  } catch (err) {
    openError = err as Error;
  }
  const stream: ClientStream = {
    send: (m) => void req?.write(frameMessage(m)),
    end: () => void req?.end(),
    cancel: () => {
      canceled = true;
      req?.close(http2.constants.NGHTTP2_CANCEL);
      if (ownsSession) session.close();
    },
    onMessage: () => {},
    done: new Promise<void>((resolve, reject) => {
      if (!req) {
        reject(new GrpcError(GrpcCode.Unavailable, openError?.message ?? 'no connection'));
        return;
      }
      req.on('response', result.take);
      req.on('trailers', result.take);
      req.on('data', (chunk: Buffer) => {
        for (const m of deframer.push(chunk)) stream.onMessage(Buffer.from(m));
      });
      req.on('error', () => {});
      req.on('close', () => {
        if (ownsSession) session.close();
        if (result.status === 0) resolve();
        // no status: we canceled it, or the connection went away under it
        else if (result.status === undefined) reject(new GrpcError(canceled ? GrpcCode.Canceled : GrpcCode.Unavailable, 'stream closed without a status'));
        else reject(new GrpcError(result.status as GrpcCode, result.message));
      });
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
