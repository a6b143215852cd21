// etcdserverpb.Cluster: the member list and membership changes.
import {
  MemberAddRequest,
  MemberAddResponse,
  MemberListRequest,
  MemberListResponse,
  MemberPromoteRequest,
  MemberPromoteResponse,
  MemberRemoveRequest,
  MemberRemoveResponse,
  MemberUpdateRequest,
  MemberUpdateResponse,
  type Member as PbMember,
} from '../proto/etcdserverpb.js';
import type { AuthPort, ClusterPort } from '../server/ports.js';
import type { Member } from '../server/membership.js';
import { mapErrors } from './errors.js';
import { unaryMethod, type AnyUnaryMethod } from './method.js';
import { requireAdmin } from './identity.js';

export function pbMember(m: Member): PbMember {
  return { ID: m.id, name: m.name, peerURLs: m.peerURLs, clientURLs: m.clientURLs, isLearner: m.isLearner };
}

function run<T>(fn: () => Promise<T>): Promise<T> {
  return mapErrors(fn());
}

export function clusterMethods(server: ClusterPort & AuthPort): AnyUnaryMethod[] {
  // etcd leaves the revision out of member headers
  const header = () => server.header(0);
  return [
    unaryMethod({
      path: '/etcdserverpb.Cluster/MemberList',
      gatewayPath: '/cluster/member/list',
      request: MemberListRequest,
      response: MemberListResponse,
      handle: (req) =>
        run(async () => {
          if (req.linearizable) await server.linearizableReadBarrier();
          return { header: header(), members: server.members().map(pbMember) };
        }),
    }),
    unaryMethod({
      path: '/etcdserverpb.Cluster/MemberAdd',
      gatewayPath: '/cluster/member/add',
      request: MemberAddRequest,
      response: MemberAddResponse,
      handle: (req, _raw, ctx) =>
        run(async () => {
          requireAdmin(server, ctx);
          const r = await server.addMember(req.peerURLs, req.isLearner);
          return { header: header(), member: pbMember(r.member), members: r.members.map(pbMember) };
        }),
    }),
    unaryMethod({
      path: '/etcdserverpb.Cluster/MemberRemove',
      gatewayPath: '/cluster/member/remove',
      request: MemberRemoveRequest,
      response: MemberRemoveResponse,
      handle: (req, _raw, ctx) =>
        run(async () => {
          requireAdmin(server, ctx);
          return { header: header(), members: (await server.removeMember(req.ID)).map(pbMember) };
        }),
    }),
    unaryMethod({
      path: '/etcdserverpb.Cluster/MemberUpdate',
      gatewayPath: '/cluster/member/update',
      request: MemberUpdateRequest,
      response: MemberUpdateResponse,
      handle: (req, _raw, ctx) =>
        run(async () => {
          requireAdmin(server, ctx);
          return { header: header(), members: (await server.updateMember(req.ID, req.peerURLs)).map(pbMember) };
        }),
    }),
    unaryMethod({
      path: '/etcdserverpb.Cluster/MemberPromote',
      gatewayPath: '/cluster/member/promote',
      request: MemberPromoteRequest,
      response: MemberPromoteResponse,
      handle: (req, _raw, ctx) =>
        run(async () => {
          requireAdmin(server, ctx);
          return { header: header(), members: (await server.promoteMember(req.ID)).map(pbMember) };
        }),
    }),
  ];
}
