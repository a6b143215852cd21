// Certificate issuance as cfssl's local signer does it, built with node:crypto (native-x509.ts):
//
//  - serial: 20 random bytes with the top bit cleared (a positive 159-bit number)
//  - validity: notBefore = now rounded to the minute minus the backdate (5 minutes unless
//    the profile says), notAfter = notBefore + the profile's expiry (the default's if unset);
//    a profile's not_before/not_after win when present
//  - extensions, in Go's order: keyUsage (critical, only when some key usage is asked),
//    extKeyUsage, basicConstraints (critical), subjectKeyIdentifier (SHA-1 of the public
//    key bits), authorityKeyIdentifier (the CA's subject key id; none when self-signed),
//    (a certificate is self-signed here when it is signed with its own key, see below)
//    authorityInfoAccess, subjectAltName (critical only with an empty subject),
//    cRLDistributionPoints, OCSP no-check
//  - a CA certificate keeps IP SANs but drops DNS, e-mail and URI SANs
//  - the signature algorithm follows the CA key: SHA-256/384/512 as it grows

import { createHash, randomBytes, type KeyObject } from 'node:crypto';
import { oid as oidDer, sequence, spkiKeyBits, tlv } from './der.js';
import { PkiError } from './errors.js';
import { parseCertificateDer, signedBy, type Certificate } from './cert.js';
import type { SigningProfile } from './config.js';
import { basicConstraintsDer, generalNamesDer, OID_BASIC_CONSTRAINTS, OID_SAN, type ParsedCsr } from './csr.js';
import { keyMatchesSpki } from './keys.js';
import { classifyHosts, commonNameOf, sansCount, type Sans } from './names.js';
import { toPem } from './pem.js';
import { authorityKeyIdValue, createCertificateDer, extKeyUsageValue, keyUsageValue, subjectKeyIdValue, type ExtensionSpec } from './native-x509.js';

export type LogFn = (level: 'info' | 'warning', message: string) => void;

export interface Issuer {
  key: KeyObject;
  /** the CA certificate; absent when the certificate signs itself (-initca) */
  cert?: Certificate;
}

export interface SignRequest {
  csr: ParsedCsr;
  /** replaces the CSR's SANs when given (cfssl's -hostname) */
  hosts?: string[];
  profile: SigningProfile;
  /** where an unset expiry, CRL or OCSP URL comes from */
  defaultProfile: SigningProfile;
  issuer: Issuer;
  now?: Date;
  log?: LogFn;
}

export interface Issued {
  pem: string;
  cert: Certificate;
}

/** 20 random bytes with the top bit cleared, as cfssl draws serial numbers. */
export function randomSerial(): Buffer {
  const b = randomBytes(20);
  b[0]! &= 0x7f;
  return b;
}

/** RFC 5280 method 1 key identifier: SHA-1 of the subjectPublicKey bits. */
export function keyIdentifier(spki: Buffer): Buffer {
  return createHash('sha1').update(spkiKeyBits(spki)).digest();
}

/** Go's time.Now().Round(time.Minute). */
export function roundToMinute(d: Date): Date {
  return new Date(Math.round(d.getTime() / 60_000) * 60_000);
}

function checkCaRequest(req: SignRequest): void {
  const bc = req.csr.basicConstraints;
  if (!bc?.isCA) return;
  if (!req.profile.caConstraint.isCA) {
    throw new PkiError(`profile ${JSON.stringify(req.profile.name)} may not issue CA certificates; add "ca_constraint": {"is_ca": true} to it`);
  }
  const caLen = req.issuer.cert?.maxPathLen;
  if (caLen !== undefined && caLen > 0 && bc.maxPathLen >= caLen) {
    throw new PkiError(`the CA's path length limit ${caLen} does not allow a CA with path length ${bc.maxPathLen} below it`);
  }
  if (caLen === 0) throw new PkiError('the CA has path length 0, so it may not issue CA certificates');
}

function checkWhitelist(profile: SigningProfile, subjectCN: string, sans: Sans): void {
  const re = profile.nameWhitelist;
  if (!re) return;
  for (const name of [subjectCN, ...sans.dns, ...sans.emails, ...sans.uris]) {
    if (name !== '' && !re.test(name)) {
      throw new PkiError(`profile ${JSON.stringify(profile.name)} does not allow the name ${JSON.stringify(name)} (name_whitelist ${re.source})`);
    }
  }
}

interface Validity {
  notBefore: Date;
  notAfter: Date;
}

function validity(req: SignRequest): Validity {
  const p = req.profile;
  const expiryMs = p.expiryMs > 0 ? p.expiryMs : req.defaultProfile.expiryMs;
  const notBefore = p.notBefore ?? new Date(roundToMinute(req.now ?? new Date()).getTime() - p.backdateMs);
  const notAfter = p.notAfter ?? new Date(notBefore.getTime() + expiryMs);
  return { notBefore, notAfter };
}

function aiaDer(ocsp: string, issuers: string[]): Buffer {
  const desc = (method: string, uri: string): Buffer => sequence([oidDer(method), tlv(0x86, Buffer.from(uri, 'latin1'))]);
  const items = [...(ocsp ? [desc('1.3.6.1.5.5.7.48.1', ocsp)] : []), ...issuers.map((u) => desc('1.3.6.1.5.5.7.48.2', u))];
  return sequence(items);
}

function crlDpDer(url: string): Buffer {
  return sequence([sequence([tlv(0xa0, tlv(0xa0, tlv(0x86, Buffer.from(url, 'latin1'))))])]);
}

interface ExtensionPlan {
  subjectDer: Buffer;
  spki: Buffer;
  sans: Sans;
  isCA: boolean;
  pathLen: number;
  issuerCert?: Certificate;
}

function buildExtensions(req: SignRequest, plan: ExtensionPlan): ExtensionSpec[] {
  const p = req.profile;
  const d = req.defaultProfile;
  const ext: ExtensionSpec[] = [];
  if (p.keyUsage !== 0) ext.push({ oid: '2.5.29.15', critical: true, value: keyUsageValue(p.keyUsage) });
  if (p.extKeyUsages.length > 0) ext.push({ oid: '2.5.29.37', critical: false, value: extKeyUsageValue(p.extKeyUsages) });
  ext.push({ oid: OID_BASIC_CONSTRAINTS, critical: true, value: basicConstraintsDer(plan.isCA, plan.isCA ? plan.pathLen : -1) });
  ext.push({ oid: '2.5.29.14', critical: false, value: subjectKeyIdValue(keyIdentifier(plan.spki)) });
  // Go leaves the AKI out when issuer and subject names are equal; cfssl then makes member
  // certificates openssl calls self-signed whenever a tutorial gives the member the CA's
  // subject (tutorial 004 does). Deciding "self-signed" by the key instead keeps the AKI there.
  const parent = plan.issuerCert;
  if (parent?.subjectKeyId && !parent.spki.equals(plan.spki)) {
    ext.push({ oid: '2.5.29.35', critical: false, value: authorityKeyIdValue(parent.subjectKeyId) });
  }
  const ocsp = p.ocspUrl || d.ocspUrl;
  const issuerUrls = p.issuerUrls.length ? p.issuerUrls : d.issuerUrls;
  if (ocsp || issuerUrls.length) ext.push({ oid: '1.3.6.1.5.5.7.1.1', critical: false, value: aiaDer(ocsp, issuerUrls) });
  if (sansCount(plan.sans) > 0) {
    const emptySubject = plan.subjectDer.length <= 2;
    ext.push({ oid: OID_SAN, critical: emptySubject, value: generalNamesDer(plan.sans) });
  }
  const crl = p.crlUrl || d.crlUrl;
  if (crl) ext.push({ oid: '2.5.29.31', critical: false, value: crlDpDer(crl) });
  if (p.ocspNoCheck) ext.push({ oid: '1.3.6.1.5.5.7.48.1.5', critical: false, value: Buffer.from([0x05, 0x00]) });
  return ext;
}

/** Signs a parsed CSR under a profile; the cfssl local signer's Sign. */
export async function signCertificate(req: SignRequest): Promise<Issued> {
  const p = req.profile;
  if (req.issuer.cert && !keyMatchesSpki(req.issuer.key, req.issuer.cert.spki)) {
    throw new PkiError(`the CA key does not belong to the CA certificate ${req.issuer.cert.source}; pass the -ca-key written with it (NAME-key.pem)`);
  }
  checkCaRequest(req);
  if (p.keyUsage === 0 && p.extKeyUsages.length === 0) {
    throw new PkiError(`profile ${JSON.stringify(p.name)} has no key usages, so it cannot sign; add "usages": ["signing", "key encipherment", "server auth", "client auth"] to it, or pick another -profile`);
  }
  let sans = req.hosts !== undefined ? classifyHosts(req.hosts) : req.csr.sans;
  const isCA = p.caConstraint.isCA;
  if (isCA) sans = { dns: [], emails: [], ips: sans.ips, uris: [] };
  const pathLen = p.caConstraint.maxPathLen === 0 && !p.caConstraint.maxPathLenZero ? -1 : p.caConstraint.maxPathLen;
  checkWhitelist(p, commonNameOf(req.csr.subjectDer), sans);
  const { notBefore, notAfter } = validity(req);
  const plan: ExtensionPlan = { subjectDer: req.csr.subjectDer, spki: req.csr.spki, sans, isCA, pathLen };
  if (req.issuer.cert) plan.issuerCert = req.issuer.cert;
  const issuerDer = req.issuer.cert?.subjectDer ?? req.csr.subjectDer;
  const der = createCertificateDer(
    { serial: randomSerial(), issuerDer, subjectDer: req.csr.subjectDer, notBefore, notAfter, spki: req.csr.spki, extensions: buildExtensions(req, plan) },
    req.issuer.key,
  );
  const cert = parseCertificateDer(der, 'the new certificate');
  // the issuer name must be the CA's subject byte for byte, or chains will not build
  if (!cert.issuerDer.equals(issuerDer) || !cert.subjectDer.equals(req.csr.subjectDer)) {
    throw new Error('pki: issued certificate names differ from the CA subject or request subject');
  }
  const issuerCert = req.issuer.cert ?? cert;
  if (!signedBy(cert, issuerCert)) throw new Error('pki: issued certificate does not verify with the issuer key');
  req.log?.('info', `signed certificate with serial number ${cert.serial}`);
  return { pem: toPem('CERTIFICATE', cert.der), cert };
}
