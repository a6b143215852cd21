// The member's own failures, as domain errors: a kind (what went wrong) and etcd's exact
// message for it (clients match on these strings). No transport here: the API edge
// (src/api/errors.ts) is the one place that turns a kind into a gRPC status.

const MESSAGES = {
  emptyKey: 'etcdserver: key is not provided',
  keyNotFound: 'etcdserver: key not found',
  valueProvided: 'etcdserver: value is provided',
  leaseProvided: 'etcdserver: lease is provided',
  tooManyOps: 'etcdserver: too many operations in txn request',
  invalidSortOption: 'etcdserver: invalid sort option',
  duplicateKey: 'etcdserver: duplicate key given in txn request',
  compacted: 'etcdserver: mvcc: required revision has been compacted',
  futureRev: 'etcdserver: mvcc: required revision is a future revision',
  noSpace: 'etcdserver: mvcc: database space exceeded',
  leaseNotFound: 'etcdserver: requested lease not found',
  leaseExist: 'etcdserver: lease already exists',
  leaseTTLTooLarge: 'etcdserver: too large lease TTL',
  memberExist: 'etcdserver: member ID already exist',
  peerURLExist: 'etcdserver: Peer URLs already exists',
  memberNotEnoughStarted: 'etcdserver: re-configuration failed due to not enough started members',
  memberBadURLs: 'etcdserver: given member URLs are invalid',
  memberNotFound: 'etcdserver: member not found',
  memberNotLearner: 'etcdserver: can only promote a learner member',
  learnerNotReady: 'etcdserver: can only promote a learner member which is in sync with leader',
  tooManyLearners: 'etcdserver: too many learner members in cluster',
  requestTooLarge: 'etcdserver: request is too large',
  tooManyRequests: 'etcdserver: too many requests',
  noLeader: 'etcdserver: no leader',
  notLeader: 'etcdserver: not leader',
  leaderChanged: 'etcdserver: leader changed',
  stopped: 'etcdserver: server stopped',
  timeout: 'etcdserver: request timed out',
  leaderTransferTimeout: 'etcdserver: request timed out, leader transfer took too long',
  unhealthy: 'etcdserver: unhealthy cluster',
  corrupt: 'etcdserver: corrupt cluster',
  notSupportedForLearner: 'etcdserver: rpc not supported for learner',
  badLeaderTransferee: 'etcdserver: bad leader transferee',
  canceled: 'context canceled',
  deadlineExceeded: 'context deadline exceeded',
} as const;

export type ServerErrorKind = keyof typeof MESSAGES;

export class ServerError extends Error {
  constructor(readonly kind: ServerErrorKind) {
    super(MESSAGES[kind]);
    this.name = 'ServerError';
  }
}

/** The catalog: `Errors.noLeader()` makes a fresh error (a stack of its own each time). */
export const Errors = Object.fromEntries(
  (Object.keys(MESSAGES) as ServerErrorKind[]).map((kind) => [kind, () => new ServerError(kind)]),
) as { readonly [K in ServerErrorKind]: () => ServerError };

/**
 * A refusal relayed by the leader over the peer port (learner promotion), where etcd's
 * protocol carries only the text: decoded back to its kind here, once; an unknown text
 * stays a plain error with that text.
 */
export function errorFromPeerText(text: string): Error {
  const kind = (Object.keys(MESSAGES) as ServerErrorKind[]).find((k) => MESSAGES[k] === text);
  return kind ? new ServerError(kind) : new Error(text);
}
