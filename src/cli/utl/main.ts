// tsetcdutl: offline tools for a member's data directory, with etcdutl's commands.
import { TSETCD_VERSION } from '../version.js';
import { API_VERSION } from '../ctl/cluster-commands.js';
import { execute, type CommandSpec } from '../ctl/cmdtree.js';
import { CtlExit, ProcessIo, runMain } from '../ctl/io.js';
import { defragCommand } from './defrag.js';
import { clusterDownCommand, clusterUpCommand } from './cluster.js';
import { snapshotCommandSpec } from './snapshot.js';
import { deployCommandSpec } from './deploy/command.js';
import { hashKvCommand } from './hashkv.js';
import { backupCommand } from './backup.js';
import { migrateCommand } from './migrate.js';
import { completionCommand, runComplete } from '../ctl/completion.js';

export const PROGRAM = 'tsetcdutl';

const PROGRAM_INFO = { name: PROGRAM, version: TSETCD_VERSION, apiVersion: API_VERSION, usageStyle: 'cobra' } as const;

/** `tsetcdutl pki` parses its own (Go-style) flags; this entry only lists it in help and completion. */
const PKI_COMMAND: CommandSpec = {
  use: 'pki',
  short: 'cfssl-compatible certificate authority (gencert, json, certinfo, print-defaults, version)',
  long: 'Run "tsetcdutl pki help" for its commands; they take cfssl\'s single-dash flags.',
  // reached only when flags come before "pki" (tsetcdutl.ts hands `tsetcdutl pki ...` over directly)
  run: async (ctx) => {
    const { runPki } = await import('./pki.js');
    await runPki(ctx.args);
    const code = Number(process.exitCode ?? 0);
    if (code !== 0) throw new CtlExit(code);
  },
};

export function utlRoot(): CommandSpec {
  return {
    use: PROGRAM,
    short: 'Offline administration of tsetcd data directories.',
    persistentFlags: [{ name: 'write-out', short: 'w', kind: 'string', def: 'simple', usage: 'output format: fields, json, protobuf, simple or table' }],
    children: [
      {
        use: 'backup',
        short: '[legacy] copies a stopped member\'s data dir as the only member of a new cluster',
        long: 'Prefer: tsetcdctl snapshot save. Start the copy with --force-new-cluster.\n',
        flags: [
          { name: 'data-dir', kind: 'string', def: '', usage: 'data directory of the stopped member' },
          { name: 'wal-dir', kind: 'string', def: '', usage: "its WAL directory, if not under --data-dir" },
          { name: 'backup-dir', kind: 'string', def: '', usage: 'directory to write the backup to' },
          { name: 'backup-wal-dir', kind: 'string', def: '', usage: "the backup's WAL directory, if not under --backup-dir" },
          { name: 'with-v3', kind: 'bool', def: 'true', usage: 'copy the v3 keyspace (false, a v2-only backup, is not supported)' },
        ],
        requiredFlags: ['data-dir', 'backup-dir'],
        run: backupCommand,
      },
      {
        use: 'defrag',
        short: 'Compacts the backend file of a stopped member',
        flags: [{ name: 'data-dir', kind: 'string', def: '', usage: 'Required. The data directory of a member that is not running.' }],
        requiredFlags: ['data-dir'],
        run: defragCommand,
      },
      snapshotCommandSpec(),
      {
        use: 'hashkv <filename>',
        short: 'Prints the KV history hash of a database or snapshot file',
        long: 'The file is an etcd or tsetcd member/snap/db, a snapshot file, or a tsetcd data dir.\nThe hash is the one etcdctl endpoint hashkv gets from a member holding that file.\n',
        flags: [{ name: 'rev', kind: 'int64', def: '0', usage: 'highest revision to hash (default: the latest)' }],
        run: hashKvCommand,
      },
      {
        use: 'migrate',
        short: 'Sets the storage version of a data dir, for an etcd version to read it',
        long: "tsetcd's storage has one format, read by etcd 3.5 and 3.6 alike: targets 3.5 and 3.6 are accepted and change nothing.\n",
        flags: [
          { name: 'data-dir', kind: 'string', def: '', usage: 'data directory to migrate' },
          { name: 'target-version', kind: 'string', def: '', usage: 'etcd version the data dir is for, as "X.Y" (3.5 or later, for example 3.6)' },
          { name: 'force', kind: 'bool', def: 'false', usage: 'if the migration fails, set the storage version anyway (not recommended)' },
        ],
        requiredFlags: ['data-dir', 'target-version'],
        run: migrateCommand,
      },
      completionCommand(PROGRAM_INFO),
      PKI_COMMAND,
      {
        use: 'cluster',
        short: 'Runs a local cluster with mutual TLS, made in one command',
        children: [
          {
            use: 'up',
            short: 'Makes a CA and certificates, starts the members with mutual TLS, waits until healthy, prints ETCDCTL_* exports',
            long:
              'Use it as: eval "$(tsetcdutl cluster up)". Members listen on 127.0.0.1: m1 on --base-port (client) and the next port (peer), m2 on the two after, and so on; the web dashboards (HTTPS, with the client certificate) follow: m1 on --base-port + 2 × size, m2 on the next port, ...\n' +
              'Running it again on the same --dir starts the members that are not running, with their data.',
            flags: [
              { name: 'dir', kind: 'string', def: 'tsetcd-cluster', usage: 'directory for certificates, data, logs and pid files' },
              { name: 'size', kind: 'int64', def: '3', usage: 'number of members (1 to 9)' },
              { name: 'base-port', kind: 'int64', def: '2379', usage: 'client port of m1; members use consecutive pairs from here, then one dashboard port each' },
              { name: 'bin', kind: 'string', def: '', usage: 'member binary to run instead of tsetcd (for example /usr/bin/etcd)' },
            ],
            run: clusterUpCommand,
          },
          {
            use: 'down',
            short: 'Stops the members that cluster up started (data and certificates are kept)',
            flags: [{ name: 'dir', kind: 'string', def: 'tsetcd-cluster', usage: 'directory given to cluster up' }],
            run: clusterDownCommand,
          },
        ],
      },
      deployCommandSpec(),
      {
        use: 'version',
        short: 'Prints the version of tsetcdutl',
        run: async (ctx) => {
          ctx.io.out(`tsetcdutl version: ${TSETCD_VERSION}\nAPI version: ${API_VERSION}\n`);
        },
      },
    ],
  };
}

export function runUtl(argv: string[]): Promise<never> {
  const io = new ProcessIo();
  // the shell completion scripts' hidden entry point
  if (argv[0] === '__complete') return runMain(async () => runComplete(utlRoot(), argv.slice(1), io), io);
  return runMain(() => execute(utlRoot(), PROGRAM_INFO, argv, io), io);
}
