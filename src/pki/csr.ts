// PKCS#10 certificate requests, made the way cfssl (Go) makes them: the subject as Go
// writes it, the hosts as a subjectAltName extension request, and for a CA request with a
// "ca" section a critical basicConstraints CA:TRUE. Signed with cfssl's algorithm for the key.

import type { KeyObject } from 'node:crypto';
import { children, readNode, sequence, tlv, TAG } from './der.js';
import { PkiError } from './errors.js';
import { spkiDer } from './keys.js';
import { ipBytes, type Sans, sansCount } from './names.js';
import { parseGeneralNames } from './cert.js';
import { pemDerOf, toPem } from './pem.js';
import { createCsrDer, readCsrDer, type CsrParts, type ExtensionSpec } from './native-x509.js';

export const OID_SAN = '2.5.29.17';
export const OID_BASIC_CONSTRAINTS = '2.5.29.19';

/** GeneralNames for SANs in Go's order: DNS names, e-mail addresses, IP addresses, URIs. */
export function generalNamesDer(sans: Sans): Buffer {
  const items: Buffer[] = [
    ...sans.dns.map((d) => tlv(0x82, Buffer.from(d, 'latin1'))),
    ...sans.emails.map((e) => tlv(0x81, Buffer.from(e, 'latin1'))),
    ...sans.ips.map((ip) => tlv(0x87, ipBytes(ip))),
    ...sans.uris.map((u) => tlv(0x86, Buffer.from(u, 'latin1'))),
  ];
  return sequence(items);
}

/** The basicConstraints value Go writes: CA flag, and a path length unless it is "none" (-1). */
export function basicConstraintsDer(isCA: boolean, maxPathLen: number): Buffer {
  const items: Buffer[] = [];
  if (isCA) items.push(tlv(TAG.boolean, Buffer.from([0xff])));
  if (maxPathLen >= 0) items.push(tlv(TAG.integer, minimalInteger(maxPathLen)));
  return sequence(items);
}

function minimalInteger(n: number): Buffer {
  let hex = n.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  const b = Buffer.from(hex, 'hex');
  return b[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b;
}

/** cfssl's "ca" section → the path length a CA certificate will carry (-1: no constraint). */
export function caPathLen(pathlen: number, pathlenzero: boolean): number {
  return pathlen === 0 && !pathlenzero ? -1 : pathlen;
}

export interface CsrInput {
  subjectDer: Buffer;
  sans: Sans;
  /** present for -initca requests with a "ca" section */
  ca?: { pathLen: number };
}

/** Makes and signs a CSR with `key`; returns PEM. */
export async function createCsr(key: KeyObject, input: CsrInput): Promise<string> {
  const extensions: ExtensionSpec[] = [];
  if (sansCount(input.sans) > 0) extensions.push({ oid: OID_SAN, critical: false, value: generalNamesDer(input.sans) });
  if (input.ca) extensions.push({ oid: OID_BASIC_CONSTRAINTS, critical: true, value: basicConstraintsDer(true, input.ca.pathLen) });
  return toPem('CERTIFICATE REQUEST', createCsrDer(input.subjectDer, spkiDer(key), extensions, key));
}

export interface ParsedCsr {
  der: Buffer;
  subjectDer: Buffer;
  spki: Buffer;
  sans: Sans;
  /** basicConstraints the request asks for, if any */
  basicConstraints?: { isCA: boolean; maxPathLen: number };
}

/** Reads a PEM CSR and checks its self-signature, as cfssl does before signing it. */
export async function parseCsr(pem: string, source: string): Promise<ParsedCsr> {
  const [der] = pemDerOf(pem, ['CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST'], source, 'a certificate request');
  let parts: CsrParts;
  try {
    parts = readCsrDer(der!);
  } catch (e) {
    throw new PkiError(`${source} holds a certificate request that cannot be parsed (${(e as Error).message})`);
  }
  if (!parts.signatureOk) throw new PkiError(`${source}: the certificate request's signature does not match its public key`);
  const out: ParsedCsr = { der: der!, subjectDer: parts.subject.raw, spki: parts.spki.raw, sans: { dns: [], emails: [], ips: [], uris: [] } };
  const san = parts.extensions.get(OID_SAN);
  if (san) out.sans = parseGeneralNames(san);
  const bc = parts.extensions.get(OID_BASIC_CONSTRAINTS);
  if (bc) {
    const items = children(readNode(bc).body);
    const isCA = items[0]?.tag === TAG.boolean && items[0].body[0] !== 0;
    const lenItem = items.find((i) => i.tag === TAG.integer);
    out.basicConstraints = { isCA, maxPathLen: lenItem ? Number(lenItem.body.readUIntBE(0, lenItem.body.length)) : -1 };
  }
  return out;
}
