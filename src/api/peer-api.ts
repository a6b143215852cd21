// The peer port: raft message and snapshot streams (recognised by their preface) and
// the HTTP endpoints members use among themselves — /members (who is in the cluster,
// asked by joining members), /version, lease forwarding and learner promotion.
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import { askForClientCertificate, RefusalLog, refuseConnection, refuseUnverified, secureContextOptions, trustOf, watchTlsFiles, type TlsFiles } from './tls-context.js';
import { CLUSTER_VERSION, SERVER_VERSION, type EtcdServer } from '../server/server.js';
import type { Logger } from '../pkg/logger.js';
import { LeaseKeepAliveRequest, LeaseKeepAliveResponse, LeaseTimeToLiveRequest, LeaseTimeToLiveResponse } from '../proto/etcdserverpb.js';
import { LEASE_RENEW_PATH, LEASE_TTL_PATH, MEMBER_PROMOTE_PATH } from '../peer/lease-forward.js';
import { PREFACE_BYTES, RAFT_PREFACE, SNAP_PREFACE } from '../peer/protocol.js';
import { asGrpcError } from './grpc/server.js';
import { toGrpcError } from '../server/errors.js';

export interface PeerApi {
  close(): Promise<void>;
}

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

function handler(server: EtcdServer): http.RequestListener {
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
    if (req.method === 'POST' && path.startsWith(MEMBER_PROMOTE_PATH)) {
      const id = BigInt('0x' + path.slice(MEMBER_PROMOTE_PATH.length));
      void server.promoteMember(id).then(
        () => reply(200, 'application/json', '{}'),
        (err) => reply(412, 'text/plain', asGrpcError(toGrpcError(err)).message),
      );
      return;
    }
    reply(404, 'text/plain; charset=utf-8', '404 page not found\n');
  };
}

export interface PeerListenTls {
  files: TlsFiles;
  /** --peer-cert-allowed-cn: the CN a connecting member's certificate must carry */
  allowedCn: string;
  /** --peer-cert-allowed-hostname: a name the connecting member's certificate must be valid for */
  allowedHostname: string;
}

/** etcd's extra peer certificate rules, checked once the handshake verified the chain. */
function peerCertAllowed(socket: tls.TLSSocket, t: PeerListenTls): string | undefined {
  if (!t.allowedCn && !t.allowedHostname) return undefined;
  const cert = socket.getPeerCertificate();
  if (!cert || Object.keys(cert).length === 0) return 'no client certificate';
  if (t.allowedCn) {
    const cn = Array.isArray(cert.subject?.CN) ? cert.subject.CN[0] : cert.subject?.CN;
    if (cn !== t.allowedCn) return `CommonName authentication failed (got ${JSON.stringify(cn)}, want ${JSON.stringify(t.allowedCn)})`;
  }
  if (t.allowedHostname && tls.checkServerIdentity(t.allowedHostname, cert) !== undefined) {
    return `hostname authentication failed (certificate is not valid for ${t.allowedHostname})`;
  }
  return undefined;
}

export async function servePeerApi(server: EtcdServer, urls: URL[], logger: Logger, peerTls?: PeerListenTls): Promise<PeerApi> {
  const h1 = http.createServer({ keepAlive: true }, handler(server));
  const servers: net.Server[] = [];
  const stopWatching: Array<() => void> = [];
  const sockets = new Set<net.Socket>();
  const refusals = new RefusalLog((msg, fields) => logger.warn(msg, fields));
  const onConnection = (socket: net.Socket): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let head: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      const n = Math.min(head.length, PREFACE_BYTES);
      const raft = head.subarray(0, n).equals(RAFT_PREFACE.subarray(0, n)) || head.subarray(0, n).equals(SNAP_PREFACE.subarray(0, n));
      if (raft && head.length < PREFACE_BYTES) return;
      socket.off('data', onData);
      if (raft) {
        socket.setNoDelay(true);
        server.transport.accept(socket, head);
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
      if (url.protocol === 'https:') {
        if (!peerTls || !peerTls.files.certFile || !peerTls.files.keyFile) {
          throw new Error(`TLS key/cert (--peer-cert-file, --peer-key-file) must be provided for peer url ${url.href.replace(/\/$/, '')} with HTTPS scheme`);
        }
        const t = peerTls;
        const options = (ctx: tls.SecureContextOptions): tls.TlsOptions => ({
          ...ctx,
          ...askForClientCertificate(t.files.clientCertAuth),
        });
        const initial = secureContextOptions(t.files, 'peer-');
        let trust = trustOf(initial);
        const ts = tls.createServer(options(initial), (socket) => {
          const unverified = refuseUnverified(socket, t.files.clientCertAuth, trust);
          if (unverified !== null) return refusals.refused('rejected a peer TLS handshake', socket.remoteAddress, unverified);
          const problem = peerCertAllowed(socket, t);
          if (problem) {
            refusals.refused('rejected a peer connection', socket.remoteAddress, problem);
            refuseConnection(socket);
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
      } else if (url.protocol === 'http:') {
        s = net.createServer(onConnection);
      } else {
        throw new Error(`peer URL ${url.href}: unsupported scheme`);
      }
      const host = url.hostname.replace(/^\[|\]$/g, '');
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen({ host, port: Number(url.port || 2380) }, () => resolve());
      });
      servers.push(s);
      logger.info('serving peer traffic', { address: `${host}:${url.port}` });
    }
  } catch (err) {
    for (const stop of stopWatching) stop();
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    throw err;
  }
  return {
    close: async () => {
      for (const stop of stopWatching) stop();
      for (const s of sockets) s.destroy();
      await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    },
  };
}
