// Public surface of the WAL module: the log, the snapshot files, and their errors.

export { Wal, DEFAULT_KEEP_SEGMENTS, DEFAULT_SEGMENT_BYTES, type WalOptions, type WalOpenResult } from './wal.js';
export { Snapshotter, snapshotFileName } from './snapshotter.js';
export type { SnapshotPoint } from './reader.js';
export { WalBusyError, WalCorruptError, WalFailedError, WalLockedError } from './errors.js';
