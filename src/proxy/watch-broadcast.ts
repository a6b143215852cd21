// Watch coalescing, the reason the proxy exists: client watches on the same range (and
// with the same auth token) share one watch on the cluster. A broadcast holds that one
// upstream watch — always with previous values and progress notifications, so it can
// serve any receiver — and hands each response to every receiver, which filters it for
// its own client (start revision, NOPUT/NODELETE, prev_kv). A new watch joins a running
// broadcast when the broadcast has not passed the revision the watch starts from;
// otherwise it gets a broadcast of its own, merged into an older one once it has caught
// up. When the member under an upstream watch goes away, the watch is opened again on
// the next member from the first revision not yet delivered, unseen by the clients.
import { WatchRequest, WatchResponse, WatchService, type ResponseHeader } from '../proto/etcdserverpb.js';
import type { ClientStream } from '../client/unary-client.js';
import { isTransportFailure, type Upstream } from './upstream.js';
import type { Namespace } from './namespace.js';
import type { ProxyMetrics } from './metrics.js';

/** Waiting before an upstream watch that ended unasked is opened again. */
const REOPEN_DELAY_MS = 100;
/** etcd's maxCoalesceReceivers: only broadcasts smaller than this look for one to merge into */
const MAX_COALESCE_RECEIVERS = 5;

/** One client watch, as a broadcast sees it. */
export interface Receiver {
  readonly key: Buffer;
  readonly end: Buffer;
  /** the first revision this client still needs (0: from whatever comes next) */
  nextrev: number;
  /** hands an upstream response to the receiver, which filters it for its client */
  deliver(resp: WatchResponse): void;
  /** the broadcast is already running: the receiver gets its "created" from the proxy */
  joinedLate(header: ResponseHeader): void;
}

function isProgressNotify(r: WatchResponse): boolean {
  return r.events.length === 0 && !r.canceled && !r.created && r.compact_revision === 0 && (r.header?.revision ?? 0) !== 0;
}

export class Broadcast {
  readonly receivers = new Set<Receiver>();
  nextrev: number;
  responses = 0;
  lastHeader: ResponseHeader | undefined;
  private upstreamCall: ClientStream | undefined;
  private stopped = false;
  private reopenTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly group: BroadcastGroup,
    first: Receiver,
  ) {
    this.nextrev = first.nextrev;
    this.receivers.add(first);
    this.open();
  }

  /** Takes `r` if no event it needs has gone by; see the header for the rules. */
  tryAdd(r: Receiver): boolean {
    if (this.stopped) return false;
    if (this.responses === 0) {
      if (r.nextrev !== this.nextrev) return false;
      this.receivers.add(r);
      return true;
    }
    if (r.nextrev !== 0 && r.nextrev < this.nextrev) return false;
    if (r.nextrev === 0) r.nextrev = this.nextrev;
    r.joinedLate({ ...(this.lastHeader ?? { cluster_id: 0n, member_id: 0n, raft_term: 0 }), revision: this.nextrev - 1 });
    this.receivers.add(r);
    return true;
  }

  private open(): void {
    const { upstream, ns, token, key, end } = this.group;
    const { stream, url } = upstream.stream(WatchService.methods.Watch.path, token ? { token } : {});
    this.upstreamCall = stream;
    this.group.metrics.upstreamWatches.inc();
    const reopened = this.responses > 0;
    stream.onMessage = (bytes) => this.onUpstream(WatchResponse.decode(bytes), reopened);
    stream.done.then(
      () => this.upstreamEnded(stream),
      (err: unknown) => {
        if (isTransportFailure(err)) upstream.failed(url);
        this.upstreamEnded(stream);
      },
    );
    const create = ns.watchCreate({ key, range_end: end, start_revision: this.resumeRevision(), progress_notify: true, filters: [], prev_kv: true, watch_id: 0, fragment: false });
    stream.send(WatchRequest.encode({ create_request: create }));
  }

  /**
   * Where an upstream watch (re)starts: the earliest revision a receiver still needs. The
   * broadcast's own position comes from response headers, which may run ahead of the
   * events delivered while the member is still sending history.
   */
  resumeRevision(): number {
    let rev = this.nextrev;
    for (const r of this.receivers) if (r.nextrev !== 0 && r.nextrev < rev) rev = r.nextrev;
    return rev;
  }

  private onUpstream(resp: WatchResponse, reopened: boolean): void {
    // a watch opened again says "created" again: the clients were told long ago
    if (resp.created && reopened && !resp.canceled) return;
    if (resp.header) this.lastHeader = resp.header;
    const ns = this.group.ns;
    const visible: WatchResponse = ns.active ? { ...resp, events: resp.events.map((e) => ns.event(e)) } : resp;
    if (this.responses > 0 || this.nextrev === 0) this.nextrev = (resp.header?.revision ?? 0) + 1;
    const lastEvent = resp.events[resp.events.length - 1];
    if (lastEvent?.kv && lastEvent.kv.mod_revision + 1 > this.nextrev) this.nextrev = lastEvent.kv.mod_revision + 1;
    this.responses++;
    for (const r of this.receivers) r.deliver(visible);
    if (this.receivers.size > 1 && !isProgressNotify(resp)) this.group.metrics.eventsCoalescing.inc(this.receivers.size - 1);
    if (this.stopped) return; // its last receiver left while being served
    if (resp.canceled) {
      // the cluster ended the watch (compacted revision, permission): so are the clients'
      this.group.dropBroadcast(this);
      return;
    }
    this.group.coalesce(this);
  }

  private upstreamEnded(stream: ClientStream): void {
    this.group.metrics.upstreamWatches.dec();
    if (this.stopped || stream !== this.upstreamCall) return;
    this.reopenTimer = setTimeout(() => {
      this.reopenTimer = undefined;
      if (!this.stopped) this.open();
    }, REOPEN_DELAY_MS);
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.reopenTimer) clearTimeout(this.reopenTimer);
    this.upstreamCall?.cancel();
  }
}

/** The broadcasts of one range and token. */
export class BroadcastGroup {
  readonly broadcasts = new Set<Broadcast>();

  constructor(
    readonly upstream: Upstream,
    readonly ns: Namespace,
    readonly metrics: ProxyMetrics,
    readonly token: string,
    readonly key: Buffer,
    readonly end: Buffer,
    private readonly owner: Broadcasts,
  ) {}

  add(r: Receiver): Broadcast {
    for (const b of this.broadcasts) if (b.tryAdd(r)) return b;
    const b = new Broadcast(this, r);
    this.broadcasts.add(b);
    return b;
  }

  /** Moves a small, caught-up broadcast's receivers into an older one and stops it. */
  coalesce(b: Broadcast): void {
    if (b.receivers.size >= MAX_COALESCE_RECEIVERS) return;
    for (const other of this.broadcasts) {
      // every receiver must already have what `other` will no longer send
      if (other === b || other.responses === 0 || b.resumeRevision() < other.nextrev || b.resumeRevision() === 0) continue;
      for (const r of b.receivers) {
        other.receivers.add(r);
        this.owner.moved(r, other);
      }
      b.receivers.clear();
      this.remove(b);
      return;
    }
  }

  /** The cluster canceled the upstream watch: its receivers are done too. */
  dropBroadcast(b: Broadcast): void {
    for (const r of b.receivers) this.owner.forget(r);
    b.receivers.clear();
    this.remove(b);
  }

  remove(b: Broadcast): void {
    b.stop();
    this.broadcasts.delete(b);
    if (this.broadcasts.size === 0) this.owner.dropGroup(this);
    this.owner.updateGauge();
  }
}

/** Every broadcast of the proxy, by range and token. */
export class Broadcasts {
  private readonly groups = new Map<string, BroadcastGroup>();
  private readonly byReceiver = new Map<Receiver, Broadcast>();

  constructor(
    private readonly upstream: Upstream,
    private readonly ns: Namespace,
    private readonly metrics: ProxyMetrics,
  ) {}

  private groupId(token: string, key: Buffer, end: Buffer): string {
    return `${token}\n${key.toString('hex')}\n${end.toString('hex')}`;
  }

  add(r: Receiver, token: string): void {
    const id = this.groupId(token, r.key, r.end);
    let g = this.groups.get(id);
    if (!g) {
      g = new BroadcastGroup(this.upstream, this.ns, this.metrics, token, r.key, r.end, this);
      this.groups.set(id, g);
    }
    this.byReceiver.set(r, g.add(r));
    this.metrics.clientWatches.inc();
    this.updateGauge();
  }

  delete(r: Receiver): void {
    const b = this.byReceiver.get(r);
    if (!b) return;
    this.forget(r);
    b.receivers.delete(r);
    if (b.receivers.size === 0) {
      for (const g of this.groups.values()) if (g.broadcasts.has(b)) g.remove(b);
    }
    this.updateGauge();
  }

  forget(r: Receiver): void {
    if (this.byReceiver.delete(r)) this.metrics.clientWatches.dec();
  }

  moved(r: Receiver, to: Broadcast): void {
    if (this.byReceiver.has(r)) this.byReceiver.set(r, to);
  }

  dropGroup(g: BroadcastGroup): void {
    this.groups.delete(this.groupId(g.token, g.key, g.end));
  }

  /** etcd's watchers_coalescing_total: receivers beyond the first of each broadcast */
  updateGauge(): void {
    let broadcasts = 0;
    for (const g of this.groups.values()) broadcasts += g.broadcasts.size;
    this.metrics.watchersCoalescing.set(Math.max(0, this.byReceiver.size - broadcasts));
  }

  stop(): void {
    for (const g of this.groups.values()) for (const b of g.broadcasts) b.stop();
    this.groups.clear();
    this.byReceiver.clear();
  }
}
