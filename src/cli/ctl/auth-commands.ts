// user, role and auth commands with etcdctl's argument checks, password prompts, exit
// codes and outputs. json and protobuf print the response itself; fields prints the
// header (and a role's permissions); user get/list and auth status have no fields form,
// and none of them has a table form. As in etcdctl, the request is made before the
// output format is refused.
import fs from 'node:fs';
import type { Permission } from '../../proto/authpb.js';
import { Permission_Type } from '../../proto/authpb.js';
import { AuthService, type AuthRoleGetResponse, type ResponseHeader } from '../../proto/etcdserverpb.js';
import type { Answer, CtlClient } from './client.js';
import { RpcError } from './client.js';
import type { CommandSpec, RunContext } from './cmdtree.js';
import { argBytes, failWithError, noDeadline } from './cmd-support.js';
import { askPassword } from './connection.js';
import { commandDeadline, connect } from './global.js';
import { goQuote } from './gofmt.js';
import { CtlExit, ExitCode } from './io.js';
import { prefixEnd } from './kv-commands.js';
import { unsupported, type Printer } from './printers.js';

type Simple = (printer: Printer) => void;

/**
 * The printers' common path: simple text, the header for fields, the response for json
 * and protobuf; `fields` overrides the fields form, `noFields` refuses it.
 */
function show(printer: Printer, ans: Answer<{ header?: ResponseHeader }>, simple: Simple, opts: { noFields?: boolean; fields?: () => void } = {}): void {
  if (printer.format === 'simple') return simple(printer);
  if (printer.format === 'fields' && !opts.noFields) {
    printer.fieldsHeader(ans.msg.header);
    opts.fields?.();
    return;
  }
  if (printer.format === 'fields') unsupported('fields');
  printer.whole(ans);
}

function needArgs(ctx: RunContext, ok: boolean, message: string): void {
  if (!ok) throw new CtlExit(ExitCode.BadArgs, message);
}

// ---- user -----------------------------------------------------------------------------

/** speakeasy twice: the password and its confirmation, as etcdctl's readPasswordInteractive. */
function readPasswordInteractive(ctx: RunContext, name: string): string {
  const first = askPassword(ctx.io, `Password of ${name}: `);
  if (first.length === 0) throw new CtlExit(ExitCode.BadArgs, 'empty password');
  const second = askPassword(ctx.io, `Type password of ${name} again for confirmation: `);
  if (first !== second) throw new CtlExit(ExitCode.BadArgs, 'given passwords are different');
  return first;
}

/**
 * fmt.Scanf("%s") on standard input: spaces skipped, then one word, read a byte at a
 * time so nothing after it is consumed (a terminal never ends its input). A newline
 * before any word, or no input, gives "".
 */
function scanWord(): string {
  const word: number[] = [];
  const b = Buffer.alloc(1);
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    let n: number;
    try {
      n = fs.readSync(0, b, 0, 1, null);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') {
        Atomics.wait(pause, 0, 0, 10);
        continue;
      }
      break;
    }
    if (n === 0) break;
    const c = b[0]!;
    const space = c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;
    if (space && word.length > 0) break;
    if (c === 0x0a) break;
    if (!space) word.push(c);
  }
  return Buffer.from(word).toString('utf8');
}

async function userAdd(ctx: RunContext): Promise<void> {
  needArgs(ctx, ctx.args.length === 1, 'user add command requires user name as its argument');
  const arg = ctx.args[0]!;
  let user = arg;
  let password = '';
  const noPassword = ctx.flags.get('no-password').bool;
  if (!noPassword) {
    const fromFlag = ctx.flags.get('new-user-password').string;
    const colon = arg.indexOf(':');
    if (fromFlag !== '') password = fromFlag;
    else if (colon < 0) password = ctx.flags.get('interactive').bool ? readPasswordInteractive(ctx, arg) : scanWord();
    else {
      user = arg.slice(0, colon);
      password = arg.slice(colon + 1);
      if (user.length === 0) throw new CtlExit(ExitCode.BadArgs, 'empty user name is not allowed');
    }
  }
  const { client, printer } = connect(ctx);
  const request = { name: user, password, options: { no_password: noPassword }, hashedPassword: '' };
  const ans = await client.call(AuthService.methods.UserAdd, request, noDeadline(), { repeatable: false }).catch(failWithError);
  show(printer, ans, (p) => p.line(`User ${user} created`));
}

async function userDelete(ctx: RunContext): Promise<void> {
  needArgs(ctx, ctx.args.length === 1, 'user delete command requires user name as its argument');
  const name = ctx.args[0]!;
  const { client, printer } = connect(ctx);
  const ans = await client.call(AuthService.methods.UserDelete, { name }, noDeadline(), { repeatable: false }).catch(failWithError);
  show(printer, ans, (p) => p.line(`User ${name} deleted`));
}

async function userGet(ctx: RunContext): Promise<void> {
  needArgs(ctx, ctx.args.length === 1, 'user get command requires user name as its argument');
  const name = ctx.args[0]!;
  const { client, printer } = connect(ctx);
  const ans = await client.call(AuthService.methods.UserGet, { name }, noDeadline(), { repeatable: true }).catch(failWithError);
  if (ctx.flags.get('detail').bool) {
    ctx.io.out(`User: ${name}\n`);
    for (const role of ans.msg.roles) {
      ctx.io.out('\n');
      const roleAns = await getRole(client, role);
      printRole(printer, role, roleAns);
    }
    return;
  }
  show(printer, ans, (p) => p.line(`User: ${name}\nRoles:${ans.msg.roles.map((r) => ' ' + r).join('')}`), { noFields: true });
}

async function userList(ctx: RunContext): Promise<void> {
  needArgs(ctx, ctx.args.length === 0, 'user list command requires no arguments');
  const { client, printer } = connect(ctx);
  const ans = await client.call(AuthService.methods.UserList, {}, noDeadline(), { repeatable: true }).catch(failWithError);
  show(printer, ans, (p) => ans.msg.users.forEach((u) => p.line(u)), { noFields: true });
}

async function userPasswd(ctx: RunContext): Promise<void> {
  needArgs(ctx, ctx.args.length === 1, 'user passwd command requires user name as its argument');
  const name = ctx.args[0]!;
  const password = ctx.flags.get('interactive').bool ? readPasswordInteractive(ctx, name) : scanWord();
  const { client, printer } = connect(ctx);
  const request = { name, password, hashedPassword: '' };
  const ans = await client.call(AuthService.methods.UserChangePassword, request, noDeadline(), { repeatable: false }).catch(failWithError);
  show(printer, ans, (p) => p.line('Password updated'));
}

async function userGrantRole(ctx: RunContext): Promise<void> {
  needArgs(ctx, ctx.args.length === 2, 'user grant command requires user name and role name as its argument');
  const [user, role] = ctx.args as [string, string];
  const { client, printer } = connect(ctx);
  const ans = await client.call(AuthService.methods.UserGrantRole, { user, role }, noDeadline(), { repeatable: false }).catch(failWithError);
  show(printer, ans, (p) => p.line(`Role ${role} is granted to user ${user}`));
}

async function userRevokeRole(ctx: RunContext): Promise<void> {
  needArgs(ctx, ctx.args.length === 2, 'user revoke-role requires user name and role name as its argument');
  const [name, role] = ctx.args as [string, string];
  const { client, printer } = connect(ctx);
  const ans = await client.call(AuthService.methods.UserRevokeRole, { name, role }, noDeadline(), { repeatable: false }).catch(failWithError);
  show(printer, ans, (p) => p.line(`Role ${role} is revoked from user ${name}`));
}

// ---- role -----------------------------------------------------------------------------

function getRole(client: CtlClient, role: string): Promise<Answer<AuthRoleGetResponse>> {
  return client.call(AuthService.methods.RoleGet, { role }, noDeadline(), { repeatable: true }).catch(failWithError);
}

const PERM_NAMES: Record<number, string> = { [Permission_Type.READ]: 'READ', [Permission_Type.WRITE]: 'WRITE', [Permission_Type.READWRITE]: 'READWRITE' };

/** One permission line of `role get`: a key, a range, an open range, perhaps a prefix. */
function permissionLine(perm: Permission): Buffer {
  const key = Buffer.from(perm.key);
  const end = Buffer.from(perm.range_end);
  if (end.length === 0) return Buffer.concat([Buffer.from('\t'), key, Buffer.from('\n')]);
  const parts = end.equals(Buffer.from([0]))
    ? [Buffer.from('\t['), key, Buffer.from(', <open ended>')]
    : [Buffer.from('\t['), key, Buffer.from(', '), end, Buffer.from(')')];
  // clientv3.GetPrefixRangeEnd of the key ("\0" for an all-0xff key)
  if (prefixEnd(key).equals(end)) parts.push(Buffer.from(' (prefix '), key, Buffer.from(')'));
  return Buffer.concat([...parts, Buffer.from('\n')]);
}

function printRole(printer: Printer, role: string, ans: Answer<AuthRoleGetResponse>): void {
  const perms = ans.msg.perm;
  const simple: Simple = (p) => {
    p.line(`Role ${role}`);
    p.line('KV Read:');
    for (const perm of perms) if (perm.permType !== Permission_Type.WRITE) p.io.out(permissionLine(perm));
    p.line('KV Write:');
    for (const perm of perms) if (perm.permType !== Permission_Type.READ) p.io.out(permissionLine(perm));
  };
  show(printer, ans, simple, {
    fields: () => {
      for (const perm of perms) {
        printer.line(`"PermType" :  ${PERM_NAMES[perm.permType] ?? String(perm.permType)}`);
        printer.line(`"Key" : ${goQuote(perm.key)}`);
        printer.line(`"RangeEnd" : ${goQuote(perm.range_end)}`);
      }
    },
  });
}

async function roleAdd(ctx: RunContext): Promise<void> {
  needArgs(ctx, ctx.args.length === 1, 'role add command requires role name as its argument');
  const name = ctx.args[0]!;
  const { client, printer } = connect(ctx);
  const ans = await client.call(AuthService.methods.RoleAdd, { name }, noDeadline(), { repeatable: false }).catch(failWithError);
  show(printer, ans, (p) => p.line(`Role ${name} created`));
}

async function roleDelete(ctx: RunContext): Promise<void> {
  needArgs(ctx, ctx.args.length === 1, 'role delete command requires role name as its argument');
  const role = ctx.args[0]!;
  const { client, printer } = connect(ctx);
  const ans = await client.call(AuthService.methods.RoleDelete, { role }, noDeadline(), { repeatable: false }).catch(failWithError);
  show(printer, ans, (p) => p.line(`Role ${role} deleted`));
}

async function roleGet(ctx: RunContext): Promise<void> {
  needArgs(ctx, ctx.args.length === 1, 'role get command requires role name as its argument');
  const role = ctx.args[0]!;
  const { client, printer } = connect(ctx);
  printRole(printer, role, await getRole(client, role));
}

async function roleList(ctx: RunContext): Promise<void> {
  needArgs(ctx, ctx.args.length === 0, 'role list command requires no arguments');
  const { client, printer } = connect(ctx);
  const ans = await client.call(AuthService.methods.RoleList, {}, noDeadline(), { repeatable: true }).catch(failWithError);
  show(printer, ans, (p) => ans.msg.roles.forEach((r) => p.line(r)), {
    fields: () => printer.line(`"Roles" :${ans.msg.roles.map((r) => ' ' + goQuote(r)).join('')}`),
  });
}

const NUL = Buffer.from([0]);

/** etcdctl's permRange: [key, range_end] from the arguments and --prefix / --from-key. */
function permRange(ctx: RunContext, args: string[]): [Buffer, Buffer] {
  const prefix = ctx.flags.get('prefix').bool;
  const fromKey = ctx.flags.get('from-key').bool;
  const key = argBytes(args[0]!);
  if (key.length === 0) {
    if (prefix && fromKey) throw new CtlExit(ExitCode.BadArgs, '--from-key and --prefix flags are mutually exclusive');
    return [NUL, prefix || fromKey ? NUL : Buffer.alloc(0)];
  }
  if (args.length === 1) {
    if (prefix && fromKey) throw new CtlExit(ExitCode.BadArgs, '--from-key and --prefix flags are mutually exclusive');
    if (prefix) return [key, prefixEnd(key)];
    return [key, fromKey ? NUL : Buffer.alloc(0)];
  }
  if (prefix) throw new CtlExit(ExitCode.BadArgs, 'unexpected endkey argument with --prefix flag');
  if (fromKey) throw new CtlExit(ExitCode.BadArgs, 'unexpected endkey argument with --from-key flag');
  return [key, argBytes(args[1]!)];
}

const PERM_TYPES: Record<string, Permission_Type> = { READ: Permission_Type.READ, WRITE: Permission_Type.WRITE, READWRITE: Permission_Type.READWRITE };

async function roleGrantPermission(ctx: RunContext): Promise<void> {
  needArgs(ctx, ctx.args.length >= 3, 'role grant command requires role name, permission type, and key [endkey] as its argument');
  const [name, typeText] = ctx.args as [string, string];
  const permType = PERM_TYPES[typeText.toUpperCase()];
  if (permType === undefined) throw new CtlExit(ExitCode.BadArgs, `invalid permission type: ${typeText}`);
  const [key, rangeEnd] = permRange(ctx, ctx.args.slice(2));
  const { client, printer } = connect(ctx);
  const request = { name, perm: { permType, key, range_end: rangeEnd } };
  const ans = await client.call(AuthService.methods.RoleGrantPermission, request, noDeadline(), { repeatable: false }).catch(failWithError);
  show(printer, ans, (p) => p.line(`Role ${name} updated`));
}

async function roleRevokePermission(ctx: RunContext): Promise<void> {
  needArgs(ctx, ctx.args.length >= 2, 'role revoke-permission command requires role name and key [endkey] as its argument');
  const role = ctx.args[0]!;
  const [key, rangeEnd] = permRange(ctx, ctx.args.slice(1));
  const { client, printer } = connect(ctx);
  const request = { role, key, range_end: rangeEnd };
  const ans = await client.call(AuthService.methods.RoleRevokePermission, request, noDeadline(), { repeatable: false }).catch(failWithError);
  show(printer, ans, (p) => {
    // etcdctl names the key as typed (not the "\0" an empty key becomes)
    const typed = argBytes(ctx.args[1]!);
    const tail = Buffer.from(` is revoked from role ${role}\n`);
    if (rangeEnd.length === 0) p.io.out(Buffer.concat([Buffer.from('Permission of key '), typed, tail]));
    else if (rangeEnd.equals(NUL)) p.io.out(Buffer.concat([Buffer.from('Permission of range ['), typed, Buffer.from(', <open ended>'), tail]));
    else p.io.out(Buffer.concat([Buffer.from('Permission of range ['), typed, Buffer.from(', '), rangeEnd, Buffer.from(')'), tail]));
  });
}

// ---- auth -----------------------------------------------------------------------------

const ROOT_ROLE_MISSING = 'etcdserver: root user does not have root role';

async function authEnable(ctx: RunContext): Promise<void> {
  needArgs(ctx, ctx.args.length === 0, 'auth enable command does not accept any arguments');
  const deadline = commandDeadline(ctx.flags);
  const { client } = connect(ctx);
  // as etcdctl: give root the root role when that is all that is missing, then retry
  for (;;) {
    try {
      await client.call(AuthService.methods.AuthEnable, {}, deadline, { repeatable: false });
      break;
    } catch (err) {
      if (!(err instanceof RpcError) || err.message !== ROOT_ROLE_MISSING) failWithError(err);
      await client.call(AuthService.methods.RoleAdd, { name: 'root' }, deadline, { repeatable: false }).catch(failWithError);
      await client.call(AuthService.methods.UserGrantRole, { user: 'root', role: 'root' }, deadline, { repeatable: false }).catch(failWithError);
    }
  }
  ctx.io.out('Authentication Enabled\n');
}

async function authDisable(ctx: RunContext): Promise<void> {
  needArgs(ctx, ctx.args.length === 0, 'auth disable command does not accept any arguments');
  const deadline = commandDeadline(ctx.flags);
  const { client } = connect(ctx);
  await client.call(AuthService.methods.AuthDisable, {}, deadline, { repeatable: false }).catch(failWithError);
  ctx.io.out('Authentication Disabled\n');
}

async function authStatus(ctx: RunContext): Promise<void> {
  needArgs(ctx, ctx.args.length === 0, 'auth status command does not accept any arguments');
  const deadline = commandDeadline(ctx.flags);
  const { client, printer } = connect(ctx);
  const ans = await client.call(AuthService.methods.AuthStatus, {}, deadline, { repeatable: true }).catch(failWithError);
  show(printer, ans, (p) => p.line(`Authentication Status: ${ans.msg.enabled}\nAuthRevision: ${ans.msg.authRevision}`), { noFields: true });
}

const INTERACTIVE_FLAG = { name: 'interactive', kind: 'bool' as const, def: 'true', usage: 'ask for the password on the terminal (false: read it from standard input)' };

export const AUTH_COMMANDS: CommandSpec[] = [
  {
    use: 'user <subcommand>',
    short: 'User commands: add, delete, inspect users and their roles',
    children: [
      {
        use: 'add <user name or user:password> [options]',
        short: 'Creates a user',
        flags: [
          INTERACTIVE_FLAG,
          { name: 'new-user-password', kind: 'string', def: '', usage: 'the new user password, given on the command line' },
          { name: 'no-password', kind: 'bool', def: 'false', usage: 'create the user without a password (for TLS common-name authentication only)' },
        ],
        run: userAdd,
      },
      { use: 'delete <user name>', short: 'Deletes a user', run: userDelete },
      {
        use: 'get <user name> [options]',
        short: 'Shows the roles of a user',
        flags: [{ name: 'detail', kind: 'bool', def: 'false', usage: 'show the permissions of each granted role' }],
        run: userGet,
      },
      { use: 'list', short: 'Lists every user', run: userList },
      { use: 'passwd <user name> [options]', short: 'Changes the password of a user', flags: [INTERACTIVE_FLAG], run: userPasswd },
      { use: 'grant-role <user name> <role name>', short: 'Grants a role to a user', run: userGrantRole },
      { use: 'revoke-role <user name> <role name>', short: 'Takes a role away from a user', run: userRevokeRole },
    ],
  },
  {
    use: 'role <subcommand>',
    short: 'Role commands: add, delete, inspect roles and their key permissions',
    children: [
      { use: 'add <role name>', short: 'Creates a role', run: roleAdd },
      { use: 'delete <role name>', short: 'Deletes a role', run: roleDelete },
      { use: 'get <role name>', short: 'Shows the key permissions of a role', run: roleGet },
      { use: 'list', short: 'Lists every role', run: roleList },
      {
        use: 'grant-permission [options] <role name> <permission type> <key> [endkey]',
        short: 'Lets a role read, write or both on a key or range',
        flags: [
          { name: 'prefix', kind: 'bool', def: 'false', usage: 'the permission covers every key starting with <key>' },
          { name: 'from-key', kind: 'bool', def: 'false', usage: 'the permission covers every key from <key> on (byte order)' },
        ],
        run: roleGrantPermission,
      },
      {
        use: 'revoke-permission <role name> <key> [endkey]',
        short: 'Takes a key or range permission away from a role',
        flags: [
          { name: 'prefix', kind: 'bool', def: 'false', usage: 'revoke the permission granted with --prefix on <key>' },
          { name: 'from-key', kind: 'bool', def: 'false', usage: 'revoke the permission granted with --from-key on <key>' },
        ],
        run: roleRevokePermission,
      },
    ],
  },
  {
    use: 'auth <enable or disable>',
    short: 'Turns authentication on or off, or shows whether it is on',
    children: [
      { use: 'enable', short: 'Turns authentication on', run: authEnable },
      { use: 'disable', short: 'Turns authentication off', run: authDisable },
      { use: 'status', short: 'Shows whether authentication is on, and the auth revision', run: authStatus },
    ],
  },
];
