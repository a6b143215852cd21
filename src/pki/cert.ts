// A certificate read once into the facts pki needs: names, SANs, usages, validity, CA
// constraints, key identifiers. @peculiar/x509 parses the extensions, node:crypto holds
// the public key and checks signatures, and the raw DER of the names is kept as it is.

import { X509Certificate as NodeX509, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { children, integerValue, oidText, readNode, TAG } from './der.js';
import { fileReadError, PkiError } from './errors.js';
import { ipText, type Sans, emptySans } from './names.js';
import { pemDerOf, toPem } from './pem.js';
import { x509, type X509Cert, type X509Name } from './x509.js';

const SIG_ALG_GO_NAMES: Record<string, string> = {
  '1.2.840.113549.1.1.4': 'MD5WithRSA',
  '1.2.840.113549.1.1.5': 'SHA1WithRSA',
  '1.2.840.113549.1.1.10': 'SHA256WithRSAPSS',
  '1.2.840.113549.1.1.11': 'SHA256WithRSA',
  '1.2.840.113549.1.1.12': 'SHA384WithRSA',
  '1.2.840.113549.1.1.13': 'SHA512WithRSA',
  '1.2.840.10045.4.1': 'ECDSAWithSHA1',
  '1.2.840.10045.4.3.2': 'ECDSAWithSHA256',
  '1.2.840.10045.4.3.3': 'ECDSAWithSHA384',
  '1.2.840.10045.4.3.4': 'ECDSAWithSHA512',
  '1.3.101.112': 'Ed25519',
};

export interface Certificate {
  /** where it was read from, for messages */
  source: string;
  der: Buffer;
  pem: string;
  subjectDer: Buffer;
  issuerDer: Buffer;
  spki: Buffer;
  /** "C=US, O=etcd, CN=s1" in the certificate's own order */
  subject: string;
  issuer: string;
  /** attribute values by short name (C, ST, L, O, OU, CN, ...), in order */
  subjectAttrs: Map<string, string[]>;
  issuerAttrs: Map<string, string[]>;
  serial: bigint;
  notBefore: Date;
  notAfter: Date;
  sans: Sans;
  /** basic constraints say CA:TRUE */
  isCA: boolean;
  /** the path length constraint, or -1 when there is none (Go's MaxPathLen) */
  maxPathLen: number;
  /** keyUsage bits (KeyUsageFlags numbering), undefined when the extension is absent */
  keyUsage: number | undefined;
  /** extended key usage OIDs, undefined when the extension is absent (any use then) */
  extKeyUsages: string[] | undefined;
  subjectKeyId: Buffer | undefined;
  authorityKeyId: Buffer | undefined;
  /** Go's name for the signature algorithm */
  sigAlg: string;
  publicKey: KeyObject;
  node: NodeX509;
}

/** GeneralNames DER → SANs (dNSName, rfc822Name, iPAddress, URI; other forms are skipped). */
export function parseGeneralNames(der: Buffer): Sans {
  const sans = emptySans();
  for (const n of children(readNode(der).body)) {
    const text = n.body.toString('latin1');
    if (n.tag === 0x82) sans.dns.push(text);
    else if (n.tag === 0x81) sans.emails.push(text);
    else if (n.tag === 0x87) sans.ips.push(ipText(n.body));
    else if (n.tag === 0x86) sans.uris.push(text);
  }
  return sans;
}

function attrsOf(name: X509Name): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const rdn of name.toJSON()) {
    for (const [type, values] of Object.entries(rdn)) out.set(type, [...(out.get(type) ?? []), ...values]);
  }
  return out;
}

/** The pieces of a TBSCertificate that @peculiar/x509 does not hand out raw. */
function tbsParts(der: Buffer): { serial: bigint; issuerDer: Buffer; subjectDer: Buffer; spki: Buffer; sigAlgOid: string } {
  const [tbs, sigAlg] = children(readNode(der).body);
  if (!tbs || !sigAlg || tbs.tag !== TAG.sequence) throw new Error('not an X.509 certificate');
  const f = children(tbs.body);
  const i = f[0]?.tag === 0xa0 ? 1 : 0; // the optional [0] version
  const [serial, , issuer, , subject, spki] = f.slice(i);
  if (!serial || !issuer || !subject || !spki) throw new Error('truncated TBSCertificate');
  const algOid = children(sigAlg.body)[0];
  return {
    serial: integerValue(serial.body),
    issuerDer: issuer.raw,
    subjectDer: subject.raw,
    spki: spki.raw,
    sigAlgOid: algOid ? oidText(algOid.body) : '',
  };
}

/** Reads one DER certificate; `source` names it in errors. */
export function parseCertificateDer(der: Buffer, source: string): Certificate {
  let c: X509Cert;
  let node: NodeX509;
  let parts: ReturnType<typeof tbsParts>;
  try {
    c = new x509.X509Certificate(der);
    node = new NodeX509(der);
    parts = tbsParts(der);
  } catch (e) {
    throw new PkiError(`${source} holds a certificate that cannot be parsed (${(e as Error).message})`);
  }
  const bc = c.getExtension(x509.BasicConstraintsExtension);
  const ku = c.getExtension(x509.KeyUsagesExtension);
  const eku = c.getExtension(x509.ExtendedKeyUsageExtension);
  const ski = c.getExtension(x509.SubjectKeyIdentifierExtension);
  const aki = c.getExtension(x509.AuthorityKeyIdentifierExtension);
  const san = c.getExtension('2.5.29.17');
  return {
    source,
    der,
    pem: toPem('CERTIFICATE', der),
    subjectDer: parts.subjectDer,
    issuerDer: parts.issuerDer,
    spki: parts.spki,
    subject: c.subject,
    issuer: c.issuer,
    subjectAttrs: attrsOf(c.subjectName),
    issuerAttrs: attrsOf(c.issuerName),
    serial: parts.serial,
    notBefore: c.notBefore,
    notAfter: c.notAfter,
    sans: san ? parseGeneralNames(Buffer.from(san.value)) : emptySans(),
    isCA: bc?.ca === true,
    maxPathLen: bc?.pathLength ?? -1,
    keyUsage: ku?.usages,
    extKeyUsages: eku ? Array.from(eku.usages, (u) => String(u)) : undefined,
    subjectKeyId: ski ? Buffer.from(ski.keyId, 'hex') : undefined,
    authorityKeyId: aki?.keyId ? Buffer.from(aki.keyId, 'hex') : undefined,
    sigAlg: SIG_ALG_GO_NAMES[parts.sigAlgOid] ?? parts.sigAlgOid,
    publicKey: node.publicKey,
    node,
  };
}

/** Every certificate in PEM text (a bundle may hold several). */
export function parseCertificatesPem(text: string, source: string): Certificate[] {
  return pemDerOf(text, ['CERTIFICATE'], source, 'a PEM certificate').map((der) => parseCertificateDer(der, source));
}

/** Reads a file's text, turning a missing or unreadable file into a message that says which. */
export function readTextFile(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw fileReadError(e, file, what);
  }
}

export function readCertificates(file: string, what = 'certificate file'): Certificate[] {
  return parseCertificatesPem(readTextFile(file, what), file);
}

/** True when `cert`'s signature verifies with `issuer`'s public key. */
export function signedBy(cert: Certificate, issuer: Certificate): boolean {
  if (!cert.issuerDer.equals(issuer.subjectDer)) return false;
  try {
    return cert.node.verify(issuer.publicKey);
  } catch {
    return false;
  }
}
export { fileReadError } from './errors.js';
