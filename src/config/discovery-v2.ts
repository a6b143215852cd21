// --discovery <URL>: bootstrap through an etcd v2 discovery service (etcd 3.4/3.5's
// v2discovery), speaking its HTTP protocol, with --discovery-proxy for reaching it:
//  1. GET <url>/_config/size: how many members the cluster has (404: "discovery: size key
//     not found"; not a number: "discovery: size key is bad").
//  2. PUT <url>/<member ID hex>?prevExist=false, form value "<name>=<peer URLs>" (a taken
//     ID: "discovery: found duplicate id").
//  3. GET <url>: the registered members in creation order; when `size` others registered
//     first, "discovery: cluster is full".
//  4. While fewer than `size` are registered: GET <url>?wait=true&recursive=true&
//     waitIndex=<index+1>, one registration per answer.
// The result is the first `size` registrations joined as --initial-cluster; their member
// IDs are computed with the discovery URL as the cluster token, as etcd computes them.
// Unreachable services are retried with etcd's backoff (1 s doubling to 256 s).
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import tls from 'node:tls';
import type { Logger } from '../pkg/logger.js';
import { parseUrlsMap } from './urls.js';

export const ERR_SIZE_NOT_FOUND = 'discovery: size key not found';
export const ERR_BAD_SIZE_KEY = 'discovery: size key is bad';
export const ERR_DUPLICATE_ID = 'discovery: found duplicate id';
export const ERR_DUPLICATE_NAME = 'discovery: found duplicate name';
export const ERR_FULL_CLUSTER = 'discovery: cluster is full';
export const ERR_INVALID_URL = 'discovery: invalid URL';
export const ERR_BAD_ENDPOINT = 'discovery: bad discovery endpoint';
/** etcd's client.DefaultRequestTimeout */
const REQUEST_TIMEOUT_MS = 5_000;
/** etcd's maxExpoentialRetries: backoff stops doubling at 2^8 s */
const MAX_BACKOFF_EXPONENT = 8;
/** answers larger than this are not a discovery service's */
const MAX_ANSWER_BYTES = 4 * 1024 * 1024;

export class DiscoveryError extends Error {}

interface V2Node {
  key: string;
  value?: string;
  nodes?: V2Node[];
  createdIndex?: number;
}
interface V2Answer {
  status: number;
  index: number;
  body: { node?: V2Node; errorCode?: number; message?: string };
}

export interface V2DiscoveryInput {
  url: string;
  proxyUrl: string;
  memberIdHex: string;
  /** "<name>=<peer URL>,..." for this member */
  self: string;
  logger: Logger;
  /** waits between retries (injected for tests) */
  sleep?: (ms: number) => Promise<void>;
}

/** An HTTP proxy's tunnel to host:port (CONNECT), for an https service behind it. */
function connectTunnel(proxy: URL, target: URL, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const port = target.port || '443';
    const req = http.request({ host: proxy.hostname, port: proxy.port || 80, method: 'CONNECT', path: `${target.hostname}:${port}`, timeout: timeoutMs });
    req.on('connect', (res, raw) => (res.statusCode === 200 ? resolve(raw) : (raw.destroy(), reject(new Error(`proxyconnect tcp: ${res.statusCode}`)))));
    req.on('timeout', () => req.destroy(new Error('context deadline exceeded')));
    req.on('error', reject);
    req.end();
  });
}

/** One HTTP exchange with the service, through the proxy when one is given; network trouble throws. */
async function exchange(target: URL, method: string, proxyUrl: string, body?: string, timeoutMs = REQUEST_TIMEOUT_MS): Promise<V2Answer> {
  const secure = target.protocol === 'https:';
  const proxy = proxyUrl !== '' ? new URL(proxyUrl) : undefined;
  const tunnel = proxy && secure ? await connectTunnel(proxy, target, timeoutMs || REQUEST_TIMEOUT_MS) : undefined;
  return new Promise((resolve, reject) => {
    const headers: http.OutgoingHttpHeaders = body !== undefined ? { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': Buffer.byteLength(body) } : {};
    const onResponse = (res: http.IncomingMessage): void => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_ANSWER_BYTES) req.destroy(new DiscoveryError(ERR_BAD_ENDPOINT));
        else chunks.push(c);
      });
      res.on('end', () => {
        try {
          const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as V2Answer['body'];
          resolve({ status: res.statusCode ?? 0, index: Number(res.headers['x-etcd-index'] ?? 0), body: parsed });
        } catch {
          reject(new DiscoveryError(ERR_BAD_ENDPOINT));
        }
      });
    };
    const opts: https.RequestOptions = { method, headers, timeout: timeoutMs };
    let req: http.ClientRequest;
    if (tunnel) {
      req = https.request(target, { ...opts, createConnection: () => tls.connect({ socket: tunnel, servername: target.hostname }) }, onResponse);
    } else if (proxy) {
      // a plain HTTP proxy takes the absolute URL
      req = http.request({ ...opts, host: proxy.hostname, port: proxy.port || 80, path: target.href, headers: { ...headers, Host: target.host } }, onResponse);
    } else {
      req = (secure ? https : http).request(target, opts, onResponse);
    }
    req.on('timeout', () => req.destroy(new Error('context deadline exceeded')));
    req.on('error', reject);
    req.end(body);
  });
}

export class V2Discovery {
  private readonly base: URL;
  private readonly token: string;
  private retries = 0;

  constructor(private readonly input: V2DiscoveryInput) {
    let u: URL;
    try {
      u = new URL(input.url);
    } catch {
      throw new DiscoveryError(ERR_INVALID_URL);
    }
    this.token = u.pathname.replace(/\/$/, '');
    this.base = new URL(u.origin);
  }

  private keyUrl(key: string, query = ''): URL {
    return new URL(`${this.token}${key}${query}`, this.base);
  }

  /** A request that is retried with etcd's backoff while the service cannot be reached. */
  private async call(key: string, query: string, method: string, step: string, body?: string, timeoutMs?: number): Promise<V2Answer> {
    for (;;) {
      try {
        return await exchange(this.keyUrl(key, query), method, this.input.proxyUrl, body, timeoutMs);
      } catch (err) {
        if (err instanceof DiscoveryError) throw err;
        this.input.logger.warn('failed to get from discovery server', { 'discovery-url': this.input.url, path: `${this.token}${key}`, error: (err as Error).message });
        this.retries++;
        const backoffMs = 2 ** Math.min(this.retries, MAX_BACKOFF_EXPONENT) * 1000;
        this.input.logger.info('retry connecting to discovery service', { url: this.base.origin, reason: step, backoff: `${backoffMs / 1000}s` });
        await (this.input.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))))(backoffMs);
      }
    }
  }

  /** etcd's JoinCluster: register, then wait for the others. Returns the --initial-cluster text. */
  async join(): Promise<string> {
    await this.check();
    const put = await this.call(`/${this.input.memberIdHex}`, '?prevExist=false', 'PUT', 'cluster status check', `value=${encodeURIComponent(this.input.self)}`);
    if (put.body.errorCode === 105) throw new DiscoveryError(ERR_DUPLICATE_ID);
    if (put.status >= 300) throw new DiscoveryError(put.body.message ?? ERR_BAD_ENDPOINT);
    const { nodes, size, index } = await this.check();
    return nodesToCluster(await this.waitNodes(nodes, size, index), size);
  }

  /** Size and registrations so far; throws ERR_FULL_CLUSTER when this member is not among the first `size`. */
  private async check(): Promise<{ nodes: V2Node[]; size: number; index: number }> {
    const sizeAnswer = await this.call('/_config/size', '', 'GET', 'cluster status check');
    if (sizeAnswer.body.errorCode === 100) throw new DiscoveryError(ERR_SIZE_NOT_FOUND);
    const sizeText = sizeAnswer.body.node?.value ?? '';
    if (!/^[0-9]+$/.test(sizeText)) throw new DiscoveryError(ERR_BAD_SIZE_KEY);
    const size = Number(sizeText);
    const all = await this.call('', '', 'GET', 'cluster status check');
    if (all.body.errorCode === 100) throw new DiscoveryError('discovery: token not found');
    const nodes = (all.body.node?.nodes ?? []).filter((n) => !n.key.endsWith('/_config')).sort((a, b) => (a.createdIndex ?? 0) - (b.createdIndex ?? 0));
    const selfAt = nodes.findIndex((n) => n.key.endsWith(`/${this.input.memberIdHex}`));
    if ((selfAt === -1 ? nodes.length : selfAt) >= size) throw new DiscoveryError(ERR_FULL_CLUSTER);
    return { nodes, size, index: all.index };
  }

  private async waitNodes(nodes: V2Node[], size: number, index: number): Promise<V2Node[]> {
    const all = nodes.slice(0, size);
    const { logger, url } = this.input;
    for (const n of all) {
      const id = n.key.slice(n.key.lastIndexOf('/') + 1);
      if (id === this.input.memberIdHex) logger.info('found self from discovery server', { 'discovery-url': url, self: id });
      else logger.info('found peer from discovery server', { 'discovery-url': url, peer: id });
    }
    let after = index;
    while (all.length < size) {
      logger.info('found peers from discovery server; waiting for more', { 'discovery-url': url, 'found-peers': all.length, 'needed-peers': size - all.length });
      // a watch waits as long as it takes for the next member
      const w = await this.call('', `?wait=true&recursive=true&waitIndex=${after + 1}`, 'GET', 'waiting for other nodes', undefined, 0);
      const n = w.body.node;
      if (!n) continue;
      after = Math.max(after + 1, n.createdIndex ?? 0);
      if (n.key.endsWith('/_config') || all.some((x) => x.key === n.key)) continue;
      logger.info('found peer from discovery server', { 'discovery-url': url, peer: n.key.slice(n.key.lastIndexOf('/') + 1) });
      all.push(n);
    }
    logger.info('found all needed peers from discovery server', { 'discovery-url': url, 'found-peers': all.length });
    return all;
  }
}

function nodesToCluster(nodes: V2Node[], size: number): string {
  const text = nodes.map((n) => n.value ?? '').join(',');
  const parsed = parseUrlsMap(text);
  if (!parsed.ok) throw new DiscoveryError(ERR_INVALID_URL);
  if (parsed.members.size !== size) throw new DiscoveryError(ERR_DUPLICATE_NAME);
  return text;
}
