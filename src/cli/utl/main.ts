// tsetcdutl: offline tools for a member's data directory, with etcdutl's commands.
import { TSETCD_VERSION } from '../version.js';
import { API_VERSION } from '../ctl/cluster-commands.js';
import { execute, type CommandSpec } from '../ctl/cmdtree.js';
import { ProcessIo, runMain } from '../ctl/io.js';
import { defragCommand } from './defrag.js';

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
