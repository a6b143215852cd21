// X.509 certificates and PKCS#10 requests written and checked with node:crypto alone:
// DER built here (der.ts), signatures by crypto.sign / crypto.verify (OpenSSL). No X.509
// library is loaded, which is most of what a pki command costs (docs/pki.md).
//
// Contract: encodings are those Go's crypto/x509 writes (what cfssl emits):
//  - an extension is SEQUENCE { OID, BOOLEAN TRUE only when critical, OCTET STRING value };
//  - keyUsage is a BIT STRING of RFC 5280's bits with trailing zero bits dropped;
//  - times are UTCTime for 1950-2049 and GeneralizedTime otherwise, to the second, in UTC;
//  - the signature algorithm follows keys.ts signingAlgorithmFor: PKCS#1 v1.5 with
//    SHA-256/384/512 for RSA (parameters NULL), ECDSA with SHA-256/384/512 (no parameters,
//    DER signature), Ed25519.
import { createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { children, oid, oidText, readNode, sequence, tlv, TAG, type Node } from './der.js';
import { signingAlgorithmFor } from './keys.js';

const OID_EXTENSION_REQUEST = '1.2.840.113549.1.9.14';

const SIGNATURE_OIDS: Record<string, string> = {
  'RSA-SHA-256': '1.2.840.113549.1.1.11',
  'RSA-SHA-384': '1.2.840.113549.1.1.12',
  'RSA-SHA-512': '1.2.840.113549.1.1.13',
  'ECDSA-SHA-256': '1.2.840.10045.4.3.2',
  'ECDSA-SHA-384': '1.2.840.10045.4.3.3',
  'ECDSA-SHA-512': '1.2.840.10045.4.3.4',
  Ed25519: '1.3.101.112',
};

/** signature algorithm OID -> node's digest name (null: the algorithm has its own) */
const DIGEST_OF_OID: Record<string, string | null> = {
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.113549.1.1.5': 'sha1',
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.3.101.112': null,
};

export interface ExtensionSpec {
  oid: string;
  critical: boolean;
  /** the DER inside the extension's OCTET STRING */
  value: Buffer;
}

export function extensionDer(e: ExtensionSpec): Buffer {
  const items = [oid(e.oid)];
  if (e.critical) items.push(tlv(TAG.boolean, Buffer.from([0xff])));
  items.push(tlv(TAG.octetString, e.value));
  return sequence(items);
}

/** keyUsage's value: RFC 5280 bit n is `usage & (1 << n)`; trailing zero bits dropped. */
export function keyUsageValue(usage: number): Buffer {
  const bytes = [0, 0];
  let lastBit = -1;
  for (let n = 0; n < 16; n++) {
    if ((usage & (1 << n)) === 0) continue;
    bytes[n >> 3]! |= 0x80 >> (n & 7);
    lastBit = n;
  }
  if (lastBit < 0) return tlv(TAG.bitString, Buffer.from([0]));
  const used = (lastBit >> 3) + 1;
  return tlv(TAG.bitString, Buffer.from([used * 8 - (lastBit + 1), ...bytes.slice(0, used)]));
}

export function extKeyUsageValue(oids: readonly string[]): Buffer {
  return sequence(oids.map((o) => oid(o)));
}

export const subjectKeyIdValue = (id: Buffer): Buffer => tlv(TAG.octetString, id);
export const authorityKeyIdValue = (id: Buffer): Buffer => sequence([tlv(0x80, id)]);

/** A non-negative INTEGER from big-endian magnitude bytes. */
export function unsignedInteger(magnitude: Buffer): Buffer {
  let i = 0;
  while (i < magnitude.length - 1 && magnitude[i] === 0) i++;
  const b = magnitude.subarray(i);
  return tlv(TAG.integer, b[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
}

export function timeDer(d: Date): Buffer {
  const y = d.getUTCFullYear();
  const two = (n: number) => String(n).padStart(2, '0');
  const rest = `${two(d.getUTCMonth() + 1)}${two(d.getUTCDate())}${two(d.getUTCHours())}${two(d.getUTCMinutes())}${two(d.getUTCSeconds())}Z`;
  if (y >= 1950 && y < 2050) return tlv(0x17, Buffer.from(`${two(y % 100)}${rest}`, 'latin1'));
  return tlv(0x18, Buffer.from(`${String(y).padStart(4, '0')}${rest}`, 'latin1'));
}

interface Signing {
  algId: Buffer;
  digest: string | null;
}

function signingFor(key: KeyObject): Signing {
  const alg = signingAlgorithmFor(key);
  const name = (alg.params as { name: string }).name;
  const label = name === 'RSASSA-PKCS1-v1_5' ? `RSA-${alg.hash}` : name === 'ECDSA' ? `ECDSA-${alg.hash}` : name;
  const o = SIGNATURE_OIDS[label]!;
  const algId = name === 'RSASSA-PKCS1-v1_5' ? sequence([oid(o), Buffer.from([0x05, 0x00])]) : sequence([oid(o)]);
  return { algId, digest: alg.hash ? alg.hash.replace('-', '').toLowerCase() : null };
}

/** SEQUENCE { body, algorithm, BIT STRING signature }: the shape of certificates and CSRs. */
function signed(body: Buffer, key: KeyObject): Buffer {
  const s = signingFor(key);
  const signature = sign(s.digest, body, key);
  return sequence([body, s.algId, tlv(TAG.bitString, Buffer.concat([Buffer.from([0]), signature]))]);
}

export interface TbsInput {
  serial: Buffer;
  issuerDer: Buffer;
  subjectDer: Buffer;
  notBefore: Date;
  notAfter: Date;
  spki: Buffer;
  extensions: ExtensionSpec[];
}

/** A v3 certificate signed by `issuerKey`; returns its DER. */
export function createCertificateDer(t: TbsInput, issuerKey: KeyObject): Buffer {
  const items = [
    tlv(0xa0, tlv(TAG.integer, Buffer.from([2]))),
    unsignedInteger(t.serial),
    signingFor(issuerKey).algId,
    t.issuerDer,
    sequence([timeDer(t.notBefore), timeDer(t.notAfter)]),
    t.subjectDer,
    t.spki,
  ];
  if (t.extensions.length > 0) items.push(tlv(0xa3, sequence(t.extensions.map(extensionDer))));
  return signed(sequence(items), issuerKey);
}

/** A PKCS#10 request for `subjectDer`, asking for `extensions`, signed by `key`; returns DER. */
export function createCsrDer(subjectDer: Buffer, spki: Buffer, extensions: ExtensionSpec[], key: KeyObject): Buffer {
  const attributes = extensions.length > 0 ? [sequence([oid(OID_EXTENSION_REQUEST), tlv(TAG.set, sequence(extensions.map(extensionDer)))])] : [];
  const info = sequence([tlv(TAG.integer, Buffer.from([0])), subjectDer, spki, tlv(0xa0, Buffer.concat(attributes))]);
  return signed(info, key);
}

export interface CsrParts {
  info: Node;
  subject: Node;
  spki: Node;
  /** requested extensions by OID: their values */
  extensions: Map<string, Buffer>;
  signatureOk: boolean;
}

/** Splits a DER PKCS#10 request and checks its self-signature. Throws on malformed DER. */
export function readCsrDer(der: Buffer): CsrParts {
  const [info, algId, sig] = children(readNode(der).body);
  if (!info || !algId || !sig || sig.tag !== TAG.bitString) throw new Error('not a PKCS#10 certificate request');
  const fields = children(info.body);
  const [, subject, spki, attrs] = fields;
  if (!subject || !spki) throw new Error('truncated CertificationRequestInfo');
  const extensions = new Map<string, Buffer>();
  for (const attr of attrs && attrs.tag === 0xa0 ? children(attrs.body) : []) {
    const [type, values] = children(attr.body);
    if (!type || !values || oidText(type.body) !== OID_EXTENSION_REQUEST) continue;
    for (const set of children(values.body)) for (const ext of children(set.body)) addExtension(extensions, ext);
  }
  const algOid = oidText(children(algId.body)[0]?.body ?? Buffer.alloc(0));
  return { info, subject, spki, extensions, signatureOk: verifies(algOid, info.raw, spki.raw, sig.body.subarray(1)) };
}

function addExtension(into: Map<string, Buffer>, ext: Node): void {
  const parts = children(ext.body);
  const value = parts[parts.length - 1];
  if (parts[0] && value?.tag === TAG.octetString) into.set(oidText(parts[0].body), value.body);
}

/** True when `signature` over `data` verifies with the key in `spkiDer` under `algOid`. */
export function verifies(algOid: string, data: Buffer, spkiDer: Buffer, signature: Buffer): boolean {
  const digest = DIGEST_OF_OID[algOid];
  if (digest === undefined) return false;
  try {
    return verify(digest, data, createPublicKey({ key: spkiDer, format: 'der', type: 'spki' }), signature);
  } catch {
    return false;
  }
}
