// Start-up checks for TLS files, so a member refuses to start with a sentence that says
// what is wrong and how to fix it, instead of failing every handshake later. They follow
// what Go's crypto/tls (and so etcd) accepts:
//  - host names match SANs only (the CN is not consulted); wildcards cover one left label
//  - a certificate without extendedKeyUsage may be used for anything
//  - a chain may pass through intermediates that follow the leaf in the certificate file
// Every check returns undefined when all is well, or one TlsProblem.

import { isIP } from 'node:net';
import { readCertificates, readTextFile, signedBy, type Certificate } from './cert.js';
import { EKU } from './config.js';
import { extKeyUsageName } from './certinfo.js';
import { humanSpan } from './duration.js';
import { PkiError } from './errors.js';
import { keyMatchesSpki, parsePrivateKeyPem } from './keys.js';
import { ipBytes } from './names.js';

export type TlsProblemKind =
  | 'unreadable'
  | 'key-mismatch'
  | 'untrusted'
  | 'host-not-covered'
  | 'not-yet-valid'
  | 'expired'
  | 'missing-usage'
  | 'not-a-ca'
  | 'same-subject-as-ca';

export interface TlsProblem {
  kind: TlsProblemKind;
  /** the file at fault */
  file: string;
  /** one sentence: what is wrong with which file, and the fix */
  message: string;
}

/** How files are named in messages: e.g. { cert: '--cert-file' } makes "--cert-file /x/s1.pem". */
export interface FileLabels {
  cert?: string;
  key?: string;
  ca?: string;
}

function label(file: string, flag: string | undefined): string {
  return flag ? `${flag} ${file}` : file;
}

type Loaded<T> = { ok: true; value: T } | { ok: false; problem: TlsProblem };

function load<T>(file: string, read: () => T): Loaded<T> {
  try {
    return { ok: true, value: read() };
  } catch (e) {
    if (!(e instanceof PkiError)) throw e;
    return { ok: false, problem: { kind: 'unreadable', file, message: `${e.message}.` } };
  }
}

const loadCerts = (file: string, what: string): Loaded<Certificate[]> => load(file, () => readCertificates(file, what));

function when(d: Date): string {
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

// ---- checks on loaded material ----

export function keyProblem(cert: Certificate, keyFile: string, labels: FileLabels = {}): TlsProblem | undefined {
  const key = load(keyFile, () => parsePrivateKeyPem(readTextFile(keyFile, labels.key ?? 'key file'), keyFile));
  if (!key.ok) return key.problem;
  if (keyMatchesSpki(key.value, cert.spki)) return undefined;
  return {
    kind: 'key-mismatch',
    file: keyFile,
    message: `${label(keyFile, labels.key)} is not the private key of ${label(cert.source, labels.cert)} (their public keys differ); use the key file made together with that certificate (cfssljson writes NAME-key.pem next to NAME.pem).`,
  };
}

export function validityProblem(cert: Certificate, now: Date, flag?: string): TlsProblem | undefined {
  const name = label(cert.source, flag);
  const subject = cert.subjectAttrs.get('CN')?.[0] ?? cert.subject;
  if (now < cert.notBefore) {
    return {
      kind: 'not-yet-valid',
      file: cert.source,
      message: `${name} ("${subject}") is not valid until ${when(cert.notBefore)}, ${humanSpan(cert.notBefore.getTime() - now.getTime())} from now; check this machine's clock, or re-issue the certificate.`,
    };
  }
  if (now > cert.notAfter) {
    return {
      kind: 'expired',
      file: cert.source,
      message: `${name} ("${subject}") expired at ${when(cert.notAfter)}, ${humanSpan(now.getTime() - cert.notAfter.getTime())} ago; issue a new one (tsetcdutl pki gencert, or gencert -renewca for a CA).`,
    };
  }
  return undefined;
}

export function caProblem(ca: Certificate, flag?: string): TlsProblem | undefined {
  if (ca.isCA) return undefined;
  return {
    kind: 'not-a-ca',
    file: ca.source,
    message: `${label(ca.source, flag)} holds "${ca.subject}", which is not a CA certificate (no basic constraints CA:TRUE); point it at the CA certificate (the ca.pem from gencert -initca), not at a member or client certificate.`,
  };
}

/** Finds a path from `chain[0]` through later entries of `chain` to a certificate in `roots`. */
function chainsTo(chain: Certificate[], roots: Certificate[]): boolean {
  let current = chain[0]!;
  const intermediates = chain.slice(1);
  for (let depth = 0; depth < 8; depth++) {
    if (roots.some((r) => signedBy(current, r) || r.der.equals(current.der))) return true;
    const next = intermediates.find((i) => i !== current && signedBy(current, i));
    if (!next) return false;
    current = next;
  }
  return false;
}

export function trustProblem(chain: Certificate[], roots: Certificate[], labels: FileLabels = {}): TlsProblem | undefined {
  if (chainsTo(chain, roots)) return undefined;
  const leaf = chain[0]!;
  const caFile = roots[0]?.source ?? '';
  const sameName = roots.find((r) => r.subjectDer.equals(leaf.issuerDer));
  const why = sameName
    ? `its issuer is named "${leaf.issuer}" like the CA there, but a different key signed it (the CA was made again)`
    : `it was issued by "${leaf.issuer}", while ${caFile} holds ${roots.map((r) => `"${r.subject}"`).join(', ')}`;
  return {
    kind: 'untrusted',
    file: leaf.source,
    message: `${label(leaf.source, labels.cert)} is not signed by any CA in ${label(caFile, labels.ca)}: ${why}; use the CA file that signed it, or issue the certificate again with this CA (tsetcdutl pki gencert -ca=${caFile} ...).`,
  };
}

/**
 * A note, not an error: a certificate named like the CA that signed it, with no authority
 * key identifier (cfssl's tutorials), which OpenSSL takes for self-signed. etcd and tsetcd
 * verify it as Go does and accept it; OpenSSL-based clients refuse it.
 */
export function sameSubjectNote(leaf: Certificate, flag?: string): TlsProblem | undefined {
  if (!leaf.subjectDer.equals(leaf.issuerDer) || leaf.authorityKeyId !== undefined || signedBy(leaf, leaf)) return undefined;
  return {
    kind: 'same-subject-as-ca',
    file: leaf.source,
    message: `${label(leaf.source, flag)} has the same subject as the CA that signed it ("${leaf.subject}") and no authority key identifier: etcd and tsetcd verify it by signature and accept it, but OpenSSL-based clients (curl, openssl s_client, Python) take it for self-signed and refuse it; to serve those too, issue it with another CN (e.g. the member's name).`,
  };
}

/** A host as an etcd URL gives it: brackets around IPv6 are dropped, a trailing dot too. */
function bareHost(host: string): string {
  const h = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  return h.endsWith('.') ? h.slice(0, -1) : h;
}

function dnsMatches(pattern: string, host: string): boolean {
  const p = pattern.toLowerCase().replace(/\.$/, '');
  const h = host.toLowerCase();
  if (p === h) return true;
  if (!p.startsWith('*.')) return false;
  const dot = h.indexOf('.');
  return dot > 0 && h.slice(dot + 1) === p.slice(2);
}

/** True when the certificate's SANs cover `host` (a DNS name or an IP address), as Go checks. */
export function coversHost(cert: Certificate, host: string): boolean {
  const h = bareHost(host);
  if (isIP(h) !== 0) {
    const want = ipBytes(h);
    const as16 = (b: Buffer): Buffer => (b.length === 4 ? Buffer.concat([Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]), b]) : b);
    return cert.sans.ips.some((ip) => isIP(ip) !== 0 && as16(ipBytes(ip)).equals(as16(want)));
  }
  return cert.sans.dns.some((d) => dnsMatches(d, h));
}

export function hostProblem(cert: Certificate, host: string, flag?: string): TlsProblem | undefined {
  if (coversHost(cert, host)) return undefined;
  const sans = [...cert.sans.dns.map((d) => `DNS ${d}`), ...cert.sans.ips.map((i) => `IP ${i}`)];
  const has = sans.length ? `it covers only ${sans.join(', ')}` : 'it has no DNS or IP subject alternative names at all';
  return {
    kind: 'host-not-covered',
    file: cert.source,
    message: `${label(cert.source, flag)} is not valid for ${bareHost(host)}: ${has} (the CN does not count); issue it again with "${bareHost(host)}" in the request's "hosts" (or in -hostname).`,
  };
}

export type TlsUsage = 'server' | 'client';

export function usageProblem(cert: Certificate, usage: TlsUsage, flag?: string): TlsProblem | undefined {
  const eku = cert.extKeyUsages;
  const wanted = usage === 'server' ? EKU.serverAuth : EKU.clientAuth;
  if (eku === undefined || eku.includes(wanted) || eku.includes(EKU.any)) return undefined;
  const cfsslName = usage === 'server' ? 'server auth' : 'client auth';
  const listed = eku.length ? eku.map(extKeyUsageName).join(', ') : 'none';
  return {
    kind: 'missing-usage',
    file: cert.source,
    message: `${label(cert.source, flag)} does not allow use as a TLS ${usage} (its extended key usages are: ${listed}); issue it again from a signing profile whose "usages" include "${cfsslName}".`,
  };
}

// ---- the same checks on files ----

function firstCert(file: string, what: string): Loaded<Certificate> {
  const certs = loadCerts(file, what);
  return certs.ok ? { ok: true, value: certs.value[0]! } : certs;
}

/** The key file holds the private key of the (first) certificate in the certificate file. */
export function checkKeyMatchesCert(certFile: string, keyFile: string, labels: FileLabels = {}): TlsProblem | undefined {
  const cert = firstCert(certFile, 'certificate file');
  return cert.ok ? keyProblem(cert.value, keyFile, labels) : cert.problem;
}

/** The certificate (with any intermediates after it in its file) chains to a CA in the bundle. */
export function checkSignedByCA(certFile: string, caFile: string, labels: FileLabels = {}): TlsProblem | undefined {
  const chain = loadCerts(certFile, 'certificate file');
  if (!chain.ok) return chain.problem;
  const roots = loadCerts(caFile, 'CA file');
  if (!roots.ok) return roots.problem;
  return trustProblem(chain.value, roots.value, labels);
}

/** The certificate's SANs cover `host` (DNS name or IP). */
export function checkCoversHost(certFile: string, host: string, flag?: string): TlsProblem | undefined {
  const cert = firstCert(certFile, 'certificate file');
  return cert.ok ? hostProblem(cert.value, host, flag) : cert.problem;
}

/** Every certificate in the file is within its validity window at `now`. */
export function checkValidity(certFile: string, now = new Date(), flag?: string): TlsProblem | undefined {
  const certs = loadCerts(certFile, 'certificate file');
  if (!certs.ok) return certs.problem;
  for (const c of certs.value) {
    const p = validityProblem(c, now, flag);
    if (p) return p;
  }
  return undefined;
}

/** The certificate may be used as a TLS server (serverAuth) or client (clientAuth). */
export function checkExtKeyUsage(certFile: string, usage: TlsUsage, flag?: string): TlsProblem | undefined {
  const cert = firstCert(certFile, 'certificate file');
  return cert.ok ? usageProblem(cert.value, usage, flag) : cert.problem;
}

/** Every certificate in the CA file is a CA. */
export function checkIsCA(caFile: string, flag?: string): TlsProblem | undefined {
  const certs = loadCerts(caFile, 'CA file');
  if (!certs.ok) return certs.problem;
  for (const c of certs.value) {
    const p = caProblem(c, flag);
    if (p) return p;
  }
  return undefined;
}

export interface TlsFilesCheck {
  certFile: string;
  keyFile: string;
  /** absent when the member does not check peer certificates */
  trustedCAFile?: string;
  /** host names / IPs the certificate must be valid for (e.g. from --advertise-client-urls) */
  hosts?: string[];
  /** uses the certificate must allow: a server serves, a peer is both server and client */
  usages?: TlsUsage[];
  now?: Date;
  labels?: FileLabels;
}

/**
 * All checks for one certificate/key/CA set, in the order a person would fix them:
 * readable files, key match, validity, CA file, chain, usages, hosts. Empty when all is well.
 */
export function checkTlsFiles(o: TlsFilesCheck): TlsProblem[] {
  const labels = o.labels ?? {};
  const now = o.now ?? new Date();
  const chain = loadCerts(o.certFile, labels.cert ? `${labels.cert}` : 'certificate file');
  if (!chain.ok) return [chain.problem];
  const leaf = chain.value[0]!;
  const problems: (TlsProblem | undefined)[] = [keyProblem(leaf, o.keyFile, labels), ...chain.value.map((c) => validityProblem(c, now, labels.cert))];
  if (o.trustedCAFile !== undefined) {
    const roots = loadCerts(o.trustedCAFile, labels.ca ? `${labels.ca}` : 'CA file');
    if (!roots.ok) problems.push(roots.problem);
    else {
      problems.push(...roots.value.map((r) => caProblem(r, labels.ca)), ...roots.value.map((r) => validityProblem(r, now, labels.ca)));
      problems.push(trustProblem(chain.value, roots.value, labels));
    }
  }
  for (const u of o.usages ?? []) problems.push(usageProblem(leaf, u, labels.cert));
  problems.push(sameSubjectNote(leaf, labels.cert));
  for (const h of o.hosts ?? []) problems.push(hostProblem(leaf, h, labels.cert));
  return problems.filter((p): p is TlsProblem => p !== undefined);
}
