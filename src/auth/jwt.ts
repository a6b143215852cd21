// etcd's JWT tokens: header {"alg","typ":"JWT"}, claims {"exp","revision","username"},
// signed with the key from --auth-token (RS*, PS*, ES*, or HS* with the private key file
// as the secret). Any member holding the key can verify a token, so nothing is kept in
// memory; a token names the auth revision it was issued at, and requests carrying an older
// one get "revision of auth store is old" (clients then authenticate again).
// A public key alone makes the member verify-only: it accepts tokens but issues none.
import {
  constants,
  createHmac,
  createPrivateKey,
  createPublicKey,
  sign as cryptoSign,
  timingSafeEqual,
  verify as cryptoVerify,
  type KeyObject,
} from 'node:crypto';
import { AuthConfigError, AuthConfigErrors, AuthErrors } from './errors.js';
import type { AuthInfo, JwtSignMethod, JwtTokenConfig, TokenProvider } from './tokens.js';

type Family = 'RS' | 'PS' | 'ES' | 'HS';

const EC_CURVES: Record<string, { curve: string; sigBytes: number }> = {
  ES256: { curve: 'prime256v1', sigBytes: 64 },
  ES384: { curve: 'secp384r1', sigBytes: 96 },
  ES512: { curve: 'secp521r1', sigBytes: 132 },
};

function family(m: JwtSignMethod): Family {
  return m.slice(0, 2) as Family;
}

function hashOf(m: JwtSignMethod): string {
  return `sha${m.slice(2)}`;
}

function b64url(b: Buffer | string): string {
  return Buffer.from(b).toString('base64url');
}

interface Keys {
  /** absent: verify-only */
  sign?: KeyObject | Buffer;
  verify: KeyObject | Buffer;
}

function loadAsymmetric(cfg: JwtTokenConfig, keyType: 'rsa' | 'ec'): Keys {
  const kindName = keyType === 'rsa' ? 'RSA' : 'ECDSA';
  let priv: KeyObject | undefined;
  let pub: KeyObject | undefined;
  if (cfg.privateKey && cfg.privateKey.length > 0) {
    try {
      priv = createPrivateKey(cfg.privateKey);
    } catch {
      throw new AuthConfigError('Invalid Key: Key must be PEM encoded PKCS1 or PKCS8 private key');
    }
    if (priv.asymmetricKeyType !== keyType) throw new AuthConfigError(`Key is not a valid ${kindName} private key`);
  }
  if (cfg.publicKey && cfg.publicKey.length > 0) {
    try {
      pub = createPublicKey(cfg.publicKey); // SPKI, PKCS#1 or an X.509 certificate
    } catch {
      throw new AuthConfigError('Invalid Key: Key must be a PEM encoded PKCS1 or PKCS8 key');
    }
    if (pub.asymmetricKeyType !== keyType) throw new AuthConfigError(`Key is not a valid ${kindName} public key`);
  }
  if (!priv && !pub) throw AuthConfigErrors.missingKey();
  if (priv && pub) {
    const derived = createPublicKey(priv).export({ type: 'spki', format: 'der' });
    if (!derived.equals(pub.export({ type: 'spki', format: 'der' }))) throw AuthConfigErrors.keyMismatch();
  }
  const verify = priv ? createPublicKey(priv) : pub!;
  if (keyType === 'ec') {
    const want = EC_CURVES[cfg.signMethod]!.curve;
    if (verify.asymmetricKeyDetails?.namedCurve !== want) {
      throw new AuthConfigError(`auth: ${cfg.signMethod} needs a key on curve ${want}`);
    }
  }
  return priv ? { sign: priv, verify } : { verify };
}

function loadKeys(cfg: JwtTokenConfig): Keys {
  switch (family(cfg.signMethod)) {
    case 'HS':
      if (!cfg.privateKey || cfg.privateKey.length === 0) throw AuthConfigErrors.missingKey();
      return { sign: cfg.privateKey, verify: cfg.privateKey };
    case 'ES':
      return loadAsymmetric(cfg, 'ec');
    default:
      return loadAsymmetric(cfg, 'rsa');
  }
}

export class JwtTokens implements TokenProvider {
  readonly kind = 'jwt';
  readonly signMethod: JwtSignMethod;
  private readonly keys: Keys;
  private readonly header: string;

  /** Throws AuthConfigError for missing, unreadable or mismatched keys. */
  constructor(
    private readonly cfg: JwtTokenConfig,
    private readonly now: () => number,
  ) {
    this.signMethod = cfg.signMethod;
    this.keys = loadKeys(cfg);
    this.header = b64url(JSON.stringify({ alg: cfg.signMethod, typ: 'JWT' }));
  }

  get verifyOnly(): boolean {
    return this.keys.sign === undefined;
  }

  enable(): void {}
  disable(): void {}
  close(): void {}
  invalidateUser(): void {}
  genTokenPrefix(): string {
    return '';
  }

  assign(username: string, revision: number): string {
    if (!this.keys.sign) throw AuthErrors.verifyOnly();
    const exp = Math.floor((this.now() + this.cfg.ttlMs) / 1000);
    // the claims in the order Go's encoding/json writes a map: sorted keys
    const signingInput = `${this.header}.${b64url(JSON.stringify({ exp, revision, username }))}`;
    return `${signingInput}.${b64url(this.signBytes(signingInput, this.keys.sign))}`;
  }

  info(token: string): AuthInfo | undefined {
    const parts = token.split('.');
    if (parts.length !== 3) return undefined;
    const header = parseJsonObject(parts[0]!);
    if (!header || header['alg'] !== this.signMethod) return undefined;
    const sig = Buffer.from(parts[2]!, 'base64url');
    if (!this.verifyBytes(`${parts[0]}.${parts[1]}`, sig)) return undefined;
    const claims = parseJsonObject(parts[1]!);
    if (!claims) return undefined;
    const { username, revision } = claims;
    if (typeof username !== 'string' || typeof revision !== 'number' || !Number.isFinite(revision)) return undefined;
    if (!this.timeClaimsValid(claims)) return undefined;
    return { username, revision: Math.trunc(revision) };
  }

  /** exp, iat and nbf as golang-jwt checks them, at whole seconds */
  private timeClaimsValid(claims: Record<string, unknown>): boolean {
    const nowSec = Math.floor(this.now() / 1000);
    const num = (k: string): number | undefined | null => {
      const v = claims[k];
      if (v === undefined) return undefined;
      return typeof v === 'number' && Number.isFinite(v) ? Math.trunc(v) : null;
    };
    const exp = num('exp');
    const iat = num('iat');
    const nbf = num('nbf');
    if (exp === null || iat === null || nbf === null) return false;
    if (exp !== undefined && nowSec > exp) return false;
    if (iat !== undefined && nowSec < iat) return false;
    if (nbf !== undefined && nowSec < nbf) return false;
    return true;
  }

  private signBytes(input: string, key: KeyObject | Buffer): Buffer {
    const hash = hashOf(this.signMethod);
    const data = Buffer.from(input);
    switch (family(this.signMethod)) {
      case 'HS':
        return createHmac(hash, key as Buffer).update(data).digest();
      case 'RS':
        return cryptoSign(hash, data, key as KeyObject);
      case 'PS':
        return cryptoSign(hash, data, {
          key: key as KeyObject,
          padding: constants.RSA_PKCS1_PSS_PADDING,
          saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
        });
      case 'ES':
        return cryptoSign(hash, data, { key: key as KeyObject, dsaEncoding: 'ieee-p1363' });
    }
  }

  private verifyBytes(input: string, sig: Buffer): boolean {
    const hash = hashOf(this.signMethod);
    const data = Buffer.from(input);
    const key = this.keys.verify;
    try {
      switch (family(this.signMethod)) {
        case 'HS': {
          const want = createHmac(hash, key as Buffer).update(data).digest();
          return sig.length === want.length && timingSafeEqual(sig, want);
        }
        case 'RS':
          return cryptoVerify(hash, data, key as KeyObject, sig);
        case 'PS':
          return cryptoVerify(hash, data, { key: key as KeyObject, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO }, sig);
        case 'ES':
          if (sig.length !== EC_CURVES[this.signMethod]!.sigBytes) return false;
          return cryptoVerify(hash, data, { key: key as KeyObject, dsaEncoding: 'ieee-p1363' }, sig);
      }
    } catch {
      return false;
    }
  }
}

function parseJsonObject(segment: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
