// The certificate chain a TLS server presents, as `cfssl certinfo -domain` fetches it:
// "host" alone means port 443; the chain is taken before any verification (certinfo
// describes certificates, it does not judge them), leaf first, each certificate once.
import tls from 'node:tls';
import net from 'node:net';
import { PkiError } from './errors.js';

/** How long to wait for the server's handshake before giving up. */
export const REMOTE_TIMEOUT_MS = 10_000;

/** "host:port", "host", "[v6]:port" or "v6" -> host and port (443 when none is given). */
export function splitDomain(domain: string): { host: string; port: number } {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(domain);
  if (bracketed) return { host: bracketed[1]!, port: Number(bracketed[2] ?? 443) };
  if (net.isIPv6(domain)) return { host: domain, port: 443 };
  const colon = domain.lastIndexOf(':');
  if (colon < 0) return { host: domain, port: 443 };
  const port = Number(domain.slice(colon + 1));
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new PkiError(`-domain ${domain}: ${JSON.stringify(domain.slice(colon + 1))} is not a port number`);
  return { host: domain.slice(0, colon), port };
}

/** The DER certificates the server at `domain` sends, leaf first. */
export function fetchPeerChain(domain: string, timeoutMs = REMOTE_TIMEOUT_MS): Promise<Buffer[]> {
  const { host, port } = splitDomain(domain);
  return new Promise((resolve, reject) => {
    const options: tls.ConnectionOptions = { host, port, rejectUnauthorized: false };
    if (!net.isIP(host)) options.servername = host;
    const socket = tls.connect(options, () => {
      const chain = chainOf(socket.getPeerCertificate(true));
      socket.end();
      if (chain.length === 0) reject(new PkiError(`${domain} sent no certificate`));
      else resolve(chain);
    });
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no TLS handshake within ${timeoutMs / 1000} s`)));
    socket.once('error', (e) => reject(new PkiError(`cannot fetch the certificate of ${domain}: ${e.message}`)));
  });
}

function chainOf(leaf: tls.DetailedPeerCertificate): Buffer[] {
  const chain: Buffer[] = [];
  for (let c: tls.DetailedPeerCertificate | undefined = leaf; c?.raw; c = c.issuerCertificate) {
    if (chain.some((d) => d.equals(c!.raw))) break; // a self-signed root is its own issuer
    chain.push(c.raw);
  }
  return chain;
}
