// The one place where internal failures become what clients see: gRPC status codes
// with etcd's exact messages (clients match on these strings).
import { GrpcCode, GrpcError } from '../api/grpc/status.js';
import { MvccError } from '../mvcc/errors.js';

const e = (code: GrpcCode, message: string) => (): GrpcError => new GrpcError(code, message);

export const Errors = {
  emptyKey: e(GrpcCode.InvalidArgument, 'etcdserver: key is not provided'),
  keyNotFound: e(GrpcCode.InvalidArgument, 'etcdserver: key not found'),
  valueProvided: e(GrpcCode.InvalidArgument, 'etcdserver: value is provided'),
  leaseProvided: e(GrpcCode.InvalidArgument, 'etcdserver: lease is provided'),
  tooManyOps: e(GrpcCode.InvalidArgument, 'etcdserver: too many operations in txn request'),
  invalidSortOption: e(GrpcCode.InvalidArgument, 'etcdserver: invalid sort option'),
  duplicateKey: e(GrpcCode.InvalidArgument, 'etcdserver: duplicate key given in txn request'),
  compacted: e(GrpcCode.OutOfRange, 'etcdserver: mvcc: required revision has been compacted'),
  futureRev: e(GrpcCode.OutOfRange, 'etcdserver: mvcc: required revision is a future revision'),
  noSpace: e(GrpcCode.ResourceExhausted, 'etcdserver: mvcc: database space exceeded'),
  leaseNotFound: e(GrpcCode.NotFound, 'etcdserver: requested lease not found'),
  leaseExist: e(GrpcCode.FailedPrecondition, 'etcdserver: lease already exists'),
  leaseTTLTooLarge: e(GrpcCode.OutOfRange, 'etcdserver: too large lease TTL'),
  memberExist: e(GrpcCode.FailedPrecondition, 'etcdserver: member ID already exist'),
  peerURLExist: e(GrpcCode.FailedPrecondition, 'etcdserver: Peer URLs already exists'),
  memberNotEnoughStarted: e(GrpcCode.FailedPrecondition, 'etcdserver: re-configuration failed due to not enough started members'),
  memberBadURLs: e(GrpcCode.InvalidArgument, 'etcdserver: given member URLs are invalid'),
  memberNotFound: e(GrpcCode.NotFound, 'etcdserver: member not found'),
  memberNotLearner: e(GrpcCode.FailedPrecondition, 'etcdserver: can only promote a learner member'),
  learnerNotReady: e(GrpcCode.FailedPrecondition, 'etcdserver: can only promote a learner member which is in sync with leader'),
  tooManyLearners: e(GrpcCode.FailedPrecondition, 'etcdserver: too many learner members in cluster'),
  requestTooLarge: e(GrpcCode.InvalidArgument, 'etcdserver: request is too large'),
  tooManyRequests: e(GrpcCode.ResourceExhausted, 'etcdserver: too many requests'),
  noLeader: e(GrpcCode.Unavailable, 'etcdserver: no leader'),
  notLeader: e(GrpcCode.FailedPrecondition, 'etcdserver: not leader'),
  leaderChanged: e(GrpcCode.Unavailable, 'etcdserver: leader changed'),
  stopped: e(GrpcCode.Unavailable, 'etcdserver: server stopped'),
  timeout: e(GrpcCode.Unavailable, 'etcdserver: request timed out'),
  unhealthy: e(GrpcCode.Unavailable, 'etcdserver: unhealthy cluster'),
  corrupt: e(GrpcCode.DataLoss, 'etcdserver: corrupt cluster'),
  notSupportedForLearner: e(GrpcCode.Unavailable, 'etcdserver: rpc not supported for learner'),
  badLeaderTransferee: e(GrpcCode.FailedPrecondition, 'etcdserver: bad leader transferee'),
  canceled: e(GrpcCode.Canceled, 'context canceled'),
  deadlineExceeded: e(GrpcCode.DeadlineExceeded, 'context deadline exceeded'),
} as const;

/** Maps anything thrown below the API layer to the status a client must see. */
/** Awaits `p` and turns whatever it throws into the gRPC error etcd would answer. */
export async function mapErrors<T>(p: Promise<T> | T): Promise<T> {
  try {
    return await p;
  } catch (err) {
    throw toGrpcError(err);
  }
}

export function toGrpcError(err: unknown): GrpcError {
  if (err instanceof GrpcError) return err;
  if (err instanceof MvccError) return err.kind === 'compacted' ? Errors.compacted() : Errors.futureRev();
  const message = err instanceof Error ? err.message : String(err);
  return new GrpcError(GrpcCode.Unknown, message);
}

/** The catalog's error with this exact message (an answer relayed from another member). */
export function errorWithMessage(message: string): GrpcError {
  for (const make of Object.values(Errors)) {
    const e = make();
    if (e.message === message) return e;
  }
  return new GrpcError(GrpcCode.Unknown, message);
}
