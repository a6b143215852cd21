// etcdserverpb.Watch/Watch: one bidirectional stream per client carrying any number of
// watchers. Requests (create, cancel, progress) go to the stream's WatchStream; its
// responses come back in order and are encoded here with the member's header, split
// into fragments when the watcher asked for that and a response is too large.
import { toGrpcError } from './errors.js';
import { makeRange } from '../mvcc/tree-index.js';
import {
  ResponseHeader,
  WatchCreateRequest_FilterType,
  WatchRequest,
  WatchResponse,
  type WatchCreateRequest,
} from '../proto/etcdserverpb.js';
import { INVALID_WATCH_ID, type WatchableStore, type WatchCreateOptions, type WatchSink, type WatchStreamLimits, type WatchStreamResponse } from '../watch/watchable-store.js';
import type { CallContext, GrpcRouter, StreamCall } from './grpc/server.js';
import { GrpcCode, GrpcError, goStatusText } from './grpc/status.js';
import { decodeRequest } from './method.js';

export const WATCH_PATH = '/etcdserverpb.Watch/Watch';

/** etcd's default --experimental-watch-progress-notify-interval */
export const DEFAULT_PROGRESS_NOTIFY_INTERVAL_MS = 10 * 60 * 1000;
/** etcd raises shorter intervals to this */
export const MIN_PROGRESS_NOTIFY_INTERVAL_MS = 100;
/** etcd splits responses at --max-request-bytes plus gRPC's overhead allowance */
const GRPC_OVERHEAD_BYTES = 512 * 1024;
/** field 11 (events), wire type 2 */
const EVENTS_TAG = (11 << 3) | 2;
/** etcd watches "\x00" when the key is empty: the smallest key */
const ZERO_KEY = new Uint8Array([0]);

/** What the service needs from the member. */
export interface WatchHost {
  header(revision: number): ResponseHeader;
  readonly maxRequestBytes: number;
}

export interface WatchServiceOptions {
  /** refuses a watch the caller may not read (auth); throws the error to report */
  authorize?: (ctx: CallContext, key: Uint8Array, rangeEnd: Uint8Array) => void;
  /** interval of progress notifications to idle progress_notify watchers (etcd: 10 minutes) */
  progressNotifyIntervalMs?: number;
  limits?: Partial<WatchStreamLimits>;
}

export function registerWatchService(router: GrpcRouter, host: WatchHost, store: WatchableStore, opts: WatchServiceOptions = {}): void {
  const intervalMs = Math.max(MIN_PROGRESS_NOTIFY_INTERVAL_MS, opts.progressNotifyIntervalMs ?? DEFAULT_PROGRESS_NOTIFY_INTERVAL_MS);
  router.stream(WATCH_PATH, (call) => serveWatch(call, host, store, intervalMs, opts.limits ?? {}, opts));
}

function serveWatch(
  call: StreamCall,
  host: WatchHost,
  store: WatchableStore,
  intervalMs: number,
  limits: Partial<WatchStreamLimits>,
  opts: WatchServiceOptions,
): void {
  const fragmentBytes = host.maxRequestBytes + GRPC_OVERHEAD_BYTES;
  let ticker: NodeJS.Timeout | undefined;
  // responses of one revision share their header: encode it once
  let header: ResponseHeader | undefined;
  let headerBytes: Buffer | undefined;
  const sink: WatchSink = {
    send(r) {
      const h = host.header(r.revision);
      if (!header || h.revision !== header.revision || h.raft_term !== header.raft_term || h.member_id !== header.member_id || h.cluster_id !== header.cluster_id) {
        header = h;
        headerBytes = ResponseHeader.encode(h);
      }
      let flowing = true;
      for (const message of encodeWatchResponse(r, header, fragmentBytes, headerBytes)) flowing = call.send(message) && flowing;
      return flowing;
    },
    overflow() {
      call.end(new GrpcError(GrpcCode.ResourceExhausted, 'etcdserver: too many requests'));
    },
  };
  const stream = store.newStream(sink, limits);
  call.onMessage = (bytes) => {
    let req: WatchRequest;
    try {
      req = decodeRequest(WatchRequest, bytes);
    } catch (err) {
      call.end(toGrpcError(err));
      return;
    }
    if (req.create_request) {
      try {
        opts.authorize?.(call.ctx, req.create_request.key, req.create_request.range_end);
      } catch (err) {
        // etcd answers a refused create with a created-and-canceled response, watch ID -1,
        // whose reason is the whole gRPC status text of the auth error
        const g = toGrpcError(err);
        const cancelReason = goStatusText(g.code, g.message);
        call.send(WatchResponse.encode(WatchResponse.create({ header: host.header(0), watch_id: -1, created: true, canceled: true, cancel_reason: cancelReason })));
        return;
      }
      const o = createOptions(req.create_request);
      const id = stream.watch(o);
      if (o.progressNotify && id !== INVALID_WATCH_ID && !ticker) {
        // one ticker per stream with up to 10% jitter, so streams opened together spread out
        ticker = setInterval(() => stream.progressTick(), intervalMs + Math.floor(Math.random() * (intervalMs / 10)));
        ticker.unref();
      }
    } else if (req.cancel_request) stream.cancel(req.cancel_request.watch_id);
    else if (req.progress_request) stream.requestProgress();
    // an empty request is ignored, as etcd does
  };
  call.onDrain = () => stream.resume();
  // etcd keeps the stream (and its watchers) after the client half-closes
  call.onHalfClose = () => {};
  call.onClose = () => {
    if (ticker) clearInterval(ticker);
    stream.close();
  };
}

/** etcd's reading of a create request: empty key is "\x00", range_end "\x00" is "every key >= key". */
export function createOptions(c: WatchCreateRequest): WatchCreateOptions {
  const key = c.key.length === 0 ? ZERO_KEY : c.key;
  return {
    id: c.watch_id,
    range: makeRange(key, c.range_end),
    startRev: c.start_revision,
    noPut: c.filters.includes(WatchCreateRequest_FilterType.NOPUT),
    noDelete: c.filters.includes(WatchCreateRequest_FilterType.NODELETE),
    prevKv: c.prev_kv,
    progressNotify: c.progress_notify,
    fragment: c.fragment,
  };
}

/**
 * Encodes one response; several when it must be split (etcd's sendFragments: only when
 * the watcher asked, the response is at least fragmentBytes and holds two or more
 * events; every part but the last has fragment set). Events are appended as their
 * already-encoded bytes, shared by every watcher that gets the same event.
 */
export function encodeWatchResponse(r: WatchStreamResponse, header: ResponseHeader, fragmentBytes: number, headerBytes?: Buffer): Buffer[] {
  const plain = headerBytes !== undefined && r.watchId >= 0 && !r.created && !r.canceled && r.compactRevision === 0 && r.cancelReason === '';
  const base: WatchResponse = {
    header,
    watch_id: r.watchId,
    created: r.created,
    canceled: r.canceled,
    compact_revision: r.compactRevision,
    cancel_reason: r.cancelReason,
    fragment: false,
    events: [],
  };
  const head = plain ? encodeHead(headerBytes, r.watchId) : WatchResponse.encode(base);
  if (r.events.length === 0) return [head];
  const events = r.events.map((e) => e.encoded(r.prevKv));
  let total = head.length;
  for (const e of events) total += fieldBytes(e.length);
  if (!r.fragment || total < fragmentBytes || events.length < 2) return [join(head, events, 0, events.length)];
  const fragHead = WatchResponse.encode({ ...base, fragment: true });
  const out: Buffer[] = [];
  let idx = 0;
  while (idx < events.length) {
    const start = idx;
    let size = fragHead.length;
    for (; idx < events.length; idx++) {
      const add = fieldBytes(events[idx]!.length);
      if (idx > start && size + add >= fragmentBytes) break;
      size += add;
    }
    out.push(join(idx === events.length ? head : fragHead, events, start, idx));
  }
  return out;
}

/** header (field 1) and watch_id (field 2) of a plain response, as the codec writes them */
function encodeHead(headerBytes: Buffer, watchId: number): Buffer {
  const out = Buffer.allocUnsafe(1 + varintBytes(headerBytes.length) + headerBytes.length + (watchId === 0 ? 0 : 1 + varintBytes(watchId)));
  let pos = 0;
  out[pos++] = 0x0a;
  pos = writeVarint(out, pos, headerBytes.length);
  headerBytes.copy(out, pos);
  pos += headerBytes.length;
  if (watchId !== 0) {
    out[pos++] = 0x10;
    pos = writeVarint(out, pos, watchId);
  }
  return out;
}

function writeVarint(out: Buffer, pos: number, n: number): number {
  while (n >= 0x80) {
    out[pos++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  out[pos++] = n;
  return pos;
}

function varintBytes(n: number): number {
  let bytes = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    bytes++;
  }
  return bytes;
}

/** bytes of one events field holding an encoded event of `len` bytes */
function fieldBytes(len: number): number {
  return 1 + varintBytes(len) + len;
}

function join(head: Buffer, events: Buffer[], from: number, to: number): Buffer {
  let total = head.length;
  for (let i = from; i < to; i++) total += fieldBytes(events[i]!.length);
  const out = Buffer.allocUnsafe(total);
  head.copy(out, 0);
  let pos = head.length;
  for (let i = from; i < to; i++) {
    const e = events[i]!;
    out[pos++] = EVENTS_TAG;
    pos = writeVarint(out, pos, e.length);
    e.copy(out, pos);
    pos += e.length;
  }
  return out;
}
