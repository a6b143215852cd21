// The TLS side of a client connection, verified as etcdctl's Go client verifies a member:
// the chain by crypto/x509's rules (src/pki/chain-verify.ts) where OpenSSL's differ, and
// the host name against the certificate's subject alternative names only.
//
// Contract: connectVerified() returns a socket whose handshake OpenSSL runs with its own
// verdict switched off; on 'secureConnect' the chain and the name are checked and the
// socket is destroyed with Go's reason when either is refused, before anyone (the HTTP/2
// session) reads from it. The cases that differ from OpenSSL's verdict:
// - accepted: a member certificate with its CA's subject and no authority key identifier
//   (cfssl's tutorials), which OpenSSL calls self-signed while Go finds the CA by name and
//   checks the signature;
// - refused: a certificate without subject alternative names whose common name is the
//   host (Node falls back to the common name; Go 1.15 and later do not).
// Nothing OpenSSL refuses for another reason (unknown CA, expiry, a CA with the same name
// but another key) is accepted: chain-verify checks signatures, periods and usages itself.
import net from 'node:net';
import tls from 'node:tls';
import { verifyHandshake } from '../pki/tls-context.js';
import { chainTrustFrom, type ChainTrust } from '../pki/chain-verify.js';

export interface VerifiedTlsOptions {
  /** trusted CAs (PEM); undefined: the system roots, with OpenSSL's verdict */
  ca?: string | Buffer | Array<string | Buffer>;
  cert?: string | Buffer;
  key?: string | Buffer;
  /** false: no verification at all (--insecure-skip-tls-verify) */
  verify: boolean;
  /** ALPN protocols to offer ('h2' for gRPC) */
  alpn?: string[];
}

/** Parsed CA bundles by their PEM text: a command makes many connections with one bundle. */
const trustCache = new Map<string, ChainTrust>();

function trustFor(ca: VerifiedTlsOptions['ca']): ChainTrust | undefined {
  if (ca === undefined) return undefined;
  const pem = (Array.isArray(ca) ? ca : [ca]).map((c) => c.toString()).join('\n');
  let t = trustCache.get(pem);
  if (!t) trustCache.set(pem, (t = chainTrustFrom(pem)));
  return t;
}

/** Go's x509.HostnameError text: why `cert` does not name `host`, or null when it does. */
export function goHostnameProblem(host: string, cert: tls.PeerCertificate): string | null {
  const sans = parseSubjectAltName(cert.subjectaltname ?? '');
  if (net.isIP(host)) {
    const want = canonicalIp(host);
    if (sans.ips.some((ip) => canonicalIp(ip) === want)) return null;
    if (sans.ips.length === 0) return `x509: cannot validate certificate for ${host} because it doesn't contain any IP SANs`;
    return `x509: certificate is valid for ${sans.ips.join(', ')}, not ${host}`;
  }
  const wanted = host.toLowerCase().replace(/\.$/, '');
  if (sans.dns.some((pattern) => dnsNameMatches(pattern, wanted))) return null;
  if (sans.dns.length === 0) {
    const cn = cert.subject?.CN;
    if (sans.ips.length === 0 && typeof cn === 'string' && dnsNameMatches(cn, wanted)) {
      return 'x509: certificate relies on legacy Common Name field, use SANs instead';
    }
    return `x509: certificate is not valid for any names, but wanted to match ${host}`;
  }
  return `x509: certificate is valid for ${sans.dns.join(', ')}, not ${host}`;
}

/** Node's "DNS:a, IP Address:1.2.3.4" split by kind (quoted entries keep their commas). */
function parseSubjectAltName(text: string): { dns: string[]; ips: string[] } {
  const out = { dns: [] as string[], ips: [] as string[] };
  for (const m of text.matchAll(/(DNS|IP Address):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/g)) {
    const value = m[2]!.startsWith('"') ? (JSON.parse(m[2]!) as string) : m[2]!;
    (m[1] === 'DNS' ? out.dns : out.ips).push(value);
  }
  return out;
}

/** One spelling per address, so ::1 and 0:0:0:0:0:0:0:1 compare equal. */
function canonicalIp(ip: string): string {
  if (net.isIPv4(ip)) return ip;
  const sock = new net.SocketAddress({ address: ip, family: 'ipv6' });
  return sock.address;
}

/** Go's matchHostnames: a leading "*." label matches exactly one label, nothing else is a pattern. */
function dnsNameMatches(pattern: string, host: string): boolean {
  const p = pattern.toLowerCase().replace(/\.$/, '');
  if (p === '' || host === '') return false;
  const pl = p.split('.');
  const hl = host.split('.');
  if (pl.length !== hl.length) return false;
  return pl.every((label, i) => label === hl[i] || (i === 0 && label === '*' && hl[i] !== ''));
}

/**
 * Why the server certificate of `socket` is not acceptable for `host`, as Go would say it,
 * or null. OpenSSL's verdict stands except where Go's chain rules differ.
 */
export function serverCertificateProblem(socket: tls.TLSSocket, host: string, trust: ChainTrust | undefined): string | null {
  const chainProblem = verifyHandshake(socket, trust, 'server');
  if (chainProblem !== null) return `${goChainErrorText(chainProblem)} (${chainProblem})`;
  return goHostnameProblem(host, socket.getPeerCertificate());
}

/** The start of Go's x509 error for a refused chain, by what the refusal was about. */
function goChainErrorText(problem: string): string {
  if (/expired at|not valid before|CERT_HAS_EXPIRED|CERT_NOT_YET_VALID/.test(problem)) return 'x509: certificate has expired or is not yet valid';
  if (/extended key usage|INVALID_PURPOSE/.test(problem)) return 'x509: certificate specifies an incompatible key usage';
  return 'x509: certificate signed by unknown authority';
}

/**
 * A TLS connection to host:port whose server is verified by Go's rules (see the header):
 * resolves once the handshake is done and the certificate accepted, rejects with the
 * reason (a TlsRefusal) or the connection error.
 */
export function connectVerified(host: string, port: number, opts: VerifiedTlsOptions): Promise<tls.TLSSocket> {
  const bareHost = host.replace(/^\[|\]$/g, '');
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: bareHost,
      port,
      servername: net.isIP(bareHost) ? '' : bareHost,
      ...(opts.ca !== undefined && { ca: opts.ca }),
      ...(opts.cert !== undefined && { cert: opts.cert }),
      ...(opts.key !== undefined && { key: opts.key }),
      ...(opts.alpn && { ALPNProtocols: opts.alpn }),
      rejectUnauthorized: false,
      // the name is checked below by Go's rules, not Node's (which falls back to the CN)
      checkServerIdentity: () => undefined,
    });
    const failed = (err: Error): void => {
      socket.destroy();
      reject(err);
    };
    socket.once('error', failed);
    socket.once('secureConnect', () => {
      socket.off('error', failed);
      const problem = opts.verify ? serverCertificateProblem(socket, bareHost, trustFor(opts.ca)) : null;
      if (problem !== null) failed(new TlsRefusal(problem));
      else resolve(socket);
    });
  });
}

/** The server's certificate was refused; the message is the reason, as Go words it where it can. */
export class TlsRefusal extends Error {
  override name = 'TlsRefusal';
}
