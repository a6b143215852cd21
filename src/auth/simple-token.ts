// etcd's "simple" tokens: 16 random letters, a dot, and the log index of the
// Authenticate entry that issued them ("qHxBFcNwEjWJkLXe.42"). The letters are drawn by
// the member that received Authenticate and travel through the log, so every member
// registers the same token; each keeps it in memory only, for --auth-token-ttl seconds
// after its last use. Restarts, auth disable, deleting the user or changing its password
// forget it.
import { randomInt } from 'node:crypto';
import { AuthErrors } from './errors.js';
import type { AuthInfo, TokenProvider } from './tokens.js';

const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
export const SIMPLE_TOKEN_PREFIX_LENGTH = 16;
export const DEFAULT_SIMPLE_TOKEN_TTL_SEC = 300;
/** expired tokens are swept at most this often (etcd's ticker resolution) */
const SWEEP_INTERVAL_MS = 1000;

export function genSimpleTokenPrefix(): string {
  let s = '';
  for (let i = 0; i < SIMPLE_TOKEN_PREFIX_LENGTH; i++) s += LETTERS[randomInt(LETTERS.length)];
  return s;
}

/**
 * The log index a simple token was issued at, or undefined if it is not shaped like one.
 * A member that has not applied that index yet does not know the token: wait until it
 * has (etcd's indexWaiter) before resolving it.
 */
export function simpleTokenIndex(token: string): number | undefined {
  const parts = token.split('.');
  if (parts.length !== 2 || !/^[0-9]+$/.test(parts[1]!)) return undefined;
  const n = Number(parts[1]);
  return Number.isSafeInteger(n) ? n : undefined;
}

interface Entry {
  username: string;
  expiresAtMs: number;
}

export class SimpleTokens implements TokenProvider {
  readonly kind = 'simple';
  private readonly tokens = new Map<string, Entry>();
  private enabled = false;
  private lastSweepMs = 0;

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number,
  ) {}

  enable(): void {
    this.enabled = true;
  }

  disable(): void {
    this.enabled = false;
    this.tokens.clear();
  }

  close(): void {
    this.tokens.clear();
  }

  invalidateUser(username: string): void {
    for (const [token, e] of this.tokens) if (e.username === username) this.tokens.delete(token);
  }

  genTokenPrefix(): string {
    return genSimpleTokenPrefix();
  }

  assign(username: string, _revision: number, prefix: string, index: number): string {
    const token = `${prefix}.${index}`;
    if (!this.enabled) return token; // etcd: no keeper while disabled, nothing is registered
    const now = this.now();
    this.sweep(now);
    this.tokens.set(token, { username, expiresAtMs: now + this.ttlMs });
    return token;
  }

  info(token: string, currentRevision: number): AuthInfo | undefined {
    const e = this.tokens.get(token);
    if (!e) return undefined;
    const now = this.now();
    if (now > e.expiresAtMs) {
      this.tokens.delete(token);
      return undefined;
    }
    e.expiresAtMs = now + this.ttlMs;
    return { username: e.username, revision: currentRevision };
  }

  get size(): number {
    return this.tokens.size;
  }

  private sweep(now: number): void {
    if (now - this.lastSweepMs < SWEEP_INTERVAL_MS) return;
    this.lastSweepMs = now;
    for (const [token, e] of this.tokens) if (now > e.expiresAtMs) this.tokens.delete(token);
  }
}

/** etcd's "nop" provider (--auth-token=""): issues nothing, accepts nothing. */
export class NopTokens implements TokenProvider {
  readonly kind = 'nop';
  enable(): void {}
  disable(): void {}
  close(): void {}
  invalidateUser(): void {}
  genTokenPrefix(): string {
    return '';
  }
  assign(): string {
    throw AuthErrors.authFailed();
  }
  info(): AuthInfo | undefined {
    return undefined;
  }
}
