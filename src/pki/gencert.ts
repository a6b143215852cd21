// The three things `cfssl gencert` does, as functions:
//   initCA   -initca CSRJSON            a new self-signed CA (new key, or -ca-key's)
//   renewCA  -renewca -ca -ca-key       the same CA re-issued from now, same key and lifetime
//   genCert  -ca -ca-key [-config] CSRJSON   a new key and a certificate signed by the CA
// Each returns what cfssl prints: {cert, csr?, key?} as PEM text.

import type { KeyObject } from 'node:crypto';
import type { Certificate } from './cert.js';
import { caProfile, selectProfile, type SigningPolicy, type SigningProfile } from './config.js';
import { caPathLen, createCsr, parseCsr } from './csr.js';
import { PkiError } from './errors.js';
import { describeKey, generateKey, keyMatchesSpki, privateKeyPem } from './keys.js';
import { classifyHosts, subjectDer, type NameEntry } from './names.js';
import { checkCaSubject, type CertRequest } from './request.js';
import { signCertificate, type LogFn } from './signer.js';
import { parseGoDurationMs } from './duration.js';

/** What cfssl gencert prints (and cfssljson splits into files). */
export interface GenResult {
  cert: string;
  csr?: string;
  key?: string;
}

export interface GenOptions {
  log?: LogFn;
  now?: Date;
}

/** cfssl's CA policy, adjusted by the request's "ca" section. */
function caPolicyFor(req: CertRequest, log: LogFn | undefined): SigningProfile {
  const p = caProfile();
  if (req.crlUrl) p.crlUrl = req.crlUrl;
  if (!req.ca) return p;
  if (req.ca.expiry !== '') p.expiryMs = parseGoDurationMs(req.ca.expiry) as number;
  if (req.ca.backdate !== '') p.backdateMs = parseGoDurationMs(req.ca.backdate) as number;
  p.caConstraint.maxPathLen = req.ca.pathlen;
  if (req.ca.pathlen !== 0 && req.ca.pathlenzero) log?.('info', `ignore invalid 'pathlenzero' value`);
  else p.caConstraint.maxPathLenZero = req.ca.pathlenzero;
  return p;
}

async function selfSign(req: CertRequest, key: KeyObject, subject: Buffer, profile: SigningProfile, opts: GenOptions): Promise<{ cert: string; csr: string }> {
  const csrPem = await createCsr(key, {
    subjectDer: subject,
    sans: classifyHosts(req.hosts),
    ...(req.ca ? { ca: { pathLen: caPathLen(req.ca.pathlen, req.ca.pathlenzero) } } : {}),
  });
  opts.log?.('info', 'encoded CSR');
  const csr = await parseCsr(csrPem, 'the new CSR');
  const issued = await signCertificate({ csr, hosts: req.hosts, profile, defaultProfile: profile, issuer: { key }, ...(opts.now ? { now: opts.now } : {}), ...(opts.log ? { log: opts.log } : {}) });
  return { cert: issued.pem, csr: csrPem };
}

/**
 * -initca: a self-signed CA from a request. With `existingKey` (cfssl's -initca -ca-key)
 * the CA is re-made around that key and no key is returned.
 */
export async function initCA(req: CertRequest, opts: GenOptions & { existingKey?: KeyObject } = {}): Promise<GenResult> {
  const profile = caPolicyFor(req, opts.log);
  if (opts.existingKey) {
    const made = await selfSign(req, opts.existingKey, subjectDer(req), profile, opts);
    return { cert: made.cert, csr: made.csr };
  }
  checkCaSubject(req);
  opts.log?.('info', `generating key: ${req.key.algo}-${req.key.size}`);
  const key = await generateKey(req.key, `${req.source} "key"`);
  const made = await selfSign(req, key, subjectDer(req), profile, opts);
  return { cert: made.cert, csr: made.csr, key: privateKeyPem(key) };
}

/** The names list cfssl rebuilds from a certificate: entry i holds the i-th C, ST, L, O and OU. */
function namesFromCert(cert: Certificate): NameEntry[] {
  const a = (k: string): string[] => cert.subjectAttrs.get(k) ?? [];
  const n = Math.max(a('C').length, a('ST').length, a('L').length, a('O').length, a('OU').length);
  const out: NameEntry[] = [];
  for (let i = 0; i < n; i++) {
    const e: NameEntry = {};
    for (const k of ['C', 'ST', 'L', 'O', 'OU'] as const) if (a(k)[i] !== undefined) e[k] = a(k)[i]!;
    out.push(e);
  }
  return out;
}

/**
 * -renewca: the CA certificate issued again with its own key, valid from now for as long
 * as the old one was. The subject is kept byte for byte, so certificates the old CA signed
 * still chain to the new one.
 */
export async function renewCA(ca: Certificate, key: KeyObject, keyFile: string, opts: GenOptions = {}): Promise<GenResult> {
  if (!ca.isCA) throw new PkiError(`${ca.source} is not a CA certificate (its basic constraints lack CA:TRUE); -renewca needs the CA's own certificate`);
  if (!keyMatchesSpki(key, ca.spki)) throw new PkiError(`${keyFile} is not the private key of ${ca.source}; pass the CA key written with it (NAME-key.pem)`);
  const lifetimeMs = ca.notAfter.getTime() - ca.notBefore.getTime();
  const req: CertRequest = {
    CN: ca.subjectAttrs.get('CN')?.[0] ?? '',
    names: namesFromCert(ca),
    hosts: [...ca.sans.ips, ...ca.sans.dns, ...ca.sans.emails, ...ca.sans.uris],
    key: { algo: describeKey(key).algo, size: describeKey(key).size },
    ca: { expiry: '', backdate: '', pathlen: ca.maxPathLen, pathlenzero: ca.maxPathLen === 0 },
    source: ca.source,
  };
  const profile = caPolicyFor(req, opts.log);
  profile.expiryMs = lifetimeMs;
  const made = await selfSign(req, key, ca.subjectDer, profile, opts);
  return { cert: made.cert };
}

export interface GenCertOptions extends GenOptions {
  policy: SigningPolicy;
  profile: string;
  ca: { cert: Certificate; key: KeyObject };
  /** -hostname, already split; replaces the request's hosts */
  hosts?: string[];
}

/** -ca -ca-key: a new key and a certificate for it, signed by the CA under a profile. */
export async function genCert(req: CertRequest, opts: GenCertOptions): Promise<GenResult> {
  if (req.ca) throw new PkiError(`${req.source} has a "ca" section, which only -initca reads; remove it, or add -initca to make a CA`);
  const profile = selectProfile(opts.policy, opts.profile);
  if (!keyMatchesSpki(opts.ca.key, opts.ca.cert.spki)) {
    throw new PkiError(`the -ca-key is not the private key of ${opts.ca.cert.source}; pass the key written with that CA (NAME-key.pem)`);
  }
  if (opts.hosts) req = { ...req, hosts: opts.hosts };
  opts.log?.('info', `generating key: ${req.key.algo}-${req.key.size}`);
  const key = await generateKey(req.key, `${req.source} "key"`);
  const csrPem = await createCsr(key, { subjectDer: subjectDer(req), sans: classifyHosts(req.hosts) });
  opts.log?.('info', 'encoded CSR');
  const csr = await parseCsr(csrPem, 'the new CSR');
  const issued = await signCertificate({
    csr,
    ...(opts.hosts ? { hosts: opts.hosts } : {}),
    profile,
    defaultProfile: opts.policy.default,
    issuer: opts.ca,
    ...(opts.now ? { now: opts.now } : {}),
    ...(opts.log ? { log: opts.log } : {}),
  });
  if (req.hosts.length === 0) {
    opts.log?.('warning', `the certificate for ${JSON.stringify(req.CN)} has no "hosts", so it carries no subject alternative names: TLS clients will not accept it as a server certificate (fine for a client-only certificate)`);
  }
  return { cert: issued.pem, csr: csrPem, key: privateKeyPem(key) };
}
