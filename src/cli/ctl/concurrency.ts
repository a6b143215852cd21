// The client-side recipes etcdctl's lock and elect are built on (clientv3's concurrency
// package), over plain KV, lease and watch calls, so they interoperate with etcdctl and
// other clientv3 programs holding the same lock or election:
// - a session is a lease (TTL seconds) kept alive until the process ends;
// - a lock or election key is "<name>/<lease ID in hex>", attached to the lease; its
//   holder is the key with the lowest create revision under "<name>/", and a waiter
//   waits, by watch, for the deletion of every key created before its own.
import {
  Compare_CompareResult,
  Compare_CompareTarget,
  KVService,
  LeaseService,
  RangeRequest,
  RangeRequest_SortOrder,
  RangeRequest_SortTarget,
  WatchService,
  type RangeResponse,
  type ResponseHeader,
  type TxnResponse,
} from '../../proto/etcdserverpb.js';
import { Event_EventType, type KeyValue } from '../../proto/mvccpb.js';
import type { ClientStream } from '../../client/unary-client.js';
import { RpcError, type CtlClient } from './client.js';
import { noDeadline } from './cmd-support.js';
import { prefixEnd } from './kv-commands.js';

/** Raised when a wait is abandoned (a signal arrived): clientv3's context error. */
export class Canceled extends RpcError {
  constructor() {
    super('context canceled');
  }
}

/** A signal-driven cancellation shared by the waits of one command. */
export class Cancellation {
  canceled = false;
  private readonly listeners = new Set<() => void>();

  cancel(): void {
    if (this.canceled) return;
    this.canceled = true;
    for (const l of this.listeners) l();
  }

  onCancel(l: () => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
}

export class Session {
  private stream: ClientStream | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** settles when the lease is gone (expired or revoked): clientv3's Session.Done() */
  readonly done: Promise<void>;
  private markDone!: () => void;

  private constructor(
    readonly client: CtlClient,
    readonly lease: bigint,
  ) {
    this.done = new Promise<void>((r) => (this.markDone = r));
  }

  static async create(client: CtlClient, ttlSec: number): Promise<Session> {
    const ans = await client.call(LeaseService.methods.LeaseGrant, { TTL: ttlSec, ID: 0n }, noDeadline(), { repeatable: false });
    const s = new Session(client, ans.msg.ID);
    await s.keepAlive();
    return s;
  }

  private async keepAlive(): Promise<void> {
    const stream = await this.client.openStream(LeaseService.methods.LeaseKeepAlive.path);
    this.stream = stream;
    const request = LeaseService.methods.LeaseKeepAlive.request.encode({ ID: this.lease });
    stream.onMessage = (bytes) => {
      const r = LeaseService.methods.LeaseKeepAlive.response.decode(bytes);
      if (r.TTL <= 0) return this.end();
      this.timer = setTimeout(() => stream.send(request), Math.max(500, (r.TTL * 1000) / 3));
      this.timer.unref();
    };
    stream.done.then(
      () => this.end(),
      () => this.end(),
    );
    stream.send(request);
  }

  private end(): void {
    clearTimeout(this.timer);
    this.markDone();
  }

  /** Stops renewing (the lease then expires on its own, as when etcdctl exits). */
  close(): void {
    clearTimeout(this.timer);
    this.stream?.cancel();
  }
}

/** "<prefix><lease ID in hex>", clientv3's %s%x. */
export function sessionKey(prefix: string, lease: bigint): Buffer {
  return Buffer.from(prefix + lease.toString(16), 'utf8');
}

function rangeOf(key: Buffer, opts: Partial<RangeRequest> = {}): RangeRequest {
  return { ...RangeRequest.create({ key }), ...opts };
}

/** clientv3's WithFirstCreate / WithLastCreate on a prefix. */
function byCreate(prefix: Buffer, order: RangeRequest_SortOrder, maxCreateRev = 0): RangeRequest {
  return rangeOf(prefix, {
    range_end: prefixEnd(prefix),
    sort_target: RangeRequest_SortTarget.CREATE,
    sort_order: order,
    limit: 1,
    max_create_revision: maxCreateRev,
  });
}

export async function getKey(client: CtlClient, key: Buffer): Promise<{ msg: RangeResponse; raw: Buffer }> {
  return client.call(KVService.methods.Range, rangeOf(key), noDeadline(), { repeatable: true });
}

/** Waits, by watch from `rev`, for `key` to be deleted. */
async function waitDelete(client: CtlClient, key: Buffer, rev: number, cancel: Cancellation): Promise<void> {
  const stream = await client.openStream(WatchService.methods.Watch.path);
  try {
    await new Promise<void>((resolve, reject) => {
      const off = cancel.onCancel(() => reject(new Canceled()));
      stream.onMessage = (bytes) => {
        const r = WatchService.methods.Watch.response.decode(bytes);
        if (r.canceled) reject(new RpcError(r.cancel_reason || 'etcdserver: mvcc: required revision has been compacted'));
        if (r.events.some((e) => e.type === Event_EventType.DELETE)) resolve();
      };
      stream.done.then(
        () => reject(new RpcError('lost watcher waiting for delete')),
        (err: Error) => reject(new RpcError(err.message)),
      );
      const create = { key, range_end: Buffer.alloc(0), start_revision: rev, progress_notify: false, filters: [], prev_kv: false, watch_id: 0, fragment: false };
      stream.send(WatchService.methods.Watch.request.encode({ create_request: create }));
      void off;
    });
  } finally {
    stream.cancel();
  }
}

/** clientv3's waitDeletes: until no key under `prefix` was created at or before maxCreateRev. */
export async function waitDeletes(client: CtlClient, prefix: Buffer, maxCreateRev: number, cancel: Cancellation): Promise<ResponseHeader | undefined> {
  for (;;) {
    if (cancel.canceled) throw new Canceled();
    const ans = await client.call(KVService.methods.Range, byCreate(prefix, RangeRequest_SortOrder.DESCEND, maxCreateRev), noDeadline(), { repeatable: true });
    const last = ans.msg.kvs[0];
    if (!last) return ans.msg.header;
    await waitDelete(client, Buffer.from(last.key), ans.msg.header?.revision ?? 0, cancel);
  }
}

function createIsZero(key: Buffer) {
  return { result: Compare_CompareResult.EQUAL, target: Compare_CompareTarget.CREATE, key, create_revision: 0, range_end: Buffer.alloc(0) };
}

function putWithLease(key: Buffer, value: Buffer, lease: bigint) {
  return { request_put: { key, value, lease, prev_kv: false, ignore_value: false, ignore_lease: false } };
}

/** clientv3's Mutex.Lock: returns the lock key and the header etcdctl reports (ETCD_LOCK_REV). */
export async function lockMutex(s: Session, name: string, cancel: Cancellation): Promise<{ key: Buffer; header: ResponseHeader | undefined }> {
  const client = s.client;
  const prefix = Buffer.from(name + '/', 'utf8');
  const key = sessionKey(name + '/', s.lease);
  const owner = { request_range: byCreate(prefix, RangeRequest_SortOrder.ASCEND) };
  const txn = {
    compare: [createIsZero(key)],
    success: [putWithLease(key, Buffer.alloc(0), s.lease), owner],
    failure: [{ request_range: rangeOf(key) }, owner],
  };
  const resp: TxnResponse = (await client.call(KVService.methods.Txn, txn, noDeadline(), { repeatable: false })).msg;
  let myRev = resp.header?.revision ?? 0;
  if (!resp.succeeded) myRev = resp.responses[0]?.response_range?.kvs[0]?.create_revision ?? myRev;
  const ownerKvs = resp.responses[1]?.response_range?.kvs ?? [];
  if (ownerKvs.length === 0 || ownerKvs[0]!.create_revision === myRev) return { key, header: resp.header };
  try {
    await waitDeletes(client, prefix, myRev - 1, cancel);
  } catch (err) {
    await unlockMutex(client, key).catch(() => {});
    throw err;
  }
  const got = await getKey(client, key);
  if (got.msg.kvs.length === 0) throw new RpcError('mutex: session is expired');
  return { key, header: got.msg.header };
}

export async function unlockMutex(client: CtlClient, key: Buffer): Promise<void> {
  await client.call(KVService.methods.DeleteRange, { key, range_end: Buffer.alloc(0), prev_kv: false }, noDeadline(), { repeatable: false });
}

export interface Leadership {
  key: Buffer;
  rev: number;
}

/** clientv3's Election.Campaign: becomes leader with `value` (or waits to). */
export async function campaign(s: Session, name: string, value: Buffer, cancel: Cancellation): Promise<Leadership> {
  const client = s.client;
  const prefix = Buffer.from(name + '/', 'utf8');
  const key = sessionKey(name + '/', s.lease);
  const txn = { compare: [createIsZero(key)], success: [putWithLease(key, value, s.lease)], failure: [{ request_range: rangeOf(key) }] };
  const resp = (await client.call(KVService.methods.Txn, txn, noDeadline(), { repeatable: false })).msg;
  const lead: Leadership = { key, rev: resp.header?.revision ?? 0 };
  if (!resp.succeeded) {
    const kv = resp.responses[0]?.response_range?.kvs[0];
    if (kv) {
      lead.rev = kv.create_revision;
      if (!Buffer.from(kv.value).equals(value)) await proclaim(client, lead, value, s.lease);
    }
  }
  try {
    await waitDeletes(client, prefix, lead.rev - 1, cancel);
  } catch (err) {
    if (cancel.canceled) await resign(client, lead).catch(() => {});
    throw err;
  }
  return lead;
}

async function proclaim(client: CtlClient, lead: Leadership, value: Buffer, lease: bigint): Promise<void> {
  const cmp = { result: Compare_CompareResult.EQUAL, target: Compare_CompareTarget.CREATE, key: lead.key, create_revision: lead.rev, range_end: Buffer.alloc(0) };
  const resp = (await client.call(KVService.methods.Txn, { compare: [cmp], success: [putWithLease(lead.key, value, lease)], failure: [] }, noDeadline(), { repeatable: false })).msg;
  if (!resp.succeeded) throw new RpcError('election: not leader');
}

/** clientv3's Election.Resign: deletes the leader key if it is still ours. */
export async function resign(client: CtlClient, lead: Leadership): Promise<void> {
  const cmp = { result: Compare_CompareResult.EQUAL, target: Compare_CompareTarget.CREATE, key: lead.key, create_revision: lead.rev, range_end: Buffer.alloc(0) };
  const del = { request_delete_range: { key: lead.key, range_end: Buffer.alloc(0), prev_kv: false } };
  await client.call(KVService.methods.Txn, { compare: [cmp], success: [del], failure: [] }, noDeadline(), { repeatable: false });
}

export interface Observation {
  header: ResponseHeader | undefined;
  kv: KeyValue;
}

/**
 * clientv3's Election.Observe: reports the leader's key-value now and at every change
 * (a new leader or a new proclaimed value) until canceled or the watch is lost.
 */
export async function observe(client: CtlClient, name: string, cancel: Cancellation, report: (o: Observation) => void): Promise<void> {
  const prefix = Buffer.from(name + '/', 'utf8');
  while (!cancel.canceled) {
    const ans = await client.call(KVService.methods.Range, byCreate(prefix, RangeRequest_SortOrder.ASCEND), noDeadline(), { repeatable: true });
    let leader: Observation;
    if (ans.msg.kvs.length > 0) {
      leader = { header: ans.msg.header, kv: ans.msg.kvs[0]! };
    } else {
      const first = await watchFor(client, prefix, prefixEnd(prefix), ans.msg.header?.revision ?? 0, cancel, (e) => e.type === Event_EventType.PUT);
      if (!first) return;
      leader = first;
    }
    report(leader);
    // follow the leader's key: its new values, until it is deleted
    const deleted = await watchFor(client, Buffer.from(leader.kv.key), Buffer.alloc(0), (leader.header?.revision ?? 0) + 1, cancel, (e, header) => {
      if (e.type === Event_EventType.DELETE) return true;
      report({ header, kv: e.kv! });
      return false;
    });
    if (!deleted) return;
  }
}

/** Watches until `stop` accepts an event; undefined when canceled or the stream ends. */
async function watchFor(
  client: CtlClient,
  key: Buffer,
  rangeEnd: Buffer,
  rev: number,
  cancel: Cancellation,
  stop: (e: { type: Event_EventType; kv?: KeyValue }, header: ResponseHeader | undefined) => boolean,
): Promise<Observation | undefined> {
  const stream = await client.openStream(WatchService.methods.Watch.path);
  try {
    return await new Promise<Observation | undefined>((resolve) => {
      const off = cancel.onCancel(() => resolve(undefined));
      stream.onMessage = (bytes) => {
        const r = WatchService.methods.Watch.response.decode(bytes);
        if (r.canceled) resolve(undefined);
        for (const e of r.events) {
          if (stop(e, r.header)) {
            off();
            // a batch may hold several puts: the header reports this event's revision
            resolve({ header: r.header ? { ...r.header, revision: e.kv?.mod_revision ?? r.header.revision } : undefined, kv: e.kv! });
            return;
          }
        }
      };
      stream.done.then(
        () => resolve(undefined),
        () => resolve(undefined),
      );
      const create = { key, range_end: rangeEnd, start_revision: rev, progress_notify: false, filters: [], prev_kv: false, watch_id: 0, fragment: false };
      stream.send(WatchService.methods.Watch.request.encode({ create_request: create }));
    });
  } finally {
    stream.cancel();
  }
}
