// The auth store against etcd's rules: a transcript of auth requests and the error
// (etcd's exact text) or success each must give, then revisions, identity and checks.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GrpcCode } from '../../src/api/grpc/status.js';
import { toGrpcError } from '../../src/api/errors.js';
import { AuthError } from '../../src/auth/errors.js';
import { AuthField as F, type AuthFieldNumber, type ClientAuthRequests } from '../../src/auth/fields.js';
import { RaftRequestField } from '../../src/server/raft-request.js';
import { Permission_Type } from '../../src/proto/authpb.js';
import type { AuthInfo, AuthStore } from '../../src/auth/store.js';
import { bytes, fixture, outcome, run, withRoot } from './helpers.js';

const perm = (key: string, rangeEnd: string, permType = Permission_Type.READ) => ({ permType, key: bytes(key), range_end: bytes(rangeEnd) });

type Step = { [K in AuthFieldNumber]: [string, K, ClientAuthRequests[K], string, string?] }[AuthFieldNumber];

const ROOT = 'root';
const ALICE = 'alice';
const GHOST = 'ghost';

// [what, field, request, expected outcome, caller ('' = nobody)]
const TRANSCRIPT: Step[] = [
  ['enable without root', F.authEnable, {}, 'etcdserver: root user does not exist'],
  ['user with empty name', F.authUserAdd, { name: '', password: 'x', hashedPassword: '' }, 'etcdserver: user name is empty'],
  ['add root', F.authUserAdd, { name: 'root', password: 'rootpw', hashedPassword: '' }, 'ok'],
  ['enable without root role', F.authEnable, {}, 'etcdserver: root user does not have root role'],
  ['add root again', F.authUserAdd, { name: 'root', password: 'x', hashedPassword: '' }, 'etcdserver: user name already exists'],
  ['role with empty name', F.authRoleAdd, { name: '' }, 'etcdserver: role name is empty'],
  ['add r1', F.authRoleAdd, { name: 'r1' }, 'ok'],
  ['add r1 again', F.authRoleAdd, { name: 'r1' }, 'etcdserver: role name already exists'],
  ['grant to a missing user', F.authUserGrantRole, { user: 'nobody', role: 'r1' }, 'etcdserver: user name not found'],
  ['grant a missing role', F.authUserGrantRole, { user: 'root', role: 'nosuch' }, 'etcdserver: role name not found'],
  ['grant root before it exists', F.authUserGrantRole, { user: 'root', role: 'root' }, 'ok'],
  ['grant root twice', F.authUserGrantRole, { user: 'root', role: 'root' }, 'ok'],
  ['permission for a missing role', F.authRoleGrantPermission, { name: 'nosuch', perm: perm('a', '') }, 'etcdserver: role name not found'],
  ['grant without a permission', F.authRoleGrantPermission, { name: 'r1' }, 'etcdserver: permission not given'],
  ['permission with empty key', F.authRoleGrantPermission, { name: 'r1', perm: perm('', '') }, 'etcdserver: invalid auth management'],
  ['permission with end before key', F.authRoleGrantPermission, { name: 'r1', perm: perm('b', 'a') }, 'etcdserver: invalid auth management'],
  ['permission from key', F.authRoleGrantPermission, { name: 'r1', perm: perm('zzz', '\0') }, 'ok'],
  ['revoke what was not granted', F.authRoleRevokePermission, { role: 'r1', key: bytes('x'), range_end: bytes('') }, 'etcdserver: permission is not granted to the role'],
  ['revoke from a missing role', F.authRoleRevokePermission, { role: 'nosuch', key: bytes('x'), range_end: bytes('') }, 'etcdserver: role name not found'],
  ['revoke a role not granted', F.authUserRevokeRole, { name: 'root', role: 'r1' }, 'etcdserver: role is not granted to the user'],
  ['revoke from a missing user', F.authUserRevokeRole, { name: 'nobody', role: 'r1' }, 'etcdserver: user name not found'],
  ['password of a missing user', F.authUserChangePassword, { name: 'nobody', password: 'x', hashedPassword: '' }, 'etcdserver: user name not found'],
  ['delete a missing user', F.authUserDelete, { name: 'nobody' }, 'etcdserver: user name not found'],
  ['delete a missing role', F.authRoleDelete, { role: 'nosuch' }, 'etcdserver: role name not found'],
  ['get a missing user', F.authUserGet, { name: 'nobody' }, 'etcdserver: user name not found'],
  ['get a missing role', F.authRoleGet, { role: 'nosuch' }, 'etcdserver: role name not found'],
  ['authenticate while disabled', F.authenticate, { name: 'root', password: 'rootpw' }, 'etcdserver: authentication is not enabled'],
  ['root role can be revoked while disabled', F.authUserRevokeRole, { name: 'root', role: 'root' }, 'ok'],
  ['grant it back', F.authUserGrantRole, { user: 'root', role: 'root' }, 'ok'],
  ['enable', F.authEnable, {}, 'ok'],
  ['enable again (no-op)', F.authEnable, {}, 'ok', ROOT],
  // from here on, who asks matters
  ['add a user as nobody', F.authUserAdd, { name: 'alice', password: 'alicepw', hashedPassword: '' }, 'etcdserver: user name is empty', ''],
  ['add a user as a missing user', F.authUserAdd, { name: 'alice', password: 'alicepw', hashedPassword: '' }, 'etcdserver: user name not found', GHOST],
  ['add alice as root', F.authUserAdd, { name: 'alice', password: 'alicepw', hashedPassword: '' }, 'ok', ROOT],
  ['add bob without password', F.authUserAdd, { name: 'bob', password: '', hashedPassword: '', options: { no_password: true } }, 'ok', ROOT],
  ['list users as alice', F.authUserList, {}, 'etcdserver: permission denied', ALICE],
  ['list roles as alice', F.authRoleList, {}, 'etcdserver: permission denied', ALICE],
  ['add a role as alice', F.authRoleAdd, { name: 'x' }, 'etcdserver: permission denied', ALICE],
  ['alice gets herself', F.authUserGet, { name: 'alice' }, 'ok', ALICE],
  ['alice gets root', F.authUserGet, { name: 'root' }, 'etcdserver: permission denied', ALICE],
  ['nobody gets alice', F.authUserGet, { name: 'alice' }, 'etcdserver: user name is empty', ''],
  ['alice gets a role she lacks', F.authRoleGet, { role: 'r1' }, 'etcdserver: permission denied', ALICE],
  ['grant r1 to alice', F.authUserGrantRole, { user: 'alice', role: 'r1' }, 'ok', ROOT],
  ['alice gets her role', F.authRoleGet, { role: 'r1' }, 'ok', ALICE],
  ['alice gets root role', F.authRoleGet, { role: 'root' }, 'etcdserver: permission denied', ALICE],
  ['alice changes her password', F.authUserChangePassword, { name: 'alice', password: 'x', hashedPassword: '' }, 'etcdserver: permission denied', ALICE],
  ['delete root', F.authUserDelete, { name: 'root' }, 'etcdserver: invalid auth management', ROOT],
  ['revoke root from root', F.authUserRevokeRole, { name: 'root', role: 'root' }, 'etcdserver: invalid auth management', ROOT],
  ['delete the root role', F.authRoleDelete, { role: 'root' }, 'etcdserver: invalid auth management', ROOT],
  ['authenticate a no-password user', F.authenticate, { name: 'bob', password: 'x' }, 'auth: authentication failed, password was given for no password user'],
  ['wrong password', F.authenticate, { name: 'alice', password: 'wrong' }, 'etcdserver: authentication failed, invalid user ID or password'],
  ['unknown user', F.authenticate, { name: 'nobody', password: 'x' }, 'etcdserver: authentication failed, invalid user ID or password'],
  ['right password', F.authenticate, { name: 'alice', password: 'alicepw' }, 'ok'],
  ['status needs nobody', F.authStatus, {}, 'ok', ''],
  ['alice disables auth', F.authDisable, {}, 'etcdserver: permission denied', ALICE],
  ['root disables auth', F.authDisable, {}, 'ok', ROOT],
  ['root may go while disabled', F.authUserDelete, { name: 'root' }, 'ok'],
  ['the root role too', F.authRoleDelete, { role: 'root' }, 'etcdserver: role name not found'],
];

function callerOf(store: AuthStore, name: string | undefined): AuthInfo | undefined {
  if (name === undefined || name === '') return undefined;
  return { username: name, revision: store.revision };
}

test('auth requests follow etcd rules and answer with etcd messages', async () => {
  const f = await fixture();
  try {
    const got: string[] = [];
    for (const [what, field, req, , who] of TRANSCRIPT) {
      got.push(`${what}: ${await outcome(() => run(f.store, field, req as never, callerOf(f.store, who)))}`);
    }
    assert.deepEqual(got, TRANSCRIPT.map(([what, , , want]) => `${what}: ${want}`));
  } finally {
    await f.close();
  }
});

test('errors are auth domain errors that the API edge maps to etcd gRPC codes', async () => {
  const f = await fixture();
  try {
    const code = async (fn: () => unknown) => {
      try {
        await fn();
      } catch (err) {
        assert.ok(err instanceof AuthError, String(err));
        return toGrpcError(err).code;
      }
      return GrpcCode.OK;
    };
    assert.equal(await code(() => run(f.store, F.authEnable, {})), GrpcCode.FailedPrecondition);
    assert.equal(await code(() => run(f.store, F.authUserAdd, { name: '', password: '', hashedPassword: '' })), GrpcCode.InvalidArgument);
    assert.equal(await code(() => run(f.store, F.authenticate, { name: 'x', password: 'y' })), GrpcCode.FailedPrecondition);
    await withRoot(f.store);
    assert.equal(await code(() => run(f.store, F.authenticate, { name: 'x', password: 'y' })), GrpcCode.InvalidArgument);
    assert.equal(await code(() => f.store.checkRange({ username: 'nobody', revision: f.store.revision }, bytes('a'), bytes(''))), GrpcCode.PermissionDenied);
    assert.equal(await code(() => f.store.authInfo('bogus.1')), GrpcCode.Unauthenticated);
    assert.equal(await code(() => run(f.store, F.authUserDelete, { name: 'root' }, { username: 'root', revision: 1 })), GrpcCode.InvalidArgument);
  } finally {
    await f.close();
  }
});

test('every change bumps the auth revision; enable, authenticate, reads and no-ops do not', async () => {
  const f = await fixture();
  const s = f.store;
  try {
    assert.equal(s.revision, 1, 'a fresh store starts at 1');
    const root = { username: 'root', revision: 0 };
    const steps: [string, () => Promise<unknown>, number][] = [
      ['user add', () => run(s, F.authUserAdd, { name: 'root', password: 'pw', hashedPassword: '' }), 1],
      ['grant role', () => run(s, F.authUserGrantRole, { user: 'root', role: 'root' }), 1],
      ['grant role again', () => run(s, F.authUserGrantRole, { user: 'root', role: 'root' }), 0],
      ['enable', () => run(s, F.authEnable, {}), 0],
      ['role add', () => run(s, F.authRoleAdd, { name: 'r' }, root), 1],
      ['grant permission', () => run(s, F.authRoleGrantPermission, { name: 'r', perm: perm('a', 'b') }, root), 1],
      ['same permission, new type', () => run(s, F.authRoleGrantPermission, { name: 'r', perm: perm('a', 'b', Permission_Type.WRITE) }, root), 1],
      ['revoke permission', () => run(s, F.authRoleRevokePermission, { role: 'r', key: bytes('a'), range_end: bytes('b') }, root), 1],
      ['user add', () => run(s, F.authUserAdd, { name: 'u', password: 'pw', hashedPassword: '' }, root), 1],
      ['change password', () => run(s, F.authUserChangePassword, { name: 'u', password: 'pw2', hashedPassword: '' }, root), 1],
      ['grant r', () => run(s, F.authUserGrantRole, { user: 'u', role: 'r' }, root), 1],
      ['revoke r', () => run(s, F.authUserRevokeRole, { name: 'u', role: 'r' }, root), 1],
      ['user get', () => run(s, F.authUserGet, { name: 'u' }, root), 0],
      ['role get', () => run(s, F.authRoleGet, { role: 'r' }, root), 0],
      ['user list', () => run(s, F.authUserList, {}, root), 0],
      ['role list', () => run(s, F.authRoleList, {}, root), 0],
      ['status', () => run(s, F.authStatus, {}), 0],
      ['authenticate', () => run(s, F.authenticate, { name: 'u', password: 'pw2' }), 0],
      ['failed request', () => outcome(() => run(s, F.authRoleAdd, { name: 'r' }, root)), 0],
      ['role delete', () => run(s, F.authRoleDelete, { role: 'r' }, root), 1],
      ['user delete', () => run(s, F.authUserDelete, { name: 'u' }, root), 1],
      ['disable', () => run(s, F.authDisable, {}, root), 1],
      ['disable again', () => run(s, F.authDisable, {}, root), 0],
    ];
    for (const [what, fn, bump] of steps) {
      const before: number = s.revision;
      await fn();
      assert.equal(s.revision - before, bump, what);
    }
    const status = await run(s, F.authStatus, {});
    assert.deepEqual(status, { enabled: false, authRevision: s.revision });
  } finally {
    await f.close();
  }
});

test('roles stay sorted on users, permissions sorted by key; deleting a role takes it from users', async () => {
  const f = await fixture();
  const s = f.store;
  try {
    for (const name of ['zeta', 'alpha', 'mid']) await run(s, F.authRoleAdd, { name });
    await run(s, F.authUserAdd, { name: 'u', password: 'p', hashedPassword: '' });
    for (const role of ['zeta', 'root', 'alpha', 'mid']) await run(s, F.authUserGrantRole, { user: 'u', role });
    assert.deepEqual((await run(s, F.authUserGet, { name: 'u' })).roles, ['alpha', 'mid', 'root', 'zeta']);
    for (const [k, e] of [['m', ''], ['c', 'd'], ['x', '\0'], ['c', '']] as const) {
      await run(s, F.authRoleGrantPermission, { name: 'alpha', perm: perm(k, e) });
    }
    // the same range again updates its type in place
    await run(s, F.authRoleGrantPermission, { name: 'alpha', perm: perm('c', 'd', Permission_Type.READWRITE) });
    const got = (await run(s, F.authRoleGet, { role: 'alpha' })).perm.map((p) => [Buffer.from(p.key).toString(), Buffer.from(p.range_end).toString(), p.permType]);
    assert.deepEqual(got, [
      ['c', 'd', Permission_Type.READWRITE],
      ['c', '', Permission_Type.READ],
      ['m', '', Permission_Type.READ],
      ['x', '\0', Permission_Type.READ],
    ]);
    await run(s, F.authRoleDelete, { role: 'mid' });
    assert.deepEqual((await run(s, F.authUserGet, { name: 'u' })).roles, ['alpha', 'root', 'zeta']);
    assert.deepEqual((await run(s, F.authRoleList, {})).roles, ['alpha', 'zeta']);
    await run(s, F.authUserAdd, { name: 'b', password: 'p', hashedPassword: '' });
    assert.deepEqual((await run(s, F.authUserList, {})).users, ['b', 'u']);
  } finally {
    await f.close();
  }
});

test('identity: nobody while disabled; tokens, then the client certificate CN if enabled', async () => {
  const f = await fixture({ clientCertAuth: true });
  try {
    assert.equal(f.store.authInfo('garbage', 'alice'), undefined, 'auth disabled');
    await withRoot(f.store);
    assert.throws(() => f.store.authInfo('garbage', 'alice'), { message: 'etcdserver: invalid auth token' });
    assert.deepEqual(f.store.authInfo(undefined, 'alice'), { username: 'alice', revision: f.store.revision });
    assert.equal(f.store.authInfo(), undefined);
    const { token } = await run(f.store, F.authenticate, { name: 'root', password: 'rootpw' });
    assert.deepEqual(f.store.authInfo(token, 'alice'), { username: 'root', revision: f.store.revision }, 'the token wins over the CN');
  } finally {
    await f.close();
  }
  const g = await fixture();
  try {
    await withRoot(g.store);
    assert.equal(g.store.authInfo(undefined, 'alice'), undefined, 'CN ignored without --client-cert-auth');
  } finally {
    await g.close();
  }
});

test('permission checks: no-ops while disabled, etcd errors once enabled', async () => {
  const f = await fixture();
  const s = f.store;
  try {
    const k = bytes('k');
    const none = bytes('');
    s.checkRange(undefined, k, none);
    s.checkPut(undefined, k, true);
    s.checkDeleteRange(undefined, k, bytes('\0'), true);
    s.checkAdmin(undefined);
    s.checkLeaseRevoke(undefined, ['k']);
    s.checkWatch(undefined, k, none);
    s.checkTxn(undefined, { compare: [], success: [{ request_put: { key: k, value: none, lease: 0n, prev_kv: false, ignore_value: false, ignore_lease: false } }], failure: [] });

    const root = await withRoot(s);
    await run(s, F.authRoleAdd, { name: 'r' }, root);
    await run(s, F.authRoleGrantPermission, { name: 'r', perm: perm('foo', 'fop') }, root); // read prefix foo
    await run(s, F.authRoleGrantPermission, { name: 'r', perm: perm('bar', '', Permission_Type.WRITE) }, root); // write key bar
    await run(s, F.authRoleGrantPermission, { name: 'r', perm: perm('w', 'x', Permission_Type.READWRITE) }, root); // rw prefix w
    await run(s, F.authRoleGrantPermission, { name: 'r', perm: perm('zzz', '\0', Permission_Type.READWRITE) }, root); // rw from zzz
    await run(s, F.authUserAdd, { name: 'alice', password: 'pw', hashedPassword: '' }, root);
    await run(s, F.authUserGrantRole, { user: 'alice', role: 'r' }, root);
    const alice = { username: 'alice', revision: s.revision };
    const rootNow = { username: 'root', revision: s.revision };

    const check = (fn: () => void) => {
      try {
        fn();
        return 'ok';
      } catch (err) {
        return (err as Error).message;
      }
    };
    const DENIED = 'etcdserver: permission denied';
    const put = (key: string, prevKv = false, lease = 0n) => ({ request_put: { key: bytes(key), value: none, lease, prev_kv: prevKv, ignore_value: false, ignore_lease: false } });
    const range = (key: string, end = '') => ({ request_range: { key: bytes(key), range_end: bytes(end) } as never });
    const del = (key: string, end = '', prevKv = false) => ({ request_delete_range: { key: bytes(key), range_end: bytes(end), prev_kv: prevKv } });
    const cmp = (key: string, end = '') => ({ result: 0, target: 0, key: bytes(key), range_end: bytes(end) });
    const cases: [string, () => void, string][] = [
      ['nobody reads', () => s.checkRange(undefined, k, none), 'etcdserver: user name is empty'],
      ['stale revision', () => s.checkRange({ username: 'alice', revision: s.revision - 1 }, bytes('foo1'), none), 'etcdserver: revision of auth store is old'],
      ['unknown user', () => s.checkRange({ username: 'ghost', revision: s.revision }, bytes('foo1'), none), DENIED],
      ['root reads anything', () => s.checkRange(rootNow, bytes('\0'), bytes('\0')), 'ok'],
      ['read a key in the prefix', () => s.checkRange(alice, bytes('foo1'), none), 'ok'],
      ['read the prefix', () => s.checkRange(alice, bytes('foo'), bytes('fop')), 'ok'],
      ['read inside the prefix', () => s.checkRange(alice, bytes('foo1'), bytes('foo9')), 'ok'],
      ['read a wider prefix', () => s.checkRange(alice, bytes('fo'), bytes('fp')), DENIED],
      ['read from the prefix on', () => s.checkRange(alice, bytes('foo'), bytes('\0')), DENIED],
      ['read from zzz on', () => s.checkRange(alice, bytes('zzz'), bytes('\0')), 'ok'],
      ['read from zz on', () => s.checkRange(alice, bytes('zz'), bytes('\0')), DENIED],
      ['read w and zzz together', () => s.checkRange(alice, bytes('w'), bytes('\0')), DENIED],
      ['read a write-only key', () => s.checkRange(alice, bytes('bar'), none), DENIED],
      ['write a write-only key', () => s.checkPut(alice, bytes('bar'), false), 'ok'],
      ['put with prev_kv needs read', () => s.checkPut(alice, bytes('bar'), true), DENIED],
      ['put with prev_kv, readwrite', () => s.checkPut(alice, bytes('w1'), true), 'ok'],
      ['write a read-only key', () => s.checkPut(alice, bytes('foo1'), false), DENIED],
      ['lease keys must be writable', () => s.checkPut(alice, bytes('w1'), false, ['foo1']), DENIED],
      ['lease keys writable', () => s.checkPut(alice, bytes('w1'), false, ['bar', bytes('zzzz')]), 'ok'],
      ['delete range readwrite', () => s.checkDeleteRange(alice, bytes('w'), bytes('x'), true), 'ok'],
      ['delete range with prev_kv needs read', () => s.checkDeleteRange(alice, bytes('bar'), none, true), DENIED],
      ['delete write-only key', () => s.checkDeleteRange(alice, bytes('bar'), none, false), 'ok'],
      ['watch the prefix', () => s.checkWatch(alice, bytes('foo'), bytes('fop')), 'ok'],
      ['watch everything', () => s.checkWatch(alice, bytes('\0'), bytes('\0')), DENIED],
      ['revoke a lease with a read-only key', () => s.checkLeaseRevoke(alice, ['w1', 'foo1']), DENIED],
      ['revoke a lease with writable keys', () => s.checkLeaseRevoke(alice, ['w1', 'bar']), 'ok'],
      ['admin as nobody', () => s.checkAdmin(undefined), 'etcdserver: user name is empty'],
      ['admin as a missing user', () => s.checkAdmin({ username: 'ghost', revision: 9 }), 'etcdserver: user name not found'],
      ['admin as alice', () => s.checkAdmin(alice), DENIED],
      ['admin as root', () => s.checkAdmin(rootNow), 'ok'],
      ['txn allowed', () => s.checkTxn(alice, { compare: [cmp('foo1')], success: [put('bar'), range('foo', 'fop')], failure: [del('w1', '', true)] }), 'ok'],
      ['txn compare denied', () => s.checkTxn(alice, { compare: [cmp('bar')], success: [], failure: [] }), DENIED],
      ['txn failure branch denied', () => s.checkTxn(alice, { compare: [], success: [], failure: [put('foo1')] }), DENIED],
      ['txn put prev_kv denied', () => s.checkTxn(alice, { compare: [], success: [put('bar', true)], failure: [] }), DENIED],
      ['txn delete prev_kv denied', () => s.checkTxn(alice, { compare: [], success: [del('bar', '', true)], failure: [] }), DENIED],
      ['nested txn denied', () => s.checkTxn(alice, { compare: [], success: [{ request_txn: { compare: [], success: [], failure: [range('bar')] } }], failure: [] }), DENIED],
      ['nested txn allowed', () => s.checkTxn(alice, { compare: [], success: [{ request_txn: { compare: [cmp('w1')], success: [put('w2')], failure: [] } }], failure: [] }), 'ok'],
      ['txn lease keys', () => s.checkTxn(alice, { compare: [], success: [put('w1', false, 7n)], failure: [] }, (id) => (id === 7n ? ['foo1'] : undefined)), DENIED],
    ];
    assert.deepEqual(
      cases.map(([what, fn]) => `${what}: ${check(fn)}`),
      cases.map(([what, , want]) => `${what}: ${want}`),
    );
    // permissions follow changes at once
    await run(s, F.authUserRevokeRole, { name: 'alice', role: 'r' }, rootNow);
    assert.equal(check(() => s.checkRange({ username: 'alice', revision: s.revision }, bytes('foo1'), none)), DENIED);
  } finally {
    await f.close();
  }
});

test('restart keeps users, roles, permissions, the flag and the revision', async () => {
  const f = await fixture();
  try {
    const root = await withRoot(f.store);
    await run(f.store, F.authRoleAdd, { name: 'r' }, root);
    await run(f.store, F.authRoleGrantPermission, { name: 'r', perm: perm('a', 'c') }, root);
    await run(f.store, F.authUserAdd, { name: 'alice', password: 'alicepw', hashedPassword: '' }, root);
    await run(f.store, F.authUserAdd, { name: 'bob', password: '', hashedPassword: '', options: { no_password: true } }, root);
    await run(f.store, F.authUserGrantRole, { user: 'alice', role: 'r' }, root);
    const { token } = await run(f.store, F.authenticate, { name: 'alice', password: 'alicepw' });
    const rev = f.store.revision;
    await f.restart();
    const s = f.store;
    assert.equal(s.enabled, true);
    assert.equal(s.revision, rev);
    assert.deepEqual((await run(s, F.authUserList, {}, root)).users, ['alice', 'bob', 'root']);
    assert.deepEqual((await run(s, F.authUserGet, { name: 'alice' }, root)).roles, ['r']);
    const perms = (await run(s, F.authRoleGet, { role: 'r' }, root)).perm;
    assert.deepEqual(perms.map((p) => [Buffer.from(p.key).toString(), Buffer.from(p.range_end).toString()]), [['a', 'c']]);
    assert.throws(() => s.authInfo(token), { message: 'etcdserver: invalid auth token' }, 'simple tokens live in memory only');
    const again = await run(s, F.authenticate, { name: 'alice', password: 'alicepw' });
    const alice = s.authInfo(again.token)!;
    s.checkRange(alice, bytes('b'), bytes(''));
    assert.throws(() => s.checkRange(alice, bytes('c'), bytes('')), { message: 'etcdserver: permission denied' });
    assert.equal(await outcome(() => run(s, F.authenticate, { name: 'bob', password: 'x' })), 'auth: authentication failed, password was given for no password user');
    await run(s, F.authDisable, {}, root);
    await f.restart();
    assert.equal(f.store.enabled, false);
    assert.equal(f.store.revision, rev + 1);
  } finally {
    await f.close();
  }
});

test('passwords are hashed before the log with the configured bcrypt cost', async () => {
  const costOf = async (bcryptCost?: number) => {
    // undefined overrides the fixture's cheap default: the store picks etcd's
    const f = await fixture({ bcryptCost });
    try {
      const prepared = await f.store.prepare(F.authUserAdd, { name: 'u', password: 'secret', hashedPassword: '' });
      assert.equal(prepared.password, '', 'no password in the log');
      const hash = Buffer.from(prepared.hashedPassword, 'base64').toString();
      assert.match(hash, /^\$2a\$\d\d\$.{53}$/);
      const changed = await f.store.prepare(F.authUserChangePassword, { name: 'u', password: 'other', hashedPassword: 'forged' });
      assert.equal(changed.password, '');
      assert.notEqual(changed.hashedPassword, 'forged');
      const noPw = await f.store.prepare(F.authUserAdd, { name: 'n', password: 'ignored', hashedPassword: 'forged', options: { no_password: true } });
      assert.deepEqual([noPw.password, noPw.hashedPassword], ['', '']);
      return { cost: Number(hash.slice(4, 6)), storeCost: f.store.bcryptCost };
    } finally {
      await f.close();
    }
  };
  assert.deepEqual(await costOf(4), { cost: 4, storeCost: 4 });
  assert.deepEqual(await costOf(5), { cost: 5, storeCost: 5 });
  assert.deepEqual(await costOf(undefined), { cost: 10, storeCost: 10 }, "etcd's default");
  assert.deepEqual(await costOf(3), { cost: 10, storeCost: 10 }, 'out of range falls back to 10');
  assert.deepEqual(await costOf(32), { cost: 10, storeCost: 10 }, 'out of range falls back to 10');
});

test('an entry nobody prepared (a password in the log) is still hashed, and works', async () => {
  const f = await fixture();
  try {
    f.store.apply(F.authUserAdd, { name: 'root', password: 'pw', hashedPassword: '' }, undefined, 1);
    f.store.apply(F.authUserGrantRole, { user: 'root', role: 'root' }, undefined, 2);
    f.store.apply(F.authEnable, {}, undefined, 3);
    const { token } = await run(f.store, F.authenticate, { name: 'root', password: 'pw' });
    assert.equal(f.store.authInfo(token)?.username, 'root');
  } finally {
    await f.close();
  }
});

test('the auth field numbers are the server log layout', () => {
  for (const [name, n] of Object.entries(F)) {
    if (name === 'authStatus') continue; // etcd 3.5 adds it; the server's table may not have it yet
    assert.equal((RaftRequestField as Record<string, number>)[name], n, name);
  }
  assert.equal(F.authStatus, 1013);
});
