// Opens connections to a peer: plain TCP or TLS. The peer's certificate is verified as
// etcd's Go verifier does (verifyHandshake), so a cfssl-style member certificate with its
// CA's subject is accepted and a certificate from another CA is refused, with the reason.
import https from 'node:https';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { verifyHandshake } from '../api/tls-context.js';
import { chainTrustFrom, type ChainTrust } from '../pki/chain-verify.js';

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
  return new Promise((resolve, reject) => {
    let socket: net.Socket;
    const onError = (err: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    const timer = setTimeout(() => onError(new Error(`dial ${url}: timed out after ${timeoutMs} ms`)), timeoutMs);
    if (u.protocol === 'https:') {
      if (!tlsOpts) {
        reject(new Error(`dial ${url}: https peer URL without peer TLS configured`));
        clearTimeout(timer);
        return;
      }
      const opts = tlsOpts;
      // the verdict is ours (serverCertProblem): OpenSSL refuses chains Go accepts
      const s = tls.connect({ host, port, cert: opts.cert, key: opts.key, ca: opts.ca, rejectUnauthorized: false, servername: net.isIP(host) ? undefined : host });
      socket = s;
      s.once('secureConnect', () => {
        const problem = opts.verify ? serverCertProblem(s, host, opts.ca) : null;
        if (problem !== null) return onError(new Error(`TLS: refused the certificate of ${url}: ${problem}`));
        clearTimeout(timer);
        socket.off('error', onError);
        resolve(socket);
      });
    } else {
      socket = net.connect({ host, port });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.off('error', onError);
        resolve(socket);
      });
    }
    socket.once('error', onError);
    socket.setNoDelay(true);
  });
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
      if (problem !== null) socket.destroy(new Error(`TLS: refused the certificate of ${host}:${String(options.port)}: ${problem}`));
    });
    return socket;
  }
}
