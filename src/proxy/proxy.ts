// The gRPC proxy process: etcd's eight client services on --listen-addr (gRPC and HTTP on
// one port, TLS when --cert-file/--key-file or --auto-tls), served by the handlers of
// this folder over the project's own gRPC server (src/api): KV with the range cache,
// Watch with coalescing, MemberList from the registered proxies, and everything else
// passed through to the cluster as the client's bytes. Optional: --metrics-addr,
// --resolver-prefix registration. start() resolves once every listener is up.
import path from 'node:path';
import fs from 'node:fs';
import type tls from 'node:tls';
import {
  AuthService,
  ClusterService,
  KVService,
  LeaseService,
  LeaseTimeToLiveRequest,
  LeaseTimeToLiveResponse,
  MaintenanceService,
  MemberListResponse,
  WatchService,
} from '../proto/etcdserverpb.js';
import { ElectionService } from '../proto/v3electionpb.js';
import { LockService } from '../proto/v3lockpb.js';
import os from 'node:os';
import { GrpcRouter } from '../api/grpc/server.js';
import { decodeRequest } from '../api/method.js';
import { HTTP2_SETTINGS, listenCleartext, listenTls, type ClientListener, type ClientListenerHandlers, type HttpHandler } from '../api/listener.js';
import { secureContextOptions, type TlsFiles } from '../pki/tls-context.js';
import { createPprofHandler, type PprofHandler } from '../api/pprof.js';
import { UnaryClient, type ClientTlsOptions } from '../client/unary-client.js';
import type { Logger } from '../pkg/logger.js';
import type { ProxyConfig } from './flags.js';
import { Upstream } from './upstream.js';
import { Namespace } from './namespace.js';
import { RangeCache } from './cache.js';
import { ProxyMetrics } from './metrics.js';
import { registerKvProxy, SerializableOrdering } from './kv-proxy.js';
import { registerWatchProxy } from './watch-proxy.js';
import { Broadcasts } from './watch-broadcast.js';
import { forwardedMetadata, forwardService, forwardUnary, remainingMs } from './forward.js';
import { registeredProxies, Registration } from './register.js';
import { proxyHttpHandler } from './http.js';

/** grpc-go's default server receive limit: etcd's proxy keeps it */
const MAX_RECEIVE_MESSAGE_BYTES = 4 * 1024 * 1024;
/** etcd's --max-concurrent-streams default: no limit */
const UNLIMITED_STREAMS = 0xffffffff;
const SERVICES = [KVService, WatchService, LeaseService, ClusterService, MaintenanceService, AuthService, ElectionService, LockService];

export interface RunningProxy {
  readonly listenAddr: string;
  close(): Promise<void>;
}

function splitHostPort(addr: string, flag: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]*)\]|([^:]*)):(\d+)$/.exec(addr);
  if (!m) throw new Error(`--${flag}: address ${addr}: missing port in address`);
  return { host: m[1] ?? m[2] ?? '', port: Number(m[3]) };
}

/** The serving TLS files, or undefined for cleartext (etcd: any of cert/key/CA turns TLS on). */
async function servingTls(config: ProxyConfig, logger: Logger): Promise<{ files: TlsFiles; selfSigned: boolean } | undefined> {
  const t = config.serveTls;
  const base = { crlFile: t.crlFile, cipherSuites: t.cipherSuites, minVersion: t.minVersion, maxVersion: t.maxVersion };
  if (t.certFile || t.keyFile || t.trustedCaFile) {
    // etcd's server TLS asks for and verifies client certificates whenever a CA is given
    return { files: { ...base, certFile: t.certFile, keyFile: t.keyFile, trustedCaFile: t.trustedCaFile, clientCertAuth: t.trustedCaFile !== '' }, selfSigned: false };
  }
  if (!t.autoTls) return undefined;
  const { ensureSelfCert } = await import('../pki/self-cert.js');
  const made = await ensureSelfCert(path.join(config.dataDir, 'fixtures', 'proxy'), { hosts: [config.listenAddr], validityYears: t.validityYears });
  logger.info('serving proxy clients with a self-signed certificate (--auto-tls)', { 'cert-file': made.certFile });
  return { files: { ...base, ...made, trustedCaFile: '', clientCertAuth: false }, selfSigned: true };
}

function memberListAnswer(members: MemberListResponse['members']): Uint8Array {
  return MemberListResponse.encode(MemberListResponse.create({ members }));
}

function buildRouter(config: ProxyConfig, logger: Logger, upstream: Upstream, ns: Namespace, metrics: ProxyMetrics, broadcasts: Broadcasts): GrpcRouter {
  const router = new GrpcRouter({
    maxReceiveMessageBytes: MAX_RECEIVE_MESSAGE_BYTES,
    onCallDone: (p, code, kind) => {
      metrics.grpcDone(p, code, kind);
      // --experimental-enable-grpc-logging
      if (config.grpcLogging) logger.debug('gRPC call finished', { method: p, code, kind });
    },
  });
  const cache = new RangeCache();
  const ordering = config.serializableOrdering ? new SerializableOrdering() : undefined;
  const taken = new Set<string>([...registerKvProxy(router, { upstream, cache, ns, metrics, ...(ordering ? { ordering } : {}) }), ...registerWatchProxy(router, upstream, broadcasts, ns)]);
  const memberList = ClusterService.methods.MemberList.path;
  if (config.advertiseClientUrl !== '') {
    // etcd's cluster proxy: the registered proxies, else this one, never the members
    router.unary(memberList, async () => {
      const registered = config.resolverPrefix ? await registeredProxies(upstream, ns, config.resolverPrefix) : [];
      if (registered.length > 0) return memberListAnswer(registered);
      return memberListAnswer([{ ID: 0n, name: os.hostname(), peerURLs: [], clientURLs: [config.advertiseClientUrl], isLearner: false }]);
    });
  } else forwardUnary(router, upstream, memberList);
  taken.add(memberList);
  const ttl = LeaseService.methods.LeaseTimeToLive.path;
  if (ns.active) {
    router.unary(ttl, async (bytes, ctx) => {
      decodeRequest(LeaseTimeToLiveRequest, bytes);
      const raw = await upstream.call(ttl, bytes, forwardedMetadata(ctx), { repeatable: true, timeoutMs: remainingMs(ctx) });
      const res = LeaseTimeToLiveResponse.decode(raw);
      return LeaseTimeToLiveResponse.encode({ ...res, keys: ns.leaseKeys(res.keys) });
    });
    taken.add(ttl);
  }
  for (const s of SERVICES) forwardService(router, upstream, s, taken);
  return router;
}

/** How this process reaches its own listener, for /proxy/health (etcd's proxyClient). */
function selfClient(listenAddr: string, tlsSetup: { files: TlsFiles; selfSigned: boolean } | undefined): UnaryClient {
  if (!tlsSetup) return new UnaryClient(`http://${listenAddr}`);
  const { files, selfSigned } = tlsSetup;
  const o: ClientTlsOptions = { rejectUnauthorized: !selfSigned && files.trustedCaFile !== '' };
  if (files.trustedCaFile) o.ca = fs.readFileSync(files.trustedCaFile);
  o.cert = fs.readFileSync(files.certFile);
  o.key = fs.readFileSync(files.keyFile);
  return new UnaryClient(`https://${listenAddr}`, o);
}

async function listen(addr: string, flag: string, handlers: ClientListenerHandlers, tlsSetup: { files: TlsFiles } | undefined): Promise<ClientListener> {
  const { host, port } = splitHostPort(addr, flag);
  if (!tlsSetup) return listenCleartext(host, port, handlers);
  const ctx: tls.SecureContextOptions = secureContextOptions(tlsSetup.files, '');
  return listenTls(host, port, handlers, {
    secureContext: ctx,
    requestClientCert: tlsSetup.files.clientCertAuth,
    ...(tlsSetup.files.crlFile ? { crlFile: tlsSetup.files.crlFile } : {}),
  });
}

/** A gRPC call on an HTTP-only address gets a plain 404. */
const refuseGrpc: ClientListenerHandlers['onGrpcStream'] = (stream) => {
  stream.onData = () => {};
  stream.respond({ ':status': 404, 'content-type': 'text/plain; charset=utf-8' }, true);
};

export async function startProxy(config: ProxyConfig, logger: Logger, endpoints: string[]): Promise<RunningProxy> {
  const upstream = new Upstream(endpoints, config.upstreamTls, { maxSendBytes: config.maxSendBytes, maxRecvBytes: config.maxRecvBytes });
  if (config.upstreamTls.cert || config.upstreamTls.ca || config.upstreamTls.insecureSkipVerify) {
    logger.info('gRPC proxy client TLS', { 'tls-info': `cert = ${config.upstreamTls.cert}, key = ${config.upstreamTls.key}, trusted-ca = ${config.upstreamTls.ca}` });
  }
  if (config.upstreamTls.insecureSkipVerify) {
    logger.warn('--insecure-skip-tls-verify was given, this grpc proxy process skips authentication of etcd server TLS certificates. This option should be enabled only for testing purposes.');
  }
  upstream.keepAlive(config.dialKeepaliveTimeMs, config.dialKeepaliveTimeoutMs, config.permitWithoutStream);
  upstream.autoSync(config.endpointsAutoSyncIntervalMs, (err) => logger.warn('failed to sync endpoints', { error: err.message }));
  const ns = new Namespace(config.namespace);
  const metrics = new ProxyMetrics();
  const broadcasts = new Broadcasts(upstream, ns, metrics);
  const router = buildRouter(config, logger, upstream, ns, metrics, broadcasts);
  const tlsSetup = await servingTls(config, logger);
  if (tlsSetup) logger.info('gRPC proxy server TLS', { 'tls-info': `cert = ${tlsSetup.files.certFile}, key = ${tlsSetup.files.keyFile}, trusted-ca = ${tlsSetup.files.trustedCaFile}` });
  const pprof: PprofHandler | undefined = config.enablePprof ? await createPprofHandler() : undefined;
  const self = selfClient(config.listenAddr, tlsSetup);
  const onHttpRequest: HttpHandler = proxyHttpHandler({
    upstream,
    metrics,
    rangeThroughProxy: (req) => self.call(KVService.methods.Range.path, req, { timeoutMs: 1000 }),
    ...(pprof ? { pprof } : {}),
  });
  const limited = config.maxConcurrentStreams !== UNLIMITED_STREAMS;
  const handlers: ClientListenerHandlers = {
    onGrpcStream: (stream) => router.handle(stream),
    onHttpRequest,
    http2Settings: {
      ...HTTP2_SETTINGS,
      ...(limited ? { maxConcurrentStreams: config.maxConcurrentStreams } : {}),
      keepaliveMinTimeMs: config.keepalive.minTimeMs,
      keepaliveIntervalMs: config.keepalive.intervalMs,
      keepaliveTimeoutMs: config.keepalive.timeoutMs,
    },
  };
  const listeners: ClientListener[] = [];
  let registration: Registration | undefined;
  const close = async (): Promise<void> => {
    registration?.stop();
    broadcasts.stop();
    self.close();
    await Promise.all(listeners.map((l) => l.close()));
    await pprof?.close();
    upstream.close();
  };
  try {
    listeners.push(await listen(config.listenAddr, 'listen-addr', handlers, tlsSetup));
    logger.info('listening for gRPC proxy client requests', { address: config.listenAddr });
    if (config.metricsAddr) {
      const murl = new URL(config.metricsAddr);
      if (murl.protocol !== 'http:' && murl.protocol !== 'https:') throw new Error(`--metrics-addr ${config.metricsAddr}: unsupported scheme ${murl.protocol}`);
      const metricsTls = murl.protocol === 'https:' ? tlsSetup : undefined;
      if (murl.protocol === 'https:' && !metricsTls) throw new Error(`--metrics-addr ${config.metricsAddr}: https needs --cert-file/--key-file or --auto-tls`);
      listeners.push(await listen(murl.host, 'metrics-addr', { onGrpcStream: refuseGrpc, onHttpRequest }, metricsTls));
      logger.info('gRPC proxy listening for metrics', { address: config.metricsAddr });
    }
  } catch (err) {
    await close();
    throw err;
  }
  if (config.resolverPrefix) registration = new Registration(upstream, ns, config.resolverPrefix, config.advertiseClientUrl, config.resolverTtlSec, logger);
  logger.info('started gRPC proxy', { address: config.listenAddr });
  return { listenAddr: config.listenAddr, close };
}
