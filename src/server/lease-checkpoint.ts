// Wires lease checkpoints (src/lease/checkpoint.ts) to the log: the leader's checkpoints
// become LeaseCheckpointRequest entries (InternalRaftRequest field lease_checkpoint, 11; the
// server proposes them),
// and applying one hands each remaining TTL to the lessor on every member.
import { LeaseCheckpointer } from '../lease/checkpoint.js';
import type { Lessor } from '../lease/lessor.js';
import { LeaseCheckpointRequest } from '../proto/etcdserverpb.js';

export interface LeaseCheckpointOptions {
  /** 0: etcd's 5 minutes */
  intervalMs: number;
  persist: boolean;
}

type Propose = (request: LeaseCheckpointRequest, body: Uint8Array) => Promise<unknown>;

/** The checkpointer for the lessor, or undefined when checkpoints are off (etcd's default). */
export function leaseCheckpointer(opts: LeaseCheckpointOptions | undefined, propose: Propose): LeaseCheckpointer | undefined {
  if (opts === undefined) return undefined;
  return new LeaseCheckpointer({
    intervalMs: opts.intervalMs,
    persist: opts.persist,
    propose: (cps) => {
      const req = LeaseCheckpointRequest.create({ checkpoints: cps.map((c) => ({ ID: c.id, remaining_TTL: c.remainingTtlSec })) });
      // a lost checkpoint is retaken an interval later, or the lease restarts at its full TTL
      propose(req, LeaseCheckpointRequest.encode(req)).catch(() => {});
    },
  });
}

/** Applies a committed LeaseCheckpointRequest; checkpoints of unknown leases are ignored, as in etcd. */
export function applyLeaseCheckpoint(lessor: Lessor, req: LeaseCheckpointRequest): void {
  for (const c of req.checkpoints) lessor.checkpoint(c.ID, c.remaining_TTL);
}
