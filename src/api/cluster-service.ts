// etcdserverpb.Cluster: the member list.
import {
  MemberListRequest,
  MemberListResponse,
  type Member as PbMember,
} from '../proto/etcdserverpb.js';
import type { EtcdServer } from '../server/server.js';
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
