// etcdserverpb.Maintenance: status, alarms, hashes, defragmentation and snapshots.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
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
import { SERVER_VERSION, type EtcdServer } from '../server/server.js';
import { mapErrors, toGrpcError } from '../server/errors.js';
import { asGrpcError, type GrpcRouter } from './grpc/server.js';
import { unaryMethod, type AnyUnaryMethod } from './method.js';
import { requireAdmin } from './identity.js';

/** etcd sends snapshots in 32 KiB pieces */
const SNAPSHOT_CHUNK_BYTES = 32 * 1024;

export function maintenanceMethods(server: EtcdServer): AnyUnaryMethod[] {
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
          errors: server.alarms.get(0).map((a) => `memberID:${a.memberID} alarm:${alarmName(a.alarm)} `),
          dbSizeInUse: server.dbSizeInUseBytes(),
          isLearner: server.isLearner,
        }),
    }),
    unaryMethod({
      path: '/etcdserverpb.Maintenance/MoveLeader',
      gatewayPath: '/maintenance/transfer-leadership',
      request: MoveLeaderRequest,
      response: MoveLeaderResponse,
      handle: (req) => mapErrors(server.cluster.moveLeader(req.targetID).then(() => ({ header: server.header(server.revision) }))),
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
 * Maintenance.Snapshot: a consistent copy of the backend, streamed in 32 KiB pieces
 * with the bytes still to come, then the SHA-256 of everything sent, as etcd does.
 */
export function registerMaintenanceStreams(router: GrpcRouter, server: EtcdServer): void {
  router.stream('/etcdserverpb.Maintenance/Snapshot', (call) => {
    let started = false;
    let closed = false;
    call.onClose = () => (closed = true);
    call.onMessage = () => {
      if (started) return;
      started = true;
      try {
        requireAdmin(server, call.ctx);
      } catch (err) {
        call.end(asGrpcError(toGrpcError(err)));
        return;
      }
      void streamSnapshot(server, call, () => closed);
    };
  });
}

async function streamSnapshot(
  server: EtcdServer,
  call: { send(m: Uint8Array): boolean; end(e?: ReturnType<typeof asGrpcError>): void; onDrain: () => void },
  isClosed: () => boolean,
): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsetcd-snapshot-'));
  const file = path.join(dir, 'db');
  try {
    await server.snapshotBackend(file);
    const total = fs.statSync(file).size;
    const fd = fs.openSync(file, 'r');
    const sha = crypto.createHash('sha256');
    try {
      let sent = 0;
      while (sent < total && !isClosed()) {
        const buf = Buffer.allocUnsafe(Math.min(SNAPSHOT_CHUNK_BYTES, total - sent));
        const n = fs.readSync(fd, buf, 0, buf.length, sent);
        if (n <= 0) throw new Error('snapshot: short read');
        sent += n;
        sha.update(buf.subarray(0, n));
        const ok = call.send(SnapshotResponse.encode(SnapshotResponse.create({ header: server.header(server.revision), remaining_bytes: total - sent, blob: buf.subarray(0, n) })));
        if (!ok) await new Promise<void>((r) => (call.onDrain = r));
      }
      if (!isClosed()) {
        call.send(SnapshotResponse.encode(SnapshotResponse.create({ header: server.header(server.revision), remaining_bytes: 0, blob: sha.digest() })));
        call.end();
      }
    } finally {
      fs.closeSync(fd);
    }
  } catch (err) {
    call.end(asGrpcError(toGrpcError(err)));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
