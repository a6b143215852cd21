// The member's own KV, as the coordination services use it: the same requests a client
// would send, through the same write path.
import {
  DeleteRangeRequest,
  PutRequest,
  RangeRequest,
  RangeRequest_SortOrder,
  RangeRequest_SortTarget,
  TxnRequest,
  type DeleteRangeResponse,
  type PutResponse,
  type RangeResponse,
  type TxnResponse,
} from '../proto/etcdserverpb.js';
import type { KeyValue } from '../proto/mvccpb.js';
import type { KvPort } from '../server/ports.js';
import type { Change } from '../mvcc/store.js';
import { keyString } from '../mvcc/tree-index.js';

export class LocalKv {
  constructor(readonly server: KvPort) {}

  txn(t: TxnRequest): Promise<TxnResponse> {
    return this.server.txn(t, TxnRequest.encode(t));
  }

  range(r: Partial<RangeRequest>): Promise<RangeResponse> {
    return this.server.range(RangeRequest.create(r));
  }

  put(r: Partial<PutRequest>): Promise<PutResponse> {
    const req = PutRequest.create(r);
    return this.server.put(req, PutRequest.encode(req));
  }

  delete(key: Uint8Array): Promise<DeleteRangeResponse> {
    const req = DeleteRangeRequest.create({ key });
    return this.server.deleteRange(req, DeleteRangeRequest.encode(req));
  }

  /** The key under `prefix` created first (the owner of a lock, the leader of an election). */
  async firstCreated(prefix: Uint8Array): Promise<{ kv?: KeyValue; resp: RangeResponse }> {
    const resp = await this.range({
      key: prefix,
      range_end: prefixEnd(prefix),
      sort_target: RangeRequest_SortTarget.CREATE,
      sort_order: RangeRequest_SortOrder.ASCEND,
      limit: 1,
    });
    return { kv: resp.kvs[0], resp };
  }

  /** The key under `prefix` created last with create revision <= maxCreateRev. */
  async lastCreatedBefore(prefix: Uint8Array, maxCreateRev: number): Promise<KeyValue | undefined> {
    const resp = await this.range({
      key: prefix,
      range_end: prefixEnd(prefix),
      sort_target: RangeRequest_SortTarget.CREATE,
      sort_order: RangeRequest_SortOrder.DESCEND,
      max_create_revision: maxCreateRev,
      limit: 1,
    });
    return resp.kvs[0];
  }

  /**
   * Resolves when `key` no longer exists. The subscription is made before the key is
   * read, and both happen in one turn of the event loop, so no delete can slip between.
   */
  waitDeleted(key: Uint8Array, signal?: AbortSignal): Promise<void> {
    const k = keyString(key);
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const finish = (err?: unknown): void => {
        if (settled) return;
        settled = true;
        unsubscribe();
        signal?.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve();
      };
      const onAbort = (): void => finish(signal!.reason ?? new Error('canceled'));
      const unsubscribe = this.server.subscribeChanges((changes: Change[]) => {
        for (const c of changes) if (c.kind === 'delete' && keyString(c.kv.key) === k) return finish();
      });
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort);
      this.range({ key, serializable: true, count_only: true }).then(
        (r) => {
          if (r.count === 0) finish();
        },
        (err) => finish(err),
      );
    });
  }

  /**
   * Waits until every key under `prefix` created at or before `maxCreateRev` is gone:
   * the keys ahead of us in the queue (etcd's waitDeletes).
   */
  async waitDeletes(prefix: Uint8Array, maxCreateRev: number, signal?: AbortSignal): Promise<void> {
    for (;;) {
      const kv = await this.lastCreatedBefore(prefix, maxCreateRev);
      if (!kv) return;
      await this.waitDeleted(kv.key, signal);
    }
  }
}

/** The range end that covers every key starting with `prefix` (etcd's GetPrefixRangeEnd). */
export function prefixEnd(prefix: Uint8Array): Uint8Array {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}
