// etcdserverpb.Watch through the proxy: each client stream holds its watches (ids from 0
// per stream, as etcd's proxy numbers them); each watch is a receiver of a broadcast
// (watch-broadcast.ts) and filters what the shared upstream watch sends for its client,
// as etcd's proxy watcher does. Before a watch is created the caller's permission is
// checked with a one-key serializable Range under its token, as etcd's proxy does.
import { Event_EventType, type Event } from '../proto/mvccpb.js';
import {
  KVService,
  RangeRequest,
  WatchCreateRequest_FilterType as Filter,
  WatchRequest,
  WatchResponse,
  WatchService,
  type ResponseHeader,
  type WatchCreateRequest,
} from '../proto/etcdserverpb.js';
import { asGrpcError, type GrpcRouter, type StreamCall } from '../api/grpc/server.js';
import { decodeStreamMessage } from '../api/method.js';
import { GrpcCode, GrpcError } from '../api/grpc/status.js';
import { forwardedMetadata } from './forward.js';
import type { Broadcasts, Receiver } from './watch-broadcast.js';
import type { Upstream } from './upstream.js';
import type { Namespace } from './namespace.js';

/** clientv3.InvalidWatchID: the id of a watch that was refused at creation */
const INVALID_WATCH_ID = -1;
/**
 * etcd's proxy holds 1024 responses for a client stream that does not read; past that it
 * ends the stream, so one stalled client cannot make the proxy buffer without bound.
 */
const MAX_UNREAD_RESPONSES = 1024;

function isProgressNotify(r: WatchResponse): boolean {
  return r.events.length === 0 && !r.canceled && !r.created && r.compact_revision === 0 && (r.header?.revision ?? 0) !== 0;
}

/** etcd's watchRange.valid: a single key, a range with end after key, or "to the end" */
function validRange(key: Buffer, end: Buffer): boolean {
  return end.length === 0 || Buffer.compare(end, key) > 0 || (end.length === 1 && end[0] === 0);
}

class ClientWatch implements Receiver {
  nextrev: number;
  private lastHeader: ResponseHeader | undefined;

  constructor(
    readonly id: number,
    readonly key: Buffer,
    readonly end: Buffer,
    private readonly req: WatchCreateRequest,
    private readonly post: (r: WatchResponse) => void,
  ) {
    this.nextrev = req.start_revision;
  }

  private filteredOut(e: Event): boolean {
    if (e.type === Event_EventType.PUT) return this.req.filters.includes(Filter.NOPUT);
    return this.req.filters.includes(Filter.NODELETE);
  }

  deliver(resp: WatchResponse): void {
    const progress = isProgressNotify(resp);
    if (progress && !this.req.progress_notify) return;
    const headerRev = resp.header?.revision ?? 0;
    if (this.nextrev > headerRev && resp.events.length > 0) return;
    if (this.nextrev === 0) this.nextrev = headerRev + 1;
    const events: Event[] = [];
    let lastRev = 0;
    for (const e of resp.events) {
      const rev = e.kv?.mod_revision ?? 0;
      if (rev < this.nextrev) continue;
      lastRev = rev;
      if (this.filteredOut(e)) continue;
      events.push(this.req.prev_kv ? e : { ...e, prev_kv: undefined });
    }
    if (lastRev >= this.nextrev) this.nextrev = lastRev + 1;
    if (!progress && !resp.created && !resp.canceled && events.length === 0 && resp.compact_revision === 0) return;
    this.lastHeader = resp.header;
    this.post({ ...resp, watch_id: this.id, events, fragment: false });
  }

  joinedLate(header: ResponseHeader): void {
    this.lastHeader = header;
    this.post(WatchResponse.create({ header, watch_id: this.id, created: true }));
  }

  canceled(): WatchResponse {
    return WatchResponse.create({ header: this.lastHeader, watch_id: this.id, canceled: true });
  }
}

export function registerWatchProxy(router: GrpcRouter, upstream: Upstream, broadcasts: Broadcasts, ns: Namespace): Set<string> {
  router.stream(WatchService.methods.Watch.path, (call) => serveWatchStream(call, upstream, broadcasts, ns));
  return new Set([WatchService.methods.Watch.path]);
}

function serveWatchStream(call: StreamCall, upstream: Upstream, broadcasts: Broadcasts, ns: Namespace): void {
  const metadata = forwardedMetadata(call.ctx);
  const token = metadata['token'] ?? '';
  const watches = new Map<number, ClientWatch>();
  let nextId = 0;
  let closed = false;
  // creates are answered in the order they came, though each waits for a permission check
  let chain: Promise<void> = Promise.resolve();
  let unread = 0;
  call.onDrain = () => (unread = 0);
  const post = (r: WatchResponse): void => {
    if (closed || call.send(WatchResponse.encode(r)) || ++unread <= MAX_UNREAD_RESPONSES) return;
    release();
    call.end(new GrpcError(GrpcCode.Canceled, 'context canceled'));
  };
  const release = (): void => {
    closed = true;
    for (const w of watches.values()) broadcasts.delete(w);
    watches.clear();
  };

  const create = async (cr: WatchCreateRequest): Promise<void> => {
    const denied = await checkPermission(upstream, metadata, ns, cr);
    if (closed) return;
    if (denied !== undefined) {
      post(WatchResponse.create({ header: { cluster_id: 0n, member_id: 0n, revision: 0, raft_term: 0 }, watch_id: INVALID_WATCH_ID, created: true, canceled: true, cancel_reason: denied }));
      return;
    }
    const key = Buffer.from(cr.key);
    const end = Buffer.from(cr.range_end);
    if (!validRange(key, end)) {
      post(WatchResponse.create({ watch_id: INVALID_WATCH_ID, created: true, canceled: true }));
      return;
    }
    const w = new ClientWatch(nextId++, key, end, cr, post);
    watches.set(w.id, w);
    broadcasts.add(w, token);
  };

  call.onMessage = (bytes) => {
    const req = decodeStreamMessage(WatchRequest, bytes, call);
    if (!req) return;
    if (req.create_request) {
      const cr = req.create_request;
      chain = chain.then(() => create(cr)).catch((err: unknown) => call.end(asGrpcError(err)));
    } else if (req.cancel_request) {
      const id = req.cancel_request.watch_id;
      void chain.then(() => {
        const w = watches.get(id);
        if (!w) return;
        watches.delete(id);
        broadcasts.delete(w);
        post(w.canceled());
      });
    }
    // progress requests: etcd's proxy does not answer them either
  };
  call.onHalfClose = () => {};
  call.onClose = release;
}

/** etcd's checkPermissionForWatch: the member's refusal text, or undefined when allowed. */
async function checkPermission(upstream: Upstream, metadata: Record<string, string>, ns: Namespace, cr: WatchCreateRequest): Promise<string | undefined> {
  const whole = cr.key.length === 0;
  const req = ns.range(RangeRequest.create({
    key: whole ? Buffer.from([0]) : cr.key,
    range_end: whole ? Buffer.from([0]) : cr.range_end,
    serializable: true,
    count_only: true,
    limit: 1,
  }));
  try {
    await upstream.call(KVService.methods.Range.path, RangeRequest.encode(req), metadata, { repeatable: true });
    return undefined;
  } catch (err) {
    return asGrpcError(err).message;
  }
}
