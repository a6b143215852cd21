// v3lockpb.Lock and v3electionpb.Election: distributed locks and elections served by
// the member, with the key layout of etcd's concurrency package.
import { LockRequest, LockResponse, UnlockRequest, UnlockResponse } from '../proto/v3lockpb.js';
import {
  CampaignRequest,
  CampaignResponse,
  LeaderRequest,
  LeaderResponse,
  ProclaimRequest,
  ProclaimResponse,
  ResignRequest,
  ResignResponse,
} from '../proto/v3electionpb.js';
import type { KvPort } from '../server/ports.js';
import { mapErrors, toGrpcError } from './errors.js';
import { LocalKv } from '../coordination/kv-client.js';
import { acquire } from '../coordination/mutex.js';
import { campaign, currentLeader, observe, proclaim, resign } from '../coordination/election.js';
import type { GrpcRouter } from './grpc/server.js';
import { decodeRequest, unaryMethod, type AnyUnaryMethod } from './method.js';

export function coordinationMethods(server: KvPort): AnyUnaryMethod[] {
  const kv = new LocalKv(server);
  return [
    unaryMethod({
      path: '/v3lockpb.Lock/Lock',
      gatewayPath: '/lock/lock',
      request: LockRequest,
      response: LockResponse,
      handle: (req, _raw, ctx) =>
        mapErrors(
          acquire(kv, `${Buffer.from(req.name).toString()}/`, req.lease, new Uint8Array(0), ctx.signal).then((got) => ({ header: got.header, key: got.key })),
        ),
    }),
    unaryMethod({
      path: '/v3lockpb.Lock/Unlock',
      gatewayPath: '/lock/unlock',
      request: UnlockRequest,
      response: UnlockResponse,
      handle: (req) => mapErrors(kv.delete(req.key).then((r) => ({ header: r.header }))),
    }),
    unaryMethod({
      path: '/v3electionpb.Election/Campaign',
      gatewayPath: '/election/campaign',
      request: CampaignRequest,
      response: CampaignResponse,
      handle: (req, _raw, ctx) => mapErrors(campaign(kv, req.name, req.lease, req.value, ctx.signal)),
    }),
    unaryMethod({
      path: '/v3electionpb.Election/Proclaim',
      gatewayPath: '/election/proclaim',
      request: ProclaimRequest,
      response: ProclaimResponse,
      handle: (req) => mapErrors(proclaim(kv, req.leader, req.value).then((header) => ({ header }))),
    }),
    unaryMethod({
      path: '/v3electionpb.Election/Leader',
      gatewayPath: '/election/leader',
      request: LeaderRequest,
      response: LeaderResponse,
      handle: (req) => mapErrors(currentLeader(kv, req.name)),
    }),
    unaryMethod({
      path: '/v3electionpb.Election/Resign',
      gatewayPath: '/election/resign',
      request: ResignRequest,
      response: ResignResponse,
      handle: (req) => mapErrors(resign(kv, req.leader).then((header) => ({ header }))),
    }),
  ];
}

/** Election.Observe: one request, then a response per leader change until the client leaves. */
export function registerCoordinationStreams(router: GrpcRouter, server: KvPort): void {
  const kv = new LocalKv(server);
  router.stream('/v3electionpb.Election/Observe', (call) => {
    const stop = new AbortController();
    let started = false;
    call.onMessage = (bytes) => {
      if (started) return;
      started = true;
      let req: LeaderRequest;
      try {
        req = decodeRequest(LeaderRequest, bytes);
      } catch (err) {
        call.end(toGrpcError(err));
        return;
      }
      observe(kv, req.name, (header, leader) => call.send(LeaderResponse.encode({ header, kv: leader })), stop.signal).then(
        () => call.end(),
        (err) => call.end(toGrpcError(err)),
      );
    };
    call.onClose = () => stop.abort();
  });
}
