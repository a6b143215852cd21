// member add, remove, update and promote, as etcdctl 3.5 has them: the same argument
// checks and exit codes, the simple output ("Member <id> added to cluster <id>", IDs
// right-aligned in 16 columns, and for `add` the ETCD_* lines to start the new member
// with), the response itself for json and protobuf, and "<format> not supported as
// output format" for fields and table — reported, as etcdctl does, after the change was
// made.
import { ClusterService, type Member, type ResponseHeader } from '../../proto/etcdserverpb.js';
import { argBytes } from './argv.js';
import type { Answer } from './client.js';
import { RpcError } from './client.js';
import type { CommandSpec, RunContext } from './cmdtree.js';
import { commandDeadline, connect } from './global.js';
import { goJson, goQuote } from './gofmt.js';
import { CtlExit, ExitCode, type Io } from './io.js';
import type { Printer } from './printers.js';

export function failed(err: unknown): never {
  if (err instanceof RpcError) throw new CtlExit(ExitCode.Error, err.message);
  throw err;
}

/** strconv.ParseUint(s, 16, 64), with Go's error text. */
export function parseHexId(s: string): bigint {
  const syntax = `strconv.ParseUint: parsing ${goQuote(argBytes(s))}: invalid syntax`;
  if (s === '' || !/^[0-9a-fA-F]+$/.test(s)) throw new Error(syntax);
  const n = BigInt('0x' + s);
  if (n >= 1n << 64n) throw new Error(`strconv.ParseUint: parsing ${goQuote(s)}: value out of range`);
  return n;
}

/** An ID as Go's %16x prints it: lower-case hex, right-aligned in 16 columns. */
export function hex16(id: bigint): string {
  return id.toString(16).padStart(16, ' ');
}

/** The member ID argument of remove, update and promote (ExitBadArgs when bad). */
function memberIdArg(args: string[]): bigint {
  if (args.length !== 1) throw new CtlExit(ExitCode.BadArgs, 'member ID is not provided');
  try {
    return parseHexId(args[0]!);
  } catch (err) {
    throw new CtlExit(ExitCode.BadArgs, `bad member ID arg (${(err as Error).message}), expecting ID in Hex`);
  }
}

/** json and protobuf print the response; fields and table cannot show it. */
export function printWhole(printer: Printer, io: Io, ans: Answer<unknown>): boolean {
  switch (printer.format) {
    case 'json':
      io.out(goJson(ans.msg) + '\n');
      return true;
    case 'protobuf':
      io.out(ans.raw);
      return true;
    case 'simple':
      return false;
    default:
      throw new CtlExit(ExitCode.BadFeature, `${printer.format} not supported as output format`);
  }
}

function clusterIdOf(header: ResponseHeader | undefined): bigint {
  return header?.cluster_id ?? 0n;
}

/** The ETCD_* settings that start the member just added (simple output only). */
function newMemberEnv(name: string, peerUrls: string, newId: bigint, members: Member[]): Buffer {
  const conf: Buffer[] = [];
  for (const m of members) {
    for (const u of m.peerURLs) conf.push(Buffer.concat([m.ID === newId ? argBytes(name) : Buffer.from(m.name), Buffer.from('=' + u)]));
  }
  const joined = Buffer.concat(conf.flatMap((c, i) => (i === 0 ? [c] : [Buffer.from(','), c])));
  return Buffer.from(
    '\n' +
      `ETCD_NAME=${goQuote(argBytes(name))}\n` +
      `ETCD_INITIAL_CLUSTER=${goQuote(joined)}\n` +
      `ETCD_INITIAL_ADVERTISE_PEER_URLS=${goQuote(argBytes(peerUrls))}\n` +
      'ETCD_INITIAL_CLUSTER_STATE="existing"\n',
    'utf8',
  );
}

async function memberAddCommand(ctx: RunContext): Promise<void> {
  const { args, flags } = ctx;
  if (args.length < 1) throw new CtlExit(ExitCode.BadArgs, 'member name not provided');
  if (args.length > 1) {
    let ev = 'too many arguments';
    for (const a of args) if (a.toLowerCase().startsWith('http')) ev += `, did you mean --peer-urls=${a}`;
    throw new CtlExit(ExitCode.BadArgs, ev);
  }
  const peerUrls = flags.get('peer-urls').string;
  if (peerUrls === '') throw new CtlExit(ExitCode.BadArgs, 'member peer urls not provided');
  const deadline = commandDeadline(flags);
  const { client, printer } = connect(ctx);
  const request = { peerURLs: peerUrls.split(','), isLearner: flags.get('learner').bool };
  const ans = await client.call(ClusterService.methods.MemberAdd, request, deadline, { repeatable: false }).catch(failed);
  if (printWhole(printer, ctx.io, ans)) return;
  const newId = ans.msg.member?.ID ?? 0n;
  ctx.io.out(`Member ${hex16(newId)} added to cluster ${hex16(clusterIdOf(ans.msg.header))}\n`);
  ctx.io.out(newMemberEnv(args[0]!, peerUrls, newId, ans.msg.members));
}

async function memberRemoveCommand(ctx: RunContext): Promise<void> {
  const id = memberIdArg(ctx.args);
  const deadline = commandDeadline(ctx.flags);
  const { client, printer } = connect(ctx);
  const ans = await client.call(ClusterService.methods.MemberRemove, { ID: id }, deadline, { repeatable: false }).catch(failed);
  if (printWhole(printer, ctx.io, ans)) return;
  ctx.io.out(`Member ${hex16(id)} removed from cluster ${hex16(clusterIdOf(ans.msg.header))}\n`);
}

async function memberUpdateCommand(ctx: RunContext): Promise<void> {
  const id = memberIdArg(ctx.args);
  const peerUrls = ctx.flags.get('peer-urls').string;
  if (peerUrls === '') throw new CtlExit(ExitCode.BadArgs, 'member peer urls not provided');
  const deadline = commandDeadline(ctx.flags);
  const { client, printer } = connect(ctx);
  const request = { ID: id, peerURLs: peerUrls.split(',') };
  const ans = await client.call(ClusterService.methods.MemberUpdate, request, deadline, { repeatable: false }).catch(failed);
  if (printWhole(printer, ctx.io, ans)) return;
  ctx.io.out(`Member ${hex16(id)} updated in cluster ${hex16(clusterIdOf(ans.msg.header))}\n`);
}

async function memberPromoteCommand(ctx: RunContext): Promise<void> {
  const id = memberIdArg(ctx.args);
  const deadline = commandDeadline(ctx.flags);
  const { client, printer } = connect(ctx);
  const ans = await client.call(ClusterService.methods.MemberPromote, { ID: id }, deadline, { repeatable: false }).catch(failed);
  if (printWhole(printer, ctx.io, ans)) return;
  ctx.io.out(`Member ${hex16(id)} promoted in cluster ${hex16(clusterIdOf(ans.msg.header))}\n`);
}

/** The member sub-commands besides `list`. */
export const MEMBER_CHANGE_COMMANDS: CommandSpec[] = [
  {
    use: 'add <memberName> [options]',
    short: 'Adds a member to the cluster',
    flags: [
      { name: 'peer-urls', kind: 'string', def: '', usage: 'peer URLs of the new member, comma separated' },
      { name: 'learner', kind: 'bool', def: 'false', usage: 'add the member as a non-voting learner' },
    ],
    run: memberAddCommand,
  },
  {
    use: 'remove <memberID>',
    short: 'Removes a member from the cluster',
    run: memberRemoveCommand,
  },
  {
    use: 'update <memberID> [options]',
    short: 'Changes the peer URLs of a member',
    flags: [{ name: 'peer-urls', kind: 'string', def: '', usage: 'new peer URLs of the member, comma separated' }],
    run: memberUpdateCommand,
  },
  {
    use: 'promote <memberID>',
    short: 'Promotes a learner to a voting member',
    long: `
Makes a non-voting learner a voting member of the cluster, once it has caught up with the leader.
`,
    run: memberPromoteCommand,
  },
];
