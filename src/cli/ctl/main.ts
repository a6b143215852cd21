// tsetcdctl: the command tree and its entry point.
import { TSETCD_VERSION } from '../version.js';
import { CHECK_COMMAND } from './check-commands.js';
import { API_VERSION, CLUSTER_COMMANDS, versionCommand } from './cluster-commands.js';
import { execute, type CommandSpec, type ProgramInfo } from './cmdtree.js';
import { completionCommand, runComplete } from './completion.js';
import { discoverEndpoints } from './discovery.js';
import { GLOBAL_FLAGS, useDiscoveredEndpoints } from './global.js';
import { CtlExit, ExitCode, ProcessIo, runMain } from './io.js';
import { KV_COMMANDS } from './kv-commands.js';
import { ALARM_COMMAND, DEFRAG_COMMAND, MOVE_LEADER_COMMAND } from './maintenance-commands.js';
import { MAKE_MIRROR_COMMAND } from './mirror-command.js';
import { deprecatedUtlAliases, SNAPSHOT_COMMAND } from './snapshot-commands.js';
import { snapshotCommandSpec } from '../utl/snapshot.js';
import { AUTH_COMMANDS } from './auth-commands.js';
import { LEASE_COMMAND } from './lease-commands.js';
import { TXN_COMMAND } from './txn-command.js';
import { WATCH_COMMAND } from './watch-command.js';
import { LOCK_ELECT_COMMANDS } from './lock-elect-commands.js';

export const PROGRAM = 'tsetcdctl';

const PROGRAM_INFO: ProgramInfo = { name: PROGRAM, version: TSETCD_VERSION, apiVersion: API_VERSION, usageStyle: 'etcdctl' };

export function ctlRoot(): CommandSpec {
  return {
    use: PROGRAM,
    short: 'A command line client for tsetcd and etcd v3.',
    persistentFlags: GLOBAL_FLAGS,
    children: [
      ...KV_COMMANDS,
      ...CLUSTER_COMMANDS,
      ALARM_COMMAND,
      CHECK_COMMAND,
      completionCommand(PROGRAM_INFO),
      DEFRAG_COMMAND,
      MAKE_MIRROR_COMMAND,
      MOVE_LEADER_COMMAND,
      { ...SNAPSHOT_COMMAND, children: [...(SNAPSHOT_COMMAND.children ?? []), ...deprecatedUtlAliases(snapshotCommandSpec())] },
      LEASE_COMMAND,
      ...AUTH_COMMANDS,
      TXN_COMMAND,
      WATCH_COMMAND,
      ...LOCK_ELECT_COMMANDS,
      versionCommand(TSETCD_VERSION),
    ],
  };
}

/** Commands that never dial the cluster, and so never look up --discovery-srv. */
const OFFLINE = new Set(['version', 'completion', 'help']);

/** Wraps every command that dials: --discovery-srv's endpoints are found before it runs. */
function withDiscovery(spec: CommandSpec): CommandSpec {
  const run = spec.run;
  const wrapped: CommandSpec = { ...spec, children: spec.children?.map(withDiscovery) };
  if (run && !OFFLINE.has(spec.use.split(' ')[0]!)) {
    wrapped.run = async (ctx) => {
      try {
        const found = await discoverEndpoints(ctx.flags, ctx.io);
        if (found) useDiscoveredEndpoints(found);
      } catch (err) {
        throw new CtlExit(ExitCode.Error, (err as Error).message);
      }
      return run(ctx);
    };
  }
  return wrapped;
}

export function runCtl(argv: string[]): Promise<never> {
  const io = new ProcessIo();
  // the shell completion scripts' hidden entry point
  if (argv[0] === '__complete') return runMain(async () => runComplete(ctlRoot(), argv.slice(1), io), io);
  // etcdctl picks its v2 or v3 personality by ETCDCTL_API; only v3 exists here
  const api = process.env['ETCDCTL_API'];
  if (api !== undefined && api !== '' && api !== '3') {
    io.err(`unsupported API version ${api}\n`);
    return runMain(async () => {
      throw new CtlExit(ExitCode.Error);
    }, io);
  }
  return runMain(() => execute(withDiscovery(ctlRoot()), PROGRAM_INFO, argv, io), io);
}
