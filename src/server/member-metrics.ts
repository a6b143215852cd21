// What the member's metrics read (etcd's names are in pkg/metrics.ts): gauges are read
// when /metrics is scraped, from the member's parts.
import { NONE } from '../raft/index.js';
import type { MetricsSource } from '../pkg/metrics.js';
import { CLUSTER_VERSION, SERVER_VERSION } from './options.js';
import type { ServerParts } from './parts.js';

interface MemberGauges extends ServerParts {
  readonly isLeader: boolean;
  readonly isLearner: boolean;
  readonly raftIndex: number;
}

export function memberMetricsSource(s: MemberGauges, appliedIndex: () => number): MetricsSource {
  return {
    mvccOps: () => s.store.stats,
    hasLeader: () => s.driver.leader !== NONE,
    isLeader: () => s.isLeader,
    isLearner: () => s.isLearner,
    committedIndex: () => s.raftIndex,
    appliedIndex: () => appliedIndex(),
    pendingProposals: () => s.proposals.pendingCount,
    dbSizeBytes: () => s.backend.sizeBytes(),
    dbSizeInUseBytes: () => s.backend.sizeInUseBytes(),
    keysTotal: () => s.store.keyCount,
    currentRevision: () => s.store.rev,
    compactRevision: () => Math.max(0, s.store.compactRev),
    quotaBackendBytes: () => s.opts.quotaBackendBytes,
    memberIdHex: () => s.memberId.toString(16),
    serverVersion: () => SERVER_VERSION,
    clusterVersion: () => CLUSTER_VERSION,
  };
}
