// Errors raft reports to its caller. Each is a class so callers can test with
// `instanceof` rather than by matching message text.

/** A proposal was not accepted: no leader is known, a leader transfer is under way,
 *  the uncommitted tail is over its byte limit, or this node left the configuration.
 *  The caller may retry later; nothing was appended. */
export class ProposalDroppedError extends Error {
  constructor(reason: string) {
    super(`raft proposal dropped: ${reason}`);
    this.name = 'ProposalDroppedError';
  }
}

/** The requested index is below the storage's first index: it was compacted away. */
export class CompactedError extends Error {
  constructor() {
    super('requested index is unavailable due to compaction');
    this.name = 'CompactedError';
  }
}

/** The requested index is above the storage's last index. */
export class UnavailableError extends Error {
  constructor() {
    super('requested entry at index is unavailable');
    this.name = 'UnavailableError';
  }
}

/** Storage is producing a snapshot and cannot hand one out yet; raft retries later. */
export class SnapshotTemporarilyUnavailableError extends Error {
  constructor() {
    super('snapshot is temporarily unavailable');
    this.name = 'SnapshotTemporarilyUnavailableError';
  }
}

/** A snapshot older than the one storage already holds was offered to it. */
export class SnapshotOutOfDateError extends Error {
  constructor() {
    super('requested index is older than the existing snapshot');
    this.name = 'SnapshotOutOfDateError';
  }
}

/** The caller broke the API contract (e.g. ready() twice without advance()). */
export class RaftUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RaftUsageError';
  }
}

/** An internal invariant failed. Raft stops rather than risk corrupting the log. */
export class RaftInvariantError extends Error {
  constructor(message: string) {
    super(`raft invariant violated: ${message}`);
    this.name = 'RaftInvariantError';
  }
}

/** Bytes handed to decodeMessage/decodeConfChange are not a valid encoding. */
export class RaftDecodeError extends Error {
  constructor(message: string) {
    super(`raft decode: ${message}`);
    this.name = 'RaftDecodeError';
  }
}

export function assert(cond: boolean, message: string | (() => string)): asserts cond {
  if (!cond) throw new RaftInvariantError(typeof message === 'string' ? message : message());
}
