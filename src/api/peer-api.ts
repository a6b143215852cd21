// The peer port: raft message and snapshot streams (recognised by their preface) and
// the HTTP endpoints members use among themselves — /members (who is in the cluster,
// asked by joining members), /version, lease forwarding and learner promotion.
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import { askForClientCertificate, RefusalLog, secureContextOptions, trustOf, verifyHandshake, watchTlsFiles, type TlsFiles } from '../pki/tls-context.js';
import type { ChainTrust } from '../pki/chain-verify.js';
import { CLUSTER_VERSION, SERVER_VERSION } from '../server/options.js';
import type { PeerPort } from '../server/ports.js';
import type { Logger } from '../pkg/logger.js';
import { LeaseKeepAliveRequest, LeaseKeepAliveResponse, LeaseTimeToLiveRequest, LeaseTimeToLiveResponse } from '../proto/etcdserverpb.js';
import { LEASE_RENEW_PATH, LEASE_TTL_PATH, MEMBER_PROMOTE_PATH } from '../peer/lease-forward.js';
import { PREFACE_BYTES, RAFT_PREFACE, REJECT_BAD_CERT, SNAP_PREFACE } from '../peer/protocol.js';
import { toGrpcError } from './errors.js';
import { RevocationList } from './crl.js';
import { isSecureUrl, unixSocketPath } from '../peer/dialer.js';
import { serveHttp2 } from './h2/index.js';
import { HTTP2_SETTINGS, routeHttp2Stream, type ClientListenerHandlers, type HttpHandler } from './listener.js';
import { PEER_HASHKV_PATH, decodeHashRequest, encodeHashAnswer } from '../server/corrupt.js';

export interface PeerApi {
  close(): Promise<void>;
  /** serves the client API (gRPC over HTTP/2) on the peer URLs from now on, as etcd does */
  serveClientApi(handlers: ClientListenerHandlers): void;
}

/** the first bytes of an HTTP/2 connection (as many as the raft prefaces) */
const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n').subarray(0, PREFACE_BYTES);

function readBody(req: http.IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n > maxBytes) {
        req.destroy();
        reject(new Error('request too large'));
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function handler(server: PeerPort): http.RequestListener {
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const reply = (status: number, type: string, body: string | Uint8Array): void => {
      res.writeHead(status, { 'Content-Type': type, 'X-Etcd-Cluster-ID': server.clusterId.toString(16) });
      res.end(body);
    };
    if (req.method === 'GET' && path === '/version') {
      return reply(200, 'application/json', JSON.stringify({ etcdserver: SERVER_VERSION, etcdcluster: CLUSTER_VERSION }));
    }
    if (req.method === 'GET' && path === '/members') {
      const members = server.members().map((m) => ({ id: m.id.toString(16), name: m.name, peerURLs: m.peerURLs, clientURLs: m.clientURLs, isLearner: m.isLearner }));
      return reply(200, 'application/json', JSON.stringify(members));
    }
    if (req.method === 'POST' && path === LEASE_RENEW_PATH) {
      void readBody(req, 1024).then((body) => {
        const r = LeaseKeepAliveRequest.decode(body);
        if (!server.isLeader) return reply(503, 'text/plain', 'not leader');
        const ttl = server.renewLocally(r.ID);
        if (ttl === 0) return reply(404, 'text/plain', 'lease not found');
        reply(200, 'application/protobuf', LeaseKeepAliveResponse.encode({ header: server.header(server.revision), ID: r.ID, TTL: ttl }));
      }, () => reply(400, 'text/plain', 'bad request'));
      return;
    }
    if (req.method === 'POST' && path === LEASE_TTL_PATH) {
      void readBody(req, 1024).then((body) => {
        const r = LeaseTimeToLiveRequest.decode(body);
        reply(200, 'application/protobuf', LeaseTimeToLiveResponse.encode(server.timeToLiveLocally(r.ID, r.keys)));
      }, () => reply(400, 'text/plain', 'bad request'));
      return;
    }
    if (path === PEER_HASHKV_PATH) return serveHashKV(server, req, res);
    if (req.method === 'POST' && path.startsWith(MEMBER_PROMOTE_PATH)) {
      const id = BigInt('0x' + path.slice(MEMBER_PROMOTE_PATH.length));
      void server.promoteMember(id).then(
        () => reply(200, 'application/json', '{}'),
        (err) => reply(412, 'text/plain', toGrpcError(err).message),
      );
      return;
    }
    reply(404, 'text/plain; charset=utf-8', '404 page not found\n');
  };
}

/** Go's http.Error: the text and a newline, as plain text. */
function httpError(res: http.ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...headers, 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
  res.end(text + '\n');
}

/** etcd's peer hash handler, which the corruption checks of other members call. */
function serveHashKV(server: PeerPort, req: http.IncomingMessage, res: http.ServerResponse): void {
  if (req.method !== 'GET') return httpError(res, 405, 'Method Not Allowed', { Allow: 'GET' });
  void readBody(req, 4096).then(
    (body) => {
      let revision: number;
      try {
        revision = decodeHashRequest(body.toString('utf8'));
      } catch {
        return httpError(res, 400, 'error unmarshalling request');
      }
      let h;
      try {
        h = server.hashKV(revision);
      } catch (err) {
        return httpError(res, 400, (err as Error).message);
      }
      const text = encodeHashAnswer({ revision: h.header!.revision, hash: h.hash, compactRevision: h.compact_revision });
      res.writeHead(200, { 'Content-Type': 'application/json', 'X-Etcd-Cluster-ID': server.clusterId.toString(16) });
      res.end(text);
    },
    () => httpError(res, 400, 'error reading body'),
  );
}

/** Why a peer connection's certificate is refused, or null: chain, then CRL, then CN/hostname. */
function peerRefusal(socket: tls.TLSSocket, t: PeerListenTls, crl: RevocationList | undefined, trust: ChainTrust | undefined): string | null {
  // the chain is verified by Go's rules (cfssl's same-subject certificates pass), not OpenSSL's
  if (t.files.clientCertAuth) {
    const problem = verifyHandshake(socket, trust, 'client');
    if (problem !== null) return problem;
  }
  return crl?.check(socket) ?? peerCertAllowed(socket, t) ?? null;
}

/** Ends a refused peer connection with the bad-certificate byte the dialer reports. */
function refusePeer(socket: tls.TLSSocket): void {
  socket.on('error', () => socket.destroy());
  socket.setTimeout(REFUSAL_LINGER_MS, () => socket.destroy());
  socket.end(Buffer.from([REJECT_BAD_CERT]));
}

/** how long a refused connection may take to read the refusal before it is cut */
const REFUSAL_LINGER_MS = 5000;

/**
 * Where to listen for a URL: a unix socket path (unix://, unixs://: the URL's host, a
 * stale socket file removed first, as etcd does) or a host and port.
 */
export function listenAddress(url: URL, defaultPort: number): { path: string } | { host: string; port: number } {
  const socketPath = unixSocketPath(url);
  if (socketPath !== undefined) {
    fs.rmSync(socketPath, { force: true });
    return { path: socketPath };
  }
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || defaultPort) };
}

export interface PeerListenTls {
  files: TlsFiles;
  /** --peer-cert-allowed-cn: the CN a connecting member's certificate must carry */
  allowedCn: string;
  /** --peer-cert-allowed-hostname: a name the connecting member's certificate must be valid for */
  allowedHostname: string;
}

/** etcd's extra peer certificate rules, checked once the handshake verified the chain; etcd's message. */
function peerCertAllowed(socket: tls.TLSSocket, t: PeerListenTls): string | undefined {
  if (!t.allowedCn && !t.allowedHostname) return undefined;
  const cert = socket.getPeerCertificate();
  const failed = 'client certificate authentication failed';
  if (!cert || Object.keys(cert).length === 0) return failed;
  if (t.allowedCn) {
    const cn = Array.isArray(cert.subject?.CN) ? cert.subject.CN[0] : cert.subject?.CN;
    return cn === t.allowedCn ? undefined : failed;
  }
  return tls.checkServerIdentity(t.allowedHostname, cert) === undefined ? undefined : failed;
}

export async function servePeerApi(server: PeerPort, urls: URL[], logger: Logger, peerTls?: PeerListenTls): Promise<PeerApi> {
  const peerHttp = handler(server);
  const h1 = http.createServer({ keepAlive: true }, peerHttp);
  // HTTP/2 (ALPN h2, e.g. curl): gRPC goes to the client API, anything else to the members' endpoints
  const peerOverH2: HttpHandler = (req, res) => peerHttp(req as unknown as http.IncomingMessage, res as unknown as http.ServerResponse);
  let clientHandlers: ClientListenerHandlers | undefined;
  const servers: net.Server[] = [];
  const stopWatching: Array<() => void> = [];
  const sockets = new Set<net.Socket>();
  // etcd's field name for the reason is error
  const refusals = new RefusalLog((msg, fields) => logger.warn(msg, { ...fields, error: fields['reason'] }));
  const onConnection = (socket: net.Socket): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let head: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      const n = Math.min(head.length, PREFACE_BYTES);
      const starts = (p: Buffer) => head.subarray(0, n).equals(p.subarray(0, n));
      const raft = starts(RAFT_PREFACE) || starts(SNAP_PREFACE);
      const h2 = starts(H2_PREFACE);
      if ((raft || h2) && head.length < PREFACE_BYTES) return;
      socket.off('data', onData);
      if (raft) {
        socket.setNoDelay(true);
        server.acceptPeerStream(socket, head);
        return;
      }
      if (h2 && clientHandlers) {
        // etcd serves its client gRPC API on the peer port too
        socket.setNoDelay(true);
        const h = { ...clientHandlers, onHttpRequest: peerOverH2 };
        const conn = serveHttp2(socket, head, (st) => routeHttp2Stream(st, h), clientHandlers.http2Settings ?? HTTP2_SETTINGS);
        conn.onError = () => {};
        return;
      }
      socket.pause();
      socket.unshift(head);
      h1.emit('connection', socket);
      socket.resume();
    };
    socket.on('data', onData);
  };
  try {
    for (const url of urls) {
      let s: net.Server;
      if (isSecureUrl(url)) {
        if (!peerTls || !peerTls.files.certFile || !peerTls.files.keyFile) {
          throw new Error(`TLS key/cert (--peer-cert-file, --peer-key-file) must be provided for peer url ${url.href.replace(/\/$/, '')} with HTTPS scheme`);
        }
        const t = peerTls;
        const crl = t.files.crlFile ? new RevocationList(t.files.crlFile) : undefined;
        const options = (ctx: tls.SecureContextOptions): tls.TlsOptions => ({
          ...ctx,
          // gRPC clients (etcdctl against a peer URL) ask for h2; members offer nothing
          ALPNProtocols: ['h2', 'http/1.1'],
          ...askForClientCertificate(t.files.clientCertAuth),
        });
        const initial = secureContextOptions(t.files, 'peer-');
        let trust = trustOf(initial);
        const ts = tls.createServer(options(initial), (socket) => {
          const problem = peerRefusal(socket, t, crl, trust);
          if (problem !== null) {
            refusals.refused('rejected connection', socket.remoteAddress, problem);
            refusePeer(socket);
            return;
          }
          onConnection(socket);
        });
        ts.on('tlsClientError', (err, socket) => {
          refusals.refused('rejected a peer TLS handshake', socket.remoteAddress, err.message);
          socket.destroy();
        });
        stopWatching.push(
          watchTlsFiles(
            t.files,
            'peer-',
            (ctx) => {
              ts.setSecureContext(options(ctx));
              trust = trustOf(ctx);
              logger.info('reloaded peer TLS certificates');
            },
            (err) => logger.warn('kept the previous peer TLS certificates', { error: err.message }),
          ),
        );
        s = ts;
      } else if (url.protocol === 'http:' || url.protocol === 'unix:') {
        s = net.createServer(onConnection);
      } else {
        throw new Error(`peer URL ${url.href}: unsupported scheme`);
      }
      const where = listenAddress(url, 2380);
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(where, () => resolve());
      });
      servers.push(s);
      logger.info('serving peer traffic', { address: 'path' in where ? where.path : `${where.host}:${where.port}` });
    }
  } catch (err) {
    for (const stop of stopWatching) stop();
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    throw err;
  }
  return {
    serveClientApi: (h) => void (clientHandlers = h),
    close: async () => {
      for (const stop of stopWatching) stop();
      for (const s of sockets) s.destroy();
      await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    },
  };
}
