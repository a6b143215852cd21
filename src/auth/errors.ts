// The auth module's failures, as domain errors: a kind and etcd's message (clients match
// on these strings: clientv3 re-authenticates on `invalid auth token` and `revision of
// auth store is old`). The API edge (src/api/errors.ts) maps a kind to its gRPC status.

const MESSAGES = {
  rootUserNotExist: 'etcdserver: root user does not exist',
  rootRoleNotExist: 'etcdserver: root user does not have root role',
  userAlreadyExist: 'etcdserver: user name already exists',
  userEmpty: 'etcdserver: user name is empty',
  userNotFound: 'etcdserver: user name not found',
  roleAlreadyExist: 'etcdserver: role name already exists',
  roleNotFound: 'etcdserver: role name not found',
  roleEmpty: 'etcdserver: role name is empty',
  authFailed: 'etcdserver: authentication failed, invalid user ID or password',
  permissionDenied: 'etcdserver: permission denied',
  roleNotGranted: 'etcdserver: role is not granted to the user',
  permissionNotGranted: 'etcdserver: permission is not granted to the role',
  authNotEnabled: 'etcdserver: authentication is not enabled',
  invalidAuthToken: 'etcdserver: invalid auth token',
  invalidAuthMgmt: 'etcdserver: invalid auth management',
  authOldRevision: 'etcdserver: revision of auth store is old',
  /** etcd 3.5's answer to a grant without a permission (3.4 crashes on a nil dereference) */
  permissionNotGiven: 'etcdserver: permission not given',
  // etcd has no gRPC mapping for these two: its togRPCError answers Unknown with the auth
  // package's own text
  noPasswordUser: 'auth: authentication failed, password was given for no password user',
  verifyOnly: 'auth: token signing attempted with verify-only key',
} as const;

export type AuthErrorKind = keyof typeof MESSAGES;

export class AuthError extends Error {
  constructor(readonly kind: AuthErrorKind) {
    super(MESSAGES[kind]);
    this.name = 'AuthError';
  }
}

export const AuthErrors = Object.fromEntries(
  (Object.keys(MESSAGES) as AuthErrorKind[]).map((kind) => [kind, () => new AuthError(kind)]),
) as { readonly [K in AuthErrorKind]: () => AuthError };

/** A bad --auth-token (or key file): the member must refuse to start, with etcd's text. */
export class AuthConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AuthConfigError';
  }
}

export const AuthConfigErrors = {
  invalidAuthOpts: () => new AuthConfigError('auth: invalid auth options'),
  invalidAuthMethod: () => new AuthConfigError('auth: invalid auth signature method'),
  missingKey: () => new AuthConfigError('auth: missing key data'),
  keyMismatch: () => new AuthConfigError("auth: public and private keys don't match"),
} as const;
