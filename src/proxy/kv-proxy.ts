// etcdserverpb.KV through the proxy: serializable Range answered from the cache when it
// holds the answer, every other Range forwarded (and its answer cached); Put, DeleteRange
// and Txn forwarded, then the ranges they wrote dropped from the cache; Compact forwarded,
// then pinned answers it made unanswerable dropped. With --namespace, keys are moved into
// the namespace on the way out and back out of it on the way in; the cache holds what the
// client sees.
import {
  CompactionRequest,
  DeleteRangeRequest,
  DeleteRangeResponse,
  KVService,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  TxnRequest,
  TxnResponse,
  type RequestOp,
} from '../proto/etcdserverpb.js';
import type { CallContext, GrpcRouter } from '../api/grpc/server.js';
import { decodeRequest } from '../api/method.js';
import { GrpcCode, GrpcError } from '../api/grpc/status.js';
import type { RangeCache } from './cache.js';
import type { Namespace } from './namespace.js';
import type { ProxyMetrics } from './metrics.js';
import type { Upstream } from './upstream.js';
import { forwardedMetadata, remainingMs } from './forward.js';

export interface KvProxyDeps {
  upstream: Upstream;
  cache: RangeCache;
  ns: Namespace;
  metrics: ProxyMetrics;
  /** --experimental-serializable-ordering */
  ordering?: SerializableOrdering;
}

/** clientv3/ordering's error when every member is behind what was already answered */
const NO_GREATER_REVISION = new GrpcError(GrpcCode.Unknown, 'etcdclient: no cluster members have a revision higher than the previously received revision');

/**
 * etcd's ordering KV: the highest revision any answer carried is remembered, and a
 * serializable read answered at a lower one is asked again of the next member (each
 * member once); if none is recent enough the read fails.
 */
export class SerializableOrdering {
  private highest = 0;

  saw(revision: number | undefined): void {
    if (revision !== undefined && revision > this.highest) this.highest = revision;
  }

  async read(upstream: Upstream, send: () => Promise<Buffer>): Promise<Buffer> {
    for (let tries = 0; tries <= upstream.urls.length; tries++) {
      const url = upstream.endpoint;
      const raw = await send();
      const rev = RangeResponse.decode(raw).header?.revision ?? 0;
      if (rev >= this.highest) {
        this.saw(rev);
        return raw;
      }
      upstream.failed(url);
    }
    throw NO_GREATER_REVISION;
  }
}

const M = KVService.methods;

/** The cache key of a Range: the caller's token and the request as a serializable one. */
function cacheKeyOf(ctx: CallContext, req: RangeRequest): string {
  const token = forwardedMetadata(ctx)['token'] ?? '';
  return `${token}\n${Buffer.from(RangeRequest.encode({ ...req, serializable: true })).toString('latin1')}`;
}

/** Every key range a transaction may write, in both branches and nested transactions. */
function txnWrites(t: TxnRequest): Array<{ key: Uint8Array; end: Uint8Array }> {
  const out: Array<{ key: Uint8Array; end: Uint8Array }> = t.compare.map((c) => ({ key: c.key, end: c.range_end }));
  const visit = (ops: RequestOp[]): void => {
    for (const o of ops) {
      if (o.request_put) out.push({ key: o.request_put.key, end: new Uint8Array(0) });
      else if (o.request_delete_range) out.push({ key: o.request_delete_range.key, end: o.request_delete_range.range_end });
      else if (o.request_txn) out.push(...txnWrites(o.request_txn));
    }
  };
  visit(t.success);
  visit(t.failure);
  return out;
}

export function registerKvProxy(router: GrpcRouter, d: KvProxyDeps): Set<string> {
  const send = (path: string, bytes: Uint8Array, ctx: CallContext, repeatable: boolean): Promise<Buffer> =>
    d.upstream.call(path, bytes, forwardedMetadata(ctx), { repeatable, timeoutMs: remainingMs(ctx) });
  /** Forwards a write, re-coded when namespaced; the cache forgets its ranges whatever the outcome (it may have applied). */
  const write = async <Req, Res>(
    path: string,
    bytes: Uint8Array,
    ctx: CallContext,
    codec: { req: { encode(m: Req): Uint8Array; decode(b: Uint8Array): Req }; res: { encode(m: Res): Uint8Array; decode(b: Uint8Array): Res } },
    map: { req: (r: Req) => Req; res: (r: Res) => Res; ranges: (r: Req) => Array<{ key: Uint8Array; end: Uint8Array }> },
  ): Promise<Uint8Array> => {
    const req = decodeRequest(codec.req as never, bytes) as Req;
    const out = d.ns.active ? codec.req.encode(map.req(req)) : bytes;
    try {
      const answer = await send(path, out, ctx, false);
      // every write answer's header is a revision the client has now seen
      d.ordering?.saw((codec.res.decode(answer) as { header?: { revision: number } }).header?.revision);
      return d.ns.active ? codec.res.encode(map.res(codec.res.decode(answer))) : answer;
    } finally {
      for (const r of map.ranges(req)) d.cache.invalidate(r.key, r.end);
      d.metrics.cacheKeys.set(d.cache.size);
    }
  };

  router.unary(M.Range.path, async (bytes, ctx) => {
    const req = decodeRequest(RangeRequest, bytes);
    const cacheKey = cacheKeyOf(ctx, req);
    if (req.serializable) {
      const hit = d.cache.get(cacheKey);
      if (hit) {
        d.metrics.cacheHits.inc();
        return hit;
      }
      d.metrics.cacheMisses.inc();
    }
    const out = d.ns.active ? RangeRequest.encode(d.ns.range(req)) : bytes;
    const raw = d.ordering && req.serializable ? await d.ordering.read(d.upstream, () => send(M.Range.path, out, ctx, true)) : await send(M.Range.path, out, ctx, true);
    if (d.ordering && !req.serializable) d.ordering.saw(RangeResponse.decode(raw).header?.revision);
    const answer = d.ns.active ? RangeResponse.encode(d.ns.rangeResponse(RangeResponse.decode(raw))) : raw;
    d.cache.add(cacheKey, req.key, req.range_end, req.revision, answer);
    d.metrics.cacheKeys.set(d.cache.size);
    return answer;
  });
  router.unary(M.Put.path, (bytes, ctx) =>
    write(M.Put.path, bytes, ctx, { req: PutRequest, res: PutResponse }, { req: (r) => d.ns.put(r), res: (r) => d.ns.putResponse(r), ranges: (r) => [{ key: r.key, end: new Uint8Array(0) }] }),
  );
  router.unary(M.DeleteRange.path, (bytes, ctx) =>
    write(
      M.DeleteRange.path,
      bytes,
      ctx,
      { req: DeleteRangeRequest, res: DeleteRangeResponse },
      { req: (r) => d.ns.deleteRange(r), res: (r) => d.ns.deleteResponse(r), ranges: (r) => [{ key: r.key, end: r.range_end }] },
    ),
  );
  router.unary(M.Txn.path, (bytes, ctx) =>
    write(M.Txn.path, bytes, ctx, { req: TxnRequest, res: TxnResponse }, { req: (r) => d.ns.txn(r), res: (r) => d.ns.txnResponse(r), ranges: txnWrites }),
  );
  router.unary(M.Compact.path, async (bytes, ctx) => {
    const req = decodeRequest(CompactionRequest, bytes);
    const answer = await send(M.Compact.path, bytes, ctx, false);
    d.cache.compact(req.revision);
    d.metrics.cacheKeys.set(d.cache.size);
    return answer;
  });
  return new Set(Object.values(M).map((m) => m.path));
}
