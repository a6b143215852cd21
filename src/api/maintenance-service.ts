// etcdserverpb.Maintenance: status, alarms, hashes, defragmentation and snapshots.
import crypto from 'node:crypto';
import {
  AlarmRequest,
  AlarmResponse,
  DefragmentRequest,
  DefragmentResponse,
  MoveLeaderRequest,
  MoveLeaderResponse,
  HashKVRequest,
  HashKVResponse,
  HashRequest,
  HashResponse,
  SnapshotResponse,
  StatusRequest,
  StatusResponse,
} from '../proto/etcdserverpb.js';
import { SERVER_VERSION } from '../server/options.js';
import type { AuthPort, MaintenancePort } from '../server/ports.js';
import { mapErrors, toGrpcError } from './errors.js';
import type { GrpcRouter } from './grpc/server.js';
import { unaryMethod, type AnyUnaryMethod } from './method.js';
import { requireAdmin } from './identity.js';
import { etcdSnapshotStream } from '../snapshot/export.js';

/** etcd sends snapshots in 32 KiB pieces */
const SNAPSHOT_CHUNK_BYTES = 32 * 1024;

export function maintenanceMethods(server: MaintenancePort & AuthPort): AnyUnaryMethod[] {
  return [
    unaryMethod({
      path: '/etcdserverpb.Maintenance/Status',
      gatewayPath: '/maintenance/status',
      request: StatusRequest,
      response: StatusResponse,
      handle: async () =>
        StatusResponse.create({
          header: server.header(server.revision),
          version: SERVER_VERSION,
          dbSize: server.dbSizeBytes(),
          leader: server.leaderId,
          raftIndex: server.raftIndex,
          raftTerm: server.raftTerm,
          raftAppliedIndex: server.raftAppliedIndex,
          errors: server.alarmList().map((a) => `memberID:${a.memberID} alarm:${alarmName(a.alarm)} `),
          dbSizeInUse: server.dbSizeInUseBytes(),
          isLearner: server.isLearner,
        }),
    }),
    unaryMethod({
      path: '/etcdserverpb.Maintenance/MoveLeader',
      gatewayPath: '/maintenance/transfer-leadership',
      request: MoveLeaderRequest,
      response: MoveLeaderResponse,
      handle: (req) => mapErrors(server.moveLeader(req.targetID).then(() => ({ header: server.header(server.revision) }))),
    }),
    unaryMethod({
      path: '/etcdserverpb.Maintenance/Alarm',
      gatewayPath: '/maintenance/alarm',
      request: AlarmRequest,
      response: AlarmResponse,
      handle: (req, raw) => mapErrors(server.alarm(req, raw)),
    }),
    unaryMethod({
      path: '/etcdserverpb.Maintenance/Hash',
      gatewayPath: '/maintenance/hash',
      request: HashRequest,
      response: HashResponse,
      handle: (_req, _raw, ctx) => mapErrors(Promise.resolve().then(() => (requireAdmin(server, ctx), server.hash()))),
    }),
    unaryMethod({
      path: '/etcdserverpb.Maintenance/HashKV',
      gatewayPath: '/maintenance/hashkv',
      request: HashKVRequest,
      response: HashKVResponse,
      handle: (req, _raw, ctx) => mapErrors(Promise.resolve().then(() => (requireAdmin(server, ctx), server.hashKV(req.revision)))),
    }),
    unaryMethod({
      path: '/etcdserverpb.Maintenance/Defragment',
      gatewayPath: '/maintenance/defragment',
      request: DefragmentRequest,
      response: DefragmentResponse,
      handle: (_req, _raw, ctx) =>
        mapErrors(
          Promise.resolve()
            .then(() => requireAdmin(server, ctx))
            .then(() => server.defragment())
            .then(() => ({ header: server.header(server.revision) })),
        ),
    }),
  ];
}

function alarmName(a: number): string {
  return a === 1 ? 'NOSPACE' : a === 2 ? 'CORRUPT' : 'NONE';
}

/**
 * Maintenance.Snapshot: the member's data in etcd's snapshot format (a bbolt database with
 * etcd's buckets), generated from one frozen view of the backend and streamed in pieces of
 * at most SNAPSHOT_CHUNK_BYTES with the bytes still to come, then the SHA-256 of
 * everything sent, as etcd does. A piece is generated only when the client has taken the
 * previous ones, so a slow reader holds the generator, not memory.
 */
export function registerMaintenanceStreams(router: GrpcRouter, server: MaintenancePort & AuthPort): void {
  router.stream('/etcdserverpb.Maintenance/Snapshot', (call) => {
    let started = false;
    let closed = false;
    let wake: (() => void) | undefined;
    call.onClose = () => {
      closed = true;
      wake?.();
    };
    call.onMessage = () => {
      if (started) return;
      started = true;
      try {
        requireAdmin(server, call.ctx);
      } catch (err) {
        call.end(toGrpcError(err));
        return;
      }
      const waitDrain = (): Promise<void> =>
        new Promise<void>((r) => {
          wake = r;
          call.onDrain = r;
        });
      void streamSnapshot(server, call, () => closed, waitDrain);
    };
  });
}

type SnapshotCall = { send(m: Uint8Array): boolean; end(e?: ReturnType<typeof toGrpcError>): void; onDrain: () => void };

async function streamSnapshot(server: MaintenancePort, call: SnapshotCall, isClosed: () => boolean, waitDrain: () => Promise<void>): Promise<void> {
  const { view, revision, ctx } = server.snapshotView();
  try {
    const stream = etcdSnapshotStream(view, ctx);
    const sha = crypto.createHash('sha256');
    const header = server.header(revision);
    let sent = 0;
    for (const chunk of stream.chunks) {
      for (let off = 0; off < chunk.length && !isClosed(); off += SNAPSHOT_CHUNK_BYTES) {
        const blob = chunk.subarray(off, Math.min(chunk.length, off + SNAPSHOT_CHUNK_BYTES));
        sha.update(blob);
        sent += blob.length;
        const remaining = Math.max(0, (stream.totalBytes() ?? sent) - sent);
        if (!call.send(SnapshotResponse.encode(SnapshotResponse.create({ header, remaining_bytes: remaining, blob })))) await waitDrain();
      }
      if (isClosed()) return;
    }
    call.send(SnapshotResponse.encode(SnapshotResponse.create({ header, remaining_bytes: 0, blob: sha.digest() })));
    call.end();
  } catch (err) {
    if (!isClosed()) call.end(toGrpcError(err));
  } finally {
    view.release();
  }
}
