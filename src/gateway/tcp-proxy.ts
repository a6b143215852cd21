// etcd's L4 gateway proxy (proxy/tcpproxy): every accepted TCP connection is spliced to
// one endpoint, picked round robin among the endpoints not marked inactive. A dial that
// fails marks its endpoint inactive and the next one is tried; when every endpoint is
// inactive the client connection is closed. Every `monitorIntervalMs` (--retry-delay)
// the inactive endpoints are dialed again and those that answer come back.
// The proxy reads nothing of the bytes: TLS, gRPC and HTTP pass through untouched.
import net from 'node:net';
import type { Logger } from '../pkg/logger.js';

/** etcd's MonitorInterval when none is given */
export const DEFAULT_MONITOR_INTERVAL_MS = 5 * 60 * 1000;
/** a dial that has not connected by then counts as failed (etcd dials with no timeout; a hung dial would hold the client forever) */
export const DIAL_TIMEOUT_MS = 5_000;

export interface ProxyEndpoint {
  host: string;
  port: number;
}

export interface TcpProxyOptions {
  endpoints: readonly ProxyEndpoint[];
  monitorIntervalMs: number;
  logger: Logger;
}

interface Remote {
  readonly addr: string;
  readonly endpoint: ProxyEndpoint;
  inactive: boolean;
}

function dial(ep: ProxyEndpoint): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: ep.host, port: ep.port });
    const timer = setTimeout(() => s.destroy(new Error(`dial tcp ${ep.host}:${ep.port}: i/o timeout`)), DIAL_TIMEOUT_MS);
    s.once('connect', () => {
      clearTimeout(timer);
      s.removeAllListeners('error');
      resolve(s);
    });
    s.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export class TcpProxy {
  private readonly remotes: Remote[];
  private pickCount = 0;
  private monitor: NodeJS.Timeout | undefined;
  private readonly sockets = new Set<net.Socket>();

  constructor(
    private readonly server: net.Server,
    private readonly opts: TcpProxyOptions,
  ) {
    this.remotes = opts.endpoints.map((endpoint) => ({ endpoint, addr: joinHostPort(endpoint.host, endpoint.port), inactive: false }));
  }

  /** Starts proxying connections accepted by the (listening) server. */
  run(): void {
    const interval = this.opts.monitorIntervalMs > 0 ? this.opts.monitorIntervalMs : DEFAULT_MONITOR_INTERVAL_MS;
    this.opts.logger.info('ready to proxy client requests', { endpoints: this.remotes.map((r) => r.addr) });
    this.monitor = setInterval(() => this.reactivate(interval), interval);
    this.server.on('connection', (sock) => void this.serve(sock, interval));
  }

  close(): void {
    if (this.monitor) clearInterval(this.monitor);
    this.server.close();
    for (const s of this.sockets) s.destroy();
  }

  /** The next active endpoint in round-robin order, or undefined when none is active. */
  private pick(): Remote | undefined {
    for (let i = 0; i < this.remotes.length; i++) {
      const r = this.remotes[this.pickCount % this.remotes.length]!;
      this.pickCount++;
      if (!r.inactive) return r;
    }
    return undefined;
  }

  private async serve(inbound: net.Socket, intervalMs: number): Promise<void> {
    this.track(inbound);
    inbound.pause();
    inbound.on('error', () => inbound.destroy());
    let outbound: net.Socket | undefined;
    for (let r = this.pick(); r !== undefined && outbound === undefined; ) {
      try {
        outbound = await dial(r.endpoint);
      } catch (err) {
        r.inactive = true;
        this.opts.logger.warn('deactivated endpoint', { address: r.addr, interval: `${intervalMs / 1000}s`, error: (err as Error).message });
        r = this.pick();
      }
    }
    if (outbound === undefined || inbound.destroyed) {
      inbound.destroy();
      outbound?.destroy();
      return;
    }
    this.track(outbound);
    const out = outbound;
    out.on('error', () => out.destroy());
    out.on('close', () => inbound.destroy());
    inbound.on('close', () => out.destroy());
    inbound.pipe(out);
    out.pipe(inbound);
    inbound.resume();
  }

  private track(s: net.Socket): void {
    this.sockets.add(s);
    s.on('close', () => this.sockets.delete(s));
  }

  private reactivate(intervalMs: number): void {
    for (const r of this.remotes) {
      if (!r.inactive) continue;
      dial(r.endpoint).then(
        (s) => {
          s.destroy();
          r.inactive = false;
          this.opts.logger.info('activated', { address: r.addr });
        },
        (err: Error) =>
          this.opts.logger.warn('failed to activate endpoint (stay inactive for another interval)', {
            address: r.addr,
            interval: `${intervalMs / 1000}s`,
            error: err.message,
          }),
      );
    }
  }
}
