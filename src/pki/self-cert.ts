// --auto-tls and --peer-auto-tls: a self-signed certificate for the listener's hosts,
// kept under <data-dir>/fixtures/{client,peer}/ and reused on the next start, as etcd
// does. Nobody can verify such a certificate, so members that use it for peer traffic
// dial each other without verifying (the connection is encrypted, not authenticated).

import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { generateKey, privateKeyPem, signingAlgorithmFor, toCryptoKeys } from './keys.js';
import { generalNamesDer, OID_SAN } from './csr.js';
import { toPem } from './pem.js';
import { randomSerial } from './signer.js';
import { x509, type PeculiarAlgorithm, type PeculiarSigningKey } from './x509.js';

export interface SelfCertFiles {
  certFile: string;
  keyFile: string;
}

export interface SelfCertOptions {
  /** host or host:port of each listen URL; the host parts become the certificate's SANs */
  hosts: readonly string[];
  /** --self-signed-cert-validity, in years (etcd's default is 1) */
  validityYears?: number;
  /** also allow the certificate as a TLS client certificate (peers dial with it) */
  clientAuth?: boolean;
  now?: Date;
}

const DAY_MS = 24 * 3_600_000;

function hostOf(hostPort: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(hostPort);
  if (bracketed) return bracketed[1]!;
  const colon = hostPort.lastIndexOf(':');
  // a bare IPv6 address has several colons and no port
  if (colon >= 0 && hostPort.indexOf(':') === colon) return hostPort.slice(0, colon);
  return hostPort;
}

/**
 * The certificate and key in `dir`, made on first use. Existing files are used as they
 * are, so a restarted member keeps its certificate.
 */
export async function ensureSelfCert(dir: string, o: SelfCertOptions): Promise<SelfCertFiles> {
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  if (fs.existsSync(certFile) && fs.existsSync(keyFile)) return { certFile, keyFile };
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });

  const key = await generateKey({ algo: 'ecdsa', size: 521 }, '--auto-tls');
  const keys = await toCryptoKeys(key);
  const alg = signingAlgorithmFor(key);
  const ips: string[] = [];
  const dns: string[] = [];
  for (const h of o.hosts.map(hostOf)) {
    if (!h) continue;
    if (net.isIP(h)) ips.push(h);
    else dns.push(h);
  }
  const notBefore = o.now ?? new Date();
  const notAfter = new Date(notBefore.getTime() + (o.validityYears ?? 1) * 365 * DAY_MS);
  const subject = 'O=etcd';
  const extensions: InstanceType<typeof x509.Extension>[] = [
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyEncipherment | x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension(o.clientAuth ? ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'] : ['1.3.6.1.5.5.7.3.1']),
    new x509.BasicConstraintsExtension(false, undefined, true),
  ];
  if (ips.length + dns.length > 0) {
    extensions.push(new x509.Extension(OID_SAN, false, generalNamesDer({ dns, ips, emails: [], uris: [] })));
  }
  const made = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial().toString('hex'),
    subject,
    issuer: subject,
    notBefore,
    notAfter,
    publicKey: keys.publicKey as unknown as Parameters<typeof x509.X509CertificateGenerator.create>[0]['publicKey'],
    signingKey: keys.privateKey as unknown as PeculiarSigningKey,
    signingAlgorithm: { ...alg.params, hash: alg.hash } as PeculiarAlgorithm,
    extensions,
  });
  // key first: a crash between the writes leaves no certificate without its key
  fs.writeFileSync(keyFile, privateKeyPem(key), { mode: 0o600 });
  fs.writeFileSync(certFile, toPem('CERTIFICATE', Buffer.from(made.rawData)), { mode: 0o644 });
  return { certFile, keyFile };
}
