// tsetcdctl: the command tree and its entry point.
import { TSETCD_VERSION } from '../version.js';
import { API_VERSION, CLUSTER_COMMANDS, versionCommand } from './cluster-commands.js';
import { execute, type CommandSpec } from './cmdtree.js';
import { GLOBAL_FLAGS } from './global.js';
import { CtlExit, ExitCode, ProcessIo, runMain } from './io.js';
import { KV_COMMANDS } from './kv-commands.js';
import { AUTH_COMMANDS } from './auth-commands.js';
import { LEASE_COMMAND } from './lease-commands.js';
import { TXN_COMMAND } from './txn-command.js';
import { WATCH_COMMAND } from './watch-command.js';
import { LOCK_ELECT_COMMANDS } from './lock-elect-commands.js';

export const PROGRAM = 'tsetcdctl';

export function ctlRoot(): CommandSpec {
  return {
    use: PROGRAM,
    short: 'A command line client for tsetcd and etcd v3.',
    persistentFlags: GLOBAL_FLAGS,
    children: [...KV_COMMANDS, ...CLUSTER_COMMANDS, LEASE_COMMAND, ...AUTH_COMMANDS, TXN_COMMAND, WATCH_COMMAND, ...LOCK_ELECT_COMMANDS, versionCommand(TSETCD_VERSION)],
  };
}

export function runCtl(argv: string[]): Promise<never> {
  const io = new ProcessIo();
  // etcdctl picks its v2 or v3 personality by ETCDCTL_API; only v3 exists here
  const api = process.env['ETCDCTL_API'];
  if (api !== undefined && api !== '' && api !== '3') {
    io.err(`unsupported API version ${api}\n`);
    return runMain(async () => {
      throw new CtlExit(ExitCode.Error);
    }, io);
  }
  return runMain(() => execute(ctlRoot(), { name: PROGRAM, version: TSETCD_VERSION, apiVersion: API_VERSION, usageStyle: 'etcdctl' }, argv, io), io);
}
