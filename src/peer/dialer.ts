// Opens connections to a peer: plain TCP or TLS, trying each of its URLs in turn.
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';

export interface PeerTlsOptions {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
  /** verify the server certificate against `ca` (etcd verifies unless insecure-skip-tls-verify) */
  verify: boolean;
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
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    const timer = setTimeout(() => onError(new Error(`dial ${url}: timed out after ${timeoutMs} ms`)), timeoutMs);
    if (isSecureUrl(u)) {
      if (!tlsOpts) {
        reject(new Error(`dial ${url}: https peer URL without peer TLS configured`));
        clearTimeout(timer);
        return;
      }
      const servername = socketPath !== undefined || net.isIP(host) ? undefined : host;
      socket = tls.connect({ ...where, cert: tlsOpts.cert, key: tlsOpts.key, ca: tlsOpts.ca, rejectUnauthorized: tlsOpts.verify, servername });
      socket.once('secureConnect', () => {
        clearTimeout(timer);
        socket.off('error', onError);
        resolve(socket);
      });
    } else {
      socket = net.connect(where);
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
  const req = (secure ? https : http).request(options, onResponse);
  req.on('timeout', () => req.destroy(new Error(`${peerUrl}${path}: context deadline exceeded`)));
  return req;
}
