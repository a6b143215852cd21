// Subjects and subject alternative names as cfssl makes them.
//
// Subject: Go's pkix.Name order — C, ST, L, O, OU, then CN, then the subject serial number,
// then extra attributes (E, OIDs) one per RDN. Every value of one attribute type shares one
// RDN (two "O" entries make "O=a+O=b"), strings are PrintableString when they can be and
// UTF8String otherwise.
//
// Hosts: each entry of "hosts" (or -hostname) is an IP address, else an e-mail address,
// else a URI (anything with a scheme, or an absolute path), else a DNS name.

import { isIP } from 'node:net';
import { children, goString, oid, oidText, readNode, sequence, setOf } from './der.js';

export const OID = {
  C: '2.5.4.6',
  ST: '2.5.4.8',
  L: '2.5.4.7',
  O: '2.5.4.10',
  OU: '2.5.4.11',
  CN: '2.5.4.3',
  serialNumber: '2.5.4.5',
  email: '1.2.840.113549.1.9.1',
} as const;

/** One entry of cfssl's "names" list. */
export interface NameEntry {
  C?: string;
  ST?: string;
  L?: string;
  O?: string;
  OU?: string;
  E?: string;
  /** extra attributes by dotted OID */
  OID?: Record<string, string>;
}

export interface SubjectSpec {
  CN: string;
  names: NameEntry[];
  serialNumber?: string;
}

function attribute(type: string, value: string): Buffer {
  return sequence([oid(type), goString(value)]);
}

/** The DER Name for a cfssl subject, byte-for-byte as Go's crypto/x509 writes it. */
export function subjectDer(spec: SubjectSpec): Buffer {
  const rdns: Buffer[] = [];
  const grouped = (key: 'C' | 'ST' | 'L' | 'O' | 'OU'): void => {
    const values = spec.names.map((n) => n[key]).filter((v): v is string => v !== undefined && v !== '');
    if (values.length > 0) rdns.push(setOf(values.map((v) => attribute(OID[key], v))));
  };
  grouped('C');
  grouped('ST');
  grouped('L');
  grouped('O');
  grouped('OU');
  if (spec.CN !== '') rdns.push(setOf([attribute(OID.CN, spec.CN)]));
  if (spec.serialNumber) rdns.push(setOf([attribute(OID.serialNumber, spec.serialNumber)]));
  for (const n of spec.names) {
    for (const key of Object.keys(n.OID ?? {}).sort()) rdns.push(setOf([attribute(key, n.OID![key]!)]));
    if (n.E) rdns.push(setOf([attribute(OID.email, n.E)]));
  }
  return sequence(rdns);
}

/** The subject alternative names of a host list, in the groups certificates carry them. */
export interface Sans {
  dns: string[];
  emails: string[];
  ips: string[];
  uris: string[];
}

export function emptySans(): Sans {
  return { dns: [], emails: [], ips: [], uris: [] };
}

export function sansCount(s: Sans): number {
  return s.dns.length + s.emails.length + s.ips.length + s.uris.length;
}

/** Go's net/mail address forms cfssl accepts: "a@b" or "Name <a@b>"; returns the bare address. */
function mailAddress(s: string): string | undefined {
  const bare = /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:"]+$/;
  if (bare.test(s)) return s;
  const named = /^[^<>]*<([^<>]+)>$/.exec(s);
  if (named && bare.test(named[1]!)) return named[1]!;
  return undefined;
}

/** Go's url.ParseRequestURI accepts a scheme ("spiffe://x", "urn:a") or an absolute path. */
function isRequestUri(s: string): boolean {
  if (s === '' || /[\x00-\x1f\x7f ]/.test(s)) return false;
  if (s.startsWith('/')) return true;
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):(.*)$/.exec(s);
  if (!scheme) return false;
  const rest = scheme[2]!;
  if (rest.startsWith('//')) {
    // an authority must hold a sane host[:port]
    const authority = rest.slice(2).split(/[/?]/)[0]!;
    const hostPort = authority.slice(authority.lastIndexOf('@') + 1);
    const m = /^(\[[0-9A-Fa-f:.]+\]|[^:[\]]*)(?::(\d*))?$/.exec(hostPort);
    return m !== null;
  }
  return true;
}

/** Sorts hosts into SANs as cfssl does. */
export function classifyHosts(hosts: readonly string[]): Sans {
  const out = emptySans();
  for (const h of hosts) {
    if (isIP(h) !== 0) out.ips.push(h);
    else if (mailAddress(h) !== undefined) out.emails.push(mailAddress(h)!);
    else if (isRequestUri(h)) out.uris.push(h);
    else out.dns.push(h);
  }
  return out;
}

/** The bytes of an IP address for an iPAddress SAN: 4 for IPv4, 16 for IPv6 (Go writes IPv4 as 4). */
export function ipBytes(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split('.').map(Number));
  let text = ip;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  let tail: number[] = [];
  if (v4) {
    tail = v4[1]!.split('.').map(Number);
    text = text.slice(0, -v4[1]!.length) + '0:0';
  }
  const [head, rest] = text.includes('::') ? text.split('::') : [text, undefined];
  const parse = (p: string | undefined): number[] => (p ? p.split(':').filter((x) => x !== '').map((x) => parseInt(x, 16)) : []);
  const h = parse(head);
  const r = parse(rest);
  const groups = rest === undefined ? h : [...h, ...new Array<number>(8 - h.length - r.length).fill(0), ...r];
  const buf = Buffer.alloc(16);
  groups.forEach((g, i) => buf.writeUInt16BE(g, i * 2));
  if (tail.length) buf.set(tail, 12);
  return buf;
}

/** Text for an iPAddress SAN's bytes, as Go prints it (IPv4-mapped IPv6 prints as IPv4). */
export function ipText(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join('.');
  if (bytes.length !== 16) return Buffer.from(bytes).toString('hex');
  const b = Buffer.from(bytes);
  if (b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) return Array.from(b.subarray(12)).join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i));
  // the longest run of two or more zero groups becomes "::"
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** The first common name in a DER Name, or '' when it has none. */
export function commonNameOf(nameDer: Buffer): string {
  for (const rdn of children(readNode(nameDer).body)) {
    for (const atv of children(rdn.body)) {
      const [type, value] = children(atv.body);
      if (type && value && oidText(type.body) === OID.CN) return value.body.toString('utf8');
    }
  }
  return '';
}
