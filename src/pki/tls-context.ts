// TLS settings of a listener (or a dialer), built from etcd's flags and rebuilt when
// the certificate, key, CA bundle or CRL files change on disk: new connections pick up
// renewed certificates — and CA bundles, which etcd cannot reload — without a restart.
import fs from 'node:fs';
import tls from 'node:tls';
import { chainTrustFrom, verifyChainLikeGo, type CertUsage, type ChainTrust } from './chain-verify.js';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
  /** CA bundle that peer/client certificates are verified against */
  trustedCaFile: string;
  crlFile: string;
  /** require and verify a certificate from the other side */
  clientCertAuth: boolean;
  /** Go cipher suite names, as etcd's --cipher-suites takes them */
  cipherSuites: string[];
  /** 'TLS1.2' | 'TLS1.3' | '' */
  minVersion: string;
  maxVersion: string;
}

/** Go's cipher suite names (what etcd takes) and OpenSSL's (what Node takes). */
const CIPHER_SUITES: Record<string, string> = {
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256: 'ECDHE-ECDSA-AES128-SHA256',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256: 'ECDHE-RSA-AES128-SHA256',
  TLS_RSA_WITH_AES_128_GCM_SHA256: 'AES128-GCM-SHA256',
  TLS_RSA_WITH_AES_256_GCM_SHA384: 'AES256-GCM-SHA384',
  TLS_RSA_WITH_AES_128_CBC_SHA: 'AES128-SHA',
  TLS_RSA_WITH_AES_256_CBC_SHA: 'AES256-SHA',
  TLS_RSA_WITH_AES_128_CBC_SHA256: 'AES128-SHA256',
};

export function openSslCiphers(goNames: string[]): string {
  return goNames
    .map((n) => {
      const c = CIPHER_SUITES[n];
      if (!c) throw new Error(`unexpected TLS cipher suite "${n}"`);
      return c;
    })
    .join(':');
}

function tlsVersion(v: string, flag: string): tls.SecureVersion | undefined {
  if (v === '') return undefined;
  if (v === 'TLS1.2') return 'TLSv1.2';
  if (v === 'TLS1.3') return 'TLSv1.3';
  throw new Error(`--${flag}: unexpected TLS version "${v}" (use TLS1.2 or TLS1.3)`);
}

export function secureContextOptions(f: TlsFiles, prefix: '' | 'peer-'): tls.SecureContextOptions {
  const read = (file: string, flag: string): Buffer => {
    try {
      return fs.readFileSync(file);
    } catch (err) {
      throw new Error(`--${prefix}${flag}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  const opts: tls.SecureContextOptions = {
    cert: read(f.certFile, 'cert-file'),
    key: read(f.keyFile, 'key-file'),
    minVersion: tlsVersion(f.minVersion, 'tls-min-version') ?? 'TLSv1.2',
  };
  const max = tlsVersion(f.maxVersion, 'tls-max-version');
  if (max) opts.maxVersion = max;
  if (f.trustedCaFile) opts.ca = read(f.trustedCaFile, 'trusted-ca-file');
  // the CRL is checked after the handshake (crl.ts), as etcd checks it: by serial only
  if (f.crlFile) read(f.crlFile, prefix === 'peer-' ? 'crl-file' : 'client-crl-file');
  if (f.cipherSuites.length > 0) opts.ciphers = openSslCiphers(f.cipherSuites);
  return opts;
}

/**
 * Watches the files behind a TLS configuration and calls `onChange` with fresh options
 * when any of them changes (checked every `intervalMs`). A file that fails to load keeps
 * the previous, working settings and is reported.
 */
export function watchTlsFiles(
  f: TlsFiles,
  prefix: '' | 'peer-',
  onChange: (opts: tls.SecureContextOptions) => void,
  onError: (err: Error) => void,
  intervalMs = 1000,
): () => void {
  const files = [f.certFile, f.keyFile, f.trustedCaFile, f.crlFile].filter((x) => x !== '');
  const stamp = (): string => files.map((p) => {
    try {
      const s = fs.statSync(p);
      return `${s.mtimeMs}:${s.size}:${s.ino}`;
    } catch {
      return 'missing';
    }
  }).join('|');
  let last = stamp();
  const timer = setInterval(() => {
    const now = stamp();
    if (now === last) return;
    last = now;
    try {
      onChange(secureContextOptions(f, prefix));
    } catch (err) {
      onError(err as Error);
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * Server options that ask for a client certificate but leave the verdict to
 * `refuseUnverified`: when Node rejects a certificate itself it closes the connection at
 * once, and a TLS 1.3 client that already sent its request then sees a half-finished
 * HTTP/2 stream (curl exit 18) instead of a refusal.
 */
export function askForClientCertificate(required: boolean): Pick<tls.TlsOptions, 'requestCert' | 'rejectUnauthorized'> {
  return { requestCert: required, rejectUnauthorized: false };
}

/**
 * A GOAWAY frame for stream 0 with INADEQUATE_SECURITY (0xc), sent instead of the server's
 * SETTINGS preface: the client never sees a usable HTTP/2 connection, so grpc-go keeps it
 * "not ready" and reports "context deadline exceeded" as it does against etcd (after a
 * SETTINGS frame it would fail the call with "the connection is draining"), and curl
 * reports an empty reply (exit 52) rather than a half-served stream.
 */
const H2_REFUSAL = Buffer.from('000008070000000000' + '00000000' + '0000000c', 'hex');

/**
 * OpenSSL verdicts that Go's rules can overturn: a member certificate with its CA's
 * subject and no authority key identifier (cfssl's tutorials) looks self-signed to
 * OpenSSL, while Go finds the CA by name and checks the signature.
 */
const SELF_SIGNED_VERDICTS: ReadonlySet<string> = new Set(['DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN']);

/** The trust a handshake is verified against: the CA bundle and CRL of the secure context. */
export function trustOf(ctx: tls.SecureContextOptions): ChainTrust | undefined {
  if (!ctx.ca) return undefined;
  const crl = Array.isArray(ctx.crl) ? Buffer.concat(ctx.crl.map((c) => Buffer.from(c))) : ctx.crl;
  return chainTrustFrom(Buffer.from(ctx.ca as Buffer), crl === undefined ? undefined : Buffer.from(crl as Buffer));
}

/** The DER certificates the other side sent, its own first, each once. */
function peerChainDer(socket: tls.TLSSocket): Buffer[] {
  const out: Buffer[] = [];
  for (let c: tls.DetailedPeerCertificate | undefined = socket.getPeerCertificate(true); c?.raw; c = c.issuerCertificate) {
    if (out.some((d) => d.equals(c!.raw))) break; // a self-issued certificate links to itself
    out.push(c.raw);
  }
  return out;
}

/**
 * Whether the certificate the other side presented is valid for `usage` as Go's
 * crypto/x509 would judge it: null if so, else the reason. OpenSSL's verdict stands
 * except where its rules differ from Go's (SELF_SIGNED_VERDICTS); then the chain is
 * verified in full by verifyChainLikeGo. A socket accepted that way is marked authorized,
 * so code that trusts `authorized` (the client certificate's CN as auth user) sees it so.
 */
export function verifyHandshake(socket: tls.TLSSocket, trust: ChainTrust | undefined, usage: CertUsage, nowMs = Date.now()): string | null {
  if (socket.authorized) return null;
  const verdict = socket.authorizationError ? String(socket.authorizationError) : '';
  const chain = peerChainDer(socket);
  if (chain.length === 0) return usage === 'client' ? 'no client certificate' : 'no server certificate';
  if (!trust) return verdict || 'certificate not verified';
  const problem = verifyChainLikeGo(chain, trust, usage, nowMs);
  if (!SELF_SIGNED_VERDICTS.has(verdict)) {
    // OpenSSL's refusal stands; Go's reading of the chain only explains it better
    return problem === null ? verdict || 'certificate not verified' : `${problem} (${verdict})`;
  }
  if (problem !== null) return problem;
  socket.authorized = true;
  (socket as { authorizationError?: Error | null }).authorizationError = null;
  return null;
}

/**
 * Ends a connection whose client certificate did not verify (or is missing); returns the
 * reason, or null when the connection may go on. HTTP/2 clients get a GOAWAY in place of
 * the server preface; others see the connection end before any response.
 */
export function refuseUnverified(socket: tls.TLSSocket, required: boolean, trust: ChainTrust | undefined): string | null {
  if (!required) return null;
  const reason = verifyHandshake(socket, trust, 'client');
  if (reason === null) return null;
  refuseConnection(socket);
  return reason;
}

/**
 * Logs refused handshakes, at most `linesPerWindow` per `windowMs` (10 a minute by
 * default): a port scanner, or a misconfigured member that redials every few
 * milliseconds, must not fill the disk with the same line, yet every kind of refusal
 * still shows within a minute. Lines dropped are counted on the next line logged.
 */
export class RefusalLog {
  private windowStartMs = -Infinity;
  private linesInWindow = 0;
  private suppressed = 0;

  constructor(
    private readonly write: (msg: string, fields: Record<string, unknown>) => void,
    private readonly nowMs: () => number = Date.now,
    private readonly linesPerWindow = 10,
    private readonly windowMs = 60_000,
  ) {}

  refused(what: string, remoteAddr: string | undefined, reason: string): void {
    const now = this.nowMs();
    if (now - this.windowStartMs >= this.windowMs) {
      this.windowStartMs = now;
      this.linesInWindow = 0;
    }
    if (this.linesInWindow >= this.linesPerWindow) {
      this.suppressed++;
      return;
    }
    this.linesInWindow++;
    const fields: Record<string, unknown> = { 'remote-addr': remoteAddr ?? 'unknown', reason };
    if (this.suppressed > 0) fields['suppressed-since-last'] = this.suppressed;
    this.suppressed = 0;
    this.write(what, fields);
  }
}

export function refuseConnection(socket: tls.TLSSocket): void {
  socket.on('error', () => socket.destroy());
  socket.setTimeout(REFUSAL_LINGER_MS, () => socket.destroy());
  if (socket.alpnProtocol === 'h2') socket.end(H2_REFUSAL);
  else socket.end();
}

/** how long a refused connection may take to read its last frames before it is cut */
const REFUSAL_LINGER_MS = 5000;
