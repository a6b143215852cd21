// cfssl's certificate request JSON (the "csr.json" of every etcd TLS tutorial):
//
//   { "CN": "etcd", "hosts": ["127.0.0.1", "etcd-1"], "key": {"algo": "rsa", "size": 2048},
//     "names": [{"C": "US", "ST": "CA", "L": "SF", "O": "etcd", "OU": "ops"}],
//     "ca": {"expiry": "87600h", "pathlen": 1, "pathlenzero": false} }
//
// Field names match as Go's encoding/json matches them (exactly, else ignoring case).

import { PkiError } from './errors.js';
import { parseGoDurationMs } from './duration.js';
import { Fields, parseJson } from './gojson.js';
import { DEFAULT_KEY, type KeySpec } from './keys.js';
import type { NameEntry, SubjectSpec } from './names.js';

/** The "ca" section: how a CA made by -initca is constrained. */
export interface CaSection {
  /** Go duration text; "" means cfssl's CA default (43800h, five years) */
  expiry: string;
  backdate: string;
  pathlen: number;
  pathlenzero: boolean;
}

export interface CertRequest extends SubjectSpec {
  hosts: string[];
  key: KeySpec;
  ca?: CaSection;
  crlUrl?: string;
  /** where the request came from, for messages */
  source: string;
}

function nameEntry(f: Fields): NameEntry {
  const entry: NameEntry = {};
  for (const k of ['C', 'ST', 'L', 'O', 'OU', 'E'] as const) {
    const v = f.str(k);
    if (v !== undefined) entry[k] = v;
  }
  const oids = f.entries('OID');
  if (oids) {
    entry.OID = {};
    for (const [k, v] of oids) {
      if (!/^\d+(\.\d+)+$/.test(k)) throw new PkiError(`${f.file}: "${f.path}OID" key ${JSON.stringify(k)} is not a dotted OID like "2.5.4.9"`);
      if (typeof v !== 'string') throw new PkiError(`${f.file}: "${f.path}OID.${k}" must be a string`);
      entry.OID[k] = v;
    }
  }
  return entry;
}

function caSection(f: Fields): CaSection {
  const ca: CaSection = {
    expiry: f.str('expiry') ?? '',
    backdate: f.str('backdate') ?? '',
    pathlen: f.int('pathlen') ?? 0,
    pathlenzero: f.bool('pathlenzero') ?? false,
  };
  for (const key of ['expiry', 'backdate'] as const) {
    if (ca[key] === '') continue;
    const ms = parseGoDurationMs(ca[key]);
    if (typeof ms === 'string') throw new PkiError(`${f.file}: "${f.path}${key}" ${JSON.stringify(ca[key])} is not a Go duration (${ms}); write hours, e.g. "87600h" for ten years`);
  }
  return ca;
}

/** Reads a cfssl certificate request from JSON text; `source` names it in errors. */
export function parseCertRequest(text: string, source: string): CertRequest {
  const top = Fields.of(parseJson(text, source), source, 'the certificate request');
  // cfssl starts from an ECDSA P-256 request and lets the JSON overwrite what it names, so
  // {"algo": "rsa"} alone keeps size 256 (and fails as too weak), just as cfssl does.
  const keyFields = top.obj('key');
  const key: KeySpec = {
    algo: keyFields?.str('algo') ?? DEFAULT_KEY.algo,
    size: keyFields?.int('size') ?? DEFAULT_KEY.size,
  };
  const caFields = top.obj('ca');
  const req: CertRequest = {
    CN: top.str('CN') ?? '',
    names: (top.objList('names') ?? []).map(nameEntry),
    hosts: top.strList('hosts') ?? [],
    key,
    source,
  };
  const serial = top.str('serialnumber');
  if (serial) req.serialNumber = serial;
  if (caFields) req.ca = caSection(caFields);
  const crl = top.str('crl_url');
  if (crl) req.crlUrl = crl;
  return req;
}

/** cfssl's -initca rule: a CA needs a CN, or names that each say something. */
export function checkCaSubject(req: CertRequest): void {
  if (req.CN !== '') return;
  const empty = (n: NameEntry): boolean => [n.C, n.ST, n.L, n.O, n.OU].every((v) => (v ?? '').trim() === '');
  if (req.names.length === 0 || req.names.some(empty)) {
    throw new PkiError(`${req.source}: missing subject information; give the CA a "CN" (or fill every "names" entry)`);
  }
}

/** cfssl's -hostname: a comma-separated list that replaces the request's hosts. */
export function splitHosts(list: string): string[] | undefined {
  return list === '' ? undefined : list.split(',');
}
