// Errors the MVCC store raises; the server's error catalog maps them to etcd's
// gRPC statuses and messages.

export class MvccError extends Error {
  constructor(
    readonly kind: 'compacted' | 'future-rev',
    message: string,
  ) {
    super(message);
    this.name = 'MvccError';
  }
}

export const errCompacted = (): MvccError => new MvccError('compacted', 'mvcc: required revision has been compacted');
export const errFutureRev = (): MvccError => new MvccError('future-rev', 'mvcc: required revision is a future revision');
