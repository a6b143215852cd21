// etcdserverpb.Cluster and etcdserverpb.Maintenance: what `etcdctl member list` and
// `etcdctl endpoint status` ask for.
import {
  MemberListRequest,
  MemberListResponse,
  StatusRequest,
  StatusResponse,
  type Member as PbMember,
} from '../proto/etcdserverpb.js';
import { SERVER_VERSION, type EtcdServer } from '../server/server.js';
import { unaryMethod, type AnyUnaryMethod } from './method.js';

export function clusterMethods(server: EtcdServer): AnyUnaryMethod[] {
  return [
    unaryMethod({
      path: '/etcdserverpb.Cluster/MemberList',
      gatewayPath: '/cluster/member/list',
      request: MemberListRequest,
      response: MemberListResponse,
      handle: async () => {
        const members: PbMember[] = server.members().map((m) => ({
          ID: m.id,
          name: m.name,
          peerURLs: m.peerURLs,
          clientURLs: m.clientURLs,
          isLearner: m.isLearner,
        }));
        // etcd leaves the revision out of member list headers
        return { header: server.header(0), members };
      },
    }),
  ];
}

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
          errors: [],
          dbSizeInUse: server.dbSizeInUseBytes(),
          isLearner: false,
        }),
    }),
  ];
}
