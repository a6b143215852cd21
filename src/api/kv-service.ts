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
import type { EtcdServer } from '../server/server.js';
import { toGrpcError } from '../server/errors.js';
import { unaryMethod, type AnyUnaryMethod } from './method.js';
import { checkDeleteRequest, checkPutRequest, checkRangeRequest, checkTxnRequest } from './validate.js';

async function mapErrors<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    throw toGrpcError(err);
  }
}

export function kvMethods(server: EtcdServer): AnyUnaryMethod[] {
  return [
    unaryMethod({
      path: '/etcdserverpb.KV/Range',
      gatewayPath: '/kv/range',
      request: RangeRequest,
      response: RangeResponse,
      handle: (req) => {
        checkRangeRequest(req);
        return mapErrors(server.range(req));
      },
    }),
    unaryMethod({
      path: '/etcdserverpb.KV/Put',
      gatewayPath: '/kv/put',
      request: PutRequest,
      response: PutResponse,
      handle: (req, raw) => {
        checkPutRequest(req);
        return mapErrors(server.put(req, raw));
      },
    }),
    unaryMethod({
      path: '/etcdserverpb.KV/DeleteRange',
      gatewayPath: '/kv/deleterange',
      request: DeleteRangeRequest,
      response: DeleteRangeResponse,
      handle: (req, raw) => {
        checkDeleteRequest(req);
        return mapErrors(server.deleteRange(req, raw));
      },
    }),
    unaryMethod({
      path: '/etcdserverpb.KV/Txn',
      gatewayPath: '/kv/txn',
      request: TxnRequest,
      response: TxnResponse,
      handle: (req, raw) => {
        checkTxnRequest(req, server.maxTxnOps);
        return mapErrors(server.txn(req, raw));
      },
    }),
    unaryMethod({
      path: '/etcdserverpb.KV/Compact',
      gatewayPath: '/kv/compaction',
      request: CompactionRequest,
      response: CompactionResponse,
      handle: (req, raw) => mapErrors(server.compact(req, raw)),
    }),
  ];
}
