// The auth store's fixed names and small pieces: the root user and role, bcrypt's bounds,
// the keys of the `auth` bucket, the comparisons etcd's auth uses, and how a caller is
// read from a log entry's header or a call's metadata.
import * as authpb from '../proto/authpb.js';
import { permissionInterval, RangeSet, type KeyInterval } from './range-perms.js';
import type { AuthInfo } from './tokens.js';

export const ROOT_USER = 'root';
export const ROOT_ROLE = 'root';

/** bcrypt's bounds and etcd's default (--bcrypt-cost) */
export const BCRYPT_MIN_COST = 4;
export const BCRYPT_MAX_COST = 31;
export const DEFAULT_BCRYPT_COST = 10;

/**
 * etcd stores hashes made by Go's bcrypt, which writes the "$2a$" prefix. Our bcrypt binding
 * (pinned to 1.10.7 because later releases lack prebuilt binaries for most platforms, which
 * breaks `npm ci`) writes "$2y$"; for passwords under 255 bytes the two versions compute the
 * same hash, so only the label changes and a snapshot's hashes read the same as etcd's.
 */
export function asGoBcryptVersion(hashed: string): string {
  return hashed.startsWith('$2y$') || hashed.startsWith('$2b$') ? `$2a$${hashed.slice(4)}` : hashed;
}

export const ENABLED_KEY = Buffer.from('authEnabled');
export const REVISION_KEY = Buffer.from('authRevision');
export const ENABLED = Buffer.from([1]);
export const DISABLED = Buffer.from([0]);

export interface UserPerms {
  read: RangeSet;
  write: RangeSet;
}

export type PermKind = 'read' | 'write';

export function utf8Compare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

export function copyBytes(b: Uint8Array): Uint8Array {
  return Uint8Array.from(b);
}

export function hasRootRole(u: authpb.User): boolean {
  return u.roles.includes(ROOT_ROLE);
}

/** etcd 3.5's isValidPermissionRange: a key, and an end after it or open ("\0..."). */
export function isValidPermissionRange(key: Uint8Array, rangeEnd: Uint8Array): boolean {
  if (key.length === 0) return false;
  if (rangeEnd.length === 0) return true;
  if (Buffer.compare(Buffer.from(key), Buffer.from(rangeEnd)) < 0) return true;
  return rangeEnd[0] === 0;
}

/** The caller recorded in a log entry's header (etcd's RequestHeader.username/auth_revision). */
export function callerFromHeader(h: { username: string; authRevision: number }): AuthInfo | undefined {
  return h.username === '' && h.authRevision === 0 ? undefined : { username: h.username, revision: h.authRevision };
}

/** The token of a call: gRPC metadata `token`, or the gateway's `authorization` header. */
export function tokenFromMetadata(md: Record<string, string | string[] | undefined>): string | undefined {
  const v = md['token'] ?? md['authorization'];
  return Array.isArray(v) ? v[0] : v;
}


/** The key ranges a user may read and write, through its roles (etcd's getMergedPerms). */
export function userPerms(user: authpb.User, roleOf: (name: string) => authpb.Role | undefined): UserPerms {
  const read: KeyInterval[] = [];
  const write: KeyInterval[] = [];
  const T = authpb.Permission_Type;
  for (const roleName of user.roles) {
    for (const p of roleOf(roleName)?.keyPermission ?? []) {
      const iv = permissionInterval(p.key, p.range_end);
      if (!iv) continue;
      if (p.permType === T.READ || p.permType === T.READWRITE) read.push(iv);
      if (p.permType === T.WRITE || p.permType === T.READWRITE) write.push(iv);
    }
  }
  return { read: RangeSet.of(read), write: RangeSet.of(write) };
}
