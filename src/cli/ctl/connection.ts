// How tsetcdctl turns its TLS and auth flags into connection settings, as etcdctl 3.4
// does (secureCfgFromCmd, authCfgFromCmd, newClientCfg; clientv3's processCreds):
//
// - a TLS configuration exists when any of --cert, --key, --cacert is given (trusting
//   --cacert, else the system roots), or, with none of them, when
//   --insecure-transport=false (system roots); --insecure-skip-tls-verify only applies
//   to that configuration;
// - per endpoint: http:// is plain text, https:// is TLS (with the configuration, or
//   the system roots if there is none), and host:port is TLS exactly when the
//   configuration exists;
// - --user name:password, --user name --password pw, or --user name and the password
//   asked on the terminal.
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import tty from 'node:tty';
import type { ClientTlsOptions } from '../../client/unary-client.js';
import type { FlagSet } from './flags.js';
import { CtlExit, ExitCode, type Io } from './io.js';

export interface AuthSettings {
  username: string;
  password: string;
}

/** What every client of one tsetcdctl command uses to reach the cluster. */
export interface ConnectionSettings {
  /** etcdctl's cfg.TLS: undefined when it builds none */
  tls?: ClientTlsOptions;
  /** user and password to authenticate with (both non-empty), as clientv3 requires */
  auth?: AuthSettings;
  /** --dial-timeout in milliseconds: the time authentication may take */
  dialTimeoutMs: number;
  /** where clientv3's log lines go (stderr in a command); none when absent */
  log?: (line: string) => void;
}

/** The security flags (etcdctl's secureCfg). */
export interface SecureFlags {
  cert: string;
  key: string;
  cacert: string;
  insecureTransport: boolean;
  insecureSkipVerify: boolean;
}

/** A certificate or key problem, with Go's message; etcdctl exits with ExitBadArgs. */
export class TlsConfigError extends Error {
  override name = 'TlsConfigError';
}

function unsupported(what: string): never {
  throw new CtlExit(ExitCode.BadFeature, `${what} is not supported by tsetcdctl yet`);
}

/** etcdctl's keyAndCertFromCmd: a flag given as an empty string is an error. */
export function secureFlags(flags: FlagSet): SecureFlags {
  for (const name of ['cert', 'key', 'cacert']) {
    const f = flags.get(name);
    if (f.changed && f.string === '') throw new CtlExit(ExitCode.BadArgs, `empty string is passed to --${name} option`);
  }
  return {
    cert: flags.get('cert').string,
    key: flags.get('key').string,
    cacert: flags.get('cacert').string,
    insecureTransport: flags.get('insecure-transport').bool,
    insecureSkipVerify: flags.get('insecure-skip-tls-verify').bool,
  };
}

/** The scheme of an endpoint written as scheme://..., lower-cased, or undefined. */
export function endpointScheme(endpoint: string): string | undefined {
  return /^([a-z][a-z0-9+.-]*):\/\//i.exec(endpoint)?.[1]?.toLowerCase();
}

/** Refuses what tsetcdctl cannot do: endpoints other than http(s). */
export function checkUnsupported(_flags: FlagSet, endpoints: readonly string[]): void {
  for (const ep of endpoints) {
    const scheme = endpointScheme(ep);
    if (scheme !== undefined && scheme !== 'http' && scheme !== 'https') unsupported(`endpoint ${ep} (only http:// and https:// endpoints)`);
  }
}

// ---- certificates ---------------------------------------------------------------------

/** Go's text for an errno (syscall.Errno.Error()). */
const ERRNO_TEXT: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a directory',
  ENOTDIR: 'not a directory',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'file name too long',
  EMFILE: 'too many open files',
  EIO: 'input/output error',
};

/** ioutil.ReadFile, failing with Go's "open <path>: ..." / "read <path>: ..." text. */
function readFileGo(file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const text = (e.code !== undefined ? ERRNO_TEXT[e.code] : undefined) ?? e.message.replace(/^E[A-Z]+: /, '').split(',')[0]!;
    // opening a directory works in Go; reading it fails
    throw new TlsConfigError(`${e.code === 'EISDIR' ? 'read' : 'open'} ${file}: ${text}`);
  }
}

interface PemBlock {
  type: string;
  bytes: Buffer;
}

/** The PEM blocks of `data` in order, as encoding/pem's Decode finds them. */
function pemBlocks(data: Buffer): PemBlock[] {
  const text = data.toString('latin1');
  const out: PemBlock[] = [];
  const re = /(?:^|\n)-----BEGIN ([^\n-]*)-----[ \t]*\r?\n([\s\S]*?)(?:^|\n)-----END \1-----/gm;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    // RFC 1421 headers ("Proc-Type: ...") come before a blank line; the rest is base64
    let body = m[2]!;
    if (/^[^\n]*:/.test(body)) body = body.replace(/^[\s\S]*?\r?\n\r?\n/, '');
    const b64 = body.replace(/[\s]/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) continue;
    out.push({ type: m[1]!, bytes: Buffer.from(b64, 'base64') });
  }
  return out;
}

function toPem(type: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${type}-----\n${lines.join('\n')}\n-----END ${type}-----\n`;
}

/** The contents of the DER SEQUENCE at the start of `der`, or undefined if there is none. */
function derSequence(der: Buffer): Buffer | undefined {
  if (der.length < 2 || der[0] !== 0x30) return undefined;
  let len = der[1]!;
  let at = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || der.length < 2 + n) return undefined;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + der[2 + i]!;
    at = 2 + n;
  }
  return at + len <= der.length ? der.subarray(at, at + len) : undefined;
}

/** x509.ParseCertificate, with Go's first two errors for what is not a certificate. */
function parseCertificate(der: Buffer): crypto.X509Certificate {
  try {
    return new crypto.X509Certificate(der);
  } catch {
    const outer = derSequence(der);
    if (outer !== undefined && derSequence(outer) === undefined) throw new TlsConfigError('x509: malformed tbs certificate');
    throw new TlsConfigError('x509: malformed certificate');
  }
}

/** crypto/tls's parsePrivateKey: PKCS #1, then PKCS #8, then SEC 1. */
function parsePrivateKey(der: Buffer): crypto.KeyObject {
  for (const type of ['pkcs1', 'pkcs8', 'sec1'] as const) {
    let key: crypto.KeyObject;
    try {
      key = crypto.createPrivateKey({ key: der, format: 'der', type });
    } catch {
      continue;
    }
    if (type === 'pkcs8' && !['rsa', 'ec', 'ed25519'].includes(key.asymmetricKeyType ?? '')) {
      throw new TlsConfigError('tls: found unknown private key type in PKCS#8 wrapping');
    }
    return key;
  }
  throw new TlsConfigError('tls: failed to parse private key');
}

/** crypto/tls's X509KeyPair: the certificate chain and its key, with Go's errors. */
function x509KeyPair(certPem: Buffer, keyPem: Buffer): { cert: string; key: string } {
  const certs: Buffer[] = [];
  let skipped: string[] = [];
  for (const b of pemBlocks(certPem)) {
    if (b.type === 'CERTIFICATE') certs.push(b.bytes);
    else skipped.push(b.type);
  }
  if (certs.length === 0) {
    if (skipped.length === 0) throw new TlsConfigError('tls: failed to find any PEM data in certificate input');
    if (skipped.length === 1 && skipped[0]!.endsWith('PRIVATE KEY')) {
      throw new TlsConfigError('tls: failed to find certificate PEM data in certificate input, but did find a private key; PEM inputs may have been switched');
    }
    throw new TlsConfigError(`tls: failed to find "CERTIFICATE" PEM block in certificate input after skipping PEM blocks of the following types: [${skipped.join(' ')}]`);
  }
  skipped = [];
  let keyDer: Buffer | undefined;
  for (const b of pemBlocks(keyPem)) {
    if (b.type === 'PRIVATE KEY' || b.type.endsWith(' PRIVATE KEY')) {
      keyDer = b.bytes;
      break;
    }
    skipped.push(b.type);
  }
  if (keyDer === undefined) {
    if (skipped.length === 0) throw new TlsConfigError('tls: failed to find any PEM data in key input');
    if (skipped.length === 1 && skipped[0] === 'CERTIFICATE') throw new TlsConfigError('tls: found a certificate rather than a key in the PEM for the private key');
    throw new TlsConfigError(`tls: failed to find PEM block with type ending in "PRIVATE KEY" in key input after skipping PEM blocks of the following types: [${skipped.join(' ')}]`);
  }
  const leaf = parseCertificate(certs[0]!);
  const key = parsePrivateKey(keyDer);
  const pubType = leaf.publicKey.asymmetricKeyType;
  if (pubType !== 'rsa' && pubType !== 'ec' && pubType !== 'ed25519') throw new TlsConfigError('tls: unknown public key algorithm');
  if (key.asymmetricKeyType !== pubType) throw new TlsConfigError('tls: private key type does not match public key type');
  if (!leaf.checkPrivateKey(key)) throw new TlsConfigError('tls: private key does not match public key');
  return {
    cert: certs.map((c) => toPem('CERTIFICATE', c)).join(''),
    key: key.export({ format: 'pem', type: 'pkcs8' }).toString(),
  };
}

/** tlsutil.NewCertPool: every PEM block of the file must be a certificate. */
function certPool(file: string): string[] {
  return pemBlocks(readFileGo(file)).map((b) => {
    parseCertificate(b.bytes);
    return toPem('CERTIFICATE', b.bytes);
  });
}

/**
 * etcdctl's newClientCfg, TLS part: the configuration, or undefined for none. Throws
 * TlsConfigError (etcdctl: exit 128) for a missing half of the key pair or a bad file.
 */
export function tlsConfig(s: SecureFlags): ClientTlsOptions | undefined {
  let cfg: ClientTlsOptions | undefined;
  if (s.cert !== '' || s.key !== '' || s.cacert !== '') {
    cfg = {};
    // transport.TLSInfo.ClientConfig: a key pair only when either half is named
    if (s.cert !== '' || s.key !== '') {
      if (s.key === '' || s.cert === '') throw new TlsConfigError(`KeyFile and CertFile must both be present[key: ${s.key}, cert: ${s.cert}]`);
      const certPem = readFileGo(s.cert);
      const keyPem = readFileGo(s.key);
      Object.assign(cfg, x509KeyPair(certPem, keyPem));
    }
    if (s.cacert !== '') cfg.ca = certPool(s.cacert);
  }
  // no files but a secure connection wanted: an empty configuration (system roots)
  if (cfg === undefined && !s.insecureTransport) cfg = {};
  if (cfg !== undefined) cfg.rejectUnauthorized = !s.insecureSkipVerify;
  return cfg;
}

/** The URL to dial for an endpoint and the TLS settings for it (clientv3's processCreds). */
export function endpointTarget(endpoint: string, settings: ConnectionSettings | undefined): { url: string; tls?: ClientTlsOptions } {
  const scheme = endpointScheme(endpoint);
  if (scheme === 'https') return { url: endpoint, tls: settings?.tls ?? {} };
  if (scheme !== undefined) return { url: endpoint };
  return settings?.tls ? { url: `https://${endpoint}`, tls: settings.tls } : { url: `http://${endpoint}` };
}

// ---- authentication -------------------------------------------------------------------

/**
 * speakeasy.Ask: the prompt on stdout, one line read from standard input with the
 * terminal's echo off, then a newline; the answer without surrounding white space.
 */
export function askPassword(io: Io, prompt: string): string {
  io.out(prompt);
  let line: string;
  if (tty.isatty(0)) line = readTerminalLine();
  else {
    // speakeasy runs stty around the read even when standard input is no terminal;
    // stty's complaints then reach stderr, as they do under etcdctl
    spawnSync('/bin/stty', ['-echo'], { stdio: 'inherit', argv0: 'stty' });
    line = readLine(0);
    spawnSync('/bin/stty', ['echo'], { stdio: 'inherit', argv0: 'stty' });
  }
  io.out('\n');
  return line.trim();
}

/** A line from the terminal with echo off; the shell turns echo back on if interrupted. */
function readTerminalLine(): string {
  const script = 'trap \'stty echo 2>/dev/null; exit 130\' INT TERM HUP; stty -echo 2>/dev/null; IFS= read -r line; stty echo 2>/dev/null; printf "%s" "$line"';
  const r = spawnSync('/bin/sh', ['-c', script], { stdio: ['inherit', 'pipe', 'inherit'] });
  if (r.error) throw new CtlExit(ExitCode.Error, `failed during password entry: ${r.error.message}`);
  if (r.status !== 0) throw new CtlExit(ExitCode.Interrupted);
  return r.stdout.toString('utf8');
}

/** Reads one byte at a time up to a newline or end of input (speakeasy's readline). */
function readLine(fd: number): string {
  const bytes: number[] = [];
  const b = Buffer.alloc(1);
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    let n: number;
    try {
      n = fs.readSync(fd, b, 0, 1, null);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') {
        Atomics.wait(pause, 0, 0, 10);
        continue;
      }
      if (code === 'EOF' || code === 'EBADF') break;
      throw new CtlExit(ExitCode.Error, `failed during password entry: ${(err as Error).message}`);
    }
    if (n === 0 || b[0] === 0x0a) break;
    bytes.push(b[0]!);
  }
  return Buffer.from(bytes).toString('utf8').replace(/\r$/, '');
}

/**
 * etcdctl's authCfgFromCmd: no --user, no authentication; --password, or the part of
 * --user after the first colon, or else a prompt, gives the password. clientv3
 * authenticates only when both the name and the password are non-empty.
 */
export function authSettings(flags: FlagSet, io: Io): AuthSettings | undefined {
  const user = flags.get('user').string;
  const password = flags.get('password').string;
  if (user === '') return undefined;
  let cfg: AuthSettings;
  if (password !== '') cfg = { username: user, password };
  else {
    const colon = user.indexOf(':');
    cfg = colon < 0 ? { username: user, password: askPassword(io, 'Password: ') } : { username: user.slice(0, colon), password: user.slice(colon + 1) };
  }
  return cfg.username !== '' && cfg.password !== '' ? cfg : undefined;
}

/** --dial-timeout in milliseconds. */
export function dialTimeoutMs(flags: FlagSet): number {
  return Number(flags.get('dial-timeout').duration / 1_000_000n);
}
