// A unary method described once and served twice: over gRPC (protobuf bytes) and over
// the JSON gateway (etcd's grpc-gateway mapping). Handlers get the decoded request and
// the bytes it came in, so a proposal can carry the client's bytes unchanged.
import { GrpcCode, GrpcError } from './grpc/status.js';
import { FRAME_HEADER_BYTES, Framed } from './grpc/framing.js';
import type { CallContext, GrpcRouter } from './grpc/server.js';
import { ProtoRangeError } from '../proto/runtime.js';

export interface Codec<T> {
  encode(m: T, headroom?: number): Uint8Array;
  decode(b: Uint8Array): T;
  toJSON(m: T): unknown;
  fromJSON(o: unknown): T;
}

export interface UnaryMethod<Req, Res> {
  /** gRPC path, e.g. /etcdserverpb.KV/Put */
  path: string;
  /** gateway path(s) below /v3, e.g. /kv/put; absent when etcd's gateway does not serve it */
  gatewayPath?: string | string[];
  request: Codec<Req>;
  response: Codec<Res>;
  handle(req: Req, raw: Uint8Array, ctx: CallContext): Promise<Res> | Res;
}

// Each method has its own request/response types; the table holds them side by side.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyUnaryMethod = UnaryMethod<any, any>;

export function unaryMethod<Req, Res>(m: UnaryMethod<Req, Res>): UnaryMethod<Req, Res> {
  return m;
}

export function decodeRequest<T>(codec: Codec<T>, bytes: Uint8Array): T {
  try {
    return codec.decode(bytes);
  } catch (err) {
    // grpc-go would have decoded a 64-bit value we cannot hold exactly: the request is
    // well formed, its argument is what we refuse
    if (err instanceof ProtoRangeError) throw new GrpcError(GrpcCode.InvalidArgument, err.message);
    throw new GrpcError(GrpcCode.Internal, `grpc: error unmarshalling request: ${(err as Error).message}`);
  }
}

export function registerUnary(router: GrpcRouter, methods: AnyUnaryMethod[]): void {
  for (const m of methods) {
    router.unary(m.path, async (bytes, ctx) => {
      const req = decodeRequest(m.request, bytes);
      const res = await m.handle(req, bytes, ctx);
      return new Framed(m.response.encode(res, FRAME_HEADER_BYTES) as Buffer);
    });
  }
}

/** Decodes one message of a streaming call; a message that cannot be decoded ends the call. */
export function decodeStreamMessage<T>(codec: Codec<T>, bytes: Uint8Array, call: { end(err: GrpcError): void }): T | undefined {
  try {
    return decodeRequest(codec, bytes);
  } catch (err) {
    call.end(err instanceof GrpcError ? err : new GrpcError(GrpcCode.Internal, String(err)));
    return undefined;
  }
}
