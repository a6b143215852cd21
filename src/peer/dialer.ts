// Opens connections to a peer: plain TCP or TLS, trying each of its URLs in turn.
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
      socket = tls.connect({ host, port, cert: tlsOpts.cert, key: tlsOpts.key, ca: tlsOpts.ca, rejectUnauthorized: tlsOpts.verify, servername: net.isIP(host) ? undefined : host });
      socket.once('secureConnect', () => {
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
