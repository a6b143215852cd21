// What --auth-token configures, and the interface both token kinds implement.
//
//   simple                  random tokens kept in each member's memory, with a TTL that
//                           every use renews (--auth-token-ttl)
//   jwt,sign-method=RS256,pub-key=...,priv-key=...,ttl=10m
//                           signed tokens carrying the user name and auth revision
//   "" (empty)              etcd's "nop": no token is ever issued
//
// Parsing follows etcd: comma-separated, the first item is the kind, the rest are
// key=value pairs (a value may not contain '='; a key may not repeat).
import fs from 'node:fs';
import { parseGoDuration } from '../config/goparse.js';
import { AuthConfigErrors } from './errors.js';

export interface AuthInfo {
  readonly username: string;
  readonly revision: number;
}

export const JWT_SIGN_METHODS = [
  'RS256', 'RS384', 'RS512',
  'PS256', 'PS384', 'PS512',
  'ES256', 'ES384', 'ES512',
  'HS256', 'HS384', 'HS512',
] as const;
export type JwtSignMethod = (typeof JWT_SIGN_METHODS)[number];

export interface JwtTokenConfig {
  readonly kind: 'jwt';
  readonly signMethod: JwtSignMethod;
  /** PEM (or the raw secret for HS*), as read from the files */
  readonly publicKey?: Buffer;
  readonly privateKey?: Buffer;
  /** etcd's default: 5 minutes */
  readonly ttlMs: number;
}

export type TokenConfig = { readonly kind: 'simple' } | { readonly kind: 'nop' } | JwtTokenConfig;

export const DEFAULT_JWT_TTL_MS = 5 * 60 * 1000;

const KNOWN_JWT_OPTIONS = new Set(['sign-method', 'pub-key', 'priv-key', 'ttl']);

/**
 * Parses etcd's --auth-token value, reading the key files it names. Throws
 * AuthConfigError with etcd's text. `warn` hears about options etcd ignores.
 */
export function parseAuthTokenOption(text: string, warn?: (msg: string, fields: Record<string, unknown>) => void): TokenConfig {
  const items = text.split(',');
  const kind = items[0]!;
  const opts = new Map<string, string>();
  for (const item of items.slice(1)) {
    const pair = item.split('=');
    if (pair.length !== 2 || opts.has(pair[0]!)) throw AuthConfigErrors.invalidAuthOpts();
    opts.set(pair[0]!, pair[1]!);
  }
  switch (kind) {
    case 'simple':
      return { kind: 'simple' };
    case '':
      return { kind: 'nop' };
    case 'jwt': {
      const unknown = [...opts.keys()].filter((k) => !KNOWN_JWT_OPTIONS.has(k));
      if (unknown.length > 0) warn?.('unknown JWT options', { keys: unknown });
      return parseJwtOptions(opts);
    }
    default:
      throw AuthConfigErrors.invalidAuthOpts();
  }
}

function parseJwtOptions(opts: Map<string, string>): JwtTokenConfig {
  // etcd reports every failure of this step (bad ttl, unreadable file, unknown
  // sign-method) as "invalid auth options"
  let ttlMs = DEFAULT_JWT_TTL_MS;
  const ttl = opts.get('ttl') ?? '';
  if (ttl !== '') {
    const d = parseGoDuration(ttl);
    if (!d.ok) throw AuthConfigErrors.invalidAuthOpts();
    ttlMs = d.ns / 1e6;
  }
  const readKey = (name: string): Buffer | undefined => {
    const file = opts.get(name) ?? '';
    if (file === '') return undefined;
    try {
      return fs.readFileSync(file);
    } catch {
      throw AuthConfigErrors.invalidAuthOpts();
    }
  };
  const publicKey = readKey('pub-key');
  const privateKey = readKey('priv-key');
  const method = opts.get('sign-method') ?? '';
  if (!(JWT_SIGN_METHODS as readonly string[]).includes(method)) throw AuthConfigErrors.invalidAuthOpts();
  return {
    kind: 'jwt',
    signMethod: method as JwtSignMethod,
    ttlMs,
    ...(publicKey ? { publicKey } : {}),
    ...(privateKey ? { privateKey } : {}),
  };
}

/** One kind of token: issues them at Authenticate, resolves them to a user on each call. */
export interface TokenProvider {
  readonly kind: TokenConfig['kind'];
  /** auth was enabled (or found enabled at load) */
  enable(): void;
  /** auth was disabled: every token issued so far stops working */
  disable(): void;
  /** the user was deleted or got a new password */
  invalidateUser(username: string): void;
  /** what Authenticate proposes through the log: simple's random prefix, '' otherwise */
  genTokenPrefix(): string;
  /** issues a token at apply time; `index` is the log index of the Authenticate entry */
  assign(username: string, revision: number, prefix: string, index: number): string;
  /** the caller behind a token, or undefined when the token is unknown, expired or forged */
  info(token: string, currentRevision: number): AuthInfo | undefined;
  /** stops timers, forgets tokens */
  close(): void;
}
