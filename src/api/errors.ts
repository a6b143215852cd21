// The one mapping from what the layers below throw to the gRPC status a client sees.
// Server, auth, mvcc, lease and coordination raise domain errors (a kind and etcd's
// message); this table gives each kind etcd's code. Anything unknown answers Unknown
// with its text, as etcd's togRPCError does.
import { GrpcCode, GrpcError } from './grpc/status.js';
import { ServerError, type ServerErrorKind } from '../server/errors.js';
import { AuthError, type AuthErrorKind } from '../auth/errors.js';
import { MvccError } from '../mvcc/errors.js';

const SERVER_CODES: Record<ServerErrorKind, GrpcCode> = {
  emptyKey: GrpcCode.InvalidArgument,
  keyNotFound: GrpcCode.InvalidArgument,
  valueProvided: GrpcCode.InvalidArgument,
  leaseProvided: GrpcCode.InvalidArgument,
  tooManyOps: GrpcCode.InvalidArgument,
  invalidSortOption: GrpcCode.InvalidArgument,
  duplicateKey: GrpcCode.InvalidArgument,
  compacted: GrpcCode.OutOfRange,
  futureRev: GrpcCode.OutOfRange,
  noSpace: GrpcCode.ResourceExhausted,
  leaseNotFound: GrpcCode.NotFound,
  leaseExist: GrpcCode.FailedPrecondition,
  leaseTTLTooLarge: GrpcCode.OutOfRange,
  memberExist: GrpcCode.FailedPrecondition,
  peerURLExist: GrpcCode.FailedPrecondition,
  memberNotEnoughStarted: GrpcCode.FailedPrecondition,
  memberBadURLs: GrpcCode.InvalidArgument,
  memberNotFound: GrpcCode.NotFound,
  memberNotLearner: GrpcCode.FailedPrecondition,
  learnerNotReady: GrpcCode.FailedPrecondition,
  tooManyLearners: GrpcCode.FailedPrecondition,
  requestTooLarge: GrpcCode.InvalidArgument,
  tooManyRequests: GrpcCode.ResourceExhausted,
  noLeader: GrpcCode.Unavailable,
  notLeader: GrpcCode.FailedPrecondition,
  leaderChanged: GrpcCode.Unavailable,
  stopped: GrpcCode.Unavailable,
  timeout: GrpcCode.Unavailable,
  leaderTransferTimeout: GrpcCode.Unavailable,
  unhealthy: GrpcCode.Unavailable,
  corrupt: GrpcCode.DataLoss,
  notSupportedForLearner: GrpcCode.Unavailable,
  badLeaderTransferee: GrpcCode.FailedPrecondition,
  canceled: GrpcCode.Canceled,
  deadlineExceeded: GrpcCode.DeadlineExceeded,
};

const AUTH_CODES: Record<AuthErrorKind, GrpcCode> = {
  rootUserNotExist: GrpcCode.FailedPrecondition,
  rootRoleNotExist: GrpcCode.FailedPrecondition,
  userAlreadyExist: GrpcCode.FailedPrecondition,
  userEmpty: GrpcCode.InvalidArgument,
  userNotFound: GrpcCode.FailedPrecondition,
  roleAlreadyExist: GrpcCode.FailedPrecondition,
  roleNotFound: GrpcCode.FailedPrecondition,
  roleEmpty: GrpcCode.InvalidArgument,
  authFailed: GrpcCode.InvalidArgument,
  permissionDenied: GrpcCode.PermissionDenied,
  roleNotGranted: GrpcCode.FailedPrecondition,
  permissionNotGranted: GrpcCode.FailedPrecondition,
  authNotEnabled: GrpcCode.FailedPrecondition,
  invalidAuthToken: GrpcCode.Unauthenticated,
  invalidAuthMgmt: GrpcCode.InvalidArgument,
  authOldRevision: GrpcCode.InvalidArgument,
  permissionNotGiven: GrpcCode.InvalidArgument,
  noPasswordUser: GrpcCode.Unknown,
  verifyOnly: GrpcCode.Unknown,
};

export function toGrpcError(err: unknown): GrpcError {
  if (err instanceof GrpcError) return err;
  if (err instanceof ServerError) return new GrpcError(SERVER_CODES[err.kind], err.message);
  if (err instanceof AuthError) return new GrpcError(AUTH_CODES[err.kind], err.message);
  // the store's own text lacks etcd's "etcdserver: " prefix: the server's kind carries it
  if (err instanceof MvccError) return toGrpcError(new ServerError(err.kind === 'compacted' ? 'compacted' : 'futureRev'));
  const message = err instanceof Error ? err.message : String(err);
  return new GrpcError(GrpcCode.Unknown, message);
}

/** Awaits `p` and turns whatever it throws into the gRPC error etcd would answer. */
export async function mapErrors<T>(p: Promise<T> | T): Promise<T> {
  try {
    return await p;
  } catch (err) {
    throw toGrpcError(err);
  }
}
