// etcdserverpb.Auth: every call goes through the log (as etcd 3.5 sends them, AuthStatus
// too), so all members agree on users, roles and the auth revision. A handler finds out
// who is calling, refuses early what apply would refuse for lack of rights, lets the auth
// store do the work that must happen once before proposing (bcrypt hashing, the password
// check and the token prefix of Authenticate), and proposes.
import { AuthField, AUTH_ACCESS, type AuthFieldNumber, type ClientAuthRequests, type AuthResponses } from '../auth/fields.js';
import { tokenFromMetadata } from '../auth/store.js';
import type { AuthPort } from '../server/ports.js';
import { Errors } from '../server/errors.js';
import { toGrpcError } from './errors.js';
import * as pb from '../proto/etcdserverpb.js';
import type { CallContext } from './grpc/server.js';
import { unaryMethod, type AnyUnaryMethod, type Codec } from './method.js';

/**
 * The member as the Auth service sees it (ports.ts's AuthPort). proposeAuth puts `caller`
 * in the entry's header (RequestHeader.username / auth_revision; both empty/0 when
 * undefined). linearizableReadBarrier is etcd's linearizableReadNotify: Authenticate waits
 * on it before checking a password, so it sees the newest users.
 */
export type AuthServerPort = AuthPort;

/** Authenticate retries when the auth store changed between the password check and apply. */
const MAX_AUTHENTICATE_ATTEMPTS = 10;

interface Rpc<F extends AuthFieldNumber> {
  name: string;
  gatewayPath: string;
  field: F;
  request: Codec<ClientAuthRequests[F]>;
  response: Codec<AuthResponses[F]>;
}

const RPCS: Rpc<AuthFieldNumber>[] = [
  rpc('AuthEnable', '/auth/enable', AuthField.authEnable, pb.AuthEnableRequest, pb.AuthEnableResponse),
  rpc('AuthDisable', '/auth/disable', AuthField.authDisable, pb.AuthDisableRequest, pb.AuthDisableResponse),
  rpc('AuthStatus', '/auth/status', AuthField.authStatus, pb.AuthStatusRequest, pb.AuthStatusResponse),
  rpc('Authenticate', '/auth/authenticate', AuthField.authenticate, pb.AuthenticateRequest, pb.AuthenticateResponse),
  rpc('UserAdd', '/auth/user/add', AuthField.authUserAdd, pb.AuthUserAddRequest, pb.AuthUserAddResponse),
  rpc('UserGet', '/auth/user/get', AuthField.authUserGet, pb.AuthUserGetRequest, pb.AuthUserGetResponse),
  rpc('UserList', '/auth/user/list', AuthField.authUserList, pb.AuthUserListRequest, pb.AuthUserListResponse),
  rpc('UserDelete', '/auth/user/delete', AuthField.authUserDelete, pb.AuthUserDeleteRequest, pb.AuthUserDeleteResponse),
  rpc('UserChangePassword', '/auth/user/changepw', AuthField.authUserChangePassword, pb.AuthUserChangePasswordRequest, pb.AuthUserChangePasswordResponse),
  rpc('UserGrantRole', '/auth/user/grant', AuthField.authUserGrantRole, pb.AuthUserGrantRoleRequest, pb.AuthUserGrantRoleResponse),
  rpc('UserRevokeRole', '/auth/user/revoke', AuthField.authUserRevokeRole, pb.AuthUserRevokeRoleRequest, pb.AuthUserRevokeRoleResponse),
  rpc('RoleAdd', '/auth/role/add', AuthField.authRoleAdd, pb.AuthRoleAddRequest, pb.AuthRoleAddResponse),
  rpc('RoleGet', '/auth/role/get', AuthField.authRoleGet, pb.AuthRoleGetRequest, pb.AuthRoleGetResponse),
  rpc('RoleList', '/auth/role/list', AuthField.authRoleList, pb.AuthRoleListRequest, pb.AuthRoleListResponse),
  rpc('RoleDelete', '/auth/role/delete', AuthField.authRoleDelete, pb.AuthRoleDeleteRequest, pb.AuthRoleDeleteResponse),
  rpc('RoleGrantPermission', '/auth/role/grant', AuthField.authRoleGrantPermission, pb.AuthRoleGrantPermissionRequest, pb.AuthRoleGrantPermissionResponse),
  rpc('RoleRevokePermission', '/auth/role/revoke', AuthField.authRoleRevokePermission, pb.AuthRoleRevokePermissionRequest, pb.AuthRoleRevokePermissionResponse),
];

function rpc<F extends AuthFieldNumber>(
  name: string,
  gatewayPath: string,
  field: F,
  request: Codec<ClientAuthRequests[F]>,
  response: Codec<AuthResponses[F]>,
): Rpc<AuthFieldNumber> {
  return { name, gatewayPath, field, request, response } as unknown as Rpc<AuthFieldNumber>;
}

export function authMethods(port: AuthServerPort): AnyUnaryMethod[] {
  return RPCS.map((r) =>
    unaryMethod({
      path: `/etcdserverpb.Auth/${r.name}`,
      gatewayPath: r.gatewayPath,
      request: r.request,
      response: r.response,
      handle: async (req, _raw, ctx) => {
        try {
          return await handle(port, r.field, req, ctx);
        } catch (err) {
          throw toGrpcError(err);
        }
      },
    }),
  );
}

async function handle(port: AuthServerPort, field: AuthFieldNumber, req: unknown, ctx: CallContext): Promise<unknown> {
  // Authenticate ignores a token the client still sends: it may be the stale one it is
  // replacing
  if (field === AuthField.authenticate) return authenticate(port, req as pb.AuthenticateRequest);
  const caller = port.authInfo(tokenFromMetadata(ctx.metadata), ctx.peerCommonName);
  // apply checks again, as the user in the entry's header: this only refuses early (and
  // keeps non-admins from making this member run bcrypt)
  if (AUTH_ACCESS[field] !== 'anyone') port.checkAuthAccess(field, req, caller);
  return withHeader(port, await port.proposeAuth(field, await port.prepareAuth(field, req), caller));
}

/**
 * etcd's Authenticate: check the password as of some auth revision, propose the token;
 * if the auth store changed in between (the password, say), check again.
 */
async function authenticate(port: AuthServerPort, req: pb.AuthenticateRequest): Promise<unknown> {
  await port.linearizableReadBarrier();
  for (let attempt = 1; ; attempt++) {
    // prepare reads the user before its first await: this is the revision it checks at
    const checkedRevision = port.authRevision;
    const prepared = await port.prepareAuth(AuthField.authenticate, req);
    const res = await port.proposeAuth(AuthField.authenticate, prepared, undefined);
    if (port.authRevision === checkedRevision) return withHeader(port, res);
    // a token checked against a password that may have changed is not handed out
    if (attempt >= MAX_AUTHENTICATE_ATTEMPTS) throw Errors.timeout();
  }
}

function withHeader(port: AuthServerPort, res: unknown): unknown {
  const r = res as { header?: pb.ResponseHeader };
  if (r.header === undefined) r.header = port.header(port.revision);
  return r;
}
