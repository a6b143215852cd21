// The auth errors clients see: etcd's gRPC codes and messages (clients match on these
// strings: clientv3 re-authenticates on `invalid auth token` and `revision of auth store
// is old`). The server's catalog (src/server/errors.ts) has none of them yet; they live
// here so the auth module stays a leaf.
import { GrpcCode, GrpcError } from '../api/grpc/status.js';

const e = (code: GrpcCode, message: string) => (): GrpcError => new GrpcError(code, message);

export const AuthErrors = {
  rootUserNotExist: e(GrpcCode.FailedPrecondition, 'etcdserver: root user does not exist'),
  rootRoleNotExist: e(GrpcCode.FailedPrecondition, 'etcdserver: root user does not have root role'),
  userAlreadyExist: e(GrpcCode.FailedPrecondition, 'etcdserver: user name already exists'),
  userEmpty: e(GrpcCode.InvalidArgument, 'etcdserver: user name is empty'),
  userNotFound: e(GrpcCode.FailedPrecondition, 'etcdserver: user name not found'),
  roleAlreadyExist: e(GrpcCode.FailedPrecondition, 'etcdserver: role name already exists'),
  roleNotFound: e(GrpcCode.FailedPrecondition, 'etcdserver: role name not found'),
  roleEmpty: e(GrpcCode.InvalidArgument, 'etcdserver: role name is empty'),
  authFailed: e(GrpcCode.InvalidArgument, 'etcdserver: authentication failed, invalid user ID or password'),
  permissionDenied: e(GrpcCode.PermissionDenied, 'etcdserver: permission denied'),
  roleNotGranted: e(GrpcCode.FailedPrecondition, 'etcdserver: role is not granted to the user'),
  permissionNotGranted: e(GrpcCode.FailedPrecondition, 'etcdserver: permission is not granted to the role'),
  authNotEnabled: e(GrpcCode.FailedPrecondition, 'etcdserver: authentication is not enabled'),
  invalidAuthToken: e(GrpcCode.Unauthenticated, 'etcdserver: invalid auth token'),
  invalidAuthMgmt: e(GrpcCode.InvalidArgument, 'etcdserver: invalid auth management'),
  authOldRevision: e(GrpcCode.InvalidArgument, 'etcdserver: revision of auth store is old'),
  /** etcd 3.5's answer to a grant without a permission (3.4 crashes on a nil dereference) */
  permissionNotGiven: e(GrpcCode.InvalidArgument, 'etcdserver: permission not given'),
  // etcd has no gRPC mapping for these two: its togRPCError turns them into Unknown with
  // the auth package's own text
  noPasswordUser: e(GrpcCode.Unknown, 'auth: authentication failed, password was given for no password user'),
  verifyOnly: e(GrpcCode.Unknown, 'auth: token signing attempted with verify-only key'),
} as const;

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
