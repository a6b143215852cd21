// etcdserverpb.KV: thin handlers that validate, call the server and fill the header.
import {
  CompactionRequest,
  CompactionResponse,
  DeleteRangeRequest,
  DeleteRangeResponse,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  TxnRequest,
  TxnResponse,
} from '../proto/etcdserverpb.js';
import type { AuthPort, KvPort } from '../server/ports.js';
import { mapErrors } from './errors.js';
import { unaryMethod, type AnyUnaryMethod } from './method.js';
import { callerOf } from './identity.js';
import { checkDeleteRequest, checkPutRequest, checkRangeRequest, checkTxnRequest } from './validate.js';
import { GrpcCode, GrpcError } from './grpc/status.js';
import type { CallContext } from './grpc/server.js';

/**
 * Runs `op` unless the client has already reset the call: a request reset before it was
 * proposed is never proposed (a rapid-reset client cannot make us write), and a read
 * whose stream is gone is not served. Handlers run a microtask after the request ends,
 * so a reset in the same read from the socket is seen here.
 */
function unlessCancelled<T>(ctx: CallContext, op: () => Promise<T>): Promise<T> {
  if (ctx.cancelled === true) throw CANCELED;
  return op();
}

/** Shared: a rapid-reset client should not make us capture a stack per call. */
const CANCELED = new GrpcError(GrpcCode.Canceled, 'context canceled');

export function kvMethods(server: KvPort & AuthPort): AnyUnaryMethod[] {
  return [
    unaryMethod({
      path: '/etcdserverpb.KV/Range',
      gatewayPath: '/kv/range',
      request: RangeRequest,
      response: RangeResponse,
      handle: (req, _raw, ctx) => {
        checkRangeRequest(req);
        return mapErrors(Promise.resolve().then(() => unlessCancelled(ctx, () => server.range(req, callerOf(server, ctx)))));
      },
    }),
    unaryMethod({
      path: '/etcdserverpb.KV/Put',
      gatewayPath: '/kv/put',
      request: PutRequest,
      response: PutResponse,
      handle: (req, raw, ctx) => {
        checkPutRequest(req);
        return mapErrors(Promise.resolve().then(() => unlessCancelled(ctx, () => server.put(req, raw, callerOf(server, ctx)))));
      },
    }),
    unaryMethod({
      path: '/etcdserverpb.KV/DeleteRange',
      gatewayPath: '/kv/deleterange',
      request: DeleteRangeRequest,
      response: DeleteRangeResponse,
      handle: (req, raw, ctx) => {
        checkDeleteRequest(req);
        return mapErrors(Promise.resolve().then(() => unlessCancelled(ctx, () => server.deleteRange(req, raw, callerOf(server, ctx)))));
      },
    }),
    unaryMethod({
      path: '/etcdserverpb.KV/Txn',
      gatewayPath: '/kv/txn',
      request: TxnRequest,
      response: TxnResponse,
      handle: (req, raw, ctx) => {
        checkTxnRequest(req, server.maxTxnOps);
        return mapErrors(Promise.resolve().then(() => unlessCancelled(ctx, () => server.txn(req, raw, callerOf(server, ctx)))));
      },
    }),
    unaryMethod({
      path: '/etcdserverpb.KV/Compact',
      gatewayPath: '/kv/compaction',
      request: CompactionRequest,
      response: CompactionResponse,
      handle: (req, raw, ctx) => mapErrors(Promise.resolve().then(() => server.compact(req, raw, callerOf(server, ctx)))),
    }),
  ];
}
