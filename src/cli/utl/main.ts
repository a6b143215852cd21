// tsetcdutl: offline tools for a member's data directory, with etcdutl's commands.
import { TSETCD_VERSION } from '../version.js';
import { API_VERSION } from '../ctl/cluster-commands.js';
import { execute, type CommandSpec } from '../ctl/cmdtree.js';
import { ProcessIo, runMain } from '../ctl/io.js';
import { defragCommand } from './defrag.js';
import { clusterDownCommand, clusterUpCommand } from './cluster.js';
import { snapshotCommandSpec } from './snapshot.js';
import { deployCommandSpec } from './deploy/command.js';

export const PROGRAM = 'tsetcdutl';

export function utlRoot(): CommandSpec {
  return {
    use: PROGRAM,
    short: 'Offline administration of tsetcd data directories.',
    persistentFlags: [{ name: 'write-out', short: 'w', kind: 'string', def: 'simple', usage: 'output format: fields, json, protobuf, simple or table' }],
    children: [
      {
        use: 'defrag',
        short: 'Compacts the backend file of a stopped member',
        flags: [{ name: 'data-dir', kind: 'string', def: '', usage: 'Required. The data directory of a member that is not running.' }],
        requiredFlags: ['data-dir'],
        run: defragCommand,
      },
      snapshotCommandSpec(),
      {
        use: 'cluster',
        short: 'Runs a local cluster with mutual TLS, made in one command',
        children: [
          {
            use: 'up',
            short: 'Makes a CA and certificates, starts the members with mutual TLS, waits until healthy, prints ETCDCTL_* exports',
            long:
              'Use it as: eval "$(tsetcdutl cluster up)". Members listen on 127.0.0.1: m1 on --base-port (client) and the next port (peer), m2 on the two after, and so on.\n' +
              'Running it again on the same --dir starts the members that are not running, with their data.',
            flags: [
              { name: 'dir', kind: 'string', def: 'tsetcd-cluster', usage: 'directory for certificates, data, logs and pid files' },
              { name: 'size', kind: 'int64', def: '3', usage: 'number of members (1 to 9)' },
              { name: 'base-port', kind: 'int64', def: '2379', usage: 'client port of m1; members use consecutive pairs from here' },
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
  return runMain(() => execute(utlRoot(), { name: PROGRAM, version: TSETCD_VERSION, apiVersion: API_VERSION, usageStyle: 'cobra' }, argv, io), io);
}
