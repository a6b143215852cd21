// alarm list|disarm, defrag, endpoint hashkv and move-leader, as etcdctl 3.5 has them.
// The per-endpoint commands (defrag, hashkv) ask each endpoint in turn, report a
// failure for that endpoint on stderr and go on; defrag then exits 1 silently, hashkv
// with "Error: <last failure>". Formats a command cannot show end it with "<format>
// not supported as output format" (exit 4) once the call was made, as etcdctl does.
import { AlarmRequest_AlarmAction, AlarmResponse as AlarmResponseCodec, AlarmType, MaintenanceService, type AlarmMember, type AlarmResponse, type HashKVResponse, type ResponseHeader } from '../../proto/etcdserverpb.js';
import type { Answer } from './client.js';
import { CtlClient, RpcError } from './client.js';
import type { CommandSpec, RunContext } from './cmdtree.js';
import { targetEndpoints } from './cluster-commands.js';
import { commandDeadline, connect, endpointsOf } from './global.js';
import { goJsonStruct, goQuote } from './gofmt.js';
import { CtlExit, ExitCode, type Io } from './io.js';
import { failed, parseHexId, printWhole } from './member-commands.js';
import type { Printer } from './printers.js';
import { renderTable } from './table.js';

/** The four header lines of the fields format. */
export function fieldsHeader(io: Io, h: ResponseHeader | undefined): void {
  io.out(`"ClusterID" : ${h?.cluster_id ?? 0n}\n"MemberID" : ${h?.member_id ?? 0n}\n"Revision" : ${h?.revision ?? 0}\n"RaftTerm" : ${h?.raft_term ?? 0}\n`);
}

function alarmName(a: AlarmType): string {
  return AlarmType[a] ?? String(a);
}

/** An alarm as `%+v` prints the generated struct: protobuf's compact text form. */
function alarmText(a: AlarmMember): string {
  let t = '';
  if (a.memberID !== 0n) t += `memberID:${a.memberID} `;
  if (a.alarm !== AlarmType.NONE) t += `alarm:${alarmName(a.alarm)} `;
  return t;
}

function printAlarms(printer: Printer, io: Io, ans: Answer<AlarmResponse>): void {
  if (printer.format === 'simple') {
    for (const a of ans.msg.alarms) io.out(alarmText(a) + '\n');
    return;
  }
  if (printer.format === 'fields') {
    fieldsHeader(io, ans.msg.header);
    for (const a of ans.msg.alarms) io.out(`"MemberID" : ${a.memberID}\n"AlarmType" : ${alarmName(a.alarm)}\n\n`);
    return;
  }
  printWhole(printer, io, ans);
}

/**
 * clientv3's AlarmDisarm with no member and no type: list the alarms, then deactivate
 * each; the answer holds only the alarms the deactivations returned (no header), and
 * its protobuf form is encoded here, as Go's printer marshals that struct.
 */
async function disarmAll(client: CtlClient, deadline: number): Promise<Answer<AlarmResponse>> {
  const list = await client.call(MaintenanceService.methods.Alarm, { action: AlarmRequest_AlarmAction.GET, memberID: 0n, alarm: AlarmType.NONE }, deadline, { repeatable: true });
  const msg: AlarmResponse = { header: undefined, alarms: [] };
  for (const a of list.msg.alarms) {
    const request = { action: AlarmRequest_AlarmAction.DEACTIVATE, memberID: a.memberID, alarm: a.alarm };
    const ans = await client.call(MaintenanceService.methods.Alarm, request, deadline, { repeatable: false });
    msg.alarms.push(...ans.msg.alarms);
  }
  return { msg, raw: Buffer.from(AlarmResponseCodec.encode(msg)) };
}

function alarmCommand(action: 'list' | 'disarm'): (ctx: RunContext) => Promise<void> {
  return async (ctx) => {
    if (ctx.args.length !== 0) throw new CtlExit(ExitCode.BadArgs, `alarm ${action} command accepts no arguments`);
    const deadline = commandDeadline(ctx.flags);
    const { client, printer } = connect(ctx);
    const ans =
      action === 'list'
        ? await client.call(MaintenanceService.methods.Alarm, { action: AlarmRequest_AlarmAction.GET, memberID: 0n, alarm: AlarmType.NONE }, deadline, { repeatable: true }).catch(failed)
        : await disarmAll(client, deadline).catch(failed);
    printAlarms(printer, ctx.io, ans);
  };
}

async function defragCommand(ctx: RunContext): Promise<void> {
  const dataDir = ctx.flags.get('data-dir').string;
  if (dataDir !== '') {
    ctx.io.err('Use `etcdutl defrag` instead. The --data-dir is going to be decomissioned in v3.6.\n\n');
    // the backend (LMDB, a native module) is loaded only for this offline form
    const { defragData } = await import('../utl/defrag.js');
    await defragData(dataDir, ctx.io).catch((err: Error) => {
      throw new CtlExit(ExitCode.Error, err.message);
    });
    return;
  }
  const { client, settings } = connect(ctx);
  let failures = 0;
  for (const ep of await targetEndpoints(ctx, settings)) {
    try {
      await client.call(MaintenanceService.methods.Defragment, {}, commandDeadline(ctx.flags), { repeatable: false, endpoint: ep });
      ctx.io.out(`Finished defragmenting etcd member[${ep}]\n`);
    } catch (err) {
      if (!(err instanceof RpcError)) throw err;
      ctx.io.err(`Failed to defragment etcd member[${ep}] (${err.message})\n`);
      failures++;
    }
  }
  if (failures > 0) throw new CtlExit(ExitCode.Error);
}

interface EndpointHash {
  endpoint: string;
  ans: Answer<HashKVResponse>;
}

function printHashes(printer: Printer, io: Io, list: EndpointHash[]): void {
  const rows = list.map((h) => [h.endpoint, String(h.ans.msg.hash)]);
  switch (printer.format) {
    case 'simple':
      for (const r of rows) io.out(r.join(', ') + '\n');
      return;
    case 'json':
      io.out('[' + list.map((h) => goJsonStruct([['Endpoint', h.endpoint], ['HashKV', h.ans.msg]])).join(',') + ']\n');
      return;
    case 'fields':
      for (const h of list) {
        fieldsHeader(io, h.ans.msg.header);
        io.out(`"Endpoint" : ${goQuote(h.endpoint)}\n"Hash" : ${h.ans.msg.hash}\n\n`);
      }
      return;
    case 'table':
      io.out(renderTable(['endpoint', 'hash'], rows));
      return;
    default:
      throw new CtlExit(ExitCode.BadFeature, `${printer.format} not supported as output format`);
  }
}

async function hashKvCommand(ctx: RunContext): Promise<void> {
  const { client, printer, settings } = connect(ctx);
  const revision = Number(ctx.flags.get('rev').int64);
  const list: EndpointHash[] = [];
  let lastError: string | undefined;
  for (const endpoint of await targetEndpoints(ctx, settings)) {
    try {
      const ans = await client.call(MaintenanceService.methods.HashKV, { revision }, commandDeadline(ctx.flags), { repeatable: true, endpoint });
      list.push({ endpoint, ans });
    } catch (err) {
      if (!(err instanceof RpcError)) throw err;
      lastError = err.message;
      ctx.io.err(`Failed to get the hash of endpoint ${endpoint} (${err.message})\n`);
    }
  }
  printHashes(printer, ctx.io, list);
  if (lastError !== undefined) throw new CtlExit(ExitCode.Error, lastError);
}

async function moveLeaderCommand(ctx: RunContext): Promise<void> {
  if (ctx.args.length !== 1) throw new CtlExit(ExitCode.BadArgs, 'move-leader command needs 1 argument');
  let target: bigint;
  try {
    target = parseHexId(ctx.args[0]!);
  } catch (err) {
    throw new CtlExit(ExitCode.BadArgs, (err as Error).message);
  }
  const { client, printer, settings } = connect(ctx);
  client.close();
  const deadline = commandDeadline(ctx.flags);
  const endpoints = endpointsOf(ctx.flags);
  // the transfer is asked of the leader: find which endpoint it is
  let leader: { client: CtlClient; id: bigint } | undefined;
  for (const ep of endpoints) {
    const c = new CtlClient([ep], settings);
    const ans = await c.call(MaintenanceService.methods.Status, {}, deadline, { repeatable: true, endpoint: ep }).catch(failed);
    if (ans.msg.header?.member_id === ans.msg.leader) {
      leader = { client: c, id: ans.msg.leader };
      break;
    }
    c.close();
  }
  if (!leader) throw new CtlExit(ExitCode.BadArgs, `no leader endpoint given at [${endpoints.join(' ')}]`);
  const ans = await leader.client.call(MaintenanceService.methods.MoveLeader, { targetID: target }, deadline, { repeatable: false }).catch(failed);
  if (printWhole(printer, ctx.io, ans)) return;
  ctx.io.out(`Leadership transferred from ${leader.id.toString(16)} to ${target.toString(16)}\n`);
}

export const ALARM_COMMAND: CommandSpec = {
  use: 'alarm <subcommand>',
  short: 'Alarm commands',
  children: [
    { use: 'disarm', short: 'Clears every alarm', run: alarmCommand('disarm') },
    { use: 'list', short: 'Lists the raised alarms', run: alarmCommand('list') },
  ],
};

export const DEFRAG_COMMAND: CommandSpec = {
  use: 'defrag',
  short: 'Compacts the storage files of the members at the given endpoints',
  persistentFlags: [{ name: 'cluster', kind: 'bool', def: 'false', usage: 'use the client URLs of every member instead of --endpoints' }],
  flags: [{ name: 'data-dir', kind: 'string', def: '', usage: 'defragment this data directory of a stopped member instead (deprecated: use tsetcdutl defrag)' }],
  run: defragCommand,
};

export const HASHKV_COMMAND: CommandSpec = {
  use: 'hashkv',
  short: 'Prints the hash of the key-value history of every endpoint in --endpoints',
  persistentFlags: [{ name: 'rev', kind: 'int64', def: '0', usage: 'hash the history up to this revision (0: up to the latest)' }],
  run: hashKvCommand,
};

export const MOVE_LEADER_COMMAND: CommandSpec = {
  use: 'move-leader <transferee-member-id>',
  short: 'Hands the leadership over to another member',
  run: moveLeaderCommand,
};
