// The typed proposal map: for each InternalRaftRequest field the member proposes, the
// request it carries and the response apply answers. Proposing, waiting and applying are
// typed by it, so a request kind and its response types cannot drift apart; a decoded
// entry is an AnyProposal, a union narrowed by its field.
import {
  AlarmRequest,
  CompactionRequest,
  DeleteRangeRequest,
  LeaseCheckpointRequest,
  LeaseGrantRequest,
  LeaseRevokeRequest,
  PutRequest,
  RangeRequest,
  TxnRequest,
  type AlarmResponse,
  type CompactionResponse,
  type DeleteRangeResponse,
  type LeaseGrantResponse,
  type LeaseRevokeResponse,
  type PutResponse,
  type RangeResponse,
  type TxnResponse,
} from '../proto/etcdserverpb.js';
import { AUTH_CODECS, isAuthField, type AuthFieldNumber, type AuthRequests, type AuthResponses } from '../auth/index.js';
import { decodeMemberAttributes, type MemberAttributes } from './internal-records.js';
import { RaftRequestField as F } from './raft-request.js';

interface Kind<Req, Res> {
  request: Req;
  response: Res;
}

/** The member's own requests (KV, leases, alarms, member attributes). */
export interface MemberProposals {
  [F.range]: Kind<RangeRequest, RangeResponse>;
  [F.put]: Kind<PutRequest, PutResponse>;
  [F.deleteRange]: Kind<DeleteRangeRequest, DeleteRangeResponse>;
  [F.txn]: Kind<TxnRequest, TxnResponse>;
  [F.compaction]: Kind<CompactionRequest, CompactionResponse>;
  [F.leaseGrant]: Kind<LeaseGrantRequest, LeaseGrantResponse>;
  [F.leaseRevoke]: Kind<LeaseRevokeRequest, LeaseRevokeResponse>;
  [F.alarm]: Kind<AlarmRequest, AlarmResponse>;
  [F.leaseCheckpoint]: Kind<LeaseCheckpointRequest, undefined>;
  [F.clusterMemberAttrSet]: Kind<MemberAttributes, undefined>;
}

/** The auth module's requests, as auth/fields.ts types them. */
export type AuthProposals = { [A in AuthFieldNumber]: Kind<AuthRequests[A], AuthResponses[A]> };

export type ProposalMap = MemberProposals & AuthProposals;
export type ProposalField = keyof ProposalMap;
export type RequestOf<K extends ProposalField> = ProposalMap[K]['request'];
export type ResponseOf<K extends ProposalField> = ProposalMap[K]['response'];

/** A request with its field: switching on `field` narrows `request`. */
export type AnyProposal = { [K in ProposalField]: { field: K; request: RequestOf<K> } }[ProposalField];
export type AnyMemberProposal = { [K in keyof MemberProposals]: { field: K; request: RequestOf<K> } }[keyof MemberProposals];
export type AnyAuthProposal = { [K in AuthFieldNumber]: { field: K; request: RequestOf<K> } }[AuthFieldNumber];

export function isAuthProposal(p: AnyProposal): p is AnyAuthProposal {
  return isAuthField(p.field);
}

/** Decodes the request of a log entry's field; undefined for a field this member does not know. */
export function decodeProposal(field: number, body: Uint8Array): AnyProposal | undefined {
  switch (field) {
    case F.range:
      return { field, request: RangeRequest.decode(body) };
    case F.put:
      return { field, request: PutRequest.decode(body) };
    case F.deleteRange:
      return { field, request: DeleteRangeRequest.decode(body) };
    case F.txn:
      return { field, request: TxnRequest.decode(body) };
    case F.compaction:
      return { field, request: CompactionRequest.decode(body) };
    case F.leaseGrant:
      return { field, request: LeaseGrantRequest.decode(body) };
    case F.leaseRevoke:
      return { field, request: LeaseRevokeRequest.decode(body) };
    case F.alarm:
      return { field, request: AlarmRequest.decode(body) };
    case F.leaseCheckpoint:
      return { field, request: LeaseCheckpointRequest.decode(body) };
    case F.clusterMemberAttrSet:
      return { field, request: decodeMemberAttributes(body) };
  }
  return isAuthField(field) ? decodeAuthProposal(field, body) : undefined;
}

function decodeAuthProposal<A extends AuthFieldNumber>(field: A, body: Uint8Array): AnyAuthProposal {
  const request: AuthRequests[A] = AUTH_CODECS[field].request.decode(body);
  // a correlated pair (field A, request of A) is one member of the union; TypeScript cannot
  // see that through the generic
  return { field, request } as AnyAuthProposal;
}
