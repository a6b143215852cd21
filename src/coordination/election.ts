// Leader election with the key layout of etcd's concurrency package (interoperates with
// `etcdctl elect`): candidates queue as `<name>/<lease hex>`; the leader is the key
// created first; its value is what the leader proclaims.
import {
  Compare,
  Compare_CompareResult,
  Compare_CompareTarget,
  DeleteRangeRequest,
  PutRequest,
  RequestOp,
  TxnRequest,
  type ResponseHeader,
} from '../proto/etcdserverpb.js';
import type { KeyValue } from '../proto/mvccpb.js';
import type { LeaderKey } from '../proto/v3electionpb.js';
import { keyString } from '../mvcc/tree-index.js';
import { LocalKv, prefixEnd } from './kv-client.js';
import { acquire } from './mutex.js';

/** clientv3/concurrency's errors, which etcd returns unchanged (the API edge answers Unknown with the text) */
export class ElectionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ElectionError';
  }
}
export const errNotLeader = (): ElectionError => new ElectionError('election: not leader');
export const errNoLeader = (): ElectionError => new ElectionError('election: no leader');
export const errMissingLeaderKey = (): ElectionError => new ElectionError('"leader" field must be provided');

const prefixOf = (name: Uint8Array): string => `${Buffer.from(name).toString()}/`;

export async function campaign(kv: LocalKv, name: Uint8Array, lease: bigint, value: Uint8Array, signal?: AbortSignal): Promise<{ header: ResponseHeader; leader: LeaderKey }> {
  const got = await acquire(kv, prefixOf(name), lease, value, signal);
  // campaigning again on the same lease with a new value proclaims it
  if (got.existingValue && !Buffer.from(got.existingValue).equals(Buffer.from(value))) {
    await kv.put({ key: got.key, value, ignore_lease: true });
  }
  return { header: got.header, leader: { name, key: got.key, rev: got.rev, lease } };
}

function sameLeader(leader: LeaderKey): Compare {
  return Compare.create({ key: leader.key, target: Compare_CompareTarget.CREATE, result: Compare_CompareResult.EQUAL, create_revision: leader.rev });
}

export async function proclaim(kv: LocalKv, leader: LeaderKey | undefined, value: Uint8Array): Promise<ResponseHeader> {
  if (!leader) throw errMissingLeaderKey();
  const resp = await kv.txn(
    TxnRequest.create({
      compare: [sameLeader(leader)],
      success: [RequestOp.create({ request_put: PutRequest.create({ key: leader.key, value, ignore_lease: true }) })],
    }),
  );
  if (!resp.succeeded) throw errNotLeader();
  return resp.header!;
}

export async function resign(kv: LocalKv, leader: LeaderKey | undefined): Promise<ResponseHeader> {
  if (!leader) throw errMissingLeaderKey();
  const resp = await kv.txn(
    TxnRequest.create({
      compare: [sameLeader(leader)],
      success: [RequestOp.create({ request_delete_range: DeleteRangeRequest.create({ key: leader.key }) })],
    }),
  );
  return resp.header!;
}

export async function currentLeader(kv: LocalKv, name: Uint8Array): Promise<{ header: ResponseHeader; kv: KeyValue }> {
  const { kv: leader, resp } = await kv.firstCreated(Buffer.from(prefixOf(name)));
  if (!leader) throw errNoLeader();
  return { header: resp.header!, kv: leader };
}

/**
 * Streams the election's leader: the current one (once there is one), then every change
 * of leader or of the leader's value, until `signal` aborts.
 */
export async function observe(kv: LocalKv, name: Uint8Array, emit: (header: ResponseHeader, leader: KeyValue) => void, signal: AbortSignal): Promise<void> {
  const prefix = Buffer.from(prefixOf(name));
  const end = keyString(prefixEnd(prefix));
  const start = keyString(prefix);
  let last: KeyValue | undefined;
  // wake on any change under the prefix; re-read the leader each time
  let wake: (() => void) | undefined;
  const unsubscribe = kv.server.subscribeChanges((changes) => {
    for (const c of changes) {
      const k = keyString(c.kv.key);
      if (k >= start && k < end) {
        wake?.();
        return;
      }
    }
  });
  const onAbort = (): void => wake?.();
  signal.addEventListener('abort', onAbort);
  try {
    while (!signal.aborted) {
      const changed = new Promise<void>((r) => (wake = r));
      const { kv: leader, resp } = await kv.firstCreated(prefix);
      if (leader && (!last || !Buffer.from(last.key).equals(Buffer.from(leader.key)) || last.mod_revision !== leader.mod_revision)) {
        last = leader;
        emit(resp.header!, leader);
      }
      await changed;
    }
  } finally {
    unsubscribe();
    signal.removeEventListener('abort', onAbort);
  }
}
