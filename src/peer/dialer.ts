// Opens connections to a peer: plain TCP or TLS, trying each of its URLs in turn. The
// peer's certificate is verified as etcd's Go verifier does (verifyHandshake), so a
// cfssl-style member certificate with its CA's subject is accepted and a certificate from
// another CA is refused, with the reason.
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { verifyHandshake } from '../pki/tls-context.js';
import { chainTrustFrom, type ChainTrust } from '../pki/chain-verify.js';
import { systemClock } from '../pkg/clock.js';

/** The peer's certificate failed our checks after the handshake (not a network failure). */
export class CertificateRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CertificateRefusedError';
  }
}

export interface PeerTlsOptions {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
  /** verify the server certificate against `ca` (etcd verifies unless insecure-skip-tls-verify) */
  verify: boolean;
}

/** Parsed CA bundles, by the buffer the options hold (replaced when the files change). */
const trustCache = new WeakMap<Buffer, ChainTrust>();

function trustFor(ca: Buffer | undefined): ChainTrust | undefined {
  if (!ca) return undefined;
  let t = trustCache.get(ca);
  if (!t) trustCache.set(ca, (t = chainTrustFrom(ca, undefined)));
  return t;
}

/** Why the server's certificate is not acceptable for `host`, or null when it is. */
function serverCertProblem(socket: tls.TLSSocket, host: string, ca: Buffer | undefined): string | null {
  const openSslAccepted = socket.authorized;
  const problem = verifyHandshake(socket, trustFor(ca), 'server');
  if (problem !== null || openSslAccepted) return problem; // Node checked the name when OpenSSL accepted
  const nameError = tls.checkServerIdentity(host, socket.getPeerCertificate());
  return nameError ? nameError.message : null;
}

export function dial(url: string, tlsOpts: PeerTlsOptions | undefined, timeoutMs: number): Promise<net.Socket> {
  const u = new URL(url);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const port = Number(u.port || (u.protocol === 'https:' ? 443 : 80));
  const socketPath = unixSocketPath(u);
  const where = socketPath !== undefined ? { path: socketPath } : { host, port };
  return new Promise((resolve, reject) => {
    let socket: net.Socket;
    const onError = (err: Error): void => {
      timer.cancel();
      socket.destroy();
      reject(err);
    };
    const timer = systemClock.after(timeoutMs, () => onError(new Error(`dial ${url}: timed out after ${timeoutMs} ms`)));
    if (isSecureUrl(u)) {
      if (!tlsOpts) {
        reject(new Error(`dial ${url}: https peer URL without peer TLS configured`));
        timer.cancel();
        return;
      }
      const opts = tlsOpts;
      const servername = socketPath !== undefined || net.isIP(host) ? undefined : host;
      // the verdict is ours (serverCertProblem): OpenSSL refuses chains Go accepts
      const s = tls.connect({ ...where, cert: opts.cert, key: opts.key, ca: opts.ca, rejectUnauthorized: false, servername });
      socket = s;
      s.once('secureConnect', () => {
        const problem = opts.verify ? serverCertProblem(s, host, opts.ca) : null;
        if (problem !== null) return onError(new CertificateRefusedError(`TLS: refused the certificate of ${url}: ${problem}`));
        timer.cancel();
        socket.off('error', onError);
        resolve(socket);
      });
    } else {
      socket = net.connect(where);
      socket.once('connect', () => {
        timer.cancel();
        socket.off('error', onError);
        resolve(socket);
      });
    }
    socket.once('error', onError);
    socket.setNoDelay(true);
  });
}

/** The socket path of a unix:// or unixs:// URL: its host, as etcd reads it (unix://etcd.unix:1). */
export function unixSocketPath(u: URL): string | undefined {
  return u.protocol === 'unix:' || u.protocol === 'unixs:' ? u.host : undefined;
}

/** Whether a peer URL's connections use TLS. */
export function isSecureUrl(u: URL): boolean {
  return u.protocol === 'https:' || u.protocol === 'unixs:';
}

export interface PeerRequestInit {
  method: string;
  headers?: Record<string, string | number>;
  timeoutMs: number;
}

/**
 * An HTTP request to `path` on a member's peer URL (http, https, unix or unixs), with
 * this member's client certificate on TLS. The caller writes the body and ends it.
 */
export function peerRequest(
  peerUrl: string,
  path: string,
  init: PeerRequestInit,
  tlsOpts: PeerTlsOptions | undefined,
  onResponse: (res: http.IncomingMessage) => void,
): http.ClientRequest {
  const u = new URL(peerUrl);
  const secure = isSecureUrl(u);
  const socketPath = unixSocketPath(u);
  const target = socketPath !== undefined ? { socketPath, path } : { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || (secure ? 443 : 80)), path };
  const options: https.RequestOptions = {
    ...target,
    method: init.method,
    timeout: init.timeoutMs,
    headers: init.headers,
    ...(secure && tlsOpts ? { cert: tlsOpts.cert, key: tlsOpts.key, ca: tlsOpts.ca, rejectUnauthorized: tlsOpts.verify } : {}),
    ...(secure && socketPath === undefined && !net.isIP(u.hostname) ? { servername: u.hostname } : {}),
  };
  // over TCP the agent verifies the member's certificate by Go's rules, as the raft streams do
  if (secure && socketPath === undefined) options.agent = peerHttpsAgent;
  const req = (secure ? https : http).request(options, onResponse);
  req.on('timeout', () => req.destroy(new Error(`${peerUrl}${path}: context deadline exceeded`)));
  return req;
}

/**
 * An https.Agent for the peer port's HTTP endpoints (/members when joining, lease
 * forwarding): its connections are verified as the raft streams' are, by Go's rules,
 * instead of by OpenSSL's alone. A request with rejectUnauthorized: false (peer auto TLS)
 * is not verified, as before.
 */
export class PeerHttpsAgent extends https.Agent {
  override createConnection(options: https.RequestOptions, _callback?: (err: Error | null, stream: Duplex) => void): Duplex {
    const verify = options.rejectUnauthorized !== false;
    const host = String(options.host ?? options.hostname ?? 'localhost').replace(/^\[|\]$/g, '');
    const ca = options.ca === undefined ? undefined : Buffer.from(options.ca as Buffer);
    const socket = tls.connect({ ...(options as tls.ConnectionOptions), host, rejectUnauthorized: false });
    socket.once('secureConnect', () => {
      const problem = verify ? serverCertProblem(socket, host, ca) : null;
      if (problem !== null) socket.destroy(new CertificateRefusedError(`TLS: refused the certificate of ${host}:${String(options.port)}: ${problem}`));
    });
    return socket;
  }
}

/** peerRequest's agent for https peer URLs (no keep-alive: these requests are rare) */
const peerHttpsAgent = new PeerHttpsAgent();
