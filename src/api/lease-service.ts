// etcdserverpb.Lease: grant and revoke go through the log; keep-alive, time-to-live and
// the lease list are answered by the member that runs the lease clocks.
import {
  LeaseGrantRequest,
  LeaseGrantResponse,
  LeaseKeepAliveRequest,
  LeaseKeepAliveResponse,
  LeaseLeasesRequest,
  LeaseLeasesResponse,
  LeaseRevokeRequest,
  LeaseRevokeResponse,
  LeaseTimeToLiveRequest,
  LeaseTimeToLiveResponse,
} from '../proto/etcdserverpb.js';
import type { AuthPort, LeasePort } from '../server/ports.js';
import { mapErrors, toGrpcError } from './errors.js';
import type { GrpcRouter } from './grpc/server.js';
import { decodeRequest, unaryMethod, type AnyUnaryMethod } from './method.js';
import { callerOf } from './identity.js';

export function leaseMethods(server: LeasePort & AuthPort): AnyUnaryMethod[] {
  return [
    unaryMethod({
      path: '/etcdserverpb.Lease/LeaseGrant',
      gatewayPath: '/lease/grant',
      request: LeaseGrantRequest,
      response: LeaseGrantResponse,
      handle: (req, raw, ctx) => mapErrors(Promise.resolve().then(() => server.leaseGrant(req, raw, callerOf(server, ctx)))),
    }),
    unaryMethod({
      path: '/etcdserverpb.Lease/LeaseRevoke',
      gatewayPath: ['/lease/revoke', '/kv/lease/revoke'],
      request: LeaseRevokeRequest,
      response: LeaseRevokeResponse,
      handle: (req, raw, ctx) =>
        mapErrors(
          Promise.resolve().then(() => {
            const caller = callerOf(server, ctx);
            if (server.authEnabled && !caller) server.checkAdmin(caller); // no identity: refused
            return server.leaseRevoke(req, raw, caller);
          }),
        ),
    }),
    unaryMethod({
      path: '/etcdserverpb.Lease/LeaseTimeToLive',
      gatewayPath: ['/lease/timetolive', '/kv/lease/timetolive'],
      request: LeaseTimeToLiveRequest,
      response: LeaseTimeToLiveResponse,
      handle: (req) => mapErrors(server.leaseTimeToLive(req.ID, req.keys)),
    }),
    unaryMethod({
      path: '/etcdserverpb.Lease/LeaseLeases',
      gatewayPath: ['/lease/leases', '/kv/lease/leases'],
      request: LeaseLeasesRequest,
      response: LeaseLeasesResponse,
      handle: () => server.leaseLeases(),
    }),
  ];
}

/** One renewal, as the keep-alive stream (and the gateway's keepalive) answer it. */
export async function keepAliveOnce(server: LeasePort, req: LeaseKeepAliveRequest): Promise<LeaseKeepAliveResponse> {
  const ttl = await server.leaseRenew(req.ID);
  return { header: server.header(server.revision), ID: req.ID, TTL: ttl };
}

/**
 * LeaseKeepAlive: each request renews one lease and is answered in order (a follower's
 * renewals go to the leader, so answers are chained to keep their order).
 */
export function registerLeaseStreams(router: GrpcRouter, server: LeasePort): void {
  router.stream('/etcdserverpb.Lease/LeaseKeepAlive', (call) => {
    let chain: Promise<void> = Promise.resolve();
    call.onMessage = (bytes) => {
      let req: LeaseKeepAliveRequest;
      try {
        req = decodeRequest(LeaseKeepAliveRequest, bytes);
      } catch (err) {
        call.end(toGrpcError(err));
        return;
      }
      chain = chain.then(() =>
        keepAliveOnce(server, req).then(
          (resp) => void call.send(LeaseKeepAliveResponse.encode(resp)),
          (err) => call.end(toGrpcError(err)),
        ),
      );
    };
    call.onHalfClose = () => void chain.then(() => call.end());
  });
}
