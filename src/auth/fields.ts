// The auth requests as they travel through the log: etcd's InternalRaftRequest field
// numbers (the same as the server's RaftRequestField, plus AuthStatus, which etcd 3.5
// also sends through the log), the message each field holds, and what apply answers.
import * as pb from '../proto/etcdserverpb.js';
import type { MessageCodec } from '../proto/runtime.js';

export const AuthField = {
  authEnable: 1000,
  authDisable: 1011,
  authenticate: 1012,
  authStatus: 1013,
  authUserAdd: 1100,
  authUserDelete: 1101,
  authUserGet: 1102,
  authUserChangePassword: 1103,
  authUserGrantRole: 1104,
  authUserRevokeRole: 1105,
  authUserList: 1106,
  authRoleList: 1107,
  authRoleAdd: 1200,
  authRoleDelete: 1201,
  authRoleGet: 1202,
  authRoleGrantPermission: 1203,
  authRoleRevokePermission: 1204,
} as const;
export type AuthFieldNumber = (typeof AuthField)[keyof typeof AuthField];

const FIELDS = new Set<number>(Object.values(AuthField));

export function isAuthField(field: number): field is AuthFieldNumber {
  return FIELDS.has(field);
}

/** The message inside the log entry (after `prepare`). */
export interface AuthRequests {
  [AuthField.authEnable]: pb.AuthEnableRequest;
  [AuthField.authDisable]: pb.AuthDisableRequest;
  [AuthField.authenticate]: pb.InternalAuthenticateRequest;
  [AuthField.authStatus]: pb.AuthStatusRequest;
  [AuthField.authUserAdd]: pb.AuthUserAddRequest;
  [AuthField.authUserDelete]: pb.AuthUserDeleteRequest;
  [AuthField.authUserGet]: pb.AuthUserGetRequest;
  [AuthField.authUserChangePassword]: pb.AuthUserChangePasswordRequest;
  [AuthField.authUserGrantRole]: pb.AuthUserGrantRoleRequest;
  [AuthField.authUserRevokeRole]: pb.AuthUserRevokeRoleRequest;
  [AuthField.authUserList]: pb.AuthUserListRequest;
  [AuthField.authRoleList]: pb.AuthRoleListRequest;
  [AuthField.authRoleAdd]: pb.AuthRoleAddRequest;
  [AuthField.authRoleDelete]: pb.AuthRoleDeleteRequest;
  [AuthField.authRoleGet]: pb.AuthRoleGetRequest;
  [AuthField.authRoleGrantPermission]: pb.AuthRoleGrantPermissionRequest;
  [AuthField.authRoleRevokePermission]: pb.AuthRoleRevokePermissionRequest;
}

/** What a client sends (only Authenticate differs from what the log carries). */
export type ClientAuthRequests = Omit<AuthRequests, typeof AuthField.authenticate> & {
  [AuthField.authenticate]: pb.AuthenticateRequest;
};

/** What apply answers (the header is the caller's to fill). */
export interface AuthResponses {
  [AuthField.authEnable]: pb.AuthEnableResponse;
  [AuthField.authDisable]: pb.AuthDisableResponse;
  [AuthField.authenticate]: pb.AuthenticateResponse;
  [AuthField.authStatus]: pb.AuthStatusResponse;
  [AuthField.authUserAdd]: pb.AuthUserAddResponse;
  [AuthField.authUserDelete]: pb.AuthUserDeleteResponse;
  [AuthField.authUserGet]: pb.AuthUserGetResponse;
  [AuthField.authUserChangePassword]: pb.AuthUserChangePasswordResponse;
  [AuthField.authUserGrantRole]: pb.AuthUserGrantRoleResponse;
  [AuthField.authUserRevokeRole]: pb.AuthUserRevokeRoleResponse;
  [AuthField.authUserList]: pb.AuthUserListResponse;
  [AuthField.authRoleList]: pb.AuthRoleListResponse;
  [AuthField.authRoleAdd]: pb.AuthRoleAddResponse;
  [AuthField.authRoleDelete]: pb.AuthRoleDeleteResponse;
  [AuthField.authRoleGet]: pb.AuthRoleGetResponse;
  [AuthField.authRoleGrantPermission]: pb.AuthRoleGrantPermissionResponse;
  [AuthField.authRoleRevokePermission]: pb.AuthRoleRevokePermissionResponse;
}

export interface AuthFieldCodecs<F extends AuthFieldNumber> {
  /** encodes/decodes the log entry's body for this field */
  readonly request: MessageCodec<AuthRequests[F]>;
  readonly response: MessageCodec<AuthResponses[F]>;
}

/** Codecs per field, for the server to encode a prepared request and decode it at apply. */
export const AUTH_CODECS: { readonly [F in AuthFieldNumber]: AuthFieldCodecs<F> } = {
  [AuthField.authEnable]: { request: pb.AuthEnableRequest, response: pb.AuthEnableResponse },
  [AuthField.authDisable]: { request: pb.AuthDisableRequest, response: pb.AuthDisableResponse },
  [AuthField.authenticate]: { request: pb.InternalAuthenticateRequest, response: pb.AuthenticateResponse },
  [AuthField.authStatus]: { request: pb.AuthStatusRequest, response: pb.AuthStatusResponse },
  [AuthField.authUserAdd]: { request: pb.AuthUserAddRequest, response: pb.AuthUserAddResponse },
  [AuthField.authUserDelete]: { request: pb.AuthUserDeleteRequest, response: pb.AuthUserDeleteResponse },
  [AuthField.authUserGet]: { request: pb.AuthUserGetRequest, response: pb.AuthUserGetResponse },
  [AuthField.authUserChangePassword]: { request: pb.AuthUserChangePasswordRequest, response: pb.AuthUserChangePasswordResponse },
  [AuthField.authUserGrantRole]: { request: pb.AuthUserGrantRoleRequest, response: pb.AuthUserGrantRoleResponse },
  [AuthField.authUserRevokeRole]: { request: pb.AuthUserRevokeRoleRequest, response: pb.AuthUserRevokeRoleResponse },
  [AuthField.authUserList]: { request: pb.AuthUserListRequest, response: pb.AuthUserListResponse },
  [AuthField.authRoleList]: { request: pb.AuthRoleListRequest, response: pb.AuthRoleListResponse },
  [AuthField.authRoleAdd]: { request: pb.AuthRoleAddRequest, response: pb.AuthRoleAddResponse },
  [AuthField.authRoleDelete]: { request: pb.AuthRoleDeleteRequest, response: pb.AuthRoleDeleteResponse },
  [AuthField.authRoleGet]: { request: pb.AuthRoleGetRequest, response: pb.AuthRoleGetResponse },
  [AuthField.authRoleGrantPermission]: { request: pb.AuthRoleGrantPermissionRequest, response: pb.AuthRoleGrantPermissionResponse },
  [AuthField.authRoleRevokePermission]: { request: pb.AuthRoleRevokePermissionRequest, response: pb.AuthRoleRevokePermissionResponse },
};

/**
 * Who may apply each request (etcd's apply_auth.go): 'admin' needs the root role,
 * 'self' lets a user get itself, 'ownRole' lets a user get a role it has, 'anyone'
 * (Authenticate, AuthStatus) needs no identity.
 */
export type AuthAccess = 'admin' | 'self' | 'ownRole' | 'anyone';

export const AUTH_ACCESS: { readonly [F in AuthFieldNumber]: AuthAccess } = {
  [AuthField.authEnable]: 'admin',
  [AuthField.authDisable]: 'admin',
  [AuthField.authenticate]: 'anyone',
  [AuthField.authStatus]: 'anyone',
  [AuthField.authUserAdd]: 'admin',
  [AuthField.authUserDelete]: 'admin',
  [AuthField.authUserGet]: 'self',
  [AuthField.authUserChangePassword]: 'admin',
  [AuthField.authUserGrantRole]: 'admin',
  [AuthField.authUserRevokeRole]: 'admin',
  [AuthField.authUserList]: 'admin',
  [AuthField.authRoleList]: 'admin',
  [AuthField.authRoleAdd]: 'admin',
  [AuthField.authRoleDelete]: 'admin',
  [AuthField.authRoleGet]: 'ownRole',
  [AuthField.authRoleGrantPermission]: 'admin',
  [AuthField.authRoleRevokePermission]: 'admin',
};
