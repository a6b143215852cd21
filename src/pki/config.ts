// cfssl's signing configuration ("ca-config.json"):
//
//   { "signing": {
//       "default":  { "expiry": "8760h", "usages": ["signing", "key encipherment", "server auth"] },
//       "profiles": { "peer": { "expiry": "87600h", "usages": [...], "ca_constraint": {...} } } } }
//
// Rules carried over from cfssl: "signing" is required; without "default" the default is
// one year with signing, key encipherment, server auth and client auth; every profile
// written down needs an "expiry"; a named profile needs at least one usage cfssl knows.

import { PkiError } from './errors.js';
import { parseGoDurationMs } from './duration.js';
import { Fields, parseJson } from './gojson.js';

/** cfssl's key usage names → RFC 5280 keyUsage bits, in @peculiar/x509's KeyUsageFlags numbering. */
export const KEY_USAGE_BITS: Record<string, number> = {
  signing: 1,
  'digital signature': 1,
  'content commitment': 2,
  'key encipherment': 4,
  'data encipherment': 8,
  'key agreement': 16,
  'cert sign': 32,
  'crl sign': 64,
  'encipher only': 128,
  'decipher only': 256,
};

export const EKU = {
  any: '2.5.29.37.0',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  emailProtection: '1.3.6.1.5.5.7.3.4',
  ipsecEndSystem: '1.3.6.1.5.5.7.3.5',
  ipsecTunnel: '1.3.6.1.5.5.7.3.6',
  ipsecUser: '1.3.6.1.5.5.7.3.7',
  timeStamping: '1.3.6.1.5.5.7.3.8',
  ocspSigning: '1.3.6.1.5.5.7.3.9',
  microsoftSgc: '1.3.6.1.4.1.311.10.3.3',
  netscapeSgc: '2.16.840.1.113730.4.1',
} as const;

/** cfssl's extended key usage names → OIDs. */
export const EXT_KEY_USAGES: Record<string, string> = {
  any: EKU.any,
  'server auth': EKU.serverAuth,
  'client auth': EKU.clientAuth,
  'code signing': EKU.codeSigning,
  'email protection': EKU.emailProtection,
  's/mime': EKU.emailProtection,
  'ipsec end system': EKU.ipsecEndSystem,
  'ipsec tunnel': EKU.ipsecTunnel,
  'ipsec user': EKU.ipsecUser,
  timestamping: EKU.timeStamping,
  'ocsp signing': EKU.ocspSigning,
  'microsoft sgc': EKU.microsoftSgc,
  'netscape sgc': EKU.netscapeSgc,
};

export interface CaConstraint {
  isCA: boolean;
  maxPathLen: number;
  maxPathLenZero: boolean;
}

export interface SigningProfile {
  /** "default" or the key under "profiles" */
  name: string;
  usages: string[];
  /** OR of KEY_USAGE_BITS; 0 means no keyUsage extension */
  keyUsage: number;
  /** OIDs, in the order the usages list them */
  extKeyUsages: string[];
  unknownUsages: string[];
  expiryMs: number;
  /** how far before "now" notBefore goes; cfssl's default is five minutes */
  backdateMs: number;
  caConstraint: CaConstraint;
  notBefore?: Date;
  notAfter?: Date;
  crlUrl: string;
  ocspUrl: string;
  issuerUrls: string[];
  ocspNoCheck: boolean;
  nameWhitelist?: RegExp;
}

export interface SigningPolicy {
  default: SigningProfile;
  profiles: Map<string, SigningProfile>;
  /** the config file, or "" for the built-in policy */
  source: string;
  /** things cfssl would silently ignore that a person may want to know */
  warnings: string[];
}

export const ONE_YEAR_MS = 8760 * 3_600_000;
export const DEFAULT_BACKDATE_MS = 5 * 60_000;

export function splitUsages(usages: readonly string[]): Pick<SigningProfile, 'keyUsage' | 'extKeyUsages' | 'unknownUsages'> {
  let keyUsage = 0;
  const extKeyUsages: string[] = [];
  const unknownUsages: string[] = [];
  for (const u of usages) {
    if (KEY_USAGE_BITS[u] !== undefined) keyUsage |= KEY_USAGE_BITS[u]!;
    else if (EXT_KEY_USAGES[u] !== undefined) extKeyUsages.push(EXT_KEY_USAGES[u]!);
    else unknownUsages.push(u);
  }
  return { keyUsage, extKeyUsages, unknownUsages };
}

function baseProfile(name: string, usages: string[], expiryMs: number): SigningProfile {
  return {
    name,
    usages,
    ...splitUsages(usages),
    expiryMs,
    backdateMs: DEFAULT_BACKDATE_MS,
    caConstraint: { isCA: false, maxPathLen: 0, maxPathLenZero: false },
    crlUrl: '',
    ocspUrl: '',
    issuerUrls: [],
    ocspNoCheck: false,
  };
}

/** cfssl's profile when there is no config, or the config has no "default". */
export function builtinDefaultProfile(): SigningProfile {
  return baseProfile('default', ['signing', 'key encipherment', 'server auth', 'client auth'], ONE_YEAR_MS);
}

/** The policy cfssl signs with when gencert gets no -config. */
export function builtinPolicy(): SigningPolicy {
  return { default: builtinDefaultProfile(), profiles: new Map(), source: '', warnings: [] };
}

/** What cfssl's CA policy says for -initca: cert sign + crl sign, five years, CA:TRUE. */
export function caProfile(): SigningProfile {
  const p = baseProfile('initca', ['cert sign', 'crl sign'], 5 * ONE_YEAR_MS);
  p.caConstraint.isCA = true;
  return p;
}

const IGNORED_FIELDS = ['policies', 'copy_extensions', 'ct_log_servers', 'allowed_extensions', 'lint_error_level', 'ignored_lints', 'cert_store'];

function durationField(f: Fields, key: string, where: string): number | undefined {
  const text = f.str(key);
  if (text === undefined || text === '') return undefined;
  const ms = parseGoDurationMs(text);
  if (typeof ms === 'string') throw new PkiError(`${f.file}: ${where} "${key}" ${JSON.stringify(text)} is not a Go duration (${ms}); write hours, e.g. "87600h" for ten years`);
  return ms;
}

function timeField(f: Fields, key: string, where: string): Date | undefined {
  const text = f.str(key);
  if (text === undefined || text === '' || text.startsWith('0001-01-01')) return undefined;
  const d = new Date(text);
  if (Number.isNaN(d.getTime())) throw new PkiError(`${f.file}: ${where} "${key}" ${JSON.stringify(text)} is not an RFC 3339 time like "2030-01-02T15:04:05Z"`);
  return d;
}

function readProfile(f: Fields, name: string, warnings: string[]): SigningProfile {
  const where = name === 'default' ? 'the default profile' : `profile ${JSON.stringify(name)}`;
  if (f.str('remote') || f.obj('auth_remote')?.str('remote') || f.str('auth_key')) {
    throw new PkiError(`${f.file}: ${where} uses a remote signer or auth key, which tsetcdutl pki does not support; sign locally with -ca and -ca-key`);
  }
  const expiryMs = durationField(f, 'expiry', where);
  if (expiryMs === undefined) throw new PkiError(`${f.file}: ${where} has no "expiry"; add one, e.g. "expiry": "87600h"`);
  const p = baseProfile(name, f.strList('usages') ?? [], expiryMs);
  p.backdateMs = durationField(f, 'backdate', where) ?? DEFAULT_BACKDATE_MS;
  const cc = f.obj('ca_constraint');
  if (cc) p.caConstraint = { isCA: cc.bool('is_ca') ?? false, maxPathLen: cc.int('max_path_len') ?? 0, maxPathLenZero: cc.bool('max_path_len_zero') ?? false };
  const nb = timeField(f, 'not_before', where);
  const na = timeField(f, 'not_after', where);
  if (nb) p.notBefore = nb;
  if (na) p.notAfter = na;
  if (nb && na && na < nb) throw new PkiError(`${f.file}: ${where} has "not_after" before "not_before"`);
  p.crlUrl = f.str('crl_url') ?? '';
  p.ocspUrl = f.str('ocsp_url') ?? '';
  p.issuerUrls = f.strList('issuer_urls') ?? [];
  p.ocspNoCheck = f.bool('ocsp_no_check') ?? false;
  const wl = f.str('name_whitelist');
  if (wl) {
    try {
      p.nameWhitelist = new RegExp(wl);
    } catch {
      throw new PkiError(`${f.file}: ${where} "name_whitelist" ${JSON.stringify(wl)} is not a valid regular expression`);
    }
  }
  for (const u of p.unknownUsages) warnings.push(`${f.file}: ${where} lists the unknown usage ${JSON.stringify(u)}, which is ignored (known: ${knownUsages()})`);
  for (const key of IGNORED_FIELDS) {
    if (f.raw(key) !== undefined) warnings.push(`${f.file}: ${where} sets "${key}", which tsetcdutl pki ignores`);
  }
  return p;
}

export function knownUsages(): string {
  return [...Object.keys(KEY_USAGE_BITS), ...Object.keys(EXT_KEY_USAGES)].map((u) => JSON.stringify(u)).join(', ');
}

/** Reads a signing config; `source` (the file name) prefixes every error. */
export function parseSigningConfig(text: string, source: string): SigningPolicy {
  const top = Fields.of(parseJson(text, source), source, 'the signing configuration');
  const signing = top.obj('signing');
  if (!signing) throw new PkiError(`${source}: no "signing" field present; a cfssl config looks like {"signing": {"default": {"expiry": "8760h", "usages": [...]}}}`);
  const warnings: string[] = [];
  const d = signing.obj('default');
  const policy: SigningPolicy = {
    default: d ? readProfile(d, 'default', warnings) : builtinDefaultProfile(),
    profiles: new Map(),
    source,
    warnings,
  };
  if (policy.default.expiryMs <= 0) throw new PkiError(`${source}: the default profile's "expiry" must be longer than zero`);
  const profiles = signing.obj('profiles');
  for (const [name] of profiles ? Object.entries(profiles.data) : []) {
    const pf = profiles!.obj(name);
    if (!pf) continue; // null: Go leaves a nil profile, which cfssl then rejects; treat as absent
    const p = readProfile(pf, name, warnings);
    if (p.usages.length === 0) throw new PkiError(`${source}: profile ${JSON.stringify(name)} has no "usages"; list some, e.g. ["signing", "key encipherment", "server auth", "client auth"]`);
    if (p.unknownUsages.length === p.usages.length) throw new PkiError(`${source}: profile ${JSON.stringify(name)} has no usage cfssl knows; known usages are ${knownUsages()}`);
    policy.profiles.set(name, p);
  }
  return policy;
}

/**
 * The profile to sign with. cfssl quietly falls back to the default profile when -profile
 * names one the config lacks, which has signed many a certificate without "client auth";
 * here that is an error listing the profiles there are.
 */
export function selectProfile(policy: SigningPolicy, name: string): SigningProfile {
  if (name === '') return policy.default;
  const p = policy.profiles.get(name);
  if (p) return p;
  if (name === 'default') return policy.default;
  const known = [...policy.profiles.keys()].map((k) => JSON.stringify(k));
  const where = policy.source ? `${policy.source} has` : 'without -config there are';
  const list = known.length ? `profiles ${known.join(', ')}` : 'no profiles (only "signing.default")';
  throw new PkiError(`unknown profile ${JSON.stringify(name)}: ${where} ${list}; pass one of those with -profile, or drop -profile to use the default`);
}
