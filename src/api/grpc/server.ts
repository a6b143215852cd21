// A thin gRPC server on node:http2: routing by :path, unary and bidirectional
// streaming calls, status trailers, deadlines and message size limits. Handlers see
// request bytes and return response bytes, so the codec and the transport stay
// separate and either can be replaced after a measurement.
import http2 from 'node:http2';
import type { TLSSocket } from 'node:tls';
import { frameMessage, MessageDeframer, parseGrpcTimeoutMs } from './framing.js';
import { encodeGrpcMessage, GrpcCode, GrpcError } from './status.js';

export interface CallContext {
  readonly path: string;
  readonly metadata: http2.IncomingHttpHeaders;
  /** aborted when the client cancels, the connection drops or the deadline passes */
  readonly signal: AbortSignal;
  readonly deadlineMs?: number;
  /** the verified client certificate's CN, when the connection is mutual TLS */
  readonly peerCommonName?: string;
  readonly remoteAddress?: string;
}

export type UnaryHandler = (request: Uint8Array, ctx: CallContext) => Promise<Uint8Array> | Uint8Array;

export interface StreamCall {
  readonly ctx: CallContext;
  /** Sends one message. Returns false when the socket is backed up; wait for onDrain. */
  send(message: Uint8Array): boolean;
  /** Ends the call with OK, or with the given error's status. Idempotent. */
  end(error?: GrpcError): void;
  readonly ended: boolean;
  onMessage: (message: Uint8Array) => void;
  onHalfClose: () => void;
  /** the client went away or the call ended; release everything the call holds */
  onClose: () => void;
  onDrain: () => void;
}

export type StreamHandler = (call: StreamCall) => void;

export interface GrpcServerOptions {
  /** largest request message accepted, in bytes (etcd: --max-request-bytes plus 512 KiB) */
  maxReceiveMessageBytes: number;
  /** called for each call that ends, for metrics */
  onCallDone?: (path: string, code: GrpcCode, kind: 'unary' | 'stream') => void;
}

type Route = { kind: 'unary'; handler: UnaryHandler } | { kind: 'stream'; handler: StreamHandler };

const GRPC_CONTENT_TYPE = 'application/grpc';

export class GrpcRouter {
  private readonly routes = new Map<string, Route>();
  private readonly services = new Set<string>();

  constructor(private readonly opts: GrpcServerOptions) {}

  unary(path: string, handler: UnaryHandler): void {
    this.add(path, { kind: 'unary', handler });
  }

  stream(path: string, handler: StreamHandler): void {
    this.add(path, { kind: 'stream', handler });
  }

  private add(path: string, route: Route): void {
    if (this.routes.has(path)) throw new Error(`grpc route ${path} registered twice`);
    this.routes.set(path, route);
    this.services.add(path.split('/')[1]!);
  }

  /** Entry point for every HTTP/2 stream of a connection that speaks gRPC. */
  handle(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    const path = headers[':path'] ?? '';
    const contentType = headers['content-type'] ?? '';
    if (!contentType.startsWith(GRPC_CONTENT_TYPE)) {
      stream.respond({ ':status': 415, 'content-type': 'text/plain' }, { endStream: false });
      stream.end(`invalid gRPC request content-type "${contentType}"`);
      return;
    }
    const route = this.routes.get(path);
    if (!route) {
      const [, service = '', method = ''] = path.split('/');
      const message = this.services.has(service)
        ? `unknown method ${method} for service ${service}`
        : `unknown service ${service}`;
      this.respondError(stream, path, new GrpcError(GrpcCode.Unimplemented, message), 'unary');
      return;
    }
    const ctx = this.makeContext(stream, headers, path);
    if (route.kind === 'unary') this.runUnary(stream, ctx, route.handler);
    else this.runStream(stream, ctx, route.handler);
  }

  private makeContext(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, path: string): CallContext {
    const controller = new AbortController();
    const timeoutMs = parseGrpcTimeoutMs(headers['grpc-timeout'] as string | undefined);
    let timer: NodeJS.Timeout | undefined;
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => controller.abort(new GrpcError(GrpcCode.DeadlineExceeded, 'context deadline exceeded')), timeoutMs);
      timer.unref();
    }
    stream.once('close', () => {
      if (timer) clearTimeout(timer);
      if (!controller.signal.aborted) controller.abort(new GrpcError(GrpcCode.Canceled, 'context canceled'));
    });
    const socket = stream.session?.socket as TLSSocket | undefined;
    let peerCommonName: string | undefined;
    if (socket && typeof socket.getPeerCertificate === 'function' && socket.authorized) {
      const cn = socket.getPeerCertificate()?.subject?.CN;
      peerCommonName = Array.isArray(cn) ? cn[0] : cn;
    }
    return {
      path,
      metadata: headers,
      signal: controller.signal,
      deadlineMs: timeoutMs === undefined ? undefined : Date.now() + timeoutMs,
      peerCommonName,
      remoteAddress: socket?.remoteAddress,
    };
  }

  private runUnary(stream: http2.ServerHttp2Stream, ctx: CallContext, handler: UnaryHandler): void {
    const deframer = new MessageDeframer(this.opts.maxReceiveMessageBytes);
    let request: Uint8Array | undefined;
    let failed = false;
    stream.on('data', (chunk: Buffer) => {
      if (failed) return;
      try {
        for (const m of deframer.push(chunk)) {
          if (request !== undefined) throw new GrpcError(GrpcCode.Unimplemented, 'grpc: too many messages for a unary call');
          request = m;
        }
      } catch (err) {
        failed = true;
        this.respondError(stream, ctx.path, asGrpcError(err), 'unary');
      }
    });
    stream.on('end', () => {
      if (failed) return;
      if (request === undefined) {
        this.respondError(stream, ctx.path, new GrpcError(GrpcCode.Internal, 'grpc: no request message received'), 'unary');
        return;
      }
      let result: Promise<Uint8Array> | Uint8Array;
      try {
        result = handler(request, ctx);
      } catch (err) {
        this.respondError(stream, ctx.path, asGrpcError(err), 'unary');
        return;
      }
      if (result instanceof Uint8Array) this.respondOk(stream, ctx.path, result);
      else
        result.then(
          (bytes) => this.respondOk(stream, ctx.path, bytes),
          (err) => this.respondError(stream, ctx.path, asGrpcError(err), 'unary'),
        );
    });
    stream.on('error', () => {
      /* a reset stream: nothing to answer */
    });
  }

  private respondOk(stream: http2.ServerHttp2Stream, path: string, response: Uint8Array): void {
    if (stream.destroyed || stream.closed) return;
    stream.respond({ ':status': 200, 'content-type': GRPC_CONTENT_TYPE }, { waitForTrailers: true });
    stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    stream.end(frameMessage(response));
    this.opts.onCallDone?.(path, GrpcCode.OK, 'unary');
  }

  private respondError(stream: http2.ServerHttp2Stream, path: string, err: GrpcError, kind: 'unary' | 'stream'): void {
    this.opts.onCallDone?.(path, err.code, kind);
    if (stream.destroyed || stream.closed) return;
    const trailers = { 'grpc-status': String(err.code), 'grpc-message': encodeGrpcMessage(err.message) };
    if (stream.headersSent) {
      if (stream.writable) {
        stream.once('wantTrailers', () => stream.sendTrailers(trailers));
        stream.end();
      }
      return;
    }
    // trailers-only response: one HEADERS frame carries the status
    stream.respond({ ':status': 200, 'content-type': GRPC_CONTENT_TYPE, ...trailers }, { endStream: true });
  }

  private runStream(stream: http2.ServerHttp2Stream, ctx: CallContext, handler: StreamHandler): void {
    const deframer = new MessageDeframer(this.opts.maxReceiveMessageBytes);
    const router = this;
    let ended = false;
    let closeNotified = false;
    const notifyClose = (): void => {
      if (closeNotified) return;
      closeNotified = true;
      call.onClose();
    };
    stream.respond({ ':status': 200, 'content-type': GRPC_CONTENT_TYPE }, { waitForTrailers: true });
    const call: StreamCall = {
      ctx,
      get ended() {
        return ended;
      },
      send(message: Uint8Array): boolean {
        if (ended || stream.destroyed) return false;
        return stream.write(frameMessage(message));
      },
      end(error?: GrpcError): void {
        if (ended) return;
        ended = true;
        const code = error ? error.code : GrpcCode.OK;
        router.opts.onCallDone?.(ctx.path, code, 'stream');
        if (stream.destroyed || stream.closed || !stream.writable) {
          notifyClose();
          return;
        }
        const trailers: http2.OutgoingHttpHeaders = { 'grpc-status': String(code) };
        if (error) trailers['grpc-message'] = encodeGrpcMessage(error.message);
        stream.once('wantTrailers', () => stream.sendTrailers(trailers));
        stream.end();
      },
      onMessage: () => {},
      onHalfClose: () => {},
      onClose: () => {},
      onDrain: () => {},
    };
    stream.on('data', (chunk: Buffer) => {
      if (ended) return;
      let messages: Uint8Array[];
      try {
        messages = deframer.push(chunk);
      } catch (err) {
        call.end(asGrpcError(err));
        return;
      }
      for (const m of messages) {
        if (ended) break;
        call.onMessage(m);
      }
    });
    stream.on('end', () => {
      if (!ended) call.onHalfClose();
    });
    stream.on('drain', () => call.onDrain());
    stream.on('error', () => {});
    stream.once('close', () => {
      if (!ended) {
        ended = true;
        router.opts.onCallDone?.(ctx.path, GrpcCode.Canceled, 'stream');
      }
      notifyClose();
    });
    try {
      handler(call);
    } catch (err) {
      call.end(asGrpcError(err));
    }
  }
}

export function asGrpcError(err: unknown): GrpcError {
  if (err instanceof GrpcError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new GrpcError(GrpcCode.Unknown, message);
}
