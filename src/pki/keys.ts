// Private keys with node:crypto: generation as cfssl's key request asks ({algo, size}),
// PEM in the encodings cfssl writes (PKCS#1 "RSA PRIVATE KEY", SEC 1 "EC PRIVATE KEY"),
// reading any PEM key OpenSSL and Go write, and the signature algorithm cfssl pairs with a key.

import { createPrivateKey, createPublicKey, generateKeyPair, webcrypto, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { PkiError } from './errors.js';
import { generateRsaKey } from './rsa-keygen.js';

const generateKeyPairAsync = promisify(generateKeyPair);

/** cfssl's key request: {"algo": "rsa"|"ecdsa", "size": bits or curve size}. */
export interface KeySpec {
  algo: string;
  size: number;
}

/** cfssl's default when a request has no "key": ECDSA on P-256. */
export const DEFAULT_KEY: KeySpec = { algo: 'ecdsa', size: 256 };

const CURVES: Record<number, string> = { 256: 'P-256', 384: 'P-384', 521: 'P-521' };
const CURVE_OF_NODE_NAME: Record<string, string> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };

export const MIN_RSA_BITS = 2048;
export const MAX_RSA_BITS = 8192;

/** Refuses a key request cfssl would refuse, saying what to write instead. */
export function checkKeySpec(spec: KeySpec, where: string): void {
  if (spec.algo === 'rsa') {
    if (spec.size < MIN_RSA_BITS) throw new PkiError(`${where}: RSA key size ${spec.size} is too weak; use "size": 2048, 3072 or 4096`);
    if (spec.size > MAX_RSA_BITS) throw new PkiError(`${where}: RSA key size ${spec.size} is too large; use "size": 2048, 3072 or 4096`);
    return;
  }
  if (spec.algo === 'ecdsa') {
    if (CURVES[spec.size] === undefined) {
      throw new PkiError(`${where}: ECDSA key size ${spec.size} names no supported curve; use "size": 256 (P-256), 384 (P-384) or 521 (P-521)`);
    }
    return;
  }
  throw new PkiError(`${where}: unsupported key algorithm ${JSON.stringify(spec.algo)}; use "algo": "rsa" (size 2048, 3072 or 4096) or "ecdsa" (size 256, 384 or 521)`);
}

/** A new private key as the request asks. RSA keys use the public exponent 65537, as Go's do. */
export async function generateKey(spec: KeySpec, where: string): Promise<KeyObject> {
  checkKeySpec(spec, where);
  // two OpenSSL primes, as Go builds its keys: a third of generateKeyPair's CPU (rsa-keygen.ts)
  if (spec.algo === 'rsa') return generateRsaKey(spec.size);
  const { privateKey } = await generateKeyPairAsync('ec', { namedCurve: CURVES[spec.size]! });
  return privateKey;
}

/** The key as cfssl writes it: PKCS#1 for RSA, SEC 1 for ECDSA, PKCS#8 for anything else. */
export function privateKeyPem(key: KeyObject): string {
  if (key.asymmetricKeyType === 'rsa') return key.export({ type: 'pkcs1', format: 'pem' }).toString();
  if (key.asymmetricKeyType === 'ec') return key.export({ type: 'sec1', format: 'pem' }).toString();
  return key.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** Reads a PEM private key (PKCS#1, SEC 1 or PKCS#8). `file` names it in errors. */
export function parsePrivateKeyPem(pem: string | Buffer, file: string): KeyObject {
  const text = pem.toString();
  if (!/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(text)) {
    const what = /-----BEGIN CERTIFICATE-----/.test(text) ? 'a certificate' : 'no PEM private key';
    throw new PkiError(`${file} holds ${what}, not a private key; pass the NAME-key.pem file that cfssljson wrote`);
  }
  if (/ENCRYPTED/.test(text)) throw new PkiError(`${file} is an encrypted private key; decrypt it first (openssl pkey -in ${file} -out plain-key.pem)`);
  try {
    return createPrivateKey({ key: text, format: 'pem' });
  } catch (e) {
    throw new PkiError(`${file} holds a private key that cannot be read (${(e as Error).message}); regenerate it`);
  }
}

/** The DER SubjectPublicKeyInfo of a private or public key. */
export function spkiDer(key: KeyObject): Buffer {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return pub.export({ type: 'spki', format: 'der' });
}

export interface KeyDescription {
  /** cfssl's algo names: "rsa", "ecdsa", or node's name for others */
  algo: string;
  /** RSA modulus bits or curve bits */
  size: number;
  /** "RSA 2048", "ECDSA P-256" */
  label: string;
}

export function describeKey(key: KeyObject): KeyDescription {
  const d = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa') {
    const size = d.modulusLength ?? 0;
    return { algo: 'rsa', size, label: `RSA ${size} bits` };
  }
  if (key.asymmetricKeyType === 'ec') {
    const curve = CURVE_OF_NODE_NAME[d.namedCurve ?? ''] ?? d.namedCurve ?? 'unknown curve';
    const size = Number(/\d+/.exec(curve)?.[0] ?? 0);
    return { algo: 'ecdsa', size, label: `ECDSA ${curve}` };
  }
  const t = key.asymmetricKeyType ?? 'unknown';
  return { algo: t, size: 0, label: t.toUpperCase() };
}

export interface SigningAlgorithm {
  /** for WebCrypto import and sign */
  params: webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams | webcrypto.Algorithm;
  hash: 'SHA-256' | 'SHA-384' | 'SHA-512' | undefined;
  /** Go's name for it, as cfssl certinfo prints: "SHA256WithRSA", "ECDSAWithSHA384" */
  goName: string;
}

/** The signature algorithm cfssl signs with for a key: the hash grows with the key. */
export function signingAlgorithmFor(key: KeyObject): SigningAlgorithm {
  const desc = describeKey(key);
  if (desc.algo === 'rsa') {
    const hash = desc.size >= 4096 ? 'SHA-512' : desc.size >= 3072 ? 'SHA-384' : 'SHA-256';
    return { params: { name: 'RSASSA-PKCS1-v1_5', hash }, hash, goName: `${hash.replace('-', '')}WithRSA` };
  }
  if (desc.algo === 'ecdsa') {
    const hash = desc.size === 521 ? 'SHA-512' : desc.size === 384 ? 'SHA-384' : 'SHA-256';
    return { params: { name: 'ECDSA', namedCurve: `P-${desc.size}` }, hash, goName: `ECDSAWith${hash.replace('-', '')}` };
  }
  if (desc.algo === 'ed25519') return { params: { name: 'Ed25519' }, hash: undefined, goName: 'Ed25519' };
  throw new PkiError(`a ${desc.label} key cannot sign certificates here; use an RSA or ECDSA key`);
}

export interface CryptoKeyPair {
  privateKey: webcrypto.CryptoKey;
  publicKey: webcrypto.CryptoKey;
}

/** The key as WebCrypto keys for @peculiar/x509, set up to sign with cfssl's algorithm. */
export async function toCryptoKeys(key: KeyObject): Promise<CryptoKeyPair> {
  const alg = signingAlgorithmFor(key);
  const pkcs8 = key.export({ type: 'pkcs8', format: 'der' });
  const privateKey = await webcrypto.subtle.importKey('pkcs8', pkcs8, alg.params, false, ['sign']);
  const publicKey = await webcrypto.subtle.importKey('spki', spkiDer(key), alg.params, true, ['verify']);
  return { privateKey, publicKey };
}

/** True when the private key is the other half of the public key in `spki`. */
export function keyMatchesSpki(key: KeyObject, spki: Buffer): boolean {
  return spkiDer(key).equals(spki);
}
