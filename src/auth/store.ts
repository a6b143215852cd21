// The auth store: users, roles and their key permissions, the enabled flag and the auth
// revision, kept in memory and persisted in the backend's `auth`, `authUsers` and
// `authRoles` buckets with etcd's layout (authpb.User / authpb.Role values keyed by
// name; `authEnabled` = [1] or [0] and `authRevision` = 8 bytes big endian).
//
// A change travels in three steps, so that every member applies the same bytes:
//   prepare  (the member that received the request, before proposing): hashes new
//            passwords, checks Authenticate's password and draws the simple token.
//   apply    (every member, in log order): etcd's rules and errors; each change bumps the
//            auth revision. Never throws once it has started writing.
//   checks   (API and apply): who is calling (authInfo) and whether it may touch a range.
// While auth is disabled identity resolves to nothing and every check passes.
import { hash as bcryptHash, hashSync as bcryptHashSync, verify as bcryptVerify } from '@node-rs/bcrypt';
import type { Backend } from '../backend/backend.js';
import type { Logger } from '../pkg/logger.js';
import * as authpb from '../proto/authpb.js';
import type * as pb from '../proto/etcdserverpb.js';
import { AuthErrors } from './errors.js';
import { AUTH_ACCESS, AuthField, isAuthField, type AuthFieldNumber, type AuthRequests, type AuthResponses, type ClientAuthRequests } from './fields.js';
import { JwtTokens } from './jwt.js';
import { keyString, requestInterval, type KeyInterval } from './range-perms.js';
import { DEFAULT_SIMPLE_TOKEN_TTL_SEC, NopTokens, SimpleTokens } from './simple-token.js';
import { parseAuthTokenOption, type AuthInfo, type TokenConfig, type TokenProvider } from './tokens.js';
import { asGoBcryptVersion, BCRYPT_MAX_COST, BCRYPT_MIN_COST, bytesEqual, copyBytes, DEFAULT_BCRYPT_COST, DISABLED, ENABLED, ENABLED_KEY, hasRootRole, isValidPermissionRange, REVISION_KEY, ROOT_ROLE, ROOT_USER, userPerms, utf8Compare } from './records.js';
import type { PermKind, UserPerms } from './records.js';

export type { AuthInfo } from './tokens.js';

export { ROOT_USER, ROOT_ROLE, BCRYPT_MIN_COST, BCRYPT_MAX_COST, DEFAULT_BCRYPT_COST, callerFromHeader, tokenFromMetadata } from './records.js';

export interface AuthStoreOptions {
  /** --bcrypt-cost; outside 4..31 falls back to 10 with a warning, as etcd does */
  bcryptCost?: number;
  /** --auth-token, as text or already parsed; default 'simple' */
  token?: string | TokenConfig;
  /** --auth-token-ttl: seconds a simple token lives after its last use (default 300) */
  tokenTtlSec?: number;
  /** --client-cert-auth: a verified client certificate's CN names the user (default false) */
  clientCertAuth?: boolean;
  /** milliseconds since the epoch; injectable for tests */
  clock?: () => number;
  logger?: Logger;
}

export class AuthStore {
  readonly bcryptCost: number;
  private readonly tokens: TokenProvider;
  private readonly now: () => number;
  private readonly log: Logger | undefined;
  private readonly clientCertAuth: boolean;

  private enabledFlag = false;
  private rev = 0;
  private readonly users = new Map<string, authpb.User>();
  private readonly roles = new Map<string, authpb.Role>();
  /** merged permissions per user name, rebuilt lazily after any change */
  private readonly permCache = new Map<string, UserPerms>();
  /** stands in for the log index in simple tokens when apply is not given one */
  private authenticateCount = 0;

  /** Reads the persisted state (see load). Throws AuthConfigError for a bad token option. */
  constructor(
    private readonly backend: Backend,
    opts: AuthStoreOptions = {},
  ) {
    this.log = opts.logger;
    this.now = opts.clock ?? Date.now;
    this.clientCertAuth = opts.clientCertAuth ?? false;
    this.bcryptCost = this.checkedCost(opts.bcryptCost);
    this.tokens = this.makeTokens(opts);
    this.load();
  }

  private checkedCost(cost: number | undefined): number {
    if (cost === undefined) return DEFAULT_BCRYPT_COST;
    if (Number.isInteger(cost) && cost >= BCRYPT_MIN_COST && cost <= BCRYPT_MAX_COST) return cost;
    const fields = { 'min-cost': BCRYPT_MIN_COST, 'max-cost': BCRYPT_MAX_COST, 'default-cost': DEFAULT_BCRYPT_COST, 'given-cost': cost };
    this.log?.warn('use default bcrypt cost instead of the invalid given cost', fields);
    return DEFAULT_BCRYPT_COST;
  }

  private makeTokens(opts: AuthStoreOptions): TokenProvider {
    const cfg = typeof opts.token === 'object' ? opts.token : parseAuthTokenOption(opts.token ?? 'simple', (m, f) => this.log?.warn(m, f));
    switch (cfg.kind) {
      case 'simple': {
        this.log?.warn('simple token is not cryptographically signed');
        const ttlSec = opts.tokenTtlSec !== undefined && opts.tokenTtlSec > 0 ? opts.tokenTtlSec : DEFAULT_SIMPLE_TOKEN_TTL_SEC;
        return new SimpleTokens(ttlSec * 1000, this.now);
      }
      case 'jwt':
        return new JwtTokens(cfg, this.now);
      case 'nop':
        return new NopTokens();
    }
  }

  // ---- state ------------------------------------------------------------------------

  get enabled(): boolean {
    return this.enabledFlag;
  }

  /** the auth revision: bumped by every change to users, roles or permissions */
  get revision(): number {
    return this.rev;
  }

  get tokenKind(): TokenConfig['kind'] {
    return this.tokens.kind;
  }

  /**
   * (Re)reads everything from the backend: at start, after a restart, after a snapshot
   * was restored into the backend. Must run outside a backend write group. A fresh store
   * starts at auth revision 1, as etcd's does.
   */
  load(): void {
    const flag = this.backend.get('auth', ENABLED_KEY);
    const revBytes = this.backend.get('auth', REVISION_KEY);
    this.rev = revBytes && revBytes.length === 8 ? Number(revBytes.readBigUInt64BE(0)) : 0;
    this.users.clear();
    this.roles.clear();
    this.permCache.clear();
    for (const { key, value } of this.backend.range('authUsers')) {
      const u = authpb.User.decode(Buffer.from(value));
      if (!Buffer.from(u.name).equals(key)) throw new Error(`auth: user record under ${key.toString('utf8')} names ${Buffer.from(u.name).toString('utf8')}`);
      this.users.set(key.toString('utf8'), u);
    }
    for (const { key, value } of this.backend.range('authRoles')) {
      const r = authpb.Role.decode(Buffer.from(value));
      if (!Buffer.from(r.name).equals(key)) throw new Error(`auth: role record under ${key.toString('utf8')} names ${Buffer.from(r.name).toString('utf8')}`);
      this.roles.set(key.toString('utf8'), r);
    }
    if (this.rev === 0) this.backend.write(() => this.bumpRevision());
    const enabled = flag !== undefined && flag.equals(ENABLED);
    if (enabled && !this.enabledFlag) this.tokens.enable();
    if (!enabled && this.enabledFlag) this.tokens.disable();
    this.enabledFlag = enabled;
  }

  close(): void {
    this.tokens.close();
  }

  hasRole(username: string, role: string): boolean {
    return this.users.get(username)?.roles.includes(role) ?? false;
  }

  // ---- before the log ---------------------------------------------------------------

  /**
   * Work done once, by the member that received the request, before it is proposed:
   * passwords become bcrypt hashes (base64 in `hashedPassword`, `password` cleared, as
   * etcd 3.5 proposes them); Authenticate checks the password and becomes an
   * InternalAuthenticateRequest carrying the simple token's random prefix. Other requests
   * come back unchanged.
   */
  prepare<F extends AuthFieldNumber>(field: F, request: ClientAuthRequests[F]): Promise<AuthRequests[F]>;
  prepare(field: number, request: unknown): Promise<unknown>;
  async prepare(field: number, request: unknown): Promise<unknown> {
    switch (field) {
      case AuthField.authUserAdd: {
        const r = request as pb.AuthUserAddRequest;
        const noPassword = r.options?.no_password === true;
        return { ...r, password: '', hashedPassword: noPassword ? '' : await this.hashPassword(r.password) };
      }
      case AuthField.authUserChangePassword: {
        const r = request as pb.AuthUserChangePasswordRequest;
        return { ...r, password: '', hashedPassword: await this.hashPassword(r.password) };
      }
      case AuthField.authenticate:
        return this.prepareAuthenticate(request as pb.AuthenticateRequest);
      default:
        return request;
    }
  }

  private async hashPassword(password: string): Promise<string> {
    return Buffer.from(asGoBcryptVersion(await bcryptHash(password, this.bcryptCost)), 'utf8').toString('base64');
  }

  /** etcd's CheckPassword, then the token prefix to propose. */
  private async prepareAuthenticate(r: pb.AuthenticateRequest): Promise<pb.InternalAuthenticateRequest> {
    if (!this.enabledFlag) throw AuthErrors.authNotEnabled();
    const user = this.users.get(r.name);
    if (!user) throw AuthErrors.authFailed();
    if (user.options?.no_password) throw AuthErrors.noPasswordUser();
    const ok = user.password.length > 0 && (await bcryptVerify(r.password, user.password));
    if (!ok) {
      this.log?.info('invalid password', { 'user-name': r.name });
      throw AuthErrors.authFailed();
    }
    return { name: r.name, password: '', simple_token: this.tokens.genTokenPrefix() };
  }

  // ---- apply --------------------------------------------------------------------------

  /**
   * Applies one auth request from the log, as the user in the entry's header
   * (`caller`, see callerFromHeader). Returns the response without a header, or throws a
   * domain error (AuthError); a throw leaves no trace in memory or the backend. `entryIndex` is the log
   * index of the entry (it ends simple tokens, as in etcd).
   */
  apply<F extends AuthFieldNumber>(field: F, request: AuthRequests[F], caller: AuthInfo | undefined, entryIndex?: number): AuthResponses[F];
  apply(field: number, request: unknown, caller: AuthInfo | undefined, entryIndex?: number): unknown;
  apply(field: number, request: unknown, caller: AuthInfo | undefined, entryIndex?: number): unknown {
    if (!isAuthField(field)) throw new Error(`auth: field ${field} is not an auth request`);
    this.checkAccess(field, request, caller);
    const F = AuthField;
    switch (field) {
      case F.authEnable:
        return this.authEnable();
      case F.authDisable:
        return this.authDisable();
      case F.authStatus:
        return { enabled: this.enabledFlag, authRevision: this.rev };
      case F.authenticate:
        return this.authenticate(request as pb.InternalAuthenticateRequest, entryIndex);
      case F.authUserAdd:
        return this.userAdd(request as pb.AuthUserAddRequest);
      case F.authUserDelete:
        return this.userDelete(request as pb.AuthUserDeleteRequest);
      case F.authUserGet:
        return this.userGet(request as pb.AuthUserGetRequest);
      case F.authUserChangePassword:
        return this.userChangePassword(request as pb.AuthUserChangePasswordRequest);
      case F.authUserGrantRole:
        return this.userGrantRole(request as pb.AuthUserGrantRoleRequest);
      case F.authUserRevokeRole:
        return this.userRevokeRole(request as pb.AuthUserRevokeRoleRequest);
      case F.authUserList:
        return { users: [...this.users.keys()].sort(utf8Compare) };
      case F.authRoleList:
        return { roles: [...this.roles.keys()].sort(utf8Compare) };
      case F.authRoleAdd:
        return this.roleAdd(request as pb.AuthRoleAddRequest);
      case F.authRoleDelete:
        return this.roleDelete(request as pb.AuthRoleDeleteRequest);
      case F.authRoleGet:
        return this.roleGet(request as pb.AuthRoleGetRequest);
      case F.authRoleGrantPermission:
        return this.roleGrantPermission(request as pb.AuthRoleGrantPermissionRequest);
      case F.authRoleRevokePermission:
        return this.roleRevokePermission(request as pb.AuthRoleRevokePermissionRequest);
    }
  }

  /**
   * etcd's admin rules for auth management (apply_auth.go): the root role for most; a
   * user may get itself, and any role it has. The API calls this too, to refuse early.
   */
  checkAccess(field: AuthFieldNumber, request: unknown, caller: AuthInfo | undefined): void {
    switch (AUTH_ACCESS[field]) {
      case 'anyone':
        return;
      case 'admin':
        return this.checkAdmin(caller);
      case 'self':
        return this.unlessAdmin(caller, () => (caller?.username ?? '') === (request as pb.AuthUserGetRequest).name);
      case 'ownRole':
        return this.unlessAdmin(caller, () => this.hasRole(caller?.username ?? '', (request as pb.AuthRoleGetRequest).role));
    }
  }

  private unlessAdmin(caller: AuthInfo | undefined, allowed: () => boolean): void {
    try {
      this.checkAdmin(caller);
    } catch (err) {
      if (!allowed()) throw err;
    }
  }

  /** Runs fn as one backend write group that also bumps the revision; fn must not throw. */
  private change(fn: () => void): void {
    this.backend.write(() => {
      fn();
      this.bumpRevision();
    });
    this.permCache.clear();
  }

  private bumpRevision(): void {
    this.rev++;
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(BigInt(this.rev));
    this.backend.put('auth', REVISION_KEY, b);
  }

  private putUser(u: authpb.User): void {
    this.backend.put('authUsers', u.name, authpb.User.encode(u));
    this.users.set(Buffer.from(u.name).toString('utf8'), u);
  }

  private putRole(r: authpb.Role): void {
    this.backend.put('authRoles', r.name, authpb.Role.encode(r));
    this.roles.set(Buffer.from(r.name).toString('utf8'), r);
  }

  private authEnable(): pb.AuthEnableResponse {
    if (this.enabledFlag) {
      this.log?.info('authentication is already enabled; ignored auth enable request');
      return {};
    }
    const root = this.users.get(ROOT_USER);
    if (!root) throw AuthErrors.rootUserNotExist();
    if (!hasRootRole(root)) throw AuthErrors.rootRoleNotExist();
    // etcd does not bump the revision here
    this.backend.write(() => this.backend.put('auth', ENABLED_KEY, ENABLED));
    this.enabledFlag = true;
    this.tokens.enable();
    this.permCache.clear();
    this.log?.info('enabled authentication');
    return {};
  }

  private authDisable(): pb.AuthDisableResponse {
    if (!this.enabledFlag) return {};
    this.change(() => this.backend.put('auth', ENABLED_KEY, DISABLED));
    this.enabledFlag = false;
    this.tokens.disable();
    this.log?.info('disabled authentication');
    return {};
  }

  private authenticate(r: pb.InternalAuthenticateRequest, entryIndex: number | undefined): pb.AuthenticateResponse {
    if (!this.enabledFlag) throw AuthErrors.authNotEnabled();
    const user = this.users.get(r.name);
    // the password was checked before proposing; here only what may have changed since
    if (!user || user.options?.no_password) throw AuthErrors.authFailed();
    const index = entryIndex ?? ++this.authenticateCount;
    const token = this.tokens.assign(r.name, this.rev, r.simple_token, index);
    this.log?.debug('authenticated a user', { 'user-name': r.name });
    return { token };
  }

  /** etcd 3.5's selectPassword: the proposed hash, or (for an entry nobody prepared) a fresh one */
  private storedPassword(password: string, hashedPassword: string): Uint8Array {
    if (password !== '' && hashedPassword === '') {
      return Buffer.from(asGoBcryptVersion(bcryptHashSync(password, this.bcryptCost)), 'utf8');
    }
    return Buffer.from(hashedPassword, 'base64');
  }

  private userAdd(r: pb.AuthUserAddRequest): pb.AuthUserAddResponse {
    if (r.name === '') throw AuthErrors.userEmpty();
    if (this.users.has(r.name)) throw AuthErrors.userAlreadyExist();
    const options: authpb.UserAddOptions = { no_password: r.options?.no_password === true };
    const password = options.no_password ? new Uint8Array(0) : this.storedPassword(r.password, r.hashedPassword);
    this.change(() => this.putUser({ name: Buffer.from(r.name, 'utf8'), password, roles: [], options }));
    this.log?.info('added a user', { 'user-name': r.name });
    return {};
  }

  private userDelete(r: pb.AuthUserDeleteRequest): pb.AuthUserDeleteResponse {
    if (this.enabledFlag && r.name === ROOT_USER) {
      this.log?.warn("cannot delete 'root' user", { 'user-name': r.name });
      throw AuthErrors.invalidAuthMgmt();
    }
    const user = this.users.get(r.name);
    if (!user) throw AuthErrors.userNotFound();
    this.change(() => {
      this.backend.delete('authUsers', user.name);
      this.users.delete(r.name);
    });
    this.tokens.invalidateUser(r.name);
    this.log?.info('deleted a user', { 'user-name': r.name, 'user-roles': user.roles });
    return {};
  }

  private userChangePassword(r: pb.AuthUserChangePasswordRequest): pb.AuthUserChangePasswordResponse {
    const user = this.users.get(r.name);
    if (!user) throw AuthErrors.userNotFound();
    const password = this.storedPassword(r.password, r.hashedPassword);
    this.change(() => this.putUser({ ...user, password }));
    this.tokens.invalidateUser(r.name);
    this.log?.info('changed a password of a user', { 'user-name': r.name, 'user-roles': user.roles });
    return {};
  }

  private userGrantRole(r: pb.AuthUserGrantRoleRequest): pb.AuthUserGrantRoleResponse {
    const user = this.users.get(r.user);
    if (!user) throw AuthErrors.userNotFound();
    // the root role may be granted before it is created (etcdctl's auth enable does so)
    if (r.role !== ROOT_ROLE && !this.roles.has(r.role)) throw AuthErrors.roleNotFound();
    if (user.roles.includes(r.role)) {
      this.log?.warn('ignored grant role request to a user', { 'user-name': r.user, 'duplicate-role-name': r.role });
      return {};
    }
    const roles = [...user.roles, r.role].sort(utf8Compare);
    this.change(() => this.putUser({ ...user, roles }));
    this.log?.info('granted a role to a user', { 'user-name': r.user, 'user-roles': roles, 'added-role-name': r.role });
    return {};
  }

  private userGet(r: pb.AuthUserGetRequest): pb.AuthUserGetResponse {
    const user = this.users.get(r.name);
    if (!user) throw AuthErrors.userNotFound();
    return { roles: [...user.roles] };
  }

  private userRevokeRole(r: pb.AuthUserRevokeRoleRequest): pb.AuthUserRevokeRoleResponse {
    if (this.enabledFlag && r.name === ROOT_USER && r.role === ROOT_ROLE) {
      this.log?.warn("'root' user cannot revoke 'root' role", { 'user-name': r.name, 'role-name': r.role });
      throw AuthErrors.invalidAuthMgmt();
    }
    const user = this.users.get(r.name);
    if (!user) throw AuthErrors.userNotFound();
    const roles = user.roles.filter((role) => role !== r.role);
    if (roles.length === user.roles.length) throw AuthErrors.roleNotGranted();
    this.change(() => this.putUser({ ...user, roles }));
    this.log?.info('revoked a role from a user', { 'user-name': r.name, 'revoked-role-name': r.role });
    return {};
  }

  private roleAdd(r: pb.AuthRoleAddRequest): pb.AuthRoleAddResponse {
    if (r.name === '') throw AuthErrors.roleEmpty();
    if (this.roles.has(r.name)) throw AuthErrors.roleAlreadyExist();
    this.change(() => this.putRole({ name: Buffer.from(r.name, 'utf8'), keyPermission: [] }));
    this.log?.info('created a role', { 'role-name': r.name });
    return {};
  }

  private roleDelete(r: pb.AuthRoleDeleteRequest): pb.AuthRoleDeleteResponse {
    if (this.enabledFlag && r.role === ROOT_ROLE) {
      this.log?.warn("cannot delete 'root' role", { 'role-name': r.role });
      throw AuthErrors.invalidAuthMgmt();
    }
    const role = this.roles.get(r.role);
    if (!role) throw AuthErrors.roleNotFound();
    this.change(() => {
      this.backend.delete('authRoles', role.name);
      this.roles.delete(r.role);
      for (const user of [...this.users.values()]) {
        if (user.roles.includes(r.role)) this.putUser({ ...user, roles: user.roles.filter((x) => x !== r.role) });
      }
    });
    this.log?.info('deleted a role', { 'role-name': r.role });
    return {};
  }

  private roleGet(r: pb.AuthRoleGetRequest): pb.AuthRoleGetResponse {
    const role = this.roles.get(r.role);
    if (!role) throw AuthErrors.roleNotFound();
    return { perm: role.keyPermission.map((p) => ({ permType: p.permType, key: copyBytes(p.key), range_end: copyBytes(p.range_end) })) };
  }

  private roleGrantPermission(r: pb.AuthRoleGrantPermissionRequest): pb.AuthRoleGrantPermissionResponse {
    const perm = r.perm;
    if (!perm) throw AuthErrors.permissionNotGiven();
    if (!isValidPermissionRange(perm.key, perm.range_end)) throw AuthErrors.invalidAuthMgmt();
    const role = this.roles.get(r.name);
    if (!role) throw AuthErrors.roleNotFound();
    const granted: authpb.Permission = { permType: perm.permType, key: copyBytes(perm.key), range_end: copyBytes(perm.range_end) };
    const same = role.keyPermission.findIndex((p) => bytesEqual(p.key, perm.key) && bytesEqual(p.range_end, perm.range_end));
    let keyPermission: authpb.Permission[];
    if (same >= 0) {
      // the same range again: its type is updated in place
      keyPermission = role.keyPermission.map((p, i) => (i === same ? granted : p));
    } else {
      // kept sorted by key; among equal keys, in the order granted
      keyPermission = [...role.keyPermission];
      let at = keyPermission.length;
      while (at > 0 && Buffer.compare(Buffer.from(keyPermission[at - 1]!.key), Buffer.from(perm.key)) > 0) at--;
      keyPermission.splice(at, 0, granted);
    }
    this.change(() => this.putRole({ ...role, keyPermission }));
    this.log?.info('granted/updated a permission to a user', { 'user-name': r.name, 'permission-name': authpb.Permission_Type[perm.permType] });
    return {};
  }

  private roleRevokePermission(r: pb.AuthRoleRevokePermissionRequest): pb.AuthRoleRevokePermissionResponse {
    const role = this.roles.get(r.role);
    if (!role) throw AuthErrors.roleNotFound();
    const keyPermission = role.keyPermission.filter((p) => !(bytesEqual(p.key, r.key) && bytesEqual(p.range_end, r.range_end)));
    if (keyPermission.length === role.keyPermission.length) throw AuthErrors.permissionNotGranted();
    this.change(() => this.putRole({ ...role, keyPermission }));
    this.log?.info('revoked a permission on range', { 'role-name': r.role, key: keyString(r.key), 'range-end': keyString(r.range_end) });
    return {};
  }

  // ---- identity -----------------------------------------------------------------------

  /**
   * Who is calling: the token if one came (simple: looked up, its TTL renewed; JWT:
   * signature and expiry verified), else the verified client certificate's CN when
   * --client-cert-auth is on, else nobody. A token that resolves to nobody is
   * `invalid auth token`. While auth is disabled: always undefined.
   */
  authInfo(token?: string, certCommonName?: string): AuthInfo | undefined {
    if (!this.enabledFlag) return undefined;
    if (token !== undefined) {
      const ai = this.tokens.info(token, this.rev);
      if (!ai) {
        this.log?.warn('invalid auth token', { token });
        throw AuthErrors.invalidAuthToken();
      }
      return ai;
    }
    if (certCommonName !== undefined && this.clientCertAuth) return { username: certCommonName, revision: this.rev };
    return undefined;
  }

  // ---- permission checks --------------------------------------------------------------

  /** The root role: auth management, maintenance (defrag, hash, snapshot), membership. */
  checkAdmin(ai: AuthInfo | undefined): void {
    if (!this.enabledFlag) return;
    if (!ai || ai.username === '') throw AuthErrors.userEmpty();
    const user = this.users.get(ai.username);
    if (!user) throw AuthErrors.userNotFound();
    if (!hasRootRole(user)) throw AuthErrors.permissionDenied();
  }

  checkRange(ai: AuthInfo | undefined, key: Uint8Array, rangeEnd: Uint8Array): void {
    this.check(ai, requestInterval(key, rangeEnd), 'read');
  }

  /** `leaseKeys`: keys already attached to the lease the put attaches (they must be writable too) */
  checkPut(ai: AuthInfo | undefined, key: Uint8Array, prevKv: boolean, leaseKeys?: Iterable<string | Uint8Array>): void {
    if (!this.enabledFlag) return;
    const iv = requestInterval(key, new Uint8Array(0));
    this.check(ai, iv, 'write');
    if (leaseKeys) this.checkLeaseRevoke(ai, leaseKeys);
    if (prevKv) this.check(ai, iv, 'read');
  }

  checkDeleteRange(ai: AuthInfo | undefined, key: Uint8Array, rangeEnd: Uint8Array, prevKv: boolean): void {
    if (!this.enabledFlag) return;
    const iv = requestInterval(key, rangeEnd);
    this.check(ai, iv, 'write');
    if (prevKv) this.check(ai, iv, 'read');
  }

  /**
   * Every compare needs read; every op as its own request would; nested transactions
   * too. `leaseKeysOf` (optional) gives the keys attached to a put's lease.
   */
  checkTxn(ai: AuthInfo | undefined, txn: pb.TxnRequest, leaseKeysOf?: (lease: bigint) => Iterable<string | Uint8Array> | undefined): void {
    if (!this.enabledFlag) return;
    for (const c of txn.compare) this.checkRange(ai, c.key, c.range_end);
    for (const op of [...txn.success, ...txn.failure]) {
      if (op.request_range) this.checkRange(ai, op.request_range.key, op.request_range.range_end);
      else if (op.request_put) {
        const p = op.request_put;
        this.checkPut(ai, p.key, p.prev_kv, p.lease !== 0n ? leaseKeysOf?.(p.lease) : undefined);
      } else if (op.request_delete_range) {
        const d = op.request_delete_range;
        this.checkDeleteRange(ai, d.key, d.range_end, d.prev_kv);
      } else if (op.request_txn) this.checkTxn(ai, op.request_txn, leaseKeysOf);
    }
  }

  /** Revoking a lease deletes its keys: each must be writable. Strings are latin1 keys. */
  checkLeaseRevoke(ai: AuthInfo | undefined, attachedKeys: Iterable<string | Uint8Array>): void {
    if (!this.enabledFlag) return;
    for (const k of attachedKeys) {
      const start = typeof k === 'string' ? k : keyString(k);
      this.check(ai, { start, end: start + '\0' }, 'write');
    }
  }

  checkWatch(ai: AuthInfo | undefined, key: Uint8Array, rangeEnd: Uint8Array): void {
    this.checkRange(ai, key, rangeEnd);
  }

  /** etcd's isOpPermitted */
  private check(ai: AuthInfo | undefined, iv: KeyInterval, kind: PermKind): void {
    if (!this.enabledFlag) return;
    if (!ai || ai.revision === 0) throw AuthErrors.userEmpty();
    if (ai.revision < this.rev) throw AuthErrors.authOldRevision();
    const user = this.users.get(ai.username);
    if (!user) throw AuthErrors.permissionDenied();
    if (hasRootRole(user)) return;
    if (!this.permsOf(ai.username, user)[kind].covers(iv)) throw AuthErrors.permissionDenied();
  }

  /** the merged permissions of a user, cached until the next change */
  private permsOf(name: string, user: authpb.User): UserPerms {
    let perms = this.permCache.get(name);
    if (!perms) this.permCache.set(name, (perms = userPerms(user, (role) => this.roles.get(role))));
    return perms;
  }
}
