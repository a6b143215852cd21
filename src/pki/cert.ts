// A certificate read once into the facts pki needs: names, SANs, usages, validity, CA
// constraints, key identifiers. The DER is read here (der.ts, dn.ts), node:crypto holds
// the public key and checks signatures, and the raw DER of the names is kept as it is.

import { X509Certificate as NodeX509, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { children, integerValue, oidText, readNode, TAG, type Node } from './der.js';
import { fileReadError, PkiError } from './errors.js';
import { ipText, type Sans, emptySans } from './names.js';
import { pemDerOf, toPem } from './pem.js';
import { nameAttributes, nameText } from './dn.js';

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

interface TbsParts {
  serial: bigint;
  issuerDer: Buffer;
  subjectDer: Buffer;
  spki: Buffer;
  sigAlgOid: string;
  notBefore: Date;
  notAfter: Date;
  /** extension values by OID */
  extensions: Map<string, Buffer>;
}

/** UTCTime (years 1950-2049) or GeneralizedTime, seconds and "Z" as RFC 5280 requires. */
function timeValue(n: Node): Date {
  const text = n.body.toString('latin1');
  const m = /^(\d{2}|\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?Z$/.exec(text);
  if (!m || (n.tag === 0x17) !== (m[1]!.length === 2)) throw new Error(`unreadable time ${JSON.stringify(text)}`);
  let year = Number(m[1]);
  if (n.tag === 0x17) year += year < 50 ? 2000 : 1900;
  return new Date(Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0)));
}

function extensionsOf(node: Node | undefined): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  if (!node) return out;
  for (const ext of children(readNode(node.body).body)) {
    const parts = children(ext.body);
    const value = parts[parts.length - 1];
    if (parts[0] && value?.tag === TAG.octetString) out.set(oidText(parts[0].body), value.body);
  }
  return out;
}

function tbsParts(der: Buffer): TbsParts {
  const [tbs, sigAlg] = children(readNode(der).body);
  if (!tbs || !sigAlg || tbs.tag !== TAG.sequence) throw new Error('not an X.509 certificate');
  const f = children(tbs.body);
  const i = f[0]?.tag === 0xa0 ? 1 : 0; // the optional [0] version
  const [serial, , issuer, validity, subject, spki, ...rest] = f.slice(i);
  if (!serial || !issuer || !validity || !subject || !spki) throw new Error('truncated TBSCertificate');
  const [notBefore, notAfter] = children(validity.body);
  if (!notBefore || !notAfter) throw new Error('truncated validity');
  const algOid = children(sigAlg.body)[0];
  return {
    serial: integerValue(serial.body),
    issuerDer: issuer.raw,
    subjectDer: subject.raw,
    spki: spki.raw,
    sigAlgOid: algOid ? oidText(algOid.body) : '',
    notBefore: timeValue(notBefore),
    notAfter: timeValue(notAfter),
    extensions: extensionsOf(rest.find((n) => n.tag === 0xa3)),
  };
}

/** keyUsage's BIT STRING as flags: RFC 5280 bit n is 1 << n. */
function keyUsageFlags(value: Buffer): number {
  const bits = readNode(value).body.subarray(1);
  let flags = 0;
  for (let n = 0; n < bits.length * 8 && n < 16; n++) if (bits[n >> 3]! & (0x80 >> (n & 7))) flags |= 1 << n;
  return flags;
}

function basicConstraints(value: Buffer | undefined): { isCA: boolean; maxPathLen: number } {
  if (!value) return { isCA: false, maxPathLen: -1 };
  const items = children(readNode(value).body);
  const isCA = items[0]?.tag === TAG.boolean && items[0].body[0] !== 0;
  const len = items.find((n) => n.tag === TAG.integer);
  return { isCA, maxPathLen: len ? Number(integerValue(len.body)) : -1 };
}

/** Reads one DER certificate; `source` names it in errors. */
export function parseCertificateDer(der: Buffer, source: string): Certificate {
  let node: NodeX509;
  let parts: TbsParts;
  let names: { subject: string; issuer: string; subjectAttrs: Map<string, string[]>; issuerAttrs: Map<string, string[]> };
  let ext: Pick<Certificate, 'sans' | 'keyUsage' | 'extKeyUsages' | 'subjectKeyId' | 'authorityKeyId' | 'isCA' | 'maxPathLen'>;
  try {
    node = new NodeX509(der);
    parts = tbsParts(der);
    names = { subject: nameText(parts.subjectDer), issuer: nameText(parts.issuerDer), subjectAttrs: nameAttributes(parts.subjectDer), issuerAttrs: nameAttributes(parts.issuerDer) };
    ext = extensionFacts(parts.extensions);
  } catch (e) {
    throw new PkiError(`${source} holds a certificate that cannot be parsed (${(e as Error).message})`);
  }
  return {
    source,
    der,
    pem: toPem('CERTIFICATE', der),
    subjectDer: parts.subjectDer,
    issuerDer: parts.issuerDer,
    spki: parts.spki,
    ...names,
    serial: parts.serial,
    notBefore: parts.notBefore,
    notAfter: parts.notAfter,
    ...ext,
    sigAlg: SIG_ALG_GO_NAMES[parts.sigAlgOid] ?? parts.sigAlgOid,
    publicKey: node.publicKey,
    node,
  };
}

function extensionFacts(e: Map<string, Buffer>): Pick<Certificate, 'sans' | 'keyUsage' | 'extKeyUsages' | 'subjectKeyId' | 'authorityKeyId' | 'isCA' | 'maxPathLen'> {
  const ku = e.get('2.5.29.15');
  const eku = e.get('2.5.29.37');
  const ski = e.get('2.5.29.14');
  const aki = e.get('2.5.29.35');
  const san = e.get('2.5.29.17');
  const akiId = aki ? children(readNode(aki).body).find((n) => n.tag === 0x80) : undefined;
  return {
    sans: san ? parseGeneralNames(san) : emptySans(),
    ...basicConstraints(e.get('2.5.29.19')),
    keyUsage: ku ? keyUsageFlags(ku) : undefined,
    extKeyUsages: eku ? children(readNode(eku).body).map((n) => oidText(n.body)) : undefined,
    subjectKeyId: ski ? Buffer.from(readNode(ski).body) : undefined,
    authorityKeyId: akiId ? Buffer.from(akiId.body) : undefined,
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
