// What a certificate says, for people (describeCertificate) and for scripts written
// against `cfssl certinfo` (certinfoJson: the same keys and value formats).

import type { Certificate } from './cert.js';
import { EXT_KEY_USAGES } from './config.js';
import { humanSpan } from './duration.js';
import { describeKey } from './keys.js';

const KEY_USAGE_WORDS: [number, string][] = [
  [1, 'digital signature'],
  [2, 'content commitment'],
  [4, 'key encipherment'],
  [8, 'data encipherment'],
  [16, 'key agreement'],
  [32, 'cert sign'],
  [64, 'crl sign'],
  [128, 'encipher only'],
  [256, 'decipher only'],
];

const EKU_EXPLAINED: Record<string, string> = {
  'server auth': 'TLS server',
  'client auth': 'TLS client',
};

/** cfssl's words for the key usage bits that are set. */
export function keyUsageNames(bits: number): string[] {
  return KEY_USAGE_WORDS.filter(([b]) => (bits & b) !== 0).map(([, w]) => w);
}

/** cfssl's word for an extended key usage OID (the OID itself when cfssl has none). */
export function extKeyUsageName(oid: string): string {
  for (const [name, o] of Object.entries(EXT_KEY_USAGES)) if (o === oid && name !== 's/mime') return name;
  return oid;
}

function utc(d: Date): string {
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

function validityWords(c: Certificate, now: Date): string {
  const span = `${utc(c.notBefore)} to ${utc(c.notAfter)} (${humanSpan(c.notAfter.getTime() - c.notBefore.getTime())})`;
  if (now < c.notBefore) return `${span}; NOT VALID YET, starts in ${humanSpan(c.notBefore.getTime() - now.getTime())}`;
  if (now > c.notAfter) return `${span}; EXPIRED ${humanSpan(now.getTime() - c.notAfter.getTime())} ago`;
  return `${span}; valid now, ${humanSpan(c.notAfter.getTime() - now.getTime())} left`;
}

function caWords(c: Certificate): string {
  if (!c.isCA) return 'no';
  if (c.maxPathLen < 0) return 'yes, and the CAs it signs may sign further CAs (no path length limit)';
  if (c.maxPathLen === 0) return 'yes, but it may sign only end-entity certificates (path length 0)';
  return `yes, with at most ${c.maxPathLen} CA level${c.maxPathLen === 1 ? '' : 's'} below it`;
}

function hex(id: Buffer | undefined): string {
  return id ? [...id].map((b) => b.toString(16).toUpperCase().padStart(2, '0')).join(':') : '';
}

function sanWords(c: Certificate): string {
  const parts = [...c.sans.dns.map((d) => `DNS ${d}`), ...c.sans.ips.map((i) => `IP ${i}`), ...c.sans.emails.map((e) => `email ${e}`), ...c.sans.uris.map((u) => `URI ${u}`)];
  return parts.length ? parts.join(', ') : 'none';
}

/** A summary sentence of what the certificate may be used for. */
function useSentence(c: Certificate): string {
  const eku = c.extKeyUsages;
  const any = eku === undefined || eku.includes(EXT_KEY_USAGES.any!);
  const server = any || eku.includes(EXT_KEY_USAGES['server auth']!);
  const client = any || eku.includes(EXT_KEY_USAGES['client auth']!);
  const hosts = [...c.sans.dns, ...c.sans.ips];
  const parts: string[] = [];
  if (c.isCA) parts.push('It is a certificate authority: use it as --trusted-ca-file / --peer-trusted-ca-file');
  if (server && hosts.length) parts.push(`It can serve TLS for ${hosts.join(', ')}`);
  else if (server && !c.isCA) parts.push('It allows TLS server use but names no hosts, so clients checking hostnames will refuse it');
  if (client && !c.isCA) parts.push('it can authenticate a TLS client (etcd takes the client user name from its CN)');
  if (!server && !client) parts.push('It allows neither TLS server nor TLS client use');
  return `${parts.join('; ')}.`;
}

/** The certificate in plain words, one fact per line. */
export function describeCertificate(c: Certificate, now = new Date()): string {
  const ku = c.keyUsage === undefined ? 'none (any)' : keyUsageNames(c.keyUsage).join(', ') || 'none';
  const eku =
    c.extKeyUsages === undefined
      ? 'none listed (any use)'
      : c.extKeyUsages.map((o) => {
          const n = extKeyUsageName(o);
          return EKU_EXPLAINED[n] ? `${n} (${EKU_EXPLAINED[n]})` : n;
        }).join(', ');
  const rows: [string, string][] = [
    ['Subject', c.subject || '(empty)'],
    ['Issuer', c.issuer || '(empty)'],
    ['Self-signed', c.subjectDer.equals(c.issuerDer) ? 'yes' : 'no'],
    ['Serial number', `${c.serial} (0x${c.serial.toString(16)})`],
    ['Valid', validityWords(c, now)],
    ['Is a CA', caWords(c)],
    ['Hosts (SANs)', sanWords(c)],
    ['Key usages', ku],
    ['Extended usages', eku],
    ['Public key', describeKey(c.publicKey).label],
    ['Signature', c.sigAlg],
    ['Subject key id', hex(c.subjectKeyId) || 'none'],
    ['Authority key id', hex(c.authorityKeyId) || 'none'],
  ];
  const width = Math.max(...rows.map(([k]) => k.length)) + 1;
  const lines = rows.map(([k, v]) => `${`${k}:`.padEnd(width)} ${v}`);
  return `Certificate ${c.source}\n${lines.map((l) => `  ${l}`).join('\n')}\n${useSentence(c)}\n`;
}

function cfsslName(attrs: Map<string, string[]>): Record<string, unknown> {
  const join = (k: string): string => (attrs.get(k) ?? []).join(',');
  const out: Record<string, unknown> = {};
  const put = (key: string, v: string): void => {
    if (v !== '') out[key] = v;
  };
  put('common_name', attrs.get('CN')?.[0] ?? '');
  put('serial_number', attrs.get('serialNumber')?.[0] ?? attrs.get('2.5.4.5')?.[0] ?? '');
  put('country', join('C'));
  put('organization', join('O'));
  put('organizational_unit', join('OU'));
  put('locality', join('L'));
  put('province', join('ST'));
  put('street_address', join('street'));
  put('postal_code', join('postalCode'));
  const names = [...attrs.values()].flat();
  if (names.length) out.names = names;
  return out;
}

function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d+Z$/, 'Z');
}

/** `cfssl certinfo -cert` output: the same keys, values and two-space indentation. */
export function certinfoJson(c: Certificate): string {
  const sans = [...c.sans.dns, ...c.sans.ips];
  const obj: Record<string, unknown> = { subject: cfsslName(c.subjectAttrs), issuer: cfsslName(c.issuerAttrs), serial_number: c.serial.toString() };
  if (sans.length) obj.sans = sans;
  Object.assign(obj, {
    not_before: rfc3339(c.notBefore),
    not_after: rfc3339(c.notAfter),
    sigalg: c.sigAlg,
    authority_key_id: hex(c.authorityKeyId),
    subject_key_id: hex(c.subjectKeyId),
    pem: c.pem,
  });
  return `${JSON.stringify(obj, null, 2).replace(/[<>&]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`)}\n`;
}
