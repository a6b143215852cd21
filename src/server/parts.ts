// The parts one member is made of, as the concept modules of src/server see them (lease
// requests, maintenance, corruption checks, apply, membership changes, snapshots, start-up).
// server.ts builds them and is the only one that does.
import type { AuthStore } from '../auth/index.js';
import type { Backend } from '../backend/backend.js';
import type { Lessor } from '../lease/lessor.js';
import type { MvccStore } from '../mvcc/store.js';
import type { PeerTransport } from '../peer/transport.js';
import type { Clock } from '../pkg/clock.js';
import type { Metrics } from '../pkg/metrics.js';
import type { ResponseHeader } from '../proto/etcdserverpb.js';
import type { WatchableStore } from '../watch/watchable-store.js';
import type { AlarmStore } from './alarms.js';
import type { Membership } from './membership.js';
import type { ServerOptions } from './options.js';
import type { Proposals } from './proposals.js';
import type { RaftDriver } from './raft-driver.js';

export interface ServerParts {
  readonly memberId: bigint;
  readonly opts: ServerOptions;
  readonly clock: Clock;
  /** etcd's request timeout: 5 s plus two election timeouts */
  readonly requestTimeoutMs: number;
  readonly backend: Backend;
  readonly store: MvccStore;
  readonly lessor: Lessor;
  readonly alarms: AlarmStore;
  readonly auth: AuthStore;
  readonly membership: Membership;
  readonly watchable: WatchableStore;
  readonly driver: RaftDriver;
  readonly transport: PeerTransport;
  readonly metrics: Metrics;
  readonly proposals: Proposals;
  header(revision: number): ResponseHeader;
  /** resolves once this member applied everything committed before the call */
  linearizableReadBarrier(): Promise<void>;
}
