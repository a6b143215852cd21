// The proxy's side towards the cluster: one HTTP/2 connection to one member at a time,
// moved to the next --endpoints entry when the member cannot be reached (as clientv3's
// balancer does), with the TLS of --cert/--key/--cacert. Calls carry the metadata the
// proxy's client sent (its auth token), so the members authorize the real caller.
import fs from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { UnaryClient, type ClientStream, type ClientTlsOptions } from '../client/unary-client.js';
import { GrpcCode, GrpcError } from '../api/grpc/status.js';
import { ClusterService, MemberListRequest, MemberListResponse } from '../proto/etcdserverpb.js';

export interface UpstreamTls {
  cert: string;
  key: string;
  ca: string;
  insecureSkipVerify: boolean;
}

/** How long a call waits for some member to answer when none is given a deadline. */
const DEFAULT_CALL_TIMEOUT_MS = 30_000;
/** Pause after every endpoint failed in a row, before trying them again. */
const ROUND_PAUSE_MS = 200;

/** A failure of the connection (nothing answered), not a status a member sent. */
export function isTransportFailure(err: unknown): boolean {
  return err instanceof GrpcError && err.code === GrpcCode.Unavailable && !err.message.startsWith('etcdserver:');
}

/** The request surely never reached a member: safe to send again, even a write. */
function neverSent(err: unknown): boolean {
  return err instanceof GrpcError && /ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN/.test(err.message);
}

/**
 * etcd's TLSInfo.ClientConfig with EmptyCN: the proxy's certificate towards the cluster
 * must have no Common Name, else members would take the CN as the user of every call.
 */
export function checkEmptyCommonName(certFile: string): void {
  const pem = fs.readFileSync(certFile);
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(new X509Certificate(pem).subject)?.[1];
  if (cn) throw new Error(`cert has non empty Common Name (${cn})`);
}

function clientTls(t: UpstreamTls): ClientTlsOptions | undefined {
  if (!t.cert && !t.key && !t.ca && !t.insecureSkipVerify) return undefined;
  const o: ClientTlsOptions = { rejectUnauthorized: !t.insecureSkipVerify };
  if (t.ca) o.ca = fs.readFileSync(t.ca);
  if (t.cert) o.cert = fs.readFileSync(t.cert);
  if (t.key) o.key = fs.readFileSync(t.key);
  return o;
}

/** --max-send-bytes / --max-recv-bytes: what clientv3 refuses to send or take */
export interface MessageLimits {
  maxSendBytes: number;
  maxRecvBytes: number;
}

export class Upstream {
  readonly urls: string[];
  private readonly tls: ClientTlsOptions | undefined;
  private readonly clients = new Map<string, UnaryClient>();
  private current = 0;

  constructor(
    endpoints: readonly string[],
    tls: UpstreamTls,
    readonly limits: MessageLimits = { maxSendBytes: 1.5 * 1024 * 1024, maxRecvBytes: 2 ** 31 - 1 },
  ) {
    if (tls.cert || tls.key) {
      if (!tls.cert || !tls.key) throw new Error('--cert and --key must be given together');
      checkEmptyCommonName(tls.cert);
    }
    this.tls = clientTls(tls);
    const scheme = this.tls ? 'https' : 'http';
    this.urls = endpoints.map((e) => (/^[a-z]+:\/\//i.test(e) ? e : `${scheme}://${e}`));
    if (this.urls.length === 0) throw new Error('no endpoints given (--endpoints)');
  }

  /** the member calls go to now */
  get endpoint(): string {
    return this.urls[this.current % this.urls.length]!;
  }

  private client(url: string): UnaryClient {
    let c = this.clients.get(url);
    if (!c) {
      c = new UnaryClient(url, this.tls);
      this.clients.set(url, c);
    }
    return c;
  }

  /** The current member did not answer: the next calls go to the next one. */
  failed(url: string): void {
    if (this.endpoint === url) this.current++;
  }

  /**
   * A unary call. Reads (`repeatable`) are sent again to the next member after any
   * transport failure; writes only when they surely never left.
   */
  async call(path: string, request: Uint8Array, metadata: Record<string, string>, opts: { repeatable: boolean; timeoutMs?: number }): Promise<Buffer> {
    this.checkSend(request);
    const deadline = Date.now() + (opts.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS);
    for (let failedInARow = 0; ; ) {
      const url = this.endpoint;
      try {
        const answer = await this.client(url).call(path, request, { metadata, timeoutMs: Math.max(1, deadline - Date.now()) });
        this.checkReceived(answer);
        return answer;
      } catch (err) {
        if (!isTransportFailure(err) || (!opts.repeatable && !neverSent(err)) || Date.now() >= deadline) throw err;
        this.failed(url);
        if (++failedInARow % this.urls.length === 0) await new Promise((r) => setTimeout(r, ROUND_PAUSE_MS));
      }
    }
  }

  /** grpc-go's client-side limits, with its messages */
  checkSend(message: Uint8Array): void {
    if (message.length > this.limits.maxSendBytes) {
      throw new GrpcError(GrpcCode.ResourceExhausted, `trying to send message larger than max (${message.length} vs. ${this.limits.maxSendBytes})`);
    }
  }

  checkReceived(message: Uint8Array): void {
    if (message.length > this.limits.maxRecvBytes) {
      throw new GrpcError(GrpcCode.ResourceExhausted, `grpc: received message larger than max (${message.length} vs. ${this.limits.maxRecvBytes})`);
    }
  }

  /** A streaming call on the current member; the caller reopens it elsewhere when it fails. */
  stream(path: string, metadata: Record<string, string>): { stream: ClientStream; url: string } {
    const url = this.endpoint;
    const stream = this.client(url).stream(path, metadata);
    this.openStreams++;
    const done = (): void => void this.openStreams--;
    stream.done.then(done, done);
    return { stream, url };
  }

  private openStreams = 0;
  private timers: NodeJS.Timeout[] = [];

  /**
   * --dial-keepalive-time/-timeout: pings the current member's connection every `timeMs`;
   * no answer within `timeoutMs` drops it and moves on to the next member. Without
   * `permitWithoutStream` (--permit-without-stream), only while a stream is open, as grpc-go.
   */
  keepAlive(timeMs: number, timeoutMs: number, permitWithoutStream: boolean): void {
    if (timeMs <= 0) return;
    const timer = setInterval(() => {
      if (!permitWithoutStream && this.openStreams === 0) return;
      const url = this.endpoint;
      void this.client(url).ping(timeoutMs).then((ok) => {
        if (!ok) this.failed(url);
      });
    }, timeMs);
    timer.unref();
    this.timers.push(timer);
  }

  /**
   * --endpoints-auto-sync-interval: every `intervalMs`, the member list replaces the
   * endpoints (clientv3's AutoSync); the member in use stays current if still listed.
   */
  autoSync(intervalMs: number, onError: (err: Error) => void): void {
    if (intervalMs <= 0) return;
    const timer = setInterval(() => {
      this.call(ClusterService.methods.MemberList.path, MemberListRequest.encode(MemberListRequest.create()), {}, { repeatable: true }).then(
        (raw) => this.replaceEndpoints(MemberListResponse.decode(raw).members.flatMap((m) => m.clientURLs)),
        (err: Error) => onError(err),
      );
    }, intervalMs);
    timer.unref();
    this.timers.push(timer);
  }

  private replaceEndpoints(urls: string[]): void {
    if (urls.length === 0) return;
    const current = this.endpoint;
    this.urls.splice(0, this.urls.length, ...urls);
    const at = this.urls.indexOf(current);
    this.current = at >= 0 ? at : 0;
  }

  /** GET of an HTTP path (e.g. /metrics) on the current member, with the same TLS. */
  httpTarget(): { url: string; tls: ClientTlsOptions | undefined } {
    return { url: this.endpoint, tls: this.tls };
  }

  close(): void {
    for (const t of this.timers) clearInterval(t);
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}
