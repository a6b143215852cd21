// --resolver-prefix: the proxy announces itself to its peers and clients. It writes
// `<prefix>/<advertise-client-url>` with etcd's endpoint record as value
// ({"Op":0,"Addr":...,"Metadata":"{\"name\":<hostname>}"}) under a lease of
// --resolver-ttl seconds, keeps the lease alive, and starts over with a new lease when
// the old one is lost (at most once a second, as etcd's retry rate). Cluster.MemberList
// through any proxy of the prefix lists the proxies registered there.
import os from 'node:os';
import {
  KVService,
  LeaseGrantRequest,
  LeaseGrantResponse,
  LeaseKeepAliveRequest,
  LeaseKeepAliveResponse,
  LeaseService,
  PutRequest,
  RangeRequest,
  RangeResponse,
  type Member,
} from '../proto/etcdserverpb.js';
import type { Logger } from '../pkg/logger.js';
import type { Namespace } from './namespace.js';
import type { Upstream } from './upstream.js';

/** etcd's registerRetryRate: one registration attempt a second */
const RETRY_INTERVAL_MS = 1000;

/** The record etcd's endpoints manager stores (naming/endpoints with its Op field). */
export function endpointRecord(addr: string, hostname = os.hostname()): string {
  return JSON.stringify({ Op: 0, Addr: addr, Metadata: JSON.stringify({ name: hostname }) });
}

function prefixRange(ns: Namespace, prefix: string): RangeRequest {
  const key = Buffer.from(`${prefix}/`);
  const end = Buffer.from(key);
  end[end.length - 1]! += 1; // "/" + 1: every key under "<prefix>/"
  return ns.range(RangeRequest.create({ key, range_end: end }));
}

/** The proxies registered under `prefix`, as MemberList members (etcd's membersFromUpdates). */
export async function registeredProxies(upstream: Upstream, ns: Namespace, prefix: string): Promise<Member[]> {
  const raw = await upstream.call(KVService.methods.Range.path, RangeRequest.encode(prefixRange(ns, prefix)), {}, { repeatable: true });
  const members: Member[] = [];
  for (const kv of RangeResponse.decode(raw).kvs) {
    try {
      const rec = JSON.parse(Buffer.from(kv.value).toString()) as { Addr?: string; Metadata?: unknown };
      const meta = typeof rec.Metadata === 'string' ? (JSON.parse(rec.Metadata) as { name?: string }) : {};
      if (rec.Addr) members.push({ ID: 0n, name: meta.name ?? '', peerURLs: [], clientURLs: [rec.Addr], isLearner: false });
    } catch {
      // a value that is not an endpoint record is not a proxy
    }
  }
  return members;
}

export class Registration {
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private cancelKeepAlive: (() => void) | undefined;

  constructor(
    private readonly upstream: Upstream,
    private readonly ns: Namespace,
    private readonly prefix: string,
    private readonly addr: string,
    private readonly ttlSec: number,
    private readonly logger: Logger,
  ) {
    void this.session();
  }

  private retry(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.session(), RETRY_INTERVAL_MS);
  }

  private async session(): Promise<void> {
    if (this.stopped) return;
    try {
      const grant = LeaseGrantResponse.decode(
        await this.upstream.call(LeaseService.methods.LeaseGrant.path, LeaseGrantRequest.encode(LeaseGrantRequest.create({ TTL: this.ttlSec })), {}, { repeatable: false }),
      );
      const put = PutRequest.create({ key: Buffer.from(`${this.prefix}/${this.addr}`), value: Buffer.from(endpointRecord(this.addr)), lease: grant.ID });
      await this.upstream.call(KVService.methods.Put.path, PutRequest.encode(this.ns.put(put)), {}, { repeatable: false });
      this.logger.info('registered session with lease', { addr: this.addr, 'lease-ttl': this.ttlSec });
      this.keepAlive(grant.ID);
    } catch (err) {
      this.logger.warn('failed to create a session', { error: (err as Error).message });
      this.retry();
    }
  }

  /** Renews the lease every third of its TTL until it is lost, then registers again. */
  private keepAlive(id: bigint): void {
    const { stream } = this.upstream.stream(LeaseService.methods.LeaseKeepAlive.path, {});
    const send = (): void => stream.send(LeaseKeepAliveRequest.encode({ ID: id }));
    const every = setInterval(send, Math.max(500, (this.ttlSec * 1000) / 3));
    send();
    let lost = false;
    const loseSession = (): void => {
      if (lost) return;
      lost = true;
      clearInterval(every);
      stream.cancel();
      if (this.stopped) return;
      this.logger.warn('session expired; possible network partition or server restart', {});
      this.logger.warn('creating a new session to rejoin', {});
      this.retry();
    };
    stream.onMessage = (bytes) => {
      if (LeaseKeepAliveResponse.decode(bytes).TTL <= 0) loseSession();
    };
    stream.done.then(loseSession, loseSession);
    this.cancelKeepAlive = () => {
      lost = true;
      clearInterval(every);
      stream.cancel();
    };
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.cancelKeepAlive?.();
  }
}
