// member list, endpoint health, endpoint status and version, with etcdctl's outputs:
// health checks every endpoint at once with its own connection (a linearizable read of
// the key "health"), status asks each endpoint in turn and reports failures per
// endpoint on stderr.
import { AlarmRequest_AlarmAction, AlarmType, ClusterService, KVService, MaintenanceService, RangeRequest, type MemberListResponse } from '../../proto/etcdserverpb.js';
import type { CommandSpec, RunContext } from './cmdtree.js';
import { CtlClient, PERMISSION_DENIED, RpcError } from './client.js';
import type { ConnectionSettings } from './connection.js';
import { applyEnv, commandDeadline, connect, endpointsOf, printerFor, settingsFromFlags } from './global.js';
import { goDuration, goJsonString } from './gofmt.js';
import { CtlExit, ExitCode } from './io.js';
import type { EndpointHealth, EndpointStatus } from './printers.js';
import { HASHKV_COMMAND } from './maintenance-commands.js';
import { MEMBER_CHANGE_COMMANDS } from './member-commands.js';

/** The version this build reports; the API level is the etcd API it speaks. */
export const API_VERSION = '3.5';

function failed(err: unknown): never {
  if (err instanceof RpcError) throw new CtlExit(ExitCode.Error, err.message);
  throw err;
}

/**
 * etcdctl 3.5's `member list -w json --hex`: IDs as hex strings, the name written
 * as is, no revision or learner flag, an empty URL list as null.
 */
function memberListHexJson(r: MemberListResponse): string {
  const h = r.header;
  const urls = (list: string[]): string => (list.length === 0 ? 'null' : '[' + list.map(goJsonString).join(',') + ']');
  let out = `{"header":{"cluster_id":"${(h?.cluster_id ?? 0n).toString(16)}","member_id":"${(h?.member_id ?? 0n).toString(16)}","raft_term":${h?.raft_term ?? 0}}`;
  r.members.forEach((m, i) => {
    out += i === 0 ? ',"members":[{"ID":"' : ',{"ID":"';
    out += `${m.ID.toString(16)}","name":"${m.name}","peerURLs":${urls(m.peerURLs)},"clientURLS":${urls(m.clientURLs)}}`;
    if (i === r.members.length - 1) out += ']';
  });
  return out + '}\n';
}

async function memberListCommand(ctx: RunContext): Promise<void> {
  const deadline = commandDeadline(ctx.flags);
  const { client, printer } = connect(ctx);
  const ans = await client.call(ClusterService.methods.MemberList, { linearizable: false }, deadline, { repeatable: true }).catch(failed);
  if (printer.format === 'json' && ctx.flags.get('hex').bool) ctx.io.out(memberListHexJson(ans.msg));
  else printer.memberList(ans);
}

/**
 * --endpoints, or with --cluster the client URLs of every member, asked with the TLS
 * settings but without authentication (etcdctl: MemberList needs none).
 */
export async function targetEndpoints(ctx: RunContext, settings: ConnectionSettings): Promise<string[]> {
  const endpoints = endpointsOf(ctx.flags);
  if (!ctx.flags.get('cluster').bool) return endpoints;
  const { auth: _auth, ...withoutAuth } = settings;
  const c = new CtlClient(endpoints, withoutAuth);
  try {
    const ans = await c.call(ClusterService.methods.MemberList, { linearizable: false }, commandDeadline(ctx.flags), { repeatable: true });
    return ans.msg.members.flatMap((m) => m.clientURLs);
  } catch (err) {
    if (err instanceof RpcError) throw new CtlExit(ExitCode.Error, `failed to fetch endpoints from etcd cluster member list: ${err.message}`);
    throw err;
  } finally {
    c.close();
  }
}

/** "" when the member has no active alarm, else etcdctl 3.5's description of them. */
async function alarmProblem(client: CtlClient, deadline: number): Promise<string> {
  try {
    const ans = await client.call(MaintenanceService.methods.Alarm, { action: AlarmRequest_AlarmAction.GET, memberID: 0n, alarm: AlarmType.NONE }, deadline, { repeatable: true });
    if (ans.msg.alarms.length === 0) return '';
    return 'Active Alarm(s): ' + ans.msg.alarms.map((a) => `${a.alarm === AlarmType.NOSPACE ? 'NOSPACE' : a.alarm === AlarmType.CORRUPT ? 'CORRUPT' : 'UNKNOWN'} `).join('');
  } catch (err) {
    if (!(err instanceof RpcError)) throw err;
    return 'Unable to fetch the alarm list';
  }
}

async function checkHealth(ctx: RunContext, endpoint: string, settings: ConnectionSettings): Promise<EndpointHealth> {
  const client = new CtlClient([endpoint], settings);
  // etcdctl's clientv3.New per endpoint: authentication failing makes the endpoint unhealthy
  try {
    await client.authenticate(Date.now() + settings.dialTimeoutMs);
  } catch (err) {
    client.close();
    if (err instanceof RpcError) return { endpoint, health: false, took: '', error: err.message };
    throw err;
  }
  const started = process.hrtime.bigint();
  const deadline = commandDeadline(ctx.flags);
  let error = '';
  try {
    await client.call(KVService.methods.Range, RangeRequest.create({ key: Buffer.from('health') }), deadline, { repeatable: true });
  } catch (err) {
    if (!(err instanceof RpcError)) throw err;
    // permission denied still proves the request went through consensus
    if (err.message !== PERMISSION_DENIED) error = err.message;
  }
  const took = goDuration(process.hrtime.bigint() - started);
  // etcdctl 3.5: a member with an active alarm is not healthy either
  if (error === '') error = await alarmProblem(client, deadline);
  client.close();
  return { endpoint, health: error === '', took, error };
}

async function endpointHealthCommand(ctx: RunContext): Promise<void> {
  applyEnv(ctx.cmd, ctx.io);
  const printer = printerFor(ctx.flags, ctx.io);
  // with --cluster, etcdctl builds the member-list client first and a bad file is exit 1
  const badFiles = ctx.flags.get('cluster').bool ? ExitCode.Error : ExitCode.BadArgs;
  const settings = settingsFromFlags(ctx, endpointsOf(ctx.flags), undefined, badFiles);
  const endpoints = await targetEndpoints(ctx, settings);
  const results: EndpointHealth[] = [];
  // listed in the order the answers arrive, as etcdctl does
  await Promise.all(endpoints.map((ep) => checkHealth(ctx, ep, settings).then((h) => results.push(h))));
  printer.endpointHealth(results);
  if (results.some((h) => h.error !== '')) throw new CtlExit(ExitCode.Error, 'unhealthy cluster');
}

async function endpointStatusCommand(ctx: RunContext): Promise<void> {
  const { client, printer, settings } = connect(ctx);
  const statuses: EndpointStatus[] = [];
  let failures = 0;
  for (const endpoint of await targetEndpoints(ctx, settings)) {
    try {
      const ans = await client.call(MaintenanceService.methods.Status, {}, commandDeadline(ctx.flags), { repeatable: true, endpoint });
      statuses.push({ endpoint, status: ans.msg });
    } catch (err) {
      if (!(err instanceof RpcError)) throw err;
      failures++;
      ctx.io.err(`Failed to get the status of endpoint ${endpoint} (${err.message})\n`);
    }
  }
  printer.endpointStatus(statuses);
  if (failures > 0) throw new CtlExit(ExitCode.Error);
}

export function versionCommand(programVersion: string): CommandSpec {
  return {
    use: 'version',
    short: 'Prints the version of tsetcdctl',
    run: async (ctx) => {
      ctx.io.out(`tsetcdctl version: ${programVersion}\nAPI version: ${API_VERSION}\n`);
    },
  };
}

export const CLUSTER_COMMANDS: CommandSpec[] = [
  {
    use: 'member <subcommand>',
    short: 'Cluster membership commands',
    children: [
      {
        use: 'list',
        short: 'Lists the members of the cluster',
        long: `
With --write-out=simple, prints one comma-separated line per member:
ID, Status, Name, Peer Addrs, Client Addrs, Is Learner.
`,
        run: memberListCommand,
      },
      ...MEMBER_CHANGE_COMMANDS,
    ],
  },
  {
    use: 'endpoint <subcommand>',
    short: 'Commands about the endpoints themselves',
    persistentFlags: [{ name: 'cluster', kind: 'bool', def: 'false', usage: 'use the client URLs of every member instead of --endpoints' }],
    children: [
      {
        use: 'health',
        short: 'Checks that every endpoint in --endpoints can serve a linearizable read',
        run: endpointHealthCommand,
      },
      {
        use: 'status',
        short: 'Prints the status of every endpoint in --endpoints',
        long: `
With --write-out=simple, prints one comma-separated line per endpoint: endpoint,
ID, version, db size, is leader, is learner, raft term, raft index, raft applied
index, errors.
`,
        run: endpointStatusCommand,
      },
      HASHKV_COMMAND,
    ],
  },
];
