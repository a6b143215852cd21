// Public surface of the consensus module.
export * from './errors.js';
export * from './message.js';
export { encodeMessage, decodeMessage, encodeConfChange, decodeConfChange, encodedMessageSize } from './codec.js';
export { type RaftStorage, MemoryStorage } from './storage.js';
export { type RaftConfig, type RaftLogger } from './raft.js';
export { RawNode, type BootstrapPeer, type RaftStatus, type ProgressStatus } from './raw-node.js';
export { ProgressState, progressStateName } from './progress.js';
export { describeEntry, describeMessage, describeReady, describeSnapshot, describeHardState } from './describe.js';
export * from './types.js';
