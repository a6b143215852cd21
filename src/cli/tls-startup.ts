// TLS settings as the member starts: --auto-tls/--peer-auto-tls certificates made (or
// reused) under the data dir, and the certificate files checked before anything is
// created. The tutorials' classic mistakes — a key that is not the certificate's, an
// expired certificate, a member certificate its peers' CA did not sign, a certificate
// without the server/client auth usage TLS needs, a "CA file" holding a leaf — would
// make every handshake fail later with a terse x509 error; here they stop the member
// with one sentence naming the file and the fix. An advertised host missing from the
// certificate is only warned about: clients may reach the member by another name.
import path from 'node:path';
import type { Config } from '../config/index.js';
import type { TlsFiles } from '../pki/tls-context.js';
import type { Logger } from '../pkg/logger.js';
import type { TlsProblem, TlsUsage } from '../pki/index.js';

export interface StartupTls {
  client: TlsFiles;
  peer: TlsFiles;
  /** peer traffic uses --peer-auto-tls certificates, which nobody can verify */
  peerSelfSigned: boolean;
}

function filesOf(config: Config, side: 'client' | 'peer'): TlsFiles {
  const t = side === 'peer' ? config.peerTls : config.clientTls;
  return {
    certFile: t.certFile,
    keyFile: t.keyFile,
    trustedCaFile: t.trustedCaFile,
    crlFile: t.crlFile,
    clientCertAuth: t.clientCertAuth,
    cipherSuites: [...((config.values.get('cipher-suites') as readonly string[] | undefined) ?? [])],
    minVersion: String(config.values.get('tls-min-version') ?? ''),
    maxVersion: String(config.values.get('tls-max-version') ?? ''),
  };
}

function httpsHosts(urls: readonly string[]): string[] {
  const hosts: string[] = [];
  for (const text of urls) {
    try {
      const u = new URL(text);
      if (u.protocol === 'https:' || u.protocol === 'unixs:') hosts.push(u.hostname.replace(/^\[|\]$/g, ''));
    } catch {
      /* the config layer already refused malformed URLs */
    }
  }
  return hosts.filter((h) => h !== '0.0.0.0' && h !== '::');
}

function urlList(config: Config, flag: string): string[] {
  return [...((config.values.get(flag) as readonly string[] | undefined) ?? [])];
}

const WARNING_KINDS: ReadonlySet<TlsProblem['kind']> = new Set(['host-not-covered', 'same-subject-as-ca']);

async function check(files: TlsFiles, side: 'client' | 'peer', hosts: string[], logger: Logger): Promise<void> {
  if (!files.certFile && !files.keyFile) return;
  // the certificate code (and @peculiar/x509) loads only for members that use TLS
  const { checkIsCA, checkTlsFiles } = await import('../pki/index.js');
  const p = side === 'peer' ? '--peer-' : '--';
  if (!files.certFile || !files.keyFile) {
    throw new Error(`${p}cert-file and ${p}key-file must be given together (got only ${files.certFile ? `${p}cert-file` : `${p}key-file`})`);
  }
  const usages: TlsUsage[] = side === 'peer' ? ['server', 'client'] : ['server'];
  const problems = checkTlsFiles({
    certFile: files.certFile,
    keyFile: files.keyFile,
    // a member's own certificate must chain to the peer CA, or the other members refuse it;
    // the client CA only verifies clients and need not have signed the server certificate
    ...(side === 'peer' && files.trustedCaFile ? { trustedCAFile: files.trustedCaFile } : {}),
    usages,
    hosts,
    labels: { cert: `${p}cert-file`, key: `${p}key-file`, ca: side === 'peer' ? '--peer-trusted-ca-file' : '--trusted-ca-file' },
  });
  if (side === 'client' && files.trustedCaFile) {
    const ca = checkIsCA(files.trustedCaFile, '--trusted-ca-file');
    if (ca) problems.push(ca);
  }
  const fatal = problems.find((x) => !WARNING_KINDS.has(x.kind));
  if (fatal) throw new Error(fatal.message);
  for (const x of problems) logger.warn(`${side} TLS: ${x.message}`, { file: x.file });
}

/** Resolves auto TLS and checks the certificate files; throws with a clear message when the member cannot serve TLS. */
export async function startupTls(config: Config, logger: Logger): Promise<StartupTls> {
  const client = filesOf(config, 'client');
  const peer = filesOf(config, 'peer');
  let peerSelfSigned = false;
  let clientSelfSigned = false;
  const validityYears = Number(config.values.get('self-signed-cert-validity') ?? 1) || 1;

  if (config.clientTls.autoTls) {
    if (client.certFile || client.keyFile) logger.warn('ignoring client auto TLS since certs given');
    else {
      const hosts = urlList(config, 'listen-client-urls').map((u) => new URL(u).host);
      const { ensureSelfCert } = await import('../pki/self-cert.js');
      const made = await ensureSelfCert(path.join(config.dataDir, 'fixtures', 'client'), { hosts, validityYears });
      // as in etcd, a generated certificate replaces the whole client TLS setup
      Object.assign(client, { ...made, trustedCaFile: '', crlFile: '', clientCertAuth: false });
      clientSelfSigned = true;
      logger.info('serving clients with a self-signed certificate (--auto-tls)', { 'cert-file': made.certFile });
    }
  }
  if (config.peerTls.autoTls) {
    if (peer.certFile || peer.keyFile) logger.warn('ignoring peer auto TLS since certs given');
    else {
      const hosts = urlList(config, 'listen-peer-urls').map((u) => new URL(u).host);
      const { ensureSelfCert } = await import('../pki/self-cert.js');
      const made = await ensureSelfCert(path.join(config.dataDir, 'fixtures', 'peer'), { hosts, validityYears, clientAuth: true });
      Object.assign(peer, { ...made, trustedCaFile: '', crlFile: '', clientCertAuth: false });
      peerSelfSigned = true;
      logger.info('talking to peers with a self-signed certificate (--peer-auto-tls); peer certificates are not verified', { 'cert-file': made.certFile });
    }
  }
  // a generated certificate covers the listen hosts; nobody verifies it against advertised ones
  await check(client, 'client', clientSelfSigned ? [] : httpsHosts(urlList(config, 'advertise-client-urls')), logger);
  await check(peer, 'peer', peerSelfSigned ? [] : httpsHosts(urlList(config, 'initial-advertise-peer-urls')), logger);
  return { client, peer, peerSelfSigned };
}
