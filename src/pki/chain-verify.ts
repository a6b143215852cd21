// Certificate chain verification with Go's crypto/x509 rules, for the handshakes OpenSSL
// refuses but etcd (Go) accepts. The case that matters: cfssl's tutorials give a CA and
// the member certificates it signs the same subject, and cfssl then writes no authority
// key identifier; OpenSSL sees subject == issuer without a key identifier to tell them
// apart and calls the member certificate self-signed, while Go looks the issuer up by name
// among the trusted CAs and checks the signature.
//
// Contract: verifyChainLikeGo(leaf + peer-sent certificates, trust, usage, now) returns
// null when Go would accept the chain, else the reason. It never accepts what Go refuses:
// every link's signature is checked against its parent's public key, every certificate
// must be within its validity period, intermediates must be CAs, a parent with a key
// usage extension must allow certificate signing (Go's CheckSignatureFrom), the extended
// key usages along the chain must allow `usage`, path length constraints hold, and the
// leaf's serial must not be in the CRL (as etcd's checkCRL: by serial number). Key
// identifiers only order candidates in Go; here any candidate whose subject bytes equal
// the issuer bytes is tried. Where this code does less than Go it refuses rather than
// accepts: a chain with name constraints, an unknown critical extension, or a SHA-1/MD5
// signature (Go 1.18+ refuses those too) is refused.
import crypto from 'node:crypto';
import { children, integerValue, oidText, readNode, TAG } from './der.js';
import { pemBlocks } from './pem.js';

/** What a handshake's certificates are checked against. */
export interface ChainTrust {
  roots: crypto.X509Certificate[];
  /** serial numbers (lower-case hex, no leading zeros) revoked by the CRL file */
  revokedSerials: ReadonlySet<string>;
}

export type CertUsage = 'server' | 'client';

const EKU_SERVER = '1.3.6.1.5.5.7.3.1';
const EKU_CLIENT = '1.3.6.1.5.5.7.3.2';
const EKU_ANY = '2.5.29.37.0';
/** Go's verifier gives up on longer chains too (it bounds its search) */
const MAX_CHAIN_LENGTH = 10;
/**
 * Signature checks one verification may make (Go's maxChainSignatureChecks): a peer can
 * send certificates that cross-sign one another under one name, and an unbounded search
 * would spend exponential CPU on them.
 */
const MAX_SIGNATURE_CHECKS = 100;

interface Parsed {
  cert: crypto.X509Certificate;
  issuer: Buffer;
  subject: Buffer;
  notBeforeMs: number;
  notAfterMs: number;
  /** keyCertSign allowed, or no key usage extension (null) */
  keyCertSign: boolean | null;
  /** the extended key usage OIDs, or null when the extension is absent */
  eku: string[] | null;
  serialHex: string;
  /** basic constraints' pathLenConstraint; -1 when absent */
  maxPathLen: number;
  /** a reason to refuse it whatever the chain: what this verifier does not check */
  unsupported: string | null;
  signatureAlgorithm: string;
}

/** Extensions whose meaning is checked here or harmless to ignore when critical. */
const UNDERSTOOD_CRITICAL = new Set(['2.5.29.15', '2.5.29.19', '2.5.29.17', '2.5.29.37', '2.5.29.14', '2.5.29.35', '2.5.29.32']);
const NAME_CONSTRAINTS = '2.5.29.30';
const WEAK_SIGNATURES: ReadonlyMap<string, string> = new Map([
  ['1.2.840.113549.1.1.5', 'SHA1-RSA'],
  ['1.2.840.10045.4.1', 'ECDSA-SHA1'],
  ['1.2.840.10040.4.3', 'DSA-SHA1'],
  ['1.2.840.113549.1.1.4', 'MD5-RSA'],
  ['1.2.840.113549.1.1.2', 'MD2-RSA'],
]);

/** Builds the trust from a PEM CA bundle and an optional PEM/DER CRL. */
export function chainTrustFrom(caPem: Buffer | string | undefined, crl?: Buffer | string): ChainTrust {
  const roots = caPem ? pemBlocks(caPem.toString()).filter((b) => b.type === 'CERTIFICATE').map((b) => new crypto.X509Certificate(b.der)) : [];
  return { roots, revokedSerials: crl ? crlSerials(crl) : new Set() };
}

/** Serial numbers listed in a CRL (PEM "X509 CRL" blocks or DER). */
export function crlSerials(crl: Buffer | string): Set<string> {
  const text = crl.toString('latin1');
  const ders = text.includes('-----BEGIN') ? pemBlocks(text).filter((b) => b.type === 'X509 CRL').map((b) => b.der) : [Buffer.from(crl as Buffer)];
  const out = new Set<string>();
  for (const der of ders) {
    const tbs = children(readNode(der).body)[0];
    if (!tbs) continue;
    for (const field of children(tbs.body)) {
      // revokedCertificates: the one SEQUENCE OF SEQUENCE { INTEGER serial, Time, ... }
      if (field.tag !== TAG.sequence) continue;
      for (const entry of children(field.body)) {
        const first = entry.tag === TAG.sequence ? children(entry.body)[0] : undefined;
        if (first?.tag === TAG.integer) out.add(integerValue(first.body).toString(16));
      }
    }
  }
  return out;
}

/** DER time (UTCTime or GeneralizedTime, Z form as RFC 5280 requires) to milliseconds. */
function timeMs(tag: number, body: Buffer): number {
  const s = body.toString('latin1');
  const m = tag === 0x17 ? /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(s) : /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(s);
  if (!m) throw new Error(`unsupported certificate time ${JSON.stringify(s)}`);
  let year = Number(m[1]);
  if (tag === 0x17) year += year < 50 ? 2000 : 1900;
  return Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
}

interface Extension {
  critical: boolean;
  value: Buffer;
}

function extensionsOf(tbsFields: ReturnType<typeof children>): Map<string, Extension> {
  const out = new Map<string, Extension>();
  const wrapper = tbsFields.find((f) => f.tag === 0xa3);
  if (!wrapper) return out;
  for (const ext of children(readNode(wrapper.body).body)) {
    const parts = children(ext.body);
    const value = parts[parts.length - 1]!; // OCTET STRING, after the optional critical flag
    const critical = parts.length === 3 && parts[1]!.tag === TAG.boolean && parts[1]!.body[0] !== 0;
    out.set(oidText(parts[0]!.body), { critical, value: value.body });
  }
  return out;
}

/** basicConstraints' pathLenConstraint, or -1 when there is none. */
function pathLenOf(bc: Extension | undefined): number {
  if (!bc) return -1;
  const pathLen = children(readNode(bc.value).body).find((n) => n.tag === TAG.integer);
  return pathLen ? Number(integerValue(pathLen.body)) : -1;
}

function unsupportedIn(ext: Map<string, Extension>): string | null {
  if (ext.has(NAME_CONSTRAINTS)) return 'it carries name constraints, which this verifier does not evaluate';
  for (const [oid, e] of ext) if (e.critical && !UNDERSTOOD_CRITICAL.has(oid)) return `it has an unhandled critical extension ${oid}`;
  return null;
}

function parse(der: Buffer): Parsed {
  const cert = new crypto.X509Certificate(der);
  const [tbs, sigAlg] = children(readNode(der).body);
  const fields = children(tbs!.body);
  const rest = fields[0]!.tag === 0xa0 ? fields.slice(1) : fields; // skip [0] version
  const [serial, , issuer, validity, subject] = rest;
  const [nb, na] = children(validity!.body);
  const ext = extensionsOf(fields);
  const ku = ext.get('2.5.29.15')?.value;
  let keyCertSign: boolean | null = null;
  if (ku) {
    const bits = readNode(ku).body; // BIT STRING: unused-bits octet, then bits (MSB first)
    keyCertSign = bits.length > 1 && (bits[1]! & 0x04) !== 0; // keyCertSign is bit 5
  }
  const ekuDer = ext.get('2.5.29.37')?.value;
  const eku = ekuDer ? children(readNode(ekuDer).body).map((n) => oidText(n.body)) : null;
  return {
    cert,
    issuer: issuer!.raw,
    subject: subject!.raw,
    notBeforeMs: timeMs(nb!.tag, nb!.body),
    notAfterMs: timeMs(na!.tag, na!.body),
    keyCertSign,
    eku,
    serialHex: integerValue(serial!.body).toString(16),
    maxPathLen: pathLenOf(ext.get('2.5.29.19')),
    unsupported: unsupportedIn(ext),
    signatureAlgorithm: oidText(children(sigAlg!.body)[0]!.body),
  };
}

function describe(p: Parsed): string {
  return `"${p.cert.subject.replace(/\n/g, ', ')}" (serial ${p.serialHex})`;
}

function usageAllowed(eku: string[] | null, usage: CertUsage): boolean {
  if (eku === null || eku.includes(EKU_ANY)) return true;
  return eku.includes(usage === 'server' ? EKU_SERVER : EKU_CLIENT);
}

/**
 * Verifies `chainDer` (the leaf first, then whatever else the peer sent) against `trust`
 * for `usage` at `nowMs`; null when Go's verifier would accept it, else why not.
 */
export function verifyChainLikeGo(chainDer: Buffer[], trust: ChainTrust, usage: CertUsage, nowMs: number): string | null {
  if (chainDer.length === 0) return 'no certificate presented';
  let leaf: Parsed;
  let intermediates: Parsed[];
  let roots: Parsed[];
  try {
    leaf = parse(chainDer[0]!);
    intermediates = chainDer.slice(1).map(parse);
    roots = trust.roots.map((r) => parse(r.raw));
  } catch (err) {
    return `malformed certificate: ${(err as Error).message}`;
  }
  if (trust.revokedSerials.has(leaf.serialHex)) return `certificate ${describe(leaf)} is revoked by the CRL`;
  const failures: string[] = [];
  let signatureChecks = 0;
  // depth: how many intermediates lie between `cert`'s issuer and the leaf
  const search = (cert: Parsed, depth: number): boolean => {
    const problem = checkOne(cert, nowMs, usage);
    if (problem) {
      failures.push(problem);
      return false;
    }
    if (roots.some((r) => r.cert.raw.equals(cert.cert.raw))) return true;
    if (depth >= MAX_CHAIN_LENGTH) return false;
    for (const parent of [...roots, ...intermediates]) {
      if (parent === cert || !parent.subject.equals(cert.issuer)) continue;
      if (++signatureChecks > MAX_SIGNATURE_CHECKS) {
        failures.unshift(`gave up after ${MAX_SIGNATURE_CHECKS} signature checks (too many candidate issuers)`);
        return false;
      }
      const link = checkLink(cert, parent, depth);
      if (link) {
        failures.push(link);
        continue;
      }
      const isRoot = roots.includes(parent);
      if (isRoot) {
        const rootProblem = checkOne(parent, nowMs, usage);
        if (rootProblem) failures.push(rootProblem);
        else return true;
      } else if (search(parent, depth + 1)) return true;
    }
    return false;
  };
  if (search(leaf, 0)) return null;
  return failures[0] ?? `certificate ${describe(leaf)} is signed by an unknown authority (no trusted CA has its issuer's name)`;
}

/** The checks on one certificate by itself: validity period and extended key usage. */
function checkOne(p: Parsed, nowMs: number, usage: CertUsage): string | null {
  if (p.unsupported) return `certificate ${describe(p)} is refused: ${p.unsupported}`;
  if (nowMs < p.notBeforeMs) return `certificate ${describe(p)} is not valid before ${new Date(p.notBeforeMs).toISOString()}`;
  if (nowMs > p.notAfterMs) return `certificate ${describe(p)} expired at ${new Date(p.notAfterMs).toISOString()}`;
  if (!usageAllowed(p.eku, usage)) return `certificate ${describe(p)} does not allow ${usage} authentication (extended key usage)`;
  return null;
}

/**
 * Whether `parent` signed `child` and may sign certificates (Go's CheckSignatureFrom),
 * with `intermediatesBelow` CA certificates between it and the leaf (its path length).
 */
function checkLink(child: Parsed, parent: Parsed, intermediatesBelow: number): string | null {
  if (!parent.cert.ca) return `issuer ${describe(parent)} is not a CA`;
  if (parent.maxPathLen >= 0 && intermediatesBelow > parent.maxPathLen) return `issuer ${describe(parent)} allows ${parent.maxPathLen} intermediate CAs below it, the chain has ${intermediatesBelow}`;
  const weak = WEAK_SIGNATURES.get(child.signatureAlgorithm);
  if (weak) return `certificate ${describe(child)} is signed with the insecure algorithm ${weak}`;
  if (parent.keyCertSign === false) return `issuer ${describe(parent)} may not sign certificates (key usage)`;
  if (!child.cert.verify(parent.cert.publicKey)) return `certificate ${describe(child)} is not signed by the CA ${describe(parent)} that has its issuer's name`;
  return null;
}
