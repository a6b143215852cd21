// lease grant | revoke | timetolive | list | keep-alive, with etcdctl's checks, exit codes
// and outputs. The json and protobuf forms are what etcdctl's printers make of
// clientv3's wrapper structs: json flattens the embedded response header, protobuf of
// such a struct is the header alone, and protobuf of a revoke (no wrapper methods)
// is refused with Go's %v of the value.
import { LeaseService, type LeaseKeepAliveResponse, type LeaseTimeToLiveResponse } from '../../proto/etcdserverpb.js';
import type { Answer } from './client.js';
import { RpcError } from './client.js';
import type { ClientStream } from '../../client/unary-client.js';
import type { CommandSpec, RunContext } from './cmdtree.js';
import { exitOnRpcError, headerText, hex016, jsonWithEmbeddedHeader, noDeadline } from './cmd-support.js';
import { commandDeadline, connect } from './global.js';
import { goJson, goQuote, parseGoInt64 } from './gofmt.js';
import { CtlExit, ExitCode } from './io.js';
import { ResponseHeader } from '../../proto/etcdserverpb.js';
import { unsupported, type Printer } from './printers.js';

/** etcdctl's leaseFromArgs: a hexadecimal int64. */
function leaseFromArg(arg: string): bigint {
  try {
    return parseGoInt64(arg, 16);
  } catch (err) {
    throw new CtlExit(ExitCode.BadArgs, `bad lease ID arg (${(err as Error).message}), expecting ID in Hex`);
  }
}

function headerBytes(h: ResponseHeader | undefined): Buffer {
  return Buffer.from(ResponseHeader.encode(h ?? ResponseHeader.create()));
}

async function grantCommand(ctx: RunContext): Promise<void> {
  if (ctx.args.length !== 1) throw new CtlExit(ExitCode.BadArgs, 'lease grant command needs TTL argument');
  let ttl: bigint;
  try {
    ttl = parseGoInt64(ctx.args[0]!, 10);
  } catch (err) {
    throw new CtlExit(ExitCode.BadArgs, `bad TTL (${(err as Error).message})`);
  }
  const deadline = commandDeadline(ctx.flags);
  const { client, printer } = connect(ctx);
  const ans = await client
    .call(LeaseService.methods.LeaseGrant, { TTL: Number(ttl), ID: 0n }, deadline, { repeatable: false })
    .catch(exitOnRpcError(ExitCode.Error, (m) => `failed to grant lease (${m})`));
  const r = ans.msg;
  switch (printer.format) {
    case 'simple':
      return printer.line(`lease ${hex016(r.ID)} granted with TTL(${r.TTL}s)`);
    case 'json':
      return printer.line(jsonWithEmbeddedHeader(r.header, [['ID', r.ID], ['TTL', r.TTL], ['Error', r.error]]));
    case 'fields':
      printer.fieldsHeader(r.header);
      printer.line(`"ID" : ${r.ID}`);
      return printer.line(`"TTL" : ${r.TTL}`);
    case 'protobuf':
      return printer.io.out(headerBytes(r.header));
    default:
      unsupported(printer.format);
  }
}

async function revokeCommand(ctx: RunContext): Promise<void> {
  if (ctx.args.length !== 1) throw new CtlExit(ExitCode.BadArgs, 'lease revoke command needs 1 argument');
  const id = leaseFromArg(ctx.args[0]!);
  const deadline = commandDeadline(ctx.flags);
  const { client, printer } = connect(ctx);
  const ans = await client
    .call(LeaseService.methods.LeaseRevoke, { ID: id }, deadline, { repeatable: false })
    .catch(exitOnRpcError(ExitCode.Error, (m) => `failed to revoke lease (${m})`));
  switch (printer.format) {
    case 'simple':
      return printer.line(`lease ${hex016(id)} revoked`);
    case 'json':
      return printer.line(goJson(ans.msg));
    case 'fields':
      return printer.fieldsHeader(ans.msg.header);
    case 'protobuf':
      // clientv3.LeaseRevokeResponse has no Marshal method: etcdctl refuses with %v of it
      throw new CtlExit(ExitCode.BadFeature, `marshal unsupported for type clientv3.LeaseRevokeResponse ({${headerText(ans.msg.header)}})`);
    default:
      unsupported(printer.format);
  }
}

function printTimeToLive(printer: Printer, r: LeaseTimeToLiveResponse, withKeys: boolean): void {
  switch (printer.format) {
    case 'simple': {
      if (r.grantedTTL === 0 && r.TTL === -1) return printer.line(`lease ${hex016(r.ID)} already expired`);
      const text = `lease ${hex016(r.ID)} granted with TTL(${r.grantedTTL}s), remaining(${r.TTL}s)`;
      // Go's %v of a []string: [a b c], the keys as raw bytes
      if (withKeys) {
        const keys = Buffer.concat(r.keys.flatMap((k, i) => (i === 0 ? [Buffer.from(k)] : [Buffer.from(' '), Buffer.from(k)])));
        printer.io.out(Buffer.concat([Buffer.from(`${text}, attached keys([`), keys, Buffer.from('])\n')]));
        return;
      }
      return printer.line(text);
    }
    case 'json': {
      const keys = r.keys.length === 0 ? null : r.keys;
      return printer.line(jsonWithEmbeddedHeader(r.header, [['id', r.ID], ['ttl', r.TTL], ['granted-ttl', r.grantedTTL], ['keys', keys]]));
    }
    case 'fields':
      printer.fieldsHeader(r.header);
      printer.line(`"ID" : ${r.ID}`);
      printer.line(`"TTL" : ${r.TTL}`);
      printer.line(`"GrantedTTL" : ${r.grantedTTL}`);
      for (const k of r.keys) printer.line(`"Key" : ${goQuote(k)}`);
      return;
    case 'protobuf':
      return printer.io.out(headerBytes(r.header));
    default:
      unsupported(printer.format);
  }
}

async function timeToLiveCommand(ctx: RunContext): Promise<void> {
  if (ctx.args.length !== 1) throw new CtlExit(ExitCode.BadArgs, 'lease timetolive command needs lease ID as argument');
  const withKeys = ctx.flags.get('keys').bool;
  const { client, printer } = connect(ctx);
  const id = leaseFromArg(ctx.args[0]!);
  const ans = await client
    .call(LeaseService.methods.LeaseTimeToLive, { ID: id, keys: withKeys }, noDeadline(), { repeatable: true })
    .catch(exitOnRpcError(ExitCode.BadConnection));
  printTimeToLive(printer, ans.msg, withKeys);
}

async function listCommand(ctx: RunContext): Promise<void> {
  const { client, printer } = connect(ctx);
  const ans = await client.call(LeaseService.methods.LeaseLeases, {}, noDeadline(), { repeatable: true }).catch(exitOnRpcError(ExitCode.BadConnection));
  const r = ans.msg;
  switch (printer.format) {
    case 'simple':
      printer.line(`found ${r.leases.length} leases`);
      for (const l of r.leases) printer.line(hex016(l.ID));
      return;
    case 'json': {
      const leases = '[' + r.leases.map((l) => `{"id":${l.ID}}`).join(',') + ']';
      return printer.line(jsonWithEmbeddedHeader(r.header, []).slice(0, -1) + `,"leases":${leases}}`);
    }
    case 'fields':
      printer.fieldsHeader(r.header);
      for (const l of r.leases) printer.line(`"ID" : ${l.ID}`);
      return;
    case 'protobuf':
      return printer.io.out(headerBytes(r.header));
    default:
      unsupported(printer.format);
  }
}

function printKeepAlive(printer: Printer, r: LeaseKeepAliveResponse): void {
  switch (printer.format) {
    case 'simple':
      return printer.line(`lease ${hex016(r.ID)} keepalived with TTL(${r.TTL})`);
    case 'json':
      return printer.line(jsonWithEmbeddedHeader(r.header, [['ID', r.ID], ['TTL', r.TTL]]));
    case 'fields':
      printer.fieldsHeader(r.header);
      printer.line(`"ID" : ${r.ID}`);
      return printer.line(`"TTL" : ${r.TTL}`);
    case 'protobuf':
      return printer.io.out(headerBytes(r.header));
    default:
      unsupported(printer.format);
  }
}

/** clientv3 renews a lease again a third of its TTL after the last answer. */
const MIN_RENEW_WAIT_MS = 500;
/** clientv3's retryConnWait: pause before a broken keep-alive stream is opened again */
const RECONNECT_WAIT_MS = 500;
/** clientv3's defaultTTL: how long the first answer may take when no dial timeout says more */
const FIRST_ANSWER_MIN_MS = 5000;
/** how often the lease's deadline is looked at (clientv3's deadLoop) */
const DEADLINE_CHECK_MS = 500;

/**
 * Renews `id` as clientv3's lessor does for etcdctl's KeepAlive channel: every answer is
 * printed; a renewal goes out a third of the TTL after the last answer; when the stream
 * breaks (its member went away) it is opened again after a pause, on the next endpoint of
 * --endpoints, and the renewal resent. It ends — "expired or revoked" — when the server
 * answers TTL 0, or when no answer came for a whole TTL (the first one: within
 * --dial-timeout + 1 s, at least 5 s), as the lease may then have expired on the server.
 */
async function keepAliveLoop(ctx: RunContext, id: bigint): Promise<void> {
  const { client, printer } = connect(ctx);
  const request = Buffer.from(LeaseService.methods.LeaseKeepAlive.request.encode({ ID: id }));
  const firstAnswerMs = Math.max(FIRST_ANSWER_MIN_MS, Number(ctx.flags.get('dial-timeout').duration / 1_000_000n) + 1000);
  let deadline = Date.now() + firstAnswerMs;
  let stream: ClientStream | undefined;
  let renewTimer: NodeJS.Timeout | undefined;
  let reconnectTimer: NodeJS.Timeout | undefined;
  await new Promise<void>((resolve, reject) => {
    const finish = (err?: Error): void => {
      clearInterval(deadlineTimer);
      clearTimeout(renewTimer);
      clearTimeout(reconnectTimer);
      stream?.cancel();
      if (err) reject(err);
      else resolve();
    };
    const deadlineTimer = setInterval(() => {
      if (Date.now() > deadline) finish();
    }, DEADLINE_CHECK_MS);
    const open = async (): Promise<void> => {
      const s = await client.openStream(LeaseService.methods.LeaseKeepAlive.path);
      stream = s;
      s.onMessage = (bytes) => {
        const r = LeaseService.methods.LeaseKeepAlive.response.decode(bytes);
        if (r.TTL <= 0) return finish();
        printKeepAlive(printer, r);
        deadline = Date.now() + r.TTL * 1000;
        clearTimeout(renewTimer);
        renewTimer = setTimeout(() => s.send(request), Math.max(MIN_RENEW_WAIT_MS, (r.TTL * 1000) / 3));
      };
      const broken = (): void => {
        if (stream !== s) return;
        clearTimeout(renewTimer);
        reconnectTimer = setTimeout(() => void open().catch(finish), RECONNECT_WAIT_MS);
      };
      s.done.then(broken, broken);
      s.send(request);
    };
    open().catch(finish);
  }).catch(exitOnRpcError(ExitCode.BadConnection));
  if (printer.format === 'simple') printer.line(`lease ${hex016(id)} expired or revoked.`);
}

async function keepAliveOnce(ctx: RunContext, id: bigint): Promise<void> {
  const { client, printer } = connect(ctx);
  const stream = await client.openStream(LeaseService.methods.LeaseKeepAlive.path);
  const answer = await new Promise<Answer<LeaseKeepAliveResponse>>((resolve, reject) => {
    stream.onMessage = (bytes) => resolve({ msg: LeaseService.methods.LeaseKeepAlive.response.decode(bytes), raw: bytes });
    stream.done.then(() => reject(new RpcError('context canceled')), (err: Error) => reject(new RpcError(err.message)));
    stream.send(LeaseService.methods.LeaseKeepAlive.request.encode({ ID: id }));
  }).catch(exitOnRpcError(ExitCode.BadConnection));
  stream.cancel();
  if (answer.msg.TTL <= 0) throw new CtlExit(ExitCode.BadConnection, 'etcdserver: requested lease not found');
  printKeepAlive(printer, answer.msg);
}

async function keepAliveCommand(ctx: RunContext): Promise<void> {
  if (ctx.args.length !== 1) throw new CtlExit(ExitCode.BadArgs, 'lease keep-alive command needs lease ID as argument');
  const id = leaseFromArg(ctx.args[0]!);
  if (ctx.flags.get('once').bool) return keepAliveOnce(ctx, id);
  return keepAliveLoop(ctx, id);
}

export const LEASE_COMMAND: CommandSpec = {
  use: 'lease <subcommand>',
  short: 'Lease commands: grant, revoke, inspect and renew leases',
  children: [
    { use: 'grant <ttl>', short: 'Creates a lease with a TTL in seconds', run: grantCommand },
    { use: 'revoke <leaseID>', short: 'Revokes a lease and deletes its keys', run: revokeCommand },
    {
      use: 'timetolive <leaseID> [options]',
      short: 'Shows the granted and remaining TTL of a lease',
      flags: [{ name: 'keys', kind: 'bool', def: 'false', usage: 'also list the keys attached to the lease' }],
      run: timeToLiveCommand,
    },
    { use: 'list', short: 'Lists the IDs of all live leases', run: listCommand },
    {
      use: 'keep-alive [options] <leaseID>',
      short: 'Renews a lease until it expires or is revoked',
      flags: [{ name: 'once', kind: 'bool', def: 'false', usage: 'renew once (TTL back to its granted value) and exit' }],
      run: keepAliveCommand,
    },
  ],
};
