// The Auth service over a stand-in server: the port proposes by encoding the prepared
// request as the log would carry it and applying it as the caller in the header.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { authMethods, type AuthServerPort } from '../../src/api/auth-service.js';
import { GrpcCode, GrpcError } from '../../src/api/grpc/status.js';
import type { CallContext } from '../../src/api/grpc/server.js';
import type { AnyUnaryMethod } from '../../src/api/method.js';
import { AUTH_CODECS, AuthField, isAuthField } from '../../src/auth/fields.js';
import type { AuthInfo } from '../../src/auth/store.js';
import type { ResponseHeader } from '../../src/proto/etcdserverpb.js';
import { fixture, type Fixture } from './helpers.js';

interface Proposal {
  field: number;
  bytes: Buffer;
  caller: AuthInfo | undefined;
}

function fakeServer(f: Fixture) {
  const proposals: Proposal[] = [];
  let index = 0;
  let reads = 0;
  /** runs right after an entry is applied (to change things behind a handler's back) */
  let afterApply: ((field: number) => void) | undefined;
  const header = (revision: number): ResponseHeader => ({ cluster_id: 1n, member_id: 2n, revision, raft_term: 3 });
  const port: AuthServerPort = {
    get authEnabled() {
      return f.store.enabled;
    },
    get authRevision() {
      return f.store.revision;
    },
    authInfo: (token, cn) => f.store.authInfo(token, cn),
    checkAdmin: (caller) => f.store.checkAdmin(caller),
    checkWatch: (caller, key, end) => f.store.checkWatch(caller, key, end),
    checkAuthAccess: (field, req, caller) => f.store.checkAccess(field, req, caller),
    prepareAuth: (field, req) => f.store.prepare(field, req),
    async proposeAuth(field, request, caller) {
      assert.ok(isAuthField(field));
      const codec = AUTH_CODECS[field].request;
      const bytes = codec.encode(request as never);
      proposals.push({ field, bytes, caller });
      await Promise.resolve();
      const res = f.store.apply(field, codec.decode(bytes), caller, ++index) as object;
      afterApply?.(field);
      return { ...res, header: header(7) };
    },
    header,
    revision: 7,
    async linearizableReadBarrier() {
      reads++;
    },
  };
  const methods = new Map<string, AnyUnaryMethod>(authMethods(port).map((m) => [m.path.split('/')[2]!, m]));
  const call = async (name: string, req: object, ctx: Partial<CallContext> = {}): Promise<Record<string, unknown>> => {
    const m = methods.get(name);
    assert.ok(m, name);
    const full = m.request.fromJSON(req);
    return m.handle(full, new Uint8Array(0), { path: m.path, metadata: {}, signal: new AbortController().signal, ...ctx });
  };
  return {
    port,
    proposals,
    call,
    methods,
    get reads() {
      return reads;
    },
    set afterApply(fn: ((field: number) => void) | undefined) {
      afterApply = fn;
    },
  };
}

async function failure(p: Promise<unknown>): Promise<[number, string]> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof GrpcError, String(err));
    return [err.code, err.message];
  }
  return [GrpcCode.OK, 'ok'];
}

test('the 17 Auth RPCs with etcd gateway paths', async () => {
  const f = await fixture();
  try {
    const { methods } = fakeServer(f);
    const got = [...methods.values()].map((m) => [m.path, m.gatewayPath]);
    assert.deepEqual(got.sort(), [
      ['/etcdserverpb.Auth/AuthDisable', '/auth/disable'],
      ['/etcdserverpb.Auth/AuthEnable', '/auth/enable'],
      ['/etcdserverpb.Auth/AuthStatus', '/auth/status'],
      ['/etcdserverpb.Auth/Authenticate', '/auth/authenticate'],
      ['/etcdserverpb.Auth/RoleAdd', '/auth/role/add'],
      ['/etcdserverpb.Auth/RoleDelete', '/auth/role/delete'],
      ['/etcdserverpb.Auth/RoleGet', '/auth/role/get'],
      ['/etcdserverpb.Auth/RoleGrantPermission', '/auth/role/grant'],
      ['/etcdserverpb.Auth/RoleList', '/auth/role/list'],
      ['/etcdserverpb.Auth/RoleRevokePermission', '/auth/role/revoke'],
      ['/etcdserverpb.Auth/UserAdd', '/auth/user/add'],
      ['/etcdserverpb.Auth/UserChangePassword', '/auth/user/changepw'],
      ['/etcdserverpb.Auth/UserDelete', '/auth/user/delete'],
      ['/etcdserverpb.Auth/UserGet', '/auth/user/get'],
      ['/etcdserverpb.Auth/UserGrantRole', '/auth/user/grant'],
      ['/etcdserverpb.Auth/UserList', '/auth/user/list'],
      ['/etcdserverpb.Auth/UserRevokeRole', '/auth/user/revoke'],
    ]);
  } finally {
    await f.close();
  }
});

test('a session through the handlers: passwords never reach the log, identity from token or CN', async () => {
  const f = await fixture({ clientCertAuth: true });
  try {
    const srv = fakeServer(f);
    const { call, proposals } = srv;
    await call('UserAdd', { name: 'root', password: 'rootpw' });
    await call('UserAdd', { name: 'alice', password: 'alicepw' });
    assert.ok(!proposals.some((p) => p.bytes.includes('rootpw') || p.bytes.includes('alicepw')), 'no password in an entry');
    await call('UserGrantRole', { user: 'root', role: 'root' });
    const enabled = await call('AuthEnable', {});
    assert.deepEqual(enabled.header, { cluster_id: 1n, member_id: 2n, revision: 7, raft_term: 3 });
    assert.deepEqual(await failure(call('UserAdd', { name: 'bob', password: 'x' })), [GrpcCode.InvalidArgument, 'etcdserver: user name is empty']);

    const readsBefore = srv.reads;
    const login = async (name: string, password: string) => (await call('Authenticate', { name, password })).token as string;
    const rootToken = await login('root', 'rootpw');
    assert.equal(srv.reads, readsBefore + 1, 'Authenticate waits for a linearizable read first');
    const auth = proposals.at(-1)!;
    assert.equal(auth.field, AuthField.authenticate);
    assert.ok(!auth.bytes.includes('rootpw'), 'Authenticate proposes no password');
    assert.deepEqual(await failure(login('root', 'wrong')), [GrpcCode.InvalidArgument, 'etcdserver: authentication failed, invalid user ID or password']);

    const asRoot = { metadata: { token: rootToken } };
    assert.deepEqual((await call('UserList', {}, asRoot)).users, ['alice', 'root']);
    assert.deepEqual(proposals.at(-1)!.caller, { username: 'root', revision: f.store.revision }, 'the caller travels in the entry');
    assert.deepEqual((await call('UserList', {}, { metadata: { authorization: rootToken } })).users, ['alice', 'root'], 'gateway header');
    assert.deepEqual((await call('UserList', {}, { peerCommonName: 'root' })).users, ['alice', 'root'], 'client certificate CN');

    const aliceToken = await login('alice', 'alicepw');
    const asAlice = { metadata: { token: aliceToken } };
    const count = proposals.length;
    assert.deepEqual(await failure(call('UserList', {}, asAlice)), [GrpcCode.PermissionDenied, 'etcdserver: permission denied']);
    assert.deepEqual(await failure(call('UserAdd', { name: 'eve', password: 'x' }, asAlice)), [GrpcCode.PermissionDenied, 'etcdserver: permission denied']);
    assert.equal(proposals.length, count, 'refused before proposing (and before hashing)');
    assert.deepEqual((await call('UserGet', { name: 'alice' }, asAlice)).roles, []);
    assert.deepEqual(await failure(call('UserGet', { name: 'root' }, asAlice)), [GrpcCode.PermissionDenied, 'etcdserver: permission denied']);
    assert.deepEqual(await failure(call('UserList', {}, { metadata: { token: 'forged.1' } })), [GrpcCode.Unauthenticated, 'etcdserver: invalid auth token']);

    const status = await call('AuthStatus', {});
    assert.equal(status.enabled, true);
    assert.equal(status.authRevision, f.store.revision);

    await call('UserChangePassword', { name: 'alice', password: 'newpw' }, asRoot);
    assert.deepEqual(await failure(call('UserGet', { name: 'alice' }, asAlice)), [GrpcCode.Unauthenticated, 'etcdserver: invalid auth token']);
    await call('AuthDisable', {}, asRoot);
    assert.deepEqual(await failure(login('root', 'rootpw')), [GrpcCode.FailedPrecondition, 'etcdserver: authentication is not enabled']);
    assert.deepEqual((await call('UserList', {}, { metadata: { token: 'stale.1' } })).users, ['alice', 'root'], 'tokens are ignored while disabled');
  } finally {
    await f.close();
  }
});

test('Authenticate checks the password again when the auth store changed meanwhile', async () => {
  const f = await fixture();
  try {
    const srv = fakeServer(f);
    await srv.call('UserAdd', { name: 'root', password: 'rootpw' });
    await srv.call('UserGrantRole', { user: 'root', role: 'root' });
    await srv.call('AuthEnable', {});
    let changes = 1;
    srv.afterApply = (field) => {
      if (field === AuthField.authenticate && changes-- > 0) {
        f.store.apply(AuthField.authRoleAdd, { name: 'other' }, { username: 'root', revision: f.store.revision });
      }
    };
    const before = srv.proposals.length;
    const res = await srv.call('Authenticate', { name: 'root', password: 'rootpw' });
    assert.equal(srv.proposals.length - before, 2, 'proposed twice');
    assert.equal(f.store.authInfo(res.token as string)?.username, 'root');

    // the password changes between the check and the apply: no token is handed out
    srv.afterApply = (field) => {
      if (field === AuthField.authenticate) {
        f.store.apply(AuthField.authUserChangePassword, { name: 'root', password: '', hashedPassword: Buffer.from('$2a$04$invalidinvalidinvalidinvalidinvalidinvalidinvalidinv').toString('base64') }, { username: 'root', revision: f.store.revision });
      }
    };
    assert.deepEqual(await failure(srv.call('Authenticate', { name: 'root', password: 'rootpw' })), [GrpcCode.InvalidArgument, 'etcdserver: authentication failed, invalid user ID or password']);
  } finally {
    await f.close();
  }
});
