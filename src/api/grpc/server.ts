// A thin gRPC server on our own HTTP/2 (src/api/h2): routing by :path, unary and
// bidirectional streaming calls, status trailers, deadlines and message size limits.
// Handlers see request bytes and return response bytes, so the codec and the
// transport stay separate and either can be replaced after a measurement.
import type { TLSSocket } from 'node:tls';
import type { H2ServerStream, OutgoingHeaders } from '../h2/index.js';
import { Framed, frameMessage, MessageDeframer, parseGrpcTimeoutMs } from './framing.js';
import { encodeGrpcMessage, GrpcCode, GrpcError } from './status.js';

export interface CallContext {
  readonly path: string;
  readonly metadata: Record<string, string | string[] | undefined>;
  /** aborted when the client cancels, the connection drops or the deadline passes */
  readonly signal: AbortSignal;
  /** true once the client reset the call or its connection is gone: a point check cheaper than `signal` */
  readonly cancelled?: boolean;
  readonly deadlineMs?: number;
  /** the verified client certificate's CN, when the connection is mutual TLS */
  readonly peerCommonName?: string;
  readonly remoteAddress?: string;
  /** performance.now() when the call arrived: handling-time metrics measure from here */
  readonly startedAtMs?: number;
}

type CallTiming = Pick<CallContext, 'path' | 'startedAtMs'>;

/** Returns the response message, or a Framed one (encoded with headroom, not copied again). */
export type UnaryHandler = (request: Uint8Array, ctx: CallContext) => Promise<Uint8Array | Framed> | Uint8Array | Framed;

export interface StreamCall {
  readonly ctx: CallContext;
  /** Sends one message. Returns false when the connection is backed up; wait for onDrain. */
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
  onCallDone?: (path: string, code: GrpcCode, kind: 'unary' | 'stream', startedAtMs?: number) => void;
  /**
   * turns what a handler throws into the status to answer (the API's one error mapping,
   * src/api/errors.ts); default: a GrpcError as is, anything else Unknown with its text
   */
  toStatus?: (err: unknown) => GrpcError;
}

type Route = { kind: 'unary'; handler: UnaryHandler } | { kind: 'stream'; handler: StreamHandler };

// Frozen so the HPACK encoder can reuse their encoded bytes on every response.
const RESPONSE_HEADERS: OutgoingHeaders = Object.freeze({ ':status': 200, 'content-type': 'application/grpc' });
const OK_TRAILERS: OutgoingHeaders = Object.freeze({ 'grpc-status': '0' });

export class GrpcRouter {
  private readonly routes = new Map<string, Route>();
  private readonly services = new Set<string>();

  readonly toStatus: (err: unknown) => GrpcError;

  constructor(private readonly opts: GrpcServerOptions) {
    this.toStatus = opts.toStatus ?? asGrpcError;
  }

  unary(path: string, handler: UnaryHandler): void {
    this.add(path, { kind: 'unary', handler });
  }

  stream(path: string, handler: StreamHandler): void {
    this.add(path, { kind: 'stream', handler });
  }

  /** The handler of a streaming route, for bridges such as the JSON gateway. */
  streamHandler(path: string): StreamHandler | undefined {
    const r = this.routes.get(path);
    return r?.kind === 'stream' ? r.handler : undefined;
  }

  private add(path: string, route: Route): void {
    if (this.routes.has(path)) throw new Error(`grpc route ${path} registered twice`);
    this.routes.set(path, route);
    this.services.add(path.split('/')[1]!);
  }

  /** Entry point for every HTTP/2 stream whose content-type is application/grpc. */
  handle(stream: H2ServerStream): void {
    const path = stream.headers[':path'] ?? '';
    const route = this.routes.get(path);
    if (!route) {
      const [, service = '', method = ''] = path.split('/');
      const message = this.services.has(service)
        ? `unknown method ${method} for service ${service}`
        : `unknown service ${service}`;
      stream.onData = () => {};
      this.respondError(stream, { path }, new GrpcError(GrpcCode.Unimplemented, message), 'unary');
      return;
    }
    const ctx = makeContext(stream, path);
    if (route.kind === 'unary') this.runUnary(stream, ctx.ctx, ctx.abort, route.handler);
    else this.runStream(stream, ctx.ctx, ctx.abort, route.handler);
  }

  private runUnary(stream: H2ServerStream, ctx: CallContext, abort: () => void, handler: UnaryHandler): void {
    const deframer = new MessageDeframer(this.opts.maxReceiveMessageBytes);
    let request: Uint8Array | undefined;
    let failed = false;
    stream.onClose = abort;
    stream.consumeOnDelivery = false;
    stream.onData = (chunk) => {
      if (failed) return stream.consumed(chunk.length);
      try {
        for (const m of pushConsuming(stream, deframer, chunk)) {
          if (request !== undefined) throw new GrpcError(GrpcCode.Unimplemented, 'grpc: too many messages for a unary call');
          request = m;
        }
      } catch (err) {
        failed = true;
        this.respondError(stream, ctx, this.toStatus(err), 'unary');
      }
    };
    stream.onEnd = () => {
      if (failed) return;
      if (request === undefined) {
        this.respondError(stream, ctx, new GrpcError(GrpcCode.Internal, 'grpc: no request message received'), 'unary');
        return;
      }
      // the handler's work counts against the connection until it settles, even if the client resets the call
      const release = stream.holdWork();
      // a microtask later: a reset that came in the same read from the socket is known by then
      const message = request;
      queueMicrotask(() => this.startUnary(stream, ctx, handler, message, release));
    };
  }

  private startUnary(stream: H2ServerStream, ctx: CallContext, handler: UnaryHandler, request: Uint8Array, release: () => void): void {
    if (stream.closed) {
      // reset before it started: nothing was done, nothing is answered
      release();
      this.opts.onCallDone?.(ctx.path, GrpcCode.Canceled, 'unary', ctx.startedAtMs);
      return;
    }
    let result: Promise<Uint8Array | Framed> | Uint8Array | Framed;
    try {
      result = handler(request, ctx);
    } catch (err) {
      release();
      this.respondError(stream, ctx, this.toStatus(err), 'unary');
      return;
    }
    if (result instanceof Uint8Array || result instanceof Framed) {
      release();
      this.respondOk(stream, ctx, result);
    } else {
      this.awaitUnary(stream, ctx, result, release);
    }
  }

  /**
   * Answers when the handler settles, or with DeadlineExceeded when the client's
   * grpc-timeout passes first (grpc-go servers end the call's context then, and etcd's
   * handlers return "context deadline exceeded"); whatever comes later is dropped.
   */
  private awaitUnary(stream: H2ServerStream, ctx: CallContext, result: Promise<Uint8Array | Framed>, release: () => void): void {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    if (ctx.deadlineMs !== undefined) {
      timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        this.respondError(stream, ctx, DEADLINE_EXCEEDED, 'unary');
      }, Math.max(0, ctx.deadlineMs - Date.now()));
    }
    const finish = (answer: () => void): void => {
      if (timer) clearTimeout(timer);
      if (settled) return;
      settled = true;
      answer();
    };
    result.then(
      (bytes) => finish(() => this.respondOk(stream, ctx, bytes)),
      (err) => finish(() => this.respondError(stream, ctx, this.toStatus(err), 'unary')),
    ).finally(release);
  }

  private respondOk(stream: H2ServerStream, call: CallTiming, response: Uint8Array | Framed): void {
    this.opts.onCallDone?.(call.path, GrpcCode.OK, 'unary', call.startedAtMs);
    if (stream.closed) return;
    stream.respond(RESPONSE_HEADERS);
    stream.write(response instanceof Framed ? response.bytes : frameMessage(response));
    stream.end(OK_TRAILERS);
  }

  private respondError(stream: H2ServerStream, call: CallTiming, err: GrpcError, kind: 'unary' | 'stream'): void {
    this.opts.onCallDone?.(call.path, err.code, kind, call.startedAtMs);
    if (stream.closed) return;
    const trailers = { 'grpc-status': String(err.code), 'grpc-message': encodeGrpcMessage(err.message) };
    if (stream.headersSent) stream.end(trailers);
    // trailers-only response: one HEADERS frame carries the status
    else stream.respond({ ...RESPONSE_HEADERS, ...trailers }, true);
  }

  private runStream(stream: H2ServerStream, ctx: CallContext, abort: () => void, handler: StreamHandler): void {
    const deframer = new MessageDeframer(this.opts.maxReceiveMessageBytes);
    const router = this;
    let ended = false;
    let closeNotified = false;
    const notifyClose = (): void => {
      if (closeNotified) return;
      closeNotified = true;
      abort();
      call.onClose();
    };
    stream.respond(RESPONSE_HEADERS);
    const call: StreamCall = {
      ctx,
      get ended() {
        return ended;
      },
      send(message: Uint8Array): boolean {
        if (ended || stream.closed) return false;
        return stream.write(frameMessage(message));
      },
      end(error?: GrpcError): void {
        if (ended) return;
        ended = true;
        const code = error ? error.code : GrpcCode.OK;
        router.opts.onCallDone?.(ctx.path, code, 'stream', ctx.startedAtMs);
        if (stream.closed) {
          notifyClose();
          return;
        }
        stream.end(error ? { 'grpc-status': String(code), 'grpc-message': encodeGrpcMessage(error.message) } : OK_TRAILERS);
      },
      onMessage: () => {},
      onHalfClose: () => {},
      onClose: () => {},
      onDrain: () => {},
    };
    stream.consumeOnDelivery = false;
    stream.onData = (chunk) => {
      if (ended) return stream.consumed(chunk.length);
      let messages: Uint8Array[];
      try {
        messages = pushConsuming(stream, deframer, chunk);
      } catch (err) {
        call.end(router.toStatus(err));
        return;
      }
      for (const m of messages) {
        if (ended) break;
        call.onMessage(m);
      }
    };
    stream.onEnd = () => {
      if (!ended) call.onHalfClose();
    };
    stream.onDrain = () => call.onDrain();
    stream.onClose = () => {
      if (!ended) {
        ended = true;
        router.opts.onCallDone?.(ctx.path, GrpcCode.Canceled, 'stream', ctx.startedAtMs);
      }
      notifyClose();
    };
    try {
      handler(call);
    } catch (err) {
      call.end(router.toStatus(err));
    }
  }
}

/**
 * Feeds the deframer; the bytes of complete messages count as consumed (the client may
 * send more in their place), those of a partial message stay held until it completes.
 */
function pushConsuming(stream: H2ServerStream, deframer: MessageDeframer, chunk: Buffer): Uint8Array[] {
  const before = deframer.pendingBytes;
  try {
    return deframer.push(chunk);
  } finally {
    stream.consumed(before + chunk.length - deframer.pendingBytes);
  }
}

/** Why a call's signal aborts when the client goes away; shared, no stack per call. */
const CANCELED = new GrpcError(GrpcCode.Canceled, 'context canceled');
const DEADLINE_EXCEEDED = new GrpcError(GrpcCode.DeadlineExceeded, 'context deadline exceeded');

/**
 * The context of one call. Its AbortSignal is made only when a handler asks for it:
 * most unary calls never look, and an AbortController per call is measurable.
 */
function makeContext(stream: H2ServerStream, path: string): { ctx: CallContext; abort: () => void } {
  let controller: AbortController | undefined;
  let finished = false;
  const timeoutMs = parseGrpcTimeoutMs(stream.headers['grpc-timeout']);
  const deadlineMs = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
  let timer: NodeJS.Timeout | undefined;
  const signal = (): AbortSignal => {
    if (!controller) {
      controller = new AbortController();
      if (finished) controller.abort(CANCELED);
      else if (deadlineMs !== undefined) {
        timer = setTimeout(() => controller!.abort(DEADLINE_EXCEEDED), Math.max(0, deadlineMs - Date.now()));
        timer.unref();
      }
    }
    return controller.signal;
  };
  const abort = (): void => {
    finished = true;
    if (timer) clearTimeout(timer);
    if (controller && !controller.signal.aborted) controller.abort(CANCELED);
  };
  const socket = stream.connection.socket as TLSSocket;
  let peerCommonName: string | undefined;
  if (typeof socket.getPeerCertificate === 'function' && socket.authorized) {
    const cn = socket.getPeerCertificate()?.subject?.CN;
    peerCommonName = Array.isArray(cn) ? cn[0] : cn;
  }
  return {
    ctx: {
      path,
      metadata: stream.headers,
      get signal() {
        return signal();
      },
      get cancelled() {
        return finished;
      },
      deadlineMs,
      peerCommonName,
      remoteAddress: socket.remoteAddress,
      startedAtMs: performance.now(),
    },
    abort,
  };
}

export function asGrpcError(err: unknown): GrpcError {
  if (err instanceof GrpcError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new GrpcError(GrpcCode.Unknown, message);
}
