// A distributed lock with the key layout of etcd's concurrency package, so it excludes
// `etcdctl lock` holders of the same name: each waiter puts `<name>/<lease hex>` on its
// lease, and the owner is the key created first; the others wait for the keys created
// before theirs to go away.
import {
  Compare,
  Compare_CompareResult,
  Compare_CompareTarget,
  PutRequest,
  RangeRequest,
  RequestOp,
  TxnRequest,
  type ResponseHeader,
} from '../proto/etcdserverpb.js';
import { LocalKv } from './kv-client.js';

export function waiterKey(prefix: string, lease: bigint): Buffer {
  return Buffer.from(`${prefix}${lease.toString(16)}`);
}

export interface Acquired {
  key: Buffer;
  /** create revision of our key */
  rev: number;
  header: ResponseHeader;
}

/**
 * Puts our key under `prefix` unless it is there already (a retry on the same lease),
 * then waits until it is the oldest. `value` is what the key holds (empty for a lock).
 */
export async function acquire(kv: LocalKv, prefix: string, lease: bigint, value: Uint8Array, signal?: AbortSignal): Promise<Acquired & { existingValue?: Uint8Array }> {
  const key = waiterKey(prefix, lease);
  const resp = await kv.txn(
    TxnRequest.create({
      compare: [Compare.create({ key, target: Compare_CompareTarget.CREATE, result: Compare_CompareResult.EQUAL, create_revision: 0 })],
      success: [RequestOp.create({ request_put: PutRequest.create({ key, value, lease }) })],
      failure: [RequestOp.create({ request_range: RangeRequest.create({ key }) })],
    }),
  );
  let rev = resp.header!.revision;
  let existingValue: Uint8Array | undefined;
  if (!resp.succeeded) {
    const kvs = resp.responses[0]!.response_range!.kvs;
    rev = kvs[0]!.create_revision;
    existingValue = kvs[0]!.value;
  }
  try {
    await kv.waitDeletes(Buffer.from(prefix), rev - 1, signal);
  } catch (err) {
    // gave up (client went away): take our key back out of the queue
    await kv.delete(key).catch(() => {});
    throw err;
  }
  const header = (await kv.range({ key, serializable: true, count_only: true })).header!;
  return { key, rev, header, existingValue };
}
