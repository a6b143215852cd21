// Calls the proxy passes through unchanged: a unary call is sent to the cluster as the
// client's bytes and answered with the member's bytes (or its status); a streaming call
// is joined to a call of its own on the member, message for message, both ways. The
// caller's auth token (and the require-leader flag) travel with it.
import type { CallContext, GrpcRouter, StreamCall } from '../api/grpc/server.js';
import { asGrpcError } from '../api/grpc/server.js';
import type { ServiceDescriptor } from '../proto/runtime.js';
import { GrpcError } from '../api/grpc/status.js';
import type { Upstream } from './upstream.js';

/** metadata keys passed on to the cluster: etcd's auth token and "require a leader" */
const FORWARDED_METADATA = ['token', 'hasleader'];

export function forwardedMetadata(ctx: CallContext): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of FORWARDED_METADATA) {
    const v = ctx.metadata[k];
    const s = Array.isArray(v) ? v[0] : v;
    if (s !== undefined) out[k] = s;
  }
  return out;
}

/** what remains of the client's grpc-timeout, if it sent one */
export function remainingMs(ctx: CallContext): number | undefined {
  return ctx.deadlineMs === undefined ? undefined : Math.max(1, ctx.deadlineMs - Date.now());
}

/** methods that only read, so a call may be sent again to another member */
const READ_ONLY = /\/(Range|MemberList|LeaseTimeToLive|LeaseLeases|Status|Hash|HashKV|Alarm|UserGet|UserList|RoleGet|RoleList|AuthStatus|Leader)$/;

export function forwardUnary(router: GrpcRouter, upstream: Upstream, path: string): void {
  router.unary(path, (bytes, ctx) => upstream.call(path, bytes, forwardedMetadata(ctx), { repeatable: READ_ONLY.test(path), timeoutMs: remainingMs(ctx) }));
}

/** Joins a client's streaming call to one of its own on the current member. */
export function pipeStream(call: StreamCall, upstream: Upstream, path: string): void {
  const { stream, url } = upstream.stream(path, forwardedMetadata(call.ctx));
  let closed = false;
  // --max-send-bytes / --max-recv-bytes hold for each message of a stream too
  const checked = (check: (m: Uint8Array) => void, pass: (m: Uint8Array) => void) => (m: Uint8Array) => {
    try {
      check(m);
    } catch (err) {
      closed = true;
      stream.cancel();
      call.end(asGrpcError(err));
      return;
    }
    pass(m);
  };
  stream.onMessage = checked((m) => upstream.checkReceived(m), (m) => void call.send(m));
  call.onMessage = checked((m) => upstream.checkSend(m), (m) => stream.send(m));
  call.onHalfClose = () => stream.end();
  call.onClose = () => {
    closed = true;
    stream.cancel();
  };
  stream.done.then(
    () => call.end(),
    (err: unknown) => {
      if (closed) return;
      if (err instanceof GrpcError && err.code === 14) upstream.failed(url);
      call.end(asGrpcError(err));
    },
  );
}

/** Every method of `service` not already routed is passed through. */
export function forwardService(router: GrpcRouter, upstream: Upstream, service: ServiceDescriptor, taken: ReadonlySet<string>): void {
  for (const m of Object.values(service.methods)) {
    if (taken.has(m.path)) continue;
    if (m.requestStream || m.responseStream) router.stream(m.path, (call) => pipeStream(call, upstream, m.path));
    else forwardUnary(router, upstream, m.path);
  }
}
